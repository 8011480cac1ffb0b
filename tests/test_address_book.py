"""The address book checked like a rules file, before a run does any work (issue 15 item 6).

Broken books (syntax, types, unknown keys and cities, addresses, undecodable bytes) each give their
own Chinese message with the place, and stop ``sdbatch run`` with exit 2 before anything is
written; books saved with a BOM, in GBK or UTF-16 are read; fixing a book makes the next run
redraft the cities whose recipients changed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from sdbatch.address_book import AddressBookInvalid, address_problem, cities_to_redraft, load_address_book
from sdbatch.cli import main
from tests.decision_builders import NOW, city_file, row

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
from = "审核组 <shenhe@gxt.shandong.example>"
reply_days = 3

[cities."济南市"]
to = ["szcy@jinan.example"]
cc = "bgs@jinan.example"

[cities."青岛市"]
to = ["szcy@qingdao.example"]
"""

# name -> (book text, what its message must say: the place and the problem)
BROKEN: dict[str, tuple[str, tuple[str, ...]]] = {
    "syntax": (GOOD.replace('["szcy@qingdao.example"]', "[szcy@qingdao.example]"),
               ("第9行", "英文引号")),
    "cities_all": ('from = "a@gxt.example"\ncities = "all"\n', ("cities", '写的是 "all"', "[cities.")),
    "to_number": (GOOD.replace('to = ["szcy@qingdao.example"]', "to = 5"),
                  ('[cities."青岛市"].to', "地址列表", "写的是 5")),
    "unknown_city": (GOOD.replace('[cities."青岛市"]', '[cities."青岛"]'),
                     ('[cities."青岛"]', "不是本省的城市", "青岛市")),
    "unknown_key": (GOOD.replace("reply_days", "reply_day"), ("顶层", "reply_day", "reply_days")),
    "bad_address": (GOOD.replace("szcy@qingdao.example", "szcy.qingdao.example"),
                    ('[cities."青岛市"].to 第1项', "szcy.qingdao.example", "不是有效的邮件地址")),
    "two_in_one": (GOOD.replace('"szcy@qingdao.example"', '"a@qingdao.example; b@qingdao.example"'),
                   ('[cities."青岛市"].to 第1项', "多个地址")),
    "reply_days_text": (GOOD.replace("reply_days = 3", 'reply_days = "3"'), ("reply_days", "应为整数")),
    "reply_days_negative": (GOOD.replace("reply_days = 3", "reply_days = -1"), ("reply_days", "不小于 0")),
    "empty_to": (GOOD.replace('["szcy@qingdao.example"]', "[]"), ('[cities."青岛市"].to', "至少需要一个收件人")),
    "unknown_city_key": (GOOD.replace("cc = ", "bcc = "), ('[cities."济南市"]', "bcc", "cc")),
}


def write_book(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


# ----------------------------------------------------------------------------- the loader
def test_sample_address_book_covers_fifteen_cities() -> None:
    book = load_address_book(ROOT / "config" / "address_book.toml", required=True)
    assert not book.problems and book.sender
    assert len(book.cities) == 15 and "菏泽市" not in book.cities


def test_a_good_book(tmp_path: Path) -> None:
    book = load_address_book(write_book(tmp_path / "b.toml", GOOD))
    assert book.sender == "审核组 <shenhe@gxt.shandong.example>" and book.reply_days == 3
    assert book.recipients("济南市") == (["szcy@jinan.example"], ["bgs@jinan.example"])  # one address as text
    assert book.recipients("淄博市") == ([], [])
    assert book.problems == [] and book.encoding == "utf8"


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_broken_book_is_refused_with_its_place(tmp_path: Path, name: str) -> None:
    content, said = BROKEN[name]
    path = write_book(tmp_path / f"{name}.toml", content)
    with pytest.raises(AddressBookInvalid) as caught:
        load_address_book(path)
    message = caught.value.message
    assert str(path) in message and "有误" in message
    for part in said:
        assert part in message, (part, message)


def test_the_messages_differ_from_one_another(tmp_path: Path) -> None:
    seen: dict[str, str] = {}
    for name, (content, _) in BROKEN.items():
        with pytest.raises(AddressBookInvalid) as caught:
            load_address_book(write_book(tmp_path / "book.toml", content))
        seen[name] = "\n".join(caught.value.problems)
    assert len(set(seen.values())) == len(seen), seen


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    content = 'form = "x"\n[cities."济南"]\nto = 5\n[cities."青岛市"]\nto = ["bad"]\n'
    with pytest.raises(AddressBookInvalid) as caught:
        load_address_book(write_book(tmp_path / "b.toml", content))
    assert len(caught.value.problems) == 4, caught.value.problems


@pytest.mark.parametrize("encoding, name", [
    ("utf-8-sig", "UTF-8（带 BOM）"), ("gbk", "GB18030（GBK）"), ("gb18030", "GB18030（GBK）"), ("utf-16", "UTF-16"),
])
def test_books_saved_in_other_encodings_are_read_and_say_so(tmp_path: Path, encoding: str, name: str) -> None:
    book = load_address_book(write_book(tmp_path / "b.toml", GOOD.encode(encoding)))
    reference = load_address_book(write_book(tmp_path / "u.toml", GOOD))
    assert (book.sender, book.cities, book.reply_days) == (reference.sender, reference.cities, reference.reply_days)
    assert book.digest == reference.digest  # same content, same fingerprint
    if encoding == "utf-8-sig":
        assert book.problems == []  # a BOM is still UTF-8
    else:
        assert len(book.problems) == 1 and name in book.problems[0]


def test_undecodable_and_unreadable_books(tmp_path: Path) -> None:
    with pytest.raises(AddressBookInvalid, match="无法识别文件编码"):
        load_address_book(write_book(tmp_path / "b.toml", b'from = "\x80\xff"\n'))
    with pytest.raises(AddressBookInvalid, match="文件夹"):
        load_address_book(tmp_path)
    with pytest.raises(AddressBookInvalid, match="不存在"):
        load_address_book(tmp_path / "nope.toml", required=True)
    missing = load_address_book(tmp_path / "nope.toml")
    assert missing.cities == {} and missing.problems and not missing.exists


def test_a_syntax_error_in_a_gbk_book_says_the_encoding(tmp_path: Path) -> None:
    with pytest.raises(AddressBookInvalid) as caught:
        load_address_book(write_book(tmp_path / "b.toml", BROKEN["syntax"][0].encode("gbk")))
    assert "GB18030" in caught.value.message and "第9行" in caught.value.message


@pytest.mark.parametrize("value, problem", [
    ("a@b.cn", None), ("审核组 <a@b.cn>", None), ("a@b", "address_format"), ("@b.cn", "address_format"),
    ("a b@c.cn", "address_format"), ("a@b.cn, c@d.cn", "address_several"), ("a@b.cn\r\nBcc: x@y.cn", "address_line_break"),
    ("", "address_format"), ("a@@b.cn", "address_format"),
])
def test_address_check(value: str, problem: str | None) -> None:
    assert address_problem(value) == problem


def test_content_digest_ignores_comments_and_follows_recipients(tmp_path: Path) -> None:
    a = load_address_book(write_book(tmp_path / "a.toml", GOOD))
    b = load_address_book(write_book(tmp_path / "b.toml", "# 注释\n" + GOOD))
    c = load_address_book(write_book(tmp_path / "c.toml", GOOD.replace("szcy@qingdao", "new@qingdao")))
    assert a.digest == b.digest != c.digest
    assert a.city_digest("济南市") == c.city_digest("济南市") and a.city_digest("青岛市") != c.city_digest("青岛市")
    assert cities_to_redraft(c, {"options": {"mail": "changed"}, "address_book": a.record()}) == {"青岛市"}
    assert cities_to_redraft(c, None) == set()
    assert len(cities_to_redraft(c, {"options": {"mail": "changed"}})) == 16  # a run that did not record its book


# ----------------------------------------------------------------------------- sdbatch run
@pytest.fixture(autouse=True)
def _restore_logger() -> Iterator[None]:
    """A run configures the ``sdbatch`` logger for the process; later tests expect it untouched."""
    logger = logging.getLogger("sdbatch")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    for handler in logger.handlers:
        if handler not in saved[0]:
            handler.close()
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


@pytest.fixture()
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    city_file(folder, "济南市", [row(city_order=1), row(city_order=2)])
    city_file(folder, "青岛市", [row(industry="人工智能", revenue_total=42.7)])
    return folder


def sdbatch_run(inbox: Path, out: Path, book: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["run", str(inbox), "--out", str(out), "--address-book", str(book),
                                       "--now", NOW, *extra])
    return result.exit_code, result.output


def run_folders(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")) if out.exists() else []


def to_of(draft: Path) -> list[str]:
    msg = message_from_bytes(draft.read_bytes(), policy=policy.default)
    return [a.addr_spec for a in msg["To"].addresses] if msg["To"] else []


BROKEN_FOR_RUN = ["syntax", "cities_all", "to_number", "unknown_city", "bad_address", "unknown_key"]


@pytest.mark.parametrize("name", BROKEN_FOR_RUN)
def test_a_broken_book_stops_the_run_before_anything_then_the_fixed_book_drafts(
        inbox: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    content, said = BROKEN[name]
    book = write_book(tmp_path / "book.toml", content)
    code, output = sdbatch_run(inbox, out, book)
    assert code == 2, output
    assert f"通讯录 {book} 有误，未开始审核" in output and said[0] in output and "Traceback" not in output
    assert run_folders(out) == [] and not (out.exists() and list(out.rglob("*.eml")))
    write_book(book, GOOD)
    code, output = sdbatch_run(inbox, out, book)
    assert code in (0, 1), output
    (folder,) = run_folders(out)
    assert to_of(folder / "mail" / "济南市.eml") == ["szcy@jinan.example"]
    assert to_of(folder / "mail" / "青岛市.eml") == ["szcy@qingdao.example"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_sdbatch_run_reads_a_bom_or_gbk_book(inbox: Path, tmp_path: Path, encoding: str) -> None:
    out = tmp_path / "out"
    book = write_book(tmp_path / "book.toml", GOOD.encode(encoding))
    code, output = sdbatch_run(inbox, out, book)
    assert code in (0, 1), output
    (folder,) = run_folders(out)
    assert to_of(folder / "mail" / "青岛市.eml") == ["szcy@qingdao.example"]
    log = (folder / "run.log").read_text(encoding="utf-8")
    assert ("GB18030" in log) == (encoding == "gbk")


def test_fixing_the_book_redrafts_the_cities_it_changes(inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    without_qingdao = GOOD.split('[cities."青岛市"]')[0]
    book = write_book(tmp_path / "book.toml", without_qingdao)
    code, output = sdbatch_run(inbox, out, book)
    (first,) = run_folders(out)
    assert to_of(first / "mail" / "青岛市.eml") == []  # drafted with a clear note
    assert "青岛市" in output or "青岛市" in (first / "run.log").read_text(encoding="utf-8")

    code, output = sdbatch_run(inbox, out, book)  # nothing changed
    assert code == 0 and "无新增" in output and len(run_folders(out)) == 1

    write_book(book, "# 补充了青岛市\n" + GOOD)
    code, output = sdbatch_run(inbox, out, book)  # the inbox did not change, the book did
    assert code in (0, 1), output
    second = next(p for p in run_folders(out) if p != first)
    assert sorted(p.name for p in (second / "mail").glob("*.eml")) == ["青岛市.eml"]  # 济南市 is unchanged
    assert to_of(second / "mail" / "青岛市.eml") == ["szcy@qingdao.example"]

    code, output = sdbatch_run(inbox, out, book)
    assert code == 0 and "无新增" in output and len(run_folders(out)) == 2


def test_force_after_fixing_the_book_redrafts_too(inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    book = write_book(tmp_path / "book.toml", GOOD.replace("szcy@qingdao.example", "old@qingdao.example"))
    sdbatch_run(inbox, out, book)
    write_book(book, GOOD)
    code, output = sdbatch_run(inbox, out, book, "--force")
    assert code in (0, 1), output
    newest = run_folders(out)[-1]
    assert to_of(newest / "mail" / "青岛市.eml") == ["szcy@qingdao.example"]


def test_a_comment_or_encoding_change_is_no_change(inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    book = write_book(tmp_path / "book.toml", GOOD)
    sdbatch_run(inbox, out, book)
    write_book(book, ("# 只改了注释\n" + GOOD).encode("gbk"))
    code, output = sdbatch_run(inbox, out, book)
    assert code == 0 and "无新增" in output


def test_no_mail_no_book_check(inbox: Path, tmp_path: Path) -> None:
    book = write_book(tmp_path / "book.toml", BROKEN["to_number"][0])
    code, output = sdbatch_run(inbox, tmp_path / "out", book, "--mail", "none")
    assert code in (0, 1), output

