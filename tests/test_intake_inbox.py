"""Saved e-mails and archives in the inbox (issue 18 Build 2, 3): each spreadsheet inside becomes a
file of its own with its provenance, received at its message's date; hostile archives are refused
before anything is decompressed; the sender is evidence of the city."""

from __future__ import annotations

import datetime as dt
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from sdbatch import settings
from sdbatch.batch import RunOptions, run_batch
from sdbatch.model import RunResult
from tests.decision_builders import NOW, check_contract, city_file, decide, row, set_mtime, write_workbook
from tests.mail_builders import (
    CHINA,
    eml,
    flag_encrypted,
    outlook_msg,
    rar5,
    zip_bomb,
    zip_symlink,
    zip_with_names,
)

JINAN = "济南市工业和信息化局 <szcy@jinan.gxj.example>"
QINGDAO = "szcy@qingdao.gxj.example"
ZIBO = "淄博市工信局数字经济科 <szcy@zibo.gxj.example>"
STRANGER = "someone@mail.example"
ON_TIME = dt.datetime(2024, 6, 27, 15, 30, tzinfo=CHINA)
LATE = dt.datetime(2024, 6, 29, 9, 0, tzinfo=CHINA)
BOOK = """from = "省工业和信息化厅 <szjjc@gxt.shandong.example>"
[cities."济南市"]
to = ["szcy@jinan.gxj.example"]
[cities."青岛市"]
to = ["szcy@qingdao.gxj.example"]
[cities."淄博市"]
to = ["bgs@zibo.gxj.example"]
senders = ["szcy@zibo.gxj.example"]
"""


def workbook(tmp: Path, city: str, *, name: str | None = None, **fields: Any) -> bytes:
    path = city_file(tmp / "src", city, [row(**fields)], name=name)
    return path.read_bytes()


def by_file(result: RunResult) -> dict[str, Any]:
    return {f.file: f for f in result.files}


def book(tmp: Path) -> Path:
    path = tmp / "address_book.toml"
    path.write_text(BOOK, encoding="utf-8")
    return path


def results_json(result: RunResult, tmp: Path) -> dict[str, Any]:
    target = tmp / "results.json"
    target.write_text(json.dumps(result.to_dict(), ensure_ascii=False), encoding="utf-8")
    check_contract(target)
    data: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    return data


# ----------------------------------------------------------------------------- zip, 7z, rar
@pytest.mark.parametrize("encoding", ["gbk", "utf-8"])
def test_zip_members_are_read_with_their_names_and_provenance(tmp_path: Path, encoding: str) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    member = "济南/济南市数字产业集群申报信息汇总表.xlsx"
    zip_with_names(inbox / "报送材料.zip", [(member, workbook(tmp_path, "济南市")),
                                          ("推荐文件说明.docx", b"not a spreadsheet")], encoding=encoding)
    set_mtime(inbox / "报送材料.zip", ON_TIME)
    result = decide(inbox)
    files = by_file(result)
    container = files["报送材料.zip"]
    assert container.status == "ignored"
    [opened] = [f for f in container.findings if f.code == "container-opened"]
    assert opened.params["names"] == [member, "推荐文件说明.docx"] and opened.params["taken"] == 1
    inner = files[f"报送材料.zip/{member}"]
    assert inner.status == "processed" and inner.city == "济南市" and len(inner.applications) == 1
    assert inner.origin is not None and [(s.kind, s.container, s.member) for s in inner.origin.steps] == [
        ("archive", "报送材料.zip", member)]
    assert inner.received_at == pytest.approx(ON_TIME.timestamp())  # an archive inherits its container's time
    assert "报送材料.zip" in inner.origin.display() and member in inner.origin.display()
    doc = results_json(result, tmp_path)
    [entry] = [f for f in doc["files"] if f["file"] == f"报送材料.zip/{member}"]
    assert entry["origin"]["steps"][0] == {"kind": "archive", "container": "报送材料.zip", "member": member,
                                           "message": None}
    assert entry["received"] == "2024-06-27T15:30:00+08:00"
    assert result.applications[0].source.file == f"报送材料.zip/{member}"


def test_7z_and_stored_rar_are_read(tmp_path: Path) -> None:
    import py7zr

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    src = tmp_path / "src"
    qingdao = city_file(src, "青岛市", [row()])
    with py7zr.SevenZipFile(inbox / "青岛市报送.7z", "w") as archive:
        archive.write(qingdao, "汇总/青岛市汇总表.xlsx")
    rar5(inbox / "淄博市报送.rar", [("淄博市汇总表.xlsx", workbook(tmp_path, "淄博市"))])
    files = by_file(decide(inbox))
    assert files["青岛市报送.7z/汇总/青岛市汇总表.xlsx"].city == "青岛市"
    assert files["淄博市报送.rar/淄博市汇总表.xlsx"].city == "淄博市"
    assert files["淄博市报送.rar/淄博市汇总表.xlsx"].status == "processed"
    assert {files["青岛市报送.7z"].status, files["淄博市报送.rar"].status} == {"ignored"}


def test_compressed_rar_without_a_tool_is_rejected_asking_for_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rarfile

    def no_tool(*_: Any, **__: Any) -> Any:
        raise rarfile.RarCannotExec("no unrar")

    monkeypatch.setattr(rarfile, "tool_setup", no_tool)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rar5(inbox / "东营市报送.rar", [("东营市汇总表.xlsx", os.urandom(2048))], method=3)
    result = decide(inbox)
    record = by_file(result)["东营市报送.rar"]
    assert record.status == "rejected" and record.error_code == "archive-tool-missing"
    assert "zip" in (record.error or "") and record.city == "东营市"
    assert result.exit_code() == 1


@pytest.mark.skipif(not __import__("sdbatch.intake.archives", fromlist=["x"]).tool_available(),
                    reason="no unrar/unar/bsdtar/7z on this machine: only the rejection above is tested")
def test_compressed_rar_with_a_tool_is_tried(tmp_path: Path) -> None:  # pragma: no cover - depends on the machine
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rar5(inbox / "东营市报送.rar", [("东营市汇总表.xlsx", os.urandom(2048))], method=3)
    record = by_file(decide(inbox))["东营市报送.rar/东营市汇总表.xlsx"]
    assert record.status == "rejected"  # random bytes are no RAR data: the member is damaged, the batch goes on


# ----------------------------------------------------------------------------- hostile archives
def _hostile(tmp_path: Path, kind: str) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    good = workbook(tmp_path, "济南市")
    target = inbox / f"{kind}.zip"
    if kind == "bomb":
        zip_bomb(target)
    elif kind == "traversal":
        with zipfile.ZipFile(target, "w") as zf:
            zf.writestr("ok.xlsx", good)
            zf.writestr("../../evil.xlsx", good)
    elif kind == "absolute":
        with zipfile.ZipFile(target, "w") as zf:
            zf.writestr("/tmp/evil.xlsx", good)
    elif kind == "drive":
        zip_with_names(target, [("C:\\Windows\\evil.xlsx", good)], encoding="gbk")
    elif kind == "backslash":
        zip_with_names(target, [("..\\..\\evil.xlsx", good)], encoding="gbk")
    elif kind == "symlink":
        zip_symlink(target, "link.xlsx", "/etc/passwd")
    elif kind == "encrypted":
        zip_with_names(target, [("济南市汇总表.xlsx", good)], encoding="utf-8")
        flag_encrypted(target)
    elif kind == "encrypted7z":
        import py7zr

        target = inbox / "encrypted.7z"
        src = tmp_path / "src" / "济南市汇总表.xlsx"
        src.write_bytes(good)
        with py7zr.SevenZipFile(target, "w", password="secret") as archive:
            archive.write(src, "济南市汇总表.xlsx")
    elif kind == "encrypted7z-header":
        import py7zr

        target = inbox / "encrypted-header.7z"
        src = tmp_path / "src" / "济南市汇总表.xlsx"
        src.write_bytes(good)
        with py7zr.SevenZipFile(target, "w", password="secret", header_encryption=True) as archive:
            archive.write(src, "济南市汇总表.xlsx")
    elif kind == "rar-traversal":
        target = inbox / "rar-traversal.rar"
        rar5(target, [("../evil.xlsx", good)])
    return target


@pytest.mark.parametrize(("kind", "code"), [
    ("bomb", "archive-bomb"), ("traversal", "archive-unsafe"), ("absolute", "archive-unsafe"),
    ("drive", "archive-unsafe"), ("backslash", "archive-unsafe"), ("symlink", "archive-unsafe"),
    ("encrypted", "archive-encrypted"), ("encrypted7z", "archive-encrypted"),
    ("encrypted7z-header", "archive-encrypted"), ("rar-traversal", "archive-unsafe"),
])
def test_hostile_archives_are_rejected_with_a_reason_and_nothing_extracted(
        tmp_path: Path, kind: str, code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    target = _hostile(tmp_path, kind)
    city_file(tmp_path / "inbox", "青岛市", [row()])  # the rest of the batch goes on
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(getattr(name, "filename", name)))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    result = decide(tmp_path / "inbox")
    files = by_file(result)
    record = files[target.name]
    assert record.status == "rejected" and record.error_code == code
    assert record.error and "“" + target.name + "”" in record.error
    assert not [f for f in files if f.startswith(target.name + "/")]  # no member became a file
    assert not [n for n in opened if "evil" in n or n.endswith("汇总表.xlsx") and kind == "bomb"]
    assert {a.city for a in result.applications} == {"青岛市"}
    assert not (tmp_path / "evil.xlsx").exists() and not (tmp_path.parent / "evil.xlsx").exists()


def test_too_many_members_and_the_shared_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with zipfile.ZipFile(inbox / "many.zip", "w") as zf:
        for i in range(12):
            zf.writestr(f"f{i}.txt", b"x")
    good = workbook(tmp_path, "济南市")
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("济南市汇总表.xlsx", good)
        zf.writestr("padding.bin", b"p" * len(good) * 3)
    with zipfile.ZipFile(inbox / "outer.zip", "w", zipfile.ZIP_STORED) as zf:
        zf.write(inner, "inner.zip")
    monkeypatch.setattr(settings, "MAX_ZIP_MEMBERS", 10)
    # the outer archive alone fits; with what its inner archive declares it does not
    monkeypatch.setattr(settings, "MAX_UNCOMPRESSED_BYTES", inner.stat().st_size + len(good) * 2)
    files = by_file(decide(inbox))
    assert files["many.zip"].error_code == "archive-bomb"
    assert files["outer.zip"].status == "ignored"
    assert files["outer.zip/inner.zip"].status == "rejected" and files["outer.zip/inner.zip"].error_code == "archive-bomb"


def test_nesting_past_the_limit_is_refused_at_the_level_that_passes_it(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    current = tmp_path / "level0.xlsx"
    current.write_bytes(workbook(tmp_path, "济南市"))
    names = ["济南市汇总表.xlsx"]
    for level in range(1, settings.MAX_NESTING_DEPTH + 2):
        nxt = tmp_path / f"level{level}.zip"
        with zipfile.ZipFile(nxt, "w") as zf:
            zf.write(current, names[-1])
        names.append(f"level{level}.zip")
        current = nxt
    (inbox / names[-1]).write_bytes(current.read_bytes())
    files = by_file(decide(inbox))
    chain = "/".join(reversed(names))  # level4.zip/level3.zip/level2.zip/level1.zip/济南市汇总表.xlsx
    parts = chain.split("/")
    for depth in range(1, settings.MAX_NESTING_DEPTH + 1):
        assert files["/".join(parts[:depth])].status == "ignored"
    too_deep = files["/".join(parts[: settings.MAX_NESTING_DEPTH + 1])]
    assert too_deep.status == "rejected" and too_deep.error_code == "archive-too-deep"
    assert chain not in files


# ----------------------------------------------------------------------------- saved messages
def test_eml_with_two_workbooks_and_a_zip_received_at_the_message_date(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = workbook(tmp_path, "济南市", name="济南市汇总表.xlsx", city_order=1)
    corrected = workbook(tmp_path, "济南市", name="济南市汇总表（更正）.xlsx", city_order=1, revenue_total=150.0)
    zipped = tmp_path / "z.zip"
    zip_with_names(zipped, [("淄博市汇总表.xlsx", workbook(tmp_path, "淄博市"))])
    raw = eml(JINAN, "关于报送数字产业集群申报材料的函", ON_TIME,
              [("济南市汇总表.xlsx", first), ("济南市汇总表（更正）.xlsx", corrected), ("附件.zip", zipped.read_bytes())],
              message_id="<j1@jinan.gxj.example>")
    (inbox / "济南市来函.eml").write_bytes(raw)
    set_mtime(inbox / "济南市来函.eml", LATE)  # saved into the inbox after the deadline: the Date decides
    result = decide(inbox)
    files = by_file(result)
    old, new = files["济南市来函.eml/济南市汇总表.xlsx"], files["济南市来函.eml/济南市汇总表（更正）.xlsx"]
    assert (old.status, new.status) == ("superseded", "processed")  # same message: the correction marker decides
    assert not new.late and new.received_at == ON_TIME.timestamp()
    message = new.origin.message
    assert message is not None and (message.sender, message.message_id, message.subject) == (
        "szcy@jinan.gxj.example", "<j1@jinan.gxj.example>", "关于报送数字产业集群申报材料的函")
    zibo = files["济南市来函.eml/附件.zip/淄博市汇总表.xlsx"]
    assert [s.kind for s in zibo.origin.steps] == ["message", "archive"] and zibo.received_at == ON_TIME.timestamp()
    assert zibo.city == "淄博市"
    doc = results_json(result, tmp_path)
    [entry] = [f for f in doc["files"] if f["file"] == "济南市来函.eml/附件.zip/淄博市汇总表.xlsx"]
    assert entry["origin"]["steps"][0]["message"]["date"] == "2024-06-27T15:30:00+08:00"
    assert entry["origin"]["received"] == "2024-06-27T15:30:00+08:00"


def test_a_resubmission_sent_later_but_saved_earlier_wins_and_a_late_date_is_late(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    earlier = eml(QINGDAO, "青岛市汇总表", dt.datetime(2024, 6, 26, 9, 0, tzinfo=CHINA),
                  [("汇总表.xlsx", workbook(tmp_path, "青岛市", name="a.xlsx", revenue_total=90.0))])
    later = eml(QINGDAO, "青岛市汇总表（更正）", LATE,
                [("汇总表.xlsx", workbook(tmp_path, "青岛市", name="b.xlsx", revenue_total=95.0))])
    (inbox / "第一封.eml").write_bytes(earlier)
    (inbox / "第二封.eml").write_bytes(later)
    set_mtime(inbox / "第一封.eml", dt.datetime(2024, 6, 30, 9, 0, tzinfo=CHINA))  # saved last
    set_mtime(inbox / "第二封.eml", dt.datetime(2024, 6, 27, 9, 0, tzinfo=CHINA))  # saved first, before the deadline
    files = by_file(decide(inbox))
    first, second = files["第一封.eml/汇总表.xlsx"], files["第二封.eml/汇总表.xlsx"]
    assert (first.status, second.status) == ("superseded", "processed")
    assert second.late and any(f.code == "late-submission" and f.params["received"] == "2024-06-29 09:00"
                               for f in second.findings)


def test_eml_without_date_falls_back_to_the_file_time_with_a_finding(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "无日期.eml").write_bytes(eml(QINGDAO, "汇总表", None, [("青岛.xlsx", workbook(tmp_path, "青岛市"))]))
    set_mtime(inbox / "无日期.eml", ON_TIME)
    record = by_file(decide(inbox))["无日期.eml/青岛.xlsx"]
    assert record.received_at == ON_TIME.timestamp()
    [finding] = [f for f in record.findings if f.code == "message-date-missing"]
    from sdbatch.catalogue import audience

    assert audience("message-date-missing") == "department" and finding.params["used"] == "2024-06-27 15:30"


def test_outlook_msg_is_read_with_its_sender_and_date(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    outlook_msg(inbox / "潍坊市报送.msg", "szcy@weifang.gxj.example", "潍坊市数字产业集群申报材料", ON_TIME,
                [("附件2 汇总表.xlsx", workbook(tmp_path, "潍坊市"))], message_id="<w1@weifang.gxj.example>")
    set_mtime(inbox / "潍坊市报送.msg", LATE)
    result = decide(inbox)
    record = by_file(result)["潍坊市报送.msg/附件2 汇总表.xlsx"]
    assert record.status == "processed" and record.city == "潍坊市" and not record.late
    info = record.origin.message
    assert (info.sender, info.subject, info.message_id, info.date) == (
        "szcy@weifang.gxj.example", "潍坊市数字产业集群申报材料", "<w1@weifang.gxj.example>", "2024-06-27T15:30:00+08:00")


def test_unreadable_messages_are_rejected(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "坏的.msg").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    (inbox / "不是邮件.eml").write_bytes(b"\x00\x01binary garbage")
    files = by_file(decide(inbox))
    assert files["坏的.msg"].error_code == "message-unreadable"
    assert files["不是邮件.eml"].error_code == "message-unreadable"


def test_the_mailbox_archive_is_never_read(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    kept = inbox / "mailbox-archive"
    kept.mkdir(parents=True)
    (kept / settings.MAILBOX_ARCHIVE_MARKER).touch()
    (kept / "x.eml").write_bytes(eml(QINGDAO, "s", ON_TIME, [("q.xlsx", workbook(tmp_path, "青岛市"))]))
    city_file(inbox, "济南市", [row()])
    files = by_file(decide(inbox))
    assert not [f for f in files if f.startswith("mailbox-archive")]


# ----------------------------------------------------------------------------- the sender
def _no_city_workbook(tmp: Path) -> bytes:
    path = write_workbook(tmp / "src" / "附件2.xlsx", [row()], drop=("city",))
    return path.read_bytes()


def test_the_sender_decides_the_city_when_the_workbook_names_none(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "来函.eml").write_bytes(eml(ZIBO, "申报材料", ON_TIME, [("附件2.xlsx", _no_city_workbook(tmp_path))]))
    result = decide(inbox, address_book=book(tmp_path))
    record = by_file(result)["来函.eml/附件2.xlsx"]
    assert record.city == "淄博市"
    [app] = record.applications
    assert app.city == "淄博市" and "city-from-sender" in {f.code for f in app.findings}
    assert "city-not-found" not in {f.code for f in app.findings}


def test_a_workbook_naming_another_city_keeps_it_and_staff_are_told(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "代报.eml").write_bytes(eml(JINAN, "代报", ON_TIME, [("青岛.xlsx", workbook(tmp_path, "青岛市"))]))
    (inbox / "陌生人.eml").write_bytes(eml(STRANGER, "材料", ON_TIME, [("东营.xlsx", workbook(tmp_path, "东营市"))]))
    files = by_file(decide(inbox, address_book=book(tmp_path)))
    forwarded = files["代报.eml/青岛.xlsx"]
    assert forwarded.city == "青岛市"
    [mismatch] = [f for f in forwarded.findings if f.code == "sender-city-mismatch"]
    assert mismatch.params["sender_city"] == "济南市" and mismatch.params["city"] == "青岛市"
    unknown = files["陌生人.eml/东营.xlsx"]
    assert unknown.city == "东营市" and [f.params["sender"] for f in unknown.findings
                                         if f.code == "sender-unknown"] == [STRANGER]
    from sdbatch.catalogue import audience

    assert {audience(c) for c in ("sender-unknown", "sender-city-mismatch", "city-from-sender")} == {"department"}


def test_run_exit_code_and_results_json_with_containers(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "来函.eml").write_bytes(eml(QINGDAO, "s", ON_TIME, [("q.xlsx", workbook(tmp_path, "青岛市"))]))
    _hostile(tmp_path, "traversal")
    outcome = run_batch(inbox, RunOptions(out_dir=tmp_path / "out", now=NOW, run_id="t", mail_mode="none"))
    assert outcome.exit_code == 1 and outcome.run_dir is not None
    check_contract(outcome.run_dir / "results.json")
    doc = json.loads((outcome.run_dir / "results.json").read_text(encoding="utf-8"))
    statuses = {f["file"]: f["status"] for f in doc["files"]}
    assert statuses == {"来函.eml": "ignored", "来函.eml/q.xlsx": "processed", "traversal.zip": "rejected"}


def test_the_example_mailbox_settings_are_valid() -> None:
    from sdbatch.intake.config import load_settings

    loaded = load_settings(Path(__file__).resolve().parents[1] / "config" / "mailbox.example.toml")
    assert loaded.values.security == "ssl" and loaded.values.effective_port() == 993
    assert loaded.archive_dir(Path("/data/sdbatch/inbox")) == Path("/data/sdbatch/mailbox-archive")


def test_provenance_one_line_for_the_review(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    zipped = tmp_path / "z.zip"
    zip_with_names(zipped, [("汇总/青岛市汇总表.xlsx", workbook(tmp_path, "青岛市"))])
    (inbox / "来函.eml").write_bytes(eml(QINGDAO, "青岛市申报材料", ON_TIME, [("材料.zip", zipped.read_bytes())]))
    files = by_file(decide(inbox))
    line = files["来函.eml/材料.zip/汇总/青岛市汇总表.xlsx"].origin_text
    assert line.index("青岛市申报材料") < line.index(QINGDAO) < line.index("2024-06-27 15:30") < line.index("材料.zip")
    assert line.endswith("“汇总/青岛市汇总表.xlsx”") and "\n" not in line
    assert files["来函.eml"].origin_text == ""
