"""``sdbatch fetch`` against a real IMAP server on 127.0.0.1 (pymap, STARTTLS; tests/mail_builders.py),
then ``sdbatch run`` over what it took (issue 18 Build 1, 3, 4): inbox contents and file times, the
originals kept beside the inbox, the ledger, statuses decided by the messages' dates, the sender as
evidence, and drafts that answer each city's last message."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sdbatch import settings
from sdbatch.batch import RunOptions, run_batch
from sdbatch.cli import main
from sdbatch.intake.imap import FetchFailed, FetchOptions, fetch
from sdbatch.intake.store import messages
from tests.decision_builders import check_contract, city_file, row
from tests.mail_builders import CHINA, ImapServer, eml, imap_server, zip_with_names

PASSWORD_ENV = "SDBATCH_TEST_MAIL_PASSWORD"
BOOK = """from = "省工业和信息化厅数字经济处 <szjjc@gxt.shandong.example>"
[cities."济南市"]
to = ["szcy@jinan.gxj.example"]
[cities."青岛市"]
to = ["szcy@qingdao.gxj.example"]
[cities."淄博市"]
to = ["szcy@zibo.gxj.example"]
[cities."东营市"]
to = ["szcy@dongying.gxj.example"]
[cities."威海市"]
to = ["szcy@weihai.gxj.example"]
"""


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2024, 6, day, hour, minute, tzinfo=CHINA)


def workbook(tmp: Path, city: str, name: str, **fields: Any) -> bytes:
    return city_file(tmp / "src", city, [row(**fields)], name=name).read_bytes()


def settings_file(tmp: Path, server: ImapServer, **extra: str) -> Path:
    lines = ['host = "127.0.0.1"', f"port = {server.port}", 'security = "starttls"',
             f'account = "{server.user}"', f'password_env = "{PASSWORD_ENV}"', f'ca_file = "{server.ca_file}"']
    lines += [f'{k} = "{v}"' for k, v in extra.items()]
    path = tmp / "config" / "mailbox.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A mailbox loaded with the cities' messages, fetched into an inbox, then run."""
    tmp = tmp_path_factory.mktemp("fetch")
    with imap_server(tmp / "server") as server:
        jinan_zip = tmp / "jinan.zip"
        zip_with_names(jinan_zip, [("济南/济南市数字产业集群申报信息汇总表.xlsx", workbook(tmp, "济南市", "j.xlsx"))])
        mails = {
            # appended first (lower UID, "saved earlier") but sent later: the resubmission
            "qingdao-new": (eml("青岛市工信局 <szcy@qingdao.gxj.example>", "青岛市汇总表（更正）", at(27, 16),
                                [("青岛市数字产业集群申报信息汇总表.xlsx", workbook(tmp, "青岛市", "q2.xlsx", revenue_total=95.0))],
                                message_id="<q2@qingdao.gxj.example>", references="<q1@qingdao.gxj.example>"),
                            at(27, 16, 1)),
            "jinan": (eml("济南市工业和信息化局 <szcy@jinan.gxj.example>", "关于报送数字产业集群申报材料的函", at(27, 10),
                          [("济南市报送材料.zip", jinan_zip.read_bytes())], message_id="<j1@jinan.gxj.example>"),
                      at(27, 10, 2)),
            "zibo": (eml("szcy@zibo.gxj.example", "淄博市申报材料（两个文件）", at(26, 11),
                         [("附件2 汇总表.xlsx", workbook(tmp, "淄博市", "z1.xlsx", city_order=1)),
                          ("附件2 汇总表（更正）.xlsx", workbook(tmp, "淄博市", "z2.xlsx", city_order=1, ip_total=3000))],
                         message_id="<z1@zibo.gxj.example>"), at(26, 11, 1)),
            "qingdao-old": (eml("szcy@qingdao.gxj.example", "青岛市汇总表", at(26, 9),
                                [("青岛市数字产业集群申报信息汇总表.xlsx", workbook(tmp, "青岛市", "q1.xlsx", revenue_total=90.0))],
                                message_id="<q1@qingdao.gxj.example>"), at(28, 8)),
            "dongying-late": (eml("szcy@dongying.gxj.example", "东营市汇总表", at(29, 9),
                                  [("东营市汇总表.xlsx", workbook(tmp, "东营市", "d.xlsx"))],
                                  message_id="<d1@dongying.gxj.example>"), at(29, 9, 1)),
            "stranger": (eml("someone@mail.example", "威海的材料", at(27, 12),
                             [("威海市汇总表.xlsx", workbook(tmp, "威海市", "w.xlsx"))],
                             message_id="<s1@mail.example>"), at(27, 12, 1)),
            "jinan-copy": None,  # the server holds the same message twice
            "pdf-only": (eml("szcy@jinan.gxj.example", "推荐文件（盖章）", at(27, 11),
                             [("推荐文件.pdf", b"%PDF-1.4 fictional")], message_id="<j2@jinan.gxj.example>"),
                         at(27, 11, 1)),
        }
        for item in mails.values():
            raw, arrived = item if item is not None else mails["jinan"]
            server.append(raw, arrived)  # type: ignore[arg-type]
        inbox, out = tmp / "inbox", tmp / "output"
        config = settings_file(tmp, server)
        os.environ[PASSWORD_ENV] = server.password
        try:
            first = fetch(FetchOptions(inbox=inbox, ledger=out / "ledger.sqlite3", settings_path=config,
                                       now=at(30, 21)))
            listing_after_first = sorted(p.name for p in inbox.iterdir())
            second = CliRunner().invoke(main, ["fetch", str(inbox), "--settings", str(config), "--out", str(out)])
            box = server.mailbox()
            flags = [m.flags for m in box.fetch(mark_seen=False, headers_only=True)]  # type: ignore[attr-defined]
            box.logout()  # type: ignore[attr-defined]
        finally:
            os.environ.pop(PASSWORD_ENV, None)
        book = tmp / "config" / "address_book.toml"
        book.write_text(BOOK, encoding="utf-8")
        outcome = run_batch(inbox, RunOptions(out_dir=out, now="2024-06-30T22:00:00", run_id="nightly",
                                              mail_mode="all", address_book=book, quiet=True))
        import logging

        logging.getLogger("sdbatch").handlers.clear()
    return {"tmp": tmp, "inbox": inbox, "out": out, "first": first, "second": second, "listing": listing_after_first,
            "flags": flags, "outcome": outcome}


def test_attachments_are_in_the_inbox_with_the_message_dates(world: Any) -> None:
    inbox: Path = world["inbox"]
    names = sorted(p.name for p in inbox.iterdir())
    assert names == sorted(["青岛市数字产业集群申报信息汇总表.xlsx", "青岛市数字产业集群申报信息汇总表 (2).xlsx",
                            "济南市报送材料.zip", "附件2 汇总表.xlsx", "附件2 汇总表（更正）.xlsx", "东营市汇总表.xlsx",
                            "威海市汇总表.xlsx"])
    times = {n: dt.datetime.fromtimestamp((inbox / n).stat().st_mtime, CHINA) for n in names}
    assert times["青岛市数字产业集群申报信息汇总表.xlsx"] == at(27, 16)  # the first one taken: the resubmission
    assert times["青岛市数字产业集群申报信息汇总表 (2).xlsx"] == at(26, 9)
    assert times["济南市报送材料.zip"] == at(27, 10) and times["东营市汇总表.xlsx"] == at(29, 9)
    assert world["listing"] == names  # the second fetch added nothing


def test_originals_are_kept_beside_the_inbox_and_never_read(world: Any) -> None:
    archive: Path = world["tmp"] / settings.MAILBOX_ARCHIVE
    kept = sorted(p.name for p in archive.iterdir() if not p.name.startswith("."))
    assert len(kept) == 7 and (archive / settings.MAILBOX_ARCHIVE_MARKER).exists()
    assert any(n.startswith("20240627-100000_szcy@jinan.gxj.example_") for n in kept)
    original = next(p for p in archive.iterdir() if "jinan" in p.name and p.name.startswith("20240627-1000"))
    assert message_from_bytes(original.read_bytes(), policy=policy.default)["Message-ID"] == "<j1@jinan.gxj.example>"


def test_the_ledger_records_each_message_once(world: Any) -> None:
    first = world["first"]
    assert first.already == 1 and len(first.messages) == 7 and first.exit_code == 0
    with sqlite3.connect(world["out"] / "ledger.sqlite3") as conn:
        rows = messages(conn)
        uids = conn.execute("SELECT COUNT(*) FROM intake_uids").fetchone()[0]
    assert len(rows) == 7 and uids == 8  # eight copies on the server, seven messages
    by_id = {r["message_id"]: r for r in rows}
    assert by_id["<j2@jinan.gxj.example>"]["outcome"] == "nothing-to-take"
    assert [a["outcome"] for a in by_id["<j2@jinan.gxj.example>"]["attachments"]] == ["not-a-submission"]
    zibo = by_id["<z1@zibo.gxj.example>"]
    assert zibo["outcome"] == "taken" and zibo["sender"] == "szcy@zibo.gxj.example"
    assert [a["inbox_name"] for a in zibo["attachments"]] == ["附件2 汇总表.xlsx", "附件2 汇总表（更正）.xlsx"]
    assert by_id["<q1@qingdao.gxj.example>"]["date"] == "2024-06-26T09:00:00+08:00"
    assert by_id["<q1@qingdao.gxj.example>"]["server_date"] == "2024-06-28T08:00:00+08:00"
    assert world["second"].exit_code == 0, world["second"].output
    assert "新邮件 0 封" in world["second"].output


def test_mail_on_the_server_is_left_as_it_was(world: Any) -> None:
    assert len(world["flags"]) == 8 and not any("\\Seen" in f for f in world["flags"])


def _files(world: Any) -> dict[str, Any]:
    return {f.file: f for f in world["outcome"].result.files}


def test_statuses_follow_the_message_dates(world: Any) -> None:
    files = _files(world)
    assert files["青岛市数字产业集群申报信息汇总表.xlsx"].status == "processed"  # sent 27th, saved first
    assert files["青岛市数字产业集群申报信息汇总表 (2).xlsx"].status == "superseded"  # sent 26th, saved later
    assert files["东营市汇总表.xlsx"].late and not files["威海市汇总表.xlsx"].late
    zibo_old, zibo_new = files["附件2 汇总表.xlsx"], files["附件2 汇总表（更正）.xlsx"]
    assert (zibo_old.status, zibo_new.status) == ("superseded", "processed") and zibo_new.city == "淄博市"
    inner = files["济南市报送材料.zip/济南/济南市数字产业集群申报信息汇总表.xlsx"]
    assert inner.city == "济南市" and [s.kind for s in inner.origin.steps] == ["message", "archive"]
    assert inner.origin.message.message_id == "<j1@jinan.gxj.example>"
    assert inner.received_at == at(27, 10).timestamp()


def test_results_json_carries_the_provenance(world: Any) -> None:
    run_dir = world["outcome"].run_dir
    check_contract(run_dir / "results.json")
    import json

    doc = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    entry = next(f for f in doc["files"] if f["file"] == "东营市汇总表.xlsx")
    [step] = entry["origin"]["steps"]
    assert step["kind"] == "message" and step["container"].startswith(f"{settings.MAILBOX_ARCHIVE}/")
    assert step["message"]["sender"] == "szcy@dongying.gxj.example" and step["message"]["subject"] == "东营市汇总表"
    assert entry["received"] == "2024-06-29T09:00:00+08:00" and entry["late"] is True
    assert "东营市汇总表" in entry["origin"]["display"]


def test_an_unknown_sender_is_a_finding_for_staff(world: Any) -> None:
    files = _files(world)
    assert [f.params["sender"] for f in files["威海市汇总表.xlsx"].findings if f.code == "sender-unknown"] == [
        "someone@mail.example"]
    assert not [f for f in files["东营市汇总表.xlsx"].findings if f.code == "sender-unknown"]


def test_a_date_far_from_the_servers_arrival_is_a_finding_for_staff(world: Any) -> None:
    files = _files(world)  # q1 says 26 June 09:00, the server received it on 28 June 08:00
    [disputed] = [f for f in files["青岛市数字产业集群申报信息汇总表 (2).xlsx"].findings if f.code == "message-date-disputed"]
    assert (disputed.params["date"], disputed.params["arrived"]) == ("2024-06-26 09:00", "2024-06-28 08:00")
    assert not [f for f in files["东营市汇总表.xlsx"].findings if f.code == "message-date-disputed"]


def _draft(world: Any, city: str) -> Any:
    raw = (world["outcome"].run_dir / "mail" / f"{city}.eml").read_bytes()
    return message_from_bytes(raw, policy=policy.default)


def test_drafts_answer_each_citys_last_message(world: Any) -> None:
    qingdao = _draft(world, "青岛市")
    assert qingdao["In-Reply-To"] == "<q2@qingdao.gxj.example>"
    assert qingdao["References"] == "<q1@qingdao.gxj.example> <q2@qingdao.gxj.example>"
    assert qingdao["Subject"] == "Re: 青岛市汇总表（更正）"
    jinan = _draft(world, "济南市")  # its last message held only a PDF, but it is the last one it sent
    assert jinan["In-Reply-To"] in ("<j1@jinan.gxj.example>", "<j2@jinan.gxj.example>")
    assert jinan["Subject"].startswith("Re: ") and jinan["To"] == "szcy@jinan.gxj.example"
    assert _draft(world, "淄博市")["In-Reply-To"] == "<z1@zibo.gxj.example>"


def test_mark_seen_and_move_to_only_when_told(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with imap_server(tmp_path / "server") as server:
        box = server.mailbox()
        box.folder.create("已处理")  # type: ignore[attr-defined]
        box.logout()  # type: ignore[attr-defined]
        server.append(eml("szcy@taian.gxj.example", "泰安", at(27, 9), [("泰安市汇总表.xlsx", workbook(tmp_path, "泰安市", "t.xlsx"))],
                          message_id="<t1@taian.gxj.example>"), at(27, 9, 1))
        monkeypatch.setenv(PASSWORD_ENV, server.password)
        config = settings_file(tmp_path, server)
        report = fetch(FetchOptions(inbox=tmp_path / "inbox", ledger=tmp_path / "out" / "ledger.sqlite3",
                                    settings_path=config, mark_seen=True, move_to="已处理"))
        assert [m.outcome for m in report.messages] == ["taken"]
        box = server.mailbox()
        assert box.uids("ALL") == []  # type: ignore[attr-defined]
        box.folder.set("已处理")  # type: ignore[attr-defined]
        [moved] = list(box.fetch(mark_seen=False))  # type: ignore[attr-defined]
        assert "\\Seen" in moved.flags and moved.subject == "泰安"
        box.logout()  # type: ignore[attr-defined]


def test_wrong_password_and_bad_settings_stop_with_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with imap_server(tmp_path / "server") as server:
        config = settings_file(tmp_path, server)
        monkeypatch.setenv(PASSWORD_ENV, "wrong")
        with pytest.raises(FetchFailed, match="登录失败"):
            fetch(FetchOptions(inbox=tmp_path / "inbox", ledger=tmp_path / "out" / "l.sqlite3", settings_path=config))
        monkeypatch.delenv(PASSWORD_ENV)
        result = CliRunner().invoke(main, ["fetch", str(tmp_path / "inbox"), "--settings", str(config)])
        assert result.exit_code == 2 and PASSWORD_ENV in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text('host = "imap.example.cn"\naccount = "a"\nsecurity = "plain"\nfolderr = "INBOX"\n', encoding="utf-8")
    monkeypatch.setenv(PASSWORD_ENV, "x")
    with pytest.raises(FetchFailed) as caught:
        fetch(FetchOptions(inbox=tmp_path / "inbox", ledger=tmp_path / "l.sqlite3", settings_path=bad))
    assert "folderr" in caught.value.message and "folder" in caught.value.message and "security" in caught.value.message
