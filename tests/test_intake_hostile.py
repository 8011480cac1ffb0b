"""One city's odd or crafted message or archive costs that item alone: never the batch, never
another city's workbook, never unbounded memory (SPEC §7; brief: a bad file is rejected with a
clear Chinese reason and the batch goes on).

The families come from an audit of the intake side: e-mail headers the email package cannot
take apart (8-bit file names as Chinese mail clients write them, deep nesting, pathological
addresses), zip and 7z members whose decompressor ignores the output bound, an Outlook message
with more attachments than the limit, attachment names longer than a file system allows, RAR
members that need a tool the machine lacks.  Messages and archives are written here with the
standard library, py7zr and the builders of :mod:`tests.mail_builders`.
"""

from __future__ import annotations

import base64
import datetime as dt
import tempfile
import zipfile
from pathlib import Path

import pytest

from sdbatch.intake import imap
from sdbatch.intake.messages import parse_eml, safe_name
from sdbatch.settings import MAX_NAME_BYTES
from tests.decision_builders import city_file, decide, row, set_mtime
from tests.mail_builders import CHINA, eml, outlook_msg, rar5

ON_TIME = dt.datetime(2024, 6, 27, 15, 30, tzinfo=CHINA)
GOOD = "济南市数字产业集群申报信息汇总表.xlsx"


def inbox_with_good(tmp_path: Path) -> Path:
    """An inbox holding one sound workbook, which every case must still read."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / GOOD).write_bytes(city_file(tmp_path / "src", "济南市", [row()]).read_bytes())
    set_mtime(inbox / GOOD, ON_TIME)
    return inbox


def zibo_workbook(tmp_path: Path) -> bytes:
    return city_file(tmp_path / "zibo", "淄博市", [row(name="淄博市甲产业集群")]).read_bytes()


def statuses(inbox: Path) -> dict[str, tuple[str, str | None]]:
    result = decide(inbox)
    return {f.file: (f.status, f.error_code) for f in result.files}


def raw_message(headers: str, parts: list[tuple[bytes, bytes]]) -> bytes:
    """A multipart message with each part's raw header bytes, as some mail clients write them."""
    out = (headers + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n").encode()
    for head, data in parts:
        out += b"--BB\r\n" + head + b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(data) + b"\r\n"
    return out + b"--BB--\r\n"


HEADERS = "From: szcy@zibo.gxj.example\r\nSubject: =?utf-8?b?5reE5Y2a5biC?=\r\nDate: Thu, 27 Jun 2024 15:30:00 +0800\r\n"


# ----------------------------------------------------------------------------- e-mail headers
@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_an_attachment_named_in_raw_bytes_is_read_under_its_name(encoding: str, tmp_path: Path):
    """Several Chinese mail clients write the file name unencoded (UTF-8 or GBK bytes in the header).
    The email package hands such a header back as an object, on which the reader failed: the whole
    run stopped with an internal error.  The name is now read from its bytes."""
    name = "淄博市数字产业集群申报信息汇总表.xlsx"
    head = f'Content-Type: application/octet-stream; name="{name}"\r\nContent-Disposition: attachment; ' \
           f'filename="{name}"\r\n'
    inbox = inbox_with_good(tmp_path)
    (inbox / "淄博市来信.eml").write_bytes(raw_message(HEADERS, [(head.encode(encoding), zibo_workbook(tmp_path))]))
    assert [a.name for a in parse_eml((inbox / "淄博市来信.eml").read_bytes()).attachments] == [name]
    found = statuses(inbox)
    assert found[GOOD] == ("processed", None) and found[f"淄博市来信.eml/{name}"] == ("processed", None)


def test_an_attachment_named_without_an_extension_is_read_by_its_content_type(tmp_path: Path):
    """A spreadsheet attached as "淄博市汇总表" (no extension) with the xlsx content type was listed
    as a file that is not a spreadsheet and never read; its content type now gives it .xlsx.  A
    name with an extension keeps it."""
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    parts = [(f'Content-Type: {xlsx}\r\nContent-Disposition: attachment; filename="{name}"\r\n'.encode(),
              zibo_workbook(tmp_path)) for name in ("淄博市汇总表", "淄博市说明.txt")]
    inbox = inbox_with_good(tmp_path)
    (inbox / "淄博市来信.eml").write_bytes(raw_message(HEADERS, parts))
    assert [a.name for a in parse_eml((inbox / "淄博市来信.eml").read_bytes()).attachments] == [
        "淄博市汇总表.xlsx", "淄博市说明.txt"]
    assert statuses(inbox)["淄博市来信.eml/淄博市汇总表.xlsx"] == ("processed", None)


def _nested(depth: int) -> bytes:
    inner = eml("szcy@zibo.gxj.example", "转发", ON_TIME, [])
    for _ in range(depth):
        inner = (HEADERS + "MIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n").encode() + inner
    return inner


@pytest.mark.parametrize("message", [
    pytest.param(lambda: _nested(300), id="300 nested messages"),
    pytest.param(lambda: ("From: " + "(" * 1000 + "a@b.cn\r\nSubject: x\r\n\r\nbody\r\n").encode(), id="From of parentheses"),
])
def test_a_message_the_parser_cannot_take_apart_costs_itself_only(message: object, tmp_path: Path):
    """A 15 KB message of nested messages, or a From: of a thousand parentheses, made the email
    package recurse past Python's limit: the run stopped, no city got anything.  Such a message is
    now rejected with its reason and the batch goes on."""
    inbox = inbox_with_good(tmp_path)
    (inbox / "淄博市转发.eml").write_bytes(message())  # type: ignore[operator]
    found = statuses(inbox)
    assert found[GOOD] == ("processed", None)
    assert found["淄博市转发.eml"] == ("rejected", "message-unreadable")


def test_fetch_keeps_and_records_a_message_it_cannot_parse(tmp_path: Path):
    """``sdbatch fetch`` parses with the same reader; a message it could not take apart stopped the
    fetch before anything was recorded, so every later fetch stopped on it again."""
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    archive.mkdir()
    taken = imap._take(_nested(300), ON_TIME, inbox, archive)
    assert taken.outcome == "unreadable" and taken.archive_file is not None
    assert (archive / taken.archive_file.split("/")[-1]).is_file()


# ----------------------------------------------------------------------------- names
def test_a_long_chinese_attachment_name_is_shortened_not_fatal(tmp_path: Path):
    """Ninety Chinese characters are 270 bytes, past the 255 a Linux file name may hold: writing
    the attachment failed and the whole message, its good workbook too, was rejected with an
    English reason.  Names are now cut to the bytes a file system allows."""
    long_name = "淄博市" + "数字产业集群申报信息汇总表" * 7 + ".xlsx"
    assert len(long_name.encode()) > 255
    cut = safe_name(long_name, 1)
    assert cut.endswith(".xlsx") and cut.startswith("淄博市") and len(cut.encode()) <= MAX_NAME_BYTES
    inbox = inbox_with_good(tmp_path)
    (inbox / "淄博市来信.eml").write_bytes(eml("szcy@zibo.gxj.example", "汇总表", ON_TIME,
                                               [(long_name, zibo_workbook(tmp_path))]))
    found = statuses(inbox)
    assert found["淄博市来信.eml"] == ("ignored", None)
    assert found[f"淄博市来信.eml/{cut}"] == ("processed", None)


def test_an_outlook_message_over_the_attachment_limit_is_rejected_not_cut_short(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch):
    """Attachments past the limit were dropped in silence (the city's workbook among them, the
    finding counting only those read); an .eml over the limit was rejected.  Now both are."""
    from sdbatch import settings

    monkeypatch.setattr(settings, "MAX_MESSAGE_PARTS", 3)
    inbox = inbox_with_good(tmp_path)
    outlook_msg(inbox / "淄博市来信.msg", "szcy@zibo.gxj.example", "汇总表", ON_TIME,
                [(f"说明{i}.txt", b"x") for i in range(3)] + [("淄博市数字产业集群申报信息汇总表.xlsx",
                                                              zibo_workbook(tmp_path))])
    found = statuses(inbox)
    assert found[GOOD] == ("processed", None)
    assert found["淄博市来信.msg"] == ("rejected", "message-unreadable")


def test_a_mail_forwarded_as_an_outlook_attachment_is_opened_in_turn(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    """A city forwards its mail "as an attachment" in Outlook: the .msg holds an Outlook item,
    which holds the workbook.  The item was skipped in silence (the .msg "ignored", the workbook
    never read); it is now written out as a .msg and opened like any attached message.  An item
    extract-msg cannot write back is rejected with its reason, not skipped."""
    inbox = inbox_with_good(tmp_path)
    workbook = zibo_workbook(tmp_path)
    outlook_msg(inbox / "淄博市来信.msg", "szcy@zibo.gxj.example", "转发：汇总表", ON_TIME, [],
                forwarded=[("淄博市申报材料", [("淄博市数字产业集群申报信息汇总表.xlsx", workbook)])])
    found = statuses(inbox)
    assert found["淄博市来信.msg/淄博市申报材料.msg/淄博市数字产业集群申报信息汇总表.xlsx"] == ("processed", None)
    assert found["淄博市来信.msg/淄博市申报材料.msg"][1] is None

    import extract_msg.msg_classes.msg as msg_module

    def refuse(self: object, allowBadEmbed: bool = False) -> bytes:  # noqa: N803 - extract-msg's name
        raise ValueError("cannot write")

    monkeypatch.setattr(msg_module.MSGFile, "exportBytes", refuse)
    found = statuses(inbox)
    assert found["淄博市来信.msg/淄博市申报材料.msg"] == ("rejected", "message-unreadable")


def test_an_outlook_attachment_without_its_file_is_reported_and_the_others_read(tmp_path: Path):
    """Outlook attaches a file kept online as a link (a cloud attachment), and extract-msg raises on
    its data, as it does when it opens a message with a reference to a file path: the whole
    message was rejected as damaged, the city's real workbook beside them never read.  Now the
    workbook is read, and each attachment without its file is rejected with what it is."""
    inbox = inbox_with_good(tmp_path)
    outlook_msg(inbox / "淄博市来信.msg", "szcy@zibo.gxj.example", "汇总表", ON_TIME,
                [("淄博市数字产业集群申报信息汇总表.xlsx", zibo_workbook(tmp_path))],
                linked=[("淄博市汇总表（云盘）.xlsx", 7), ("淄博市企业名单.xlsx", 2), ("说明.pdf", 7)])
    found = statuses(inbox)
    assert found["淄博市来信.msg/淄博市数字产业集群申报信息汇总表.xlsx"] == ("processed", None)
    assert found["淄博市来信.msg/淄博市汇总表（云盘）.xlsx"] == ("rejected", "attachment-not-included")
    assert found["淄博市来信.msg/淄博市企业名单.xlsx"] == ("rejected", "attachment-not-included")
    assert "淄博市来信.msg/说明.pdf" not in found  # not a spreadsheet: listed in the message's finding only
    result = decide(inbox)
    details = {f.file: f.error_params["detail"] for f in result.files if f.error_code == "attachment-not-included"}
    from sdbatch.catalogue import text

    assert details["淄博市来信.msg/淄博市汇总表（云盘）.xlsx"] == text("intake.message.attachment_link")
    assert details["淄博市来信.msg/淄博市企业名单.xlsx"] == text("intake.message.attachment_unsupported")


# ----------------------------------------------------------------------------- decompression
def test_zip_members_compressed_without_a_bound_are_not_decompressed(tmp_path: Path):
    """Python's zipfile bounds what one read returns for deflated members only: a 3 KB bzip2
    member declaring 500 KB gave 4 GiB at once (8 GB of memory), in an archive or as a sheet part
    of an .xlsx.  Members must be stored or deflated, as Excel, WPS and the usual archivers write."""
    inbox = inbox_with_good(tmp_path)
    with zipfile.ZipFile(inbox / "淄博市材料.zip", "w", zipfile.ZIP_BZIP2) as zf:
        zf.writestr("淄博市数字产业集群申报信息汇总表.xlsx", zibo_workbook(tmp_path))
    with zipfile.ZipFile(tmp_path / "zibo.xlsx", "w") as out, zipfile.ZipFile(
            tmp_path / "zibo" / "淄博市数字产业集群申报信息汇总表.xlsx") as src:
        for info in src.infolist():
            method = zipfile.ZIP_LZMA if info.filename.startswith("xl/worksheets/") else zipfile.ZIP_DEFLATED
            out.writestr(info.filename, src.read(info), compress_type=method)
    (inbox / "淄博市数字产业集群申报信息汇总表.xlsx").write_bytes((tmp_path / "zibo.xlsx").read_bytes())
    found = statuses(inbox)
    assert found[GOOD] == ("processed", None)
    assert found["淄博市材料.zip"] == ("rejected", "archive-unreadable")
    assert found["淄博市数字产业集群申报信息汇总表.xlsx"] == ("rejected", "file-unreadable")


def test_7z_coders_without_a_bound_are_not_decompressed(tmp_path: Path):
    """py7zr's zstd and deflate decoders ignore the output bound (a 128 KB archive took 12 GB);
    LZMA2, 7-Zip's default, and bzip2 keep it."""
    import py7zr

    inbox = inbox_with_good(tmp_path)
    data = zibo_workbook(tmp_path)
    for name, filters in (("淄博市甲.7z", [{"id": py7zr.FILTER_DEFLATE}]), ("淄博市乙.7z", None)):
        with py7zr.SevenZipFile(inbox / name, "w", filters=filters) as archive:
            archive.writestr(data, "淄博市数字产业集群申报信息汇总表.xlsx")
    found = statuses(inbox)
    assert found["淄博市甲.7z"] == ("rejected", "archive-unreadable")
    assert found["淄博市乙.7z/淄博市数字产业集群申报信息汇总表.xlsx"][0] == "processed"


def _seven_zip_listing(entries: int, *, encoded: bool) -> bytes:
    """A hand-made 7z whose header lists ``entries`` empty files named a.csv (what 7-Zip writes
    for empty files: no stream), its header stored as it is or LZMA-compressed as 7-Zip does by
    default (then a few KB declare a header of any size)."""
    import lzma
    import struct
    import zlib

    def number(value: int) -> bytes:  # the 7z NUMBER in its 9-byte form
        return b"\xff" + struct.pack("<Q", value)

    bits = b"\xff" * (entries // 8) + (bytes([(0xFF << (8 - entries % 8)) & 0xFF]) if entries % 8 else b"")
    names = b"\x00" + "a.csv\x00".encode("utf-16-le") * entries
    header = (b"\x01\x05" + number(entries) + b"\x0e" + number(len(bits)) + bits
              + b"\x11" + number(len(names)) + names + b"\x00\x00")
    packed = b""
    if encoded:
        packed = lzma.compress(header, format=lzma.FORMAT_RAW, filters=[
            {"id": lzma.FILTER_LZMA1, "preset": 1, "dict_size": 1 << 24, "lc": 3, "lp": 0, "pb": 2}])
        props = bytes([(2 * 5 + 0) * 9 + 3]) + struct.pack("<I", 1 << 24)
        header = (b"\x17\x06" + number(0) + number(1) + b"\x09" + number(len(packed)) + b"\x00"
                  + b"\x07\x0b" + number(1) + b"\x00" + number(1) + b"\x23\x03\x01\x01"
                  + number(len(props)) + props + b"\x0c" + number(len(header))
                  + b"\x0a\x01" + struct.pack("<I", zlib.crc32(header)) + b"\x00\x00")
    return _seven_zip(header, packed)


def _seven_zip(header: bytes, packed: bytes = b"") -> bytes:
    import struct
    import zlib

    start = struct.pack("<QQI", len(packed), len(header), zlib.crc32(header))
    return b"7z\xbc\xaf\x27\x1c\x00\x04" + struct.pack("<I", zlib.crc32(start)) + start + packed + header


def test_a_7z_listing_more_files_than_the_limit_is_refused_before_py7zr_lists_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """py7zr parses the whole header into an object per entry before any count can be checked:
    seven million entries (12 KB on disk, the header compressed) took 57 s and 5 GB.  The header's
    size and entry count are now read first, and py7zr never opens such an archive: 2,001
    entries is over the member limit, 200,000 (a 2.4 MB header in a few KB) over the header
    limit, as are 2,001 compressed blocks declared for one file.  A hand-made archive of ten
    entries is still opened and listed."""
    import py7zr

    opened: list[str] = []
    original = py7zr.SevenZipFile.__init__

    def recording(self: py7zr.SevenZipFile, file: object, *args: object, **kwargs: object) -> None:
        opened.append(Path(str(file)).name)
        original(self, file, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(py7zr.SevenZipFile, "__init__", recording)
    inbox = inbox_with_good(tmp_path)
    (inbox / "淄博市甲.7z").write_bytes(_seven_zip_listing(2001, encoded=False))
    (inbox / "淄博市乙.7z").write_bytes(_seven_zip_listing(200_000, encoded=True))
    (inbox / "淄博市丙.7z").write_bytes(_seven_zip_listing(10, encoded=True))
    folders = 2001  # compressed blocks, each a stored (COPY) coder of one byte: one file declared
    unpack = b"\x0b\xff" + folders.to_bytes(8, "little") + b"\x00" + b"\x01\x01\x00" * folders
    (inbox / "淄博市丁.7z").write_bytes(_seven_zip(
        b"\x01\x04\x07" + unpack + b"\x0c" + b"\x01" * folders + b"\x00\x00\x05\x01\x00\x00"))
    assert len((inbox / "淄博市乙.7z").read_bytes()) < 20_000
    found = statuses(inbox)
    assert found[GOOD] == ("processed", None)
    assert found["淄博市甲.7z"] == ("rejected", "archive-bomb")
    assert found["淄博市乙.7z"] == ("rejected", "archive-bomb")
    assert found["淄博市丁.7z"] == ("rejected", "archive-bomb")
    assert found["淄博市丙.7z"][1] not in ("archive-bomb", "archive-unreadable")
    assert opened == ["淄博市丙.7z"]


def test_a_rar_member_needing_a_missing_tool_leaves_no_copy_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """rarfile copies a compressed member's archive to the temp folder before it looks for unrar,
    and leaves the copy when it finds none: a copy of the city's data on every run."""
    from sdbatch.intake import archives

    monkeypatch.setattr(archives, "tool_available", lambda: False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    inbox = inbox_with_good(tmp_path)
    rar5(inbox / "淄博市材料.rar", [("淄博市数字产业集群申报信息汇总表.xlsx", zibo_workbook(tmp_path))], method=3)
    found = statuses(inbox)
    assert found["淄博市材料.rar"] == ("rejected", "archive-tool-missing")
    assert not [p for p in (tmp_path / "tmp").iterdir() if p.suffix == ".rar"]


def _forwarded(levels: int, attachments: list[tuple[str, bytes]]) -> bytes:
    """A message forwarded ``levels`` times as an attachment (message/rfc822), the innermost one
    carrying ``attachments``."""
    from email.message import EmailMessage
    from email.parser import BytesParser
    from email.policy import default

    message = BytesParser(policy=default).parsebytes(eml("szcy@zibo.gxj.example", "汇总表", ON_TIME, attachments))
    for level in range(levels):
        outer = EmailMessage()
        outer["From"] = "szcy@zibo.gxj.example"
        outer["Subject"] = f"转发{level}"
        outer.set_content("转发")
        outer.add_attachment(message)
        message = outer
    return bytes(message)


def test_a_forwarded_message_is_opened_once_one_level_deeper(tmp_path: Path):
    """An attached message is an attachment: opened as a container of its own one level deeper,
    not walked into from every message around it (200 nested messages around a 20 MB file were
    re-serialised at every level: four minutes and 4 GB), so the nesting limit of archives holds."""
    from sdbatch import settings

    inbox = inbox_with_good(tmp_path)
    name = "淄博市数字产业集群申报信息汇总表.xlsx"
    once = _forwarded(1, [(name, zibo_workbook(tmp_path))])
    assert [a.name for a in parse_eml(once).attachments] == ["汇总表.eml"]
    (inbox / "淄博市转发.eml").write_bytes(once)
    (inbox / "淄博市多次转发.eml").write_bytes(_forwarded(settings.MAX_NESTING_DEPTH + 2,
                                                       [(name, zibo_workbook(tmp_path))]))
    # the attached message named without .eml, as some clients do, is opened as a message too
    part = b"Content-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\nMIME-Version: 1.0\nContent-Disposition: attachment\n"
    assert once.count(part) == 1
    (inbox / "淄博市转发无名.eml").write_bytes(once.replace(part, part[:-1] + b'; filename="noname"\n'))
    found = statuses(inbox)
    assert found[GOOD] == ("processed", None)
    assert found[f"淄博市转发.eml/汇总表.eml/{name}"] == ("processed", None)
    assert found[f"淄博市转发无名.eml/noname.eml/{name}"] == ("duplicate", None)  # the same workbook again
    assert ("rejected", "archive-too-deep") in found.values()
    assert not [f for f in found if f.startswith("淄博市多次转发.eml") and f.endswith(".xlsx")]


def test_an_inbox_inside_the_output_folder_is_read(tmp_path: Path):
    """``sdbatch run work/inbox --out work`` skipped every file as part of its own output and said
    the inbox was empty.  The output folder is left out of the walk only where it lies inside the
    inbox; its run folders and ledger stay out either way (an output folder that is the inbox
    itself is refused with its reason)."""
    from sdbatch.batch import RunOptions, run_batch
    from tests.decision_builders import NOW

    (tmp_path / "work").mkdir()
    inbox = inbox_with_good(tmp_path / "work")
    for run_id in ("t1", "t2"):  # the second run meets the first one's folder and ledger
        done = run_batch(inbox, RunOptions(out_dir=inbox.parent, now=NOW, run_id=run_id, mail_mode="none",
                                           force=True))
        assert done.result is not None
        assert [(f.file, f.status) for f in done.result.files] == [(GOOD, "processed")]


def test_a_header_of_megabytes_is_decoded_in_its_first_kilobytes():
    """Decoding encoded words is quadratic in Python's email package: a 5 MB subject or file name
    took a minute (the 100 MB message limit allowed hours).  A header is decoded in its first
    ``MAX_HEADER_CHARS`` characters; were it decoded whole again, this test would take minutes."""
    words = b" ".join([b"=?utf-8?b?5reE5Y2a5biC?="] * 250_000)  # 淄博市, 6 MB
    raw = (b"From: szcy@zibo.gxj.example\r\nSubject: " + words + b"\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: application/octet-stream\r\n"
           b'Content-Disposition: attachment; filename="' + words + b'.xlsx"\r\n\r\nx\r\n--B--\r\n')
    parsed = parse_eml(raw)
    assert parsed.info.subject is not None and parsed.info.subject.startswith("淄博市淄博市")
    [attachment] = parsed.attachments
    assert attachment.name.startswith("淄博市") and len(attachment.name.encode()) <= MAX_NAME_BYTES


def test_the_containers_of_one_item_list_at_most_the_member_limit_together(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch):
    """Each archive may hold MAX_ZIP_MEMBERS members, but a 4 MB zip of 100 zips of 2,000 small
    files each made 200,000 records (three minutes).  The containers of one inbox item now share
    that limit, as they share the bytes they may unpack."""
    import io

    from sdbatch import settings

    monkeypatch.setattr(settings, "MAX_ZIP_MEMBERS", 20)  # a workbook holds fewer parts
    inbox = inbox_with_good(tmp_path)
    inner = []
    for i in range(3):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for j in range(8):
                zf.writestr(f"说明{i}{j}.csv", "a,b\n1,2\n")
        inner.append((f"第{i}批.zip", buf.getvalue()))
    with zipfile.ZipFile(inbox / "淄博市材料.zip", "w") as zf:
        for name, data in inner:
            zf.writestr(name, data)
    found = statuses(inbox)
    assert found[GOOD] == ("processed", None)
    opened = [f for f, (status, _) in found.items() if f.startswith("淄博市材料.zip/") and f.endswith(".zip")
              and status == "ignored"]
    assert len(opened) == 2 and found["淄博市材料.zip/第2批.zip"] == ("rejected", "archive-bomb")
    assert len([f for f in found if f.endswith(".csv")]) == 16


def test_one_7z_member_py7zr_will_not_write_does_not_cost_the_others(tmp_path: Path):
    """py7zr extracts the wanted members in one call and fails as a whole for one it will not write
    ("C:x.xlsx"): the city's good workbook beside it was rejected as damaged with the rest.  The
    members are then taken one by one."""
    import py7zr

    inbox = inbox_with_good(tmp_path)
    name = "淄博市数字产业集群申报信息汇总表.xlsx"
    with py7zr.SevenZipFile(inbox / "淄博市材料.7z", "w") as archive:
        archive.writestr(zibo_workbook(tmp_path), name)
        archive.writestr(b"x", "C:x.xlsx")
    found = statuses(inbox)
    assert found[f"淄博市材料.7z/{name}"] == ("processed", None)
    assert found["淄博市材料.7z/C:x.xlsx"][0] == "rejected"


def test_a_name_with_line_breaks_or_reversing_marks_is_shown_plainly(tmp_path: Path):
    """A file or archive member may be named with a line break (which forged a line of run.log)
    or a right-to-left mark (``xslx.exe`` shown as ``exe.xlsx``).  Such characters show as "_"
    wherever the name is shown; the file itself is read as sent."""
    inbox = inbox_with_good(tmp_path)
    forged = "\n2024-06-27 15:30:00 信息 伪造的一行\n"
    with zipfile.ZipFile(inbox / "淄博市材料.zip", "w") as zf:
        zf.writestr(f"淄博市{forged}数字产业集群申报信息汇总表.xlsx", zibo_workbook(tmp_path))
        zf.writestr("说明\u202excod.xlsx", b"x")
    (inbox / f"青岛市{forged}.csv").write_text("a,b\n", encoding="utf-8")
    found = statuses(inbox)
    assert not [f for f in found if any(c in f for c in "\n\r\u202e")]
    assert found["淄博市材料.zip/淄博市_2024-06-27 15:30:00 信息 伪造的一行_数字产业集群申报信息汇总表.xlsx"] == (
        "processed", None)
    assert "青岛市_2024-06-27 15:30:00 信息 伪造的一行_.csv" in found
