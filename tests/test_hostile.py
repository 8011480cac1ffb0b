"""Hostile files (issue 8): a corpus built by fixtures, each with its expected outcome.

``build_corpus(folder)`` is shared with ``test_hostile_inbox.py``: it writes every hostile
file and returns ``{file name: expected rejection code, or the reader kind when readable}``.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from sdbatch import reading, settings
from sdbatch.model import FileRejected
from sdbatch.reading import cells, html, limits, sniff, xml2003

# ------------------------------------------------------------------------- builders
HEADERS = ["推荐排序", "所在市", "集群名称", "申报主体", "主导产业"]


def xlsx_bytes(rows: list[list[object]] | None = None) -> bytes:
    """A small valid workbook made by openpyxl (text cells go to sharedStrings.xml)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for row in rows or [HEADERS, [1, "济南市", "济南市集成电路产业集群", "某促进会", "集成电路"]]:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def replace_members(data: bytes, replace: dict[str, bytes], add: dict[str, bytes] | None = None) -> bytes:
    """The zip ``data`` with some members' content replaced and some added."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))
        for name, content in (add or {}).items():
            out.writestr(name, content)
    return buf.getvalue()


def _raw_zip(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip from pre-compressed members: (name, raw deflate data, crc, size, method)."""
    out = bytearray()
    central = bytearray()
    for name, raw, crc, size, method in members:
        encoded = name.encode()
        offset = len(out)
        out += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(raw), size, len(encoded), 0
        )
        out += encoded + raw
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(raw), size,
            len(encoded), 0, 0, 0, 0, 0, offset,
        )  # fmt: skip
        central += encoded
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    return bytes(out + central + eocd)


def bomb_xlsx_bytes(gigabytes: int = 1) -> bytes:
    """A real zip bomb: an otherwise plausible xlsx whose sheet inflates to ``gigabytes`` GB of zeros.

    Deflate blocks ended by a full flush are self-contained, so one compressed 16 MB block of
    zeros repeated is a valid stream (0.3 s instead of compressing 1 GB).
    """
    chunk = bytes(16 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    end = comp.flush(zlib.Z_FINISH)
    repeats = gigabytes * 64
    crc = 0
    for _ in range(repeats):
        crc = zlib.crc32(chunk, crc)
    members = []
    for name, content in zipfile_members(xlsx_bytes()).items():
        if name == "xl/worksheets/sheet1.xml":
            members.append((name, block * repeats + end, crc, len(chunk) * repeats, 8))
        else:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            members.append((name, c.compress(content) + c.flush(), zlib.crc32(content), len(content), 8))
    return _raw_zip(members)


@functools.cache
def _valid_xlsx() -> bytes:  # one fixed workbook: openpyxl stamps the time into every new one
    return xlsx_bytes()


def zipfile_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


BILLION_LAUGHS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b"<!DOCTYPE sst [\n"
    b' <!ENTITY lol "lol">\n'
    + b"".join(
        b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>\n"
    b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
    b"<si><t>&lol9;</t></si></sst>"
)

XXE_WORKBOOK = (
    b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">&xxe;</workbook>'
)


def with_shared_strings(data: bytes, shared: bytes) -> bytes:
    """An openpyxl workbook (which writes inline strings) given a sharedStrings part, registered."""
    members = zipfile_members(data)
    types = members["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType='
        b'"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    rels = members["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rIdSst" Target="sharedStrings.xml" Type='
        b'"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/></Relationships>',
    )
    replaced = {"[Content_Types].xml": types, "xl/_rels/workbook.xml.rels": rels}
    return replace_members(data, replaced, {"xl/sharedStrings.xml": shared})


def laughs_xlsx_bytes() -> bytes:
    return with_shared_strings(xlsx_bytes(), BILLION_LAUGHS)


def encrypted_xlsx_bytes() -> bytes:
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(xlsx_bytes())).encrypt("123456", out)
    return out.getvalue()


def docx_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        zf.writestr("word/document.xml", '<?xml version="1.0"?><w:document xmlns:w="x">济南市</w:document>')
    return buf.getvalue()


def xls_bytes() -> bytes:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("汇总表")
    for c, text in enumerate(HEADERS):
        ws.write(0, c, text)
    ws.write(1, 0, 1)
    ws.write(1, 1, "青岛市")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _ole_rename(data: bytes, old: str, new: str) -> bytes:
    """Rename a directory entry of an OLE2 file in place (names are UTF-16, 64 bytes)."""
    needle = (old + "\0").encode("utf-16-le")
    at = data.index(needle)
    assert struct.unpack("<H", data[at + 64 : at + 66])[0] == len(needle)
    name = (new + "\0").encode("utf-16-le").ljust(64, b"\0")
    return data[:at] + name + struct.pack("<H", len(new) * 2 + 2) + data[at + 66 :]


def doc_like_bytes() -> bytes:
    """An OLE2 compound file whose only stream is WordDocument (a Word 97-2003 .doc)."""
    return _ole_rename(xls_bytes(), "Workbook", "WordDocument")


def encrypted_xls_bytes(tmp: Path) -> bytes:
    """An .xls whose globals carry a FILEPASS record (XOR obfuscation), same stream length."""
    import olefile

    path = tmp / "enc-src.xls"
    path.write_bytes(xls_bytes())
    with olefile.OleFileIO(str(path), write_mode=True) as ole:
        stream = bytearray(ole.openstream("Workbook").read())
        # replace INTERFACEHDR(2) + MMS(2) + INTERFACEEND(0) = 16 bytes by FILEPASS(6) + DSF(2)
        at = stream.index(struct.pack("<HH", 0x00E1, 2))
        assert stream[at + 6 : at + 8] == struct.pack("<H", 0x00C1)
        stream[at : at + 16] = struct.pack("<HHHHH", 0x002F, 6, 0, 0x1234, 0x5678) + struct.pack(
            "<HHH", 0x0161, 2, 0
        )
        ole.write_stream("Workbook", bytes(stream))
    return path.read_bytes()


HTML_XLS = """<html xmlns:x="urn:schemas-microsoft-com:office:excel">
<head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<style>td {{mso-number-format:General}}</style></head>
<body><table border=1>
<tr><td colspan=5>淄博市数字产业集群申报信息汇总表</td></tr>
<tr><th rowspan=2>推荐排序</th><th rowspan=2>所在市</th><th rowspan=2>集群名称</th>
    <th colspan=2>研发投入</th></tr>
<tr><th>金额（亿元）</th><th>比重（%）</th></tr>
<tr><td x:num="1">1</td><td rowspan=2>淄博市</td><td>淄博&nbsp;新型电子材料<br>产业集群</td>
    <td x:num="12.5">12.50</td><td>3.5%</td></tr>
<tr><td x:num>2</td><td>淄博先进计算集群</td><td>8</td><td>4</td></tr>
</table>
<table><tr><td>第二张表不读</td></tr></table>
</body></html>
"""

XML2003 = """<?xml version="1.0" encoding="UTF-8"?>
<?mso-application progid="Excel.Sheet"?>
<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"
 xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">
 <Worksheet ss:Name="汇总表"><Table>
  <Row><Cell ss:MergeAcross="2"><Data ss:Type="String">日照市汇总表</Data></Cell></Row>
  <Row><Cell><Data ss:Type="String">推荐排序</Data></Cell><Cell><Data ss:Type="String">所在市</Data></Cell>
       <Cell ss:Index="4"><Data ss:Type="String">营业收入</Data></Cell></Row>
  <Row><Cell><Data ss:Type="Number">1</Data></Cell><Cell><Data ss:Type="String">日照市</Data></Cell>
       <Cell ss:Index="4"><Data ss:Type="Number">66.5</Data></Cell></Row>
 </Table></Worksheet>
</Workbook>
"""


def ods_bytes(content_body: str) -> bytes:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content'
        ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet>{content_body}</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest'
        ' xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", content)
        zf.writestr("META-INF/manifest.xml", manifest)
    return buf.getvalue()


def ods_repeat_bomb_bytes() -> bytes:
    """1 KB that calamine would expand to 99 million cells (about 2.4 GB) before aborting the process."""
    return ods_bytes(
        '<table:table table:name="S"><table:table-row table:number-rows-repeated="99000">'
        '<table:table-cell table:number-columns-repeated="1000" office:value-type="string"><text:p>x</text:p>'
        "</table:table-cell></table:table-row></table:table>"
    )


def cell_bomb_xlsx_bytes(rows: int = 200_000) -> bytes:
    """A 120 KB xlsx, within every archive limit (ratio about 140:1), holding a million cells:
    openpyxl's full mode would need about 1 GB for it."""
    rng = random.Random(3)
    sheet = [b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>']
    for _ in range(rows):
        sheet.append(b"<row>" + b"<c><v>1</v></c>" * 4 + b"<c><v>%d</v></c></row>" % rng.randrange(4))
    sheet.append(b"</sheetData></worksheet>")
    return replace_members(_valid_xlsx(), {"xl/worksheets/sheet1.xml": b"".join(sheet)})


def build_corpus(folder: Path, bomb: bytes | None = None) -> dict[str, str]:
    """Write the hostile corpus into ``folder``: file name -> expected code (or kind when readable)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(8)
    valid = xlsx_bytes()
    files: dict[str, tuple[bytes, str]] = {
        "zip炸弹.xlsx": (bomb if bomb is not None else bomb_xlsx_bytes(), "archive-bomb"),
        "十亿笑声.xlsx": (laughs_xlsx_bytes(), "unsafe-xml"),
        "外部实体.xlsx": (replace_members(valid, {"xl/workbook.xml": XXE_WORKBOOK}), "unsafe-xml"),
        "加密.xlsx": (encrypted_xlsx_bytes(), "file-encrypted"),
        "截断.xlsx": (valid[: len(valid) * 2 // 3], "file-truncated"),
        "Word改名.xlsx": (docx_bytes(), "not-a-spreadsheet"),
        "Word旧版.xls": (doc_like_bytes(), "not-a-spreadsheet"),
        "网页另存.xls": (HTML_XLS.encode("gb18030"), "html"),
        "空文件.xlsx": (b"", "file-empty"),
        "~$济南市汇总表.xlsx": (valid, "lock-file"),
        "随机字节.xlsx": (bytes(rng.getrandbits(8) for _ in range(4096)), "not-a-spreadsheet"),
        "重复单元格.ods": (ods_repeat_bomb_bytes(), "file-too-large"),
        # Within every archive limit: passes preflight, is streamed (not held twice in full mode).
        "单元格炸弹.xlsx": (cell_bomb_xlsx_bytes(), "xlsx"),
    }
    for name, (content, _) in files.items():
        (folder / name).write_bytes(content)
    return {name: expected for name, (_, expected) in files.items()}


# ------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def bomb() -> bytes:
    return bomb_xlsx_bytes()


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory, bomb: bytes) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("hostile")
    return folder, build_corpus(folder, bomb)


def _outcome(path: Path) -> str:
    try:
        return limits.preflight(path)
    except FileRejected as exc:
        return exc.code


# ------------------------------------------------------------------------- the corpus
def test_corpus_outcomes(corpus: tuple[Path, dict[str, str]]) -> None:
    folder, expected = corpus
    got = {name: _outcome(folder / name) for name in expected}
    assert got == expected


def test_every_rejection_renders_in_chinese(corpus: tuple[Path, dict[str, str]]) -> None:
    from sdbatch.model import FileRecord

    folder, expected = corpus
    for name in expected:
        try:
            limits.preflight(folder / name)
        except FileRejected as exc:
            record = FileRecord(file=name, path=str(folder / name), sha256="", size=0, mtime=0,
                                status="rejected", error_code=exc.code, error_params=exc.params)  # fmt: skip
            assert record.error and name in record.error and "{" not in record.error


def test_bomb_really_inflates_past_one_gigabyte(bomb: bytes) -> None:
    info = zipfile.ZipFile(io.BytesIO(bomb)).getinfo("xl/worksheets/sheet1.xml")
    assert info.file_size >= 1 << 30
    assert len(bomb) < 2 << 20
    # the first megabyte really inflates (the stream is not just a lie in the directory)
    with zipfile.ZipFile(io.BytesIO(bomb)).open(info) as member:
        assert member.read(1 << 20) == bytes(1 << 20)


def test_bomb_detail_names_the_ratio(tmp_path: Path, bomb: bytes) -> None:
    path = tmp_path / "b.xlsx"
    path.write_bytes(bomb)
    with pytest.raises(FileRejected) as caught:
        limits.preflight(path)
    assert "压缩比" in caught.value.params["detail"]


def test_total_uncompressed_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "MAX_UNCOMPRESSED_BYTES", 10_000)
    path = tmp_path / "big.xlsx"
    path.write_bytes(xlsx_bytes([[f"文本{i}" * 5 for i in range(20)] for _ in range(50)]))
    with pytest.raises(FileRejected) as caught:
        limits.preflight(path)
    assert caught.value.code == "archive-bomb" and "解压后共" in caught.value.params["detail"]


def test_too_many_members(tmp_path: Path) -> None:
    path = tmp_path / "many.xlsx"
    path.write_bytes(
        replace_members(
            xlsx_bytes(), {}, {f"xl/media/x{i}.bin": b"" for i in range(settings.MAX_ZIP_MEMBERS)}
        )
    )
    assert _outcome(path) == "archive-bomb"


def test_huge_central_directory_refused_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the end record claims few entries, but the directory is large: refused on its size
    monkeypatch.setattr(settings, "MAX_ZIP_DIRECTORY_BYTES", 2000)
    path = tmp_path / "dir.xlsx"
    path.write_bytes(
        replace_members(xlsx_bytes(), {}, {f"xl/media/{'x' * 40}{i}.bin": b"" for i in range(60)})
    )
    assert _outcome(path) == "archive-bomb"


def test_defusedxml_in_effect_for_openpyxl() -> None:
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML is True


def test_billion_laughs_would_be_refused_by_openpyxl_too(tmp_path: Path) -> None:
    # second line of defence, should preflight ever be skipped: defusedxml raises, no hang
    import openpyxl
    from defusedxml import DefusedXmlException

    path = tmp_path / "l.xlsx"
    path.write_bytes(laughs_xlsx_bytes())
    with pytest.raises(ValueError) as caught:  # openpyxl wraps defusedxml's EntitiesForbidden
        openpyxl.load_workbook(path)
    assert isinstance(caught.value.__cause__, DefusedXmlException)
    assert reading.rejection_for(caught.value, path).code == "unsafe-xml"


@pytest.mark.parametrize(
    "prolog",
    [
        b'<?xml version="1.0"?>' + b"<!--" + b"x" * 20000 + b"-->" + b"<!DOCTYPE a>",  # past the first 4 KB
        b'<?xml version="1.0"?>' + b" " * 5000 + b"<!ENTITY a 'b'>",
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY b "c">]>'.encode("utf-16"),
        b"\xef\xbb\xbf<!doctype sst>",
        b"<?xml version='1.0'?>"
        + b" " * (settings.XML_PROLOG_SCAN_BYTES + 10)
        + b"<sst/>",  # prolog too long
    ],
)
def test_dtd_hidden_in_the_prolog(tmp_path: Path, prolog: bytes) -> None:
    path = tmp_path / "p.xlsx"
    path.write_bytes(with_shared_strings(xlsx_bytes(), prolog + b"<sst/>"))
    assert _outcome(path) == "unsafe-xml"


def test_comment_mentioning_doctype_after_root_is_fine() -> None:
    assert limits.xml_prolog_problem(b'<?xml version="1.0"?><!-- c --><sst><!-- <!DOCTYPE --></sst>') is None


# ------------------------------------------------------------------------- other containers
def test_readable_kinds(tmp_path: Path) -> None:
    cases = {
        "a.xlsx": xlsx_bytes(),
        "b.xls": xls_bytes(),
        "c.csv": "推荐排序,所在市\n1,济南市\n".encode("gb18030"),
        "d.txt": "推荐排序\t所在市\n1\t济南市\n".encode(),
        "e.xls": XML2003.encode(),
        "f.xlsx": replace_members(
            xlsx_bytes(), {}, {"xl/vbaProject.bin": b"\0" * 100}
        ),  # named .xlsx, has macros
        "g.xls": "推荐排序,所在市\n1,济南市\n".encode("gb18030"),  # a CSV export named .xls
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    got = {name: _outcome(tmp_path / name) for name in cases}
    assert got == {"a.xlsx": "xlsx", "b.xls": "xls", "c.csv": "csv", "d.txt": "csv", "e.xls": "xml2003",
                   "f.xlsx": "xlsm", "g.xls": "csv"}  # fmt: skip


def test_ods(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", '<?xml version="1.0"?><office:document-content xmlns:office="x"/>')
    (tmp_path / "a.ods").write_bytes(buf.getvalue())
    assert _outcome(tmp_path / "a.ods") == "ods"


@pytest.mark.parametrize(
    "content, code, detail",
    [
        (b"%PDF-1.7\n...", "not-a-spreadsheet", "PDF"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "not-a-spreadsheet", "图片"),
        (b"\xd0\xcf\x11\xe0", "file-truncated", None),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "file-truncated", None),
        (b"PK\x03\x04" + bytes(100), "file-truncated", None),
        (
            b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=x\r\n",
            "not-a-spreadsheet",
            ".mht",
        ),
        (b"<?xml version='1.0'?><note>hi</note>", "not-a-spreadsheet", "XML"),
        (b"   \n\n  ", "file-empty", None),
        ("这是一封信，不是表格。".encode(), "not-a-spreadsheet", "纯文本"),
    ],
)
def test_other_rejections(tmp_path: Path, content: bytes, code: str, detail: str | None) -> None:
    path = tmp_path / "x.xls"
    path.write_bytes(content)
    with pytest.raises(FileRejected) as caught:
        limits.preflight(path)
    assert caught.value.code == code
    if detail:
        assert detail in caught.value.params["detail"]


def test_zip_of_a_workbook_and_xlsb_and_pptx(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("济南市汇总表.xlsx", xlsx_bytes())
    (tmp_path / "a.zip").write_bytes(buf.getvalue())
    (tmp_path / "b.xlsb").write_bytes(replace_members(docx_bytes(), {}, {"xl/workbook.bin": b"x"}))
    (tmp_path / "c.xlsx").write_bytes(replace_members(docx_bytes(), {}, {"ppt/presentation.xml": b"<p/>"}))
    with pytest.raises(FileRejected) as caught:
        limits.preflight(tmp_path / "a.zip")
    assert caught.value.code == "not-a-spreadsheet" and "解压" in caught.value.params["detail"]
    assert _outcome(tmp_path / "b.xlsb") == "file-unreadable"
    assert _outcome(tmp_path / "c.xlsx") == "not-a-spreadsheet"  # word/document.xml wins: a Word file


def test_encrypted_xls(tmp_path: Path) -> None:
    path = tmp_path / "enc.xls"
    path.write_bytes(encrypted_xls_bytes(tmp_path))
    assert _outcome(path) == "file-encrypted"
    plain = tmp_path / "plain.xls"
    plain.write_bytes(xls_bytes())
    assert _outcome(plain) == "xls"


def test_too_large_and_lock_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "MAX_FILE_BYTES", 1000)
    (tmp_path / "big.xlsx").write_bytes(xlsx_bytes())
    (tmp_path / ".~lock.济南市.xlsx#").write_bytes(b"x")
    assert _outcome(tmp_path / "big.xlsx") == "file-too-large"
    assert _outcome(tmp_path / ".~lock.济南市.xlsx#") == "lock-file"


# ------------------------------------------------------------------------- notes
def test_workbook_notes_macros_and_external_links(tmp_path: Path) -> None:
    rels = (
        b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId1" Type="x" Target="file:///C:\\%E8%B4%A2%E5%8A%A1\\\xe6\xb5\x8e\xe5\x8d\x97\xe6\x95\xb0\xe6\x8d\xae.xlsx" TargetMode="External"/>'
        b"</Relationships>"
    )
    data = replace_members(
        xlsx_bytes(),
        {},
        {
            "xl/vbaProject.bin": b"\0" * 10,
            "xl/externalLinks/externalLink1.xml": b'<?xml version="1.0"?><externalLink/>',
            "xl/externalLinks/_rels/externalLink1.xml.rels": rels,
        },
    )
    path = tmp_path / "m.xlsm"
    path.write_bytes(data)
    kind = limits.preflight(path)
    assert kind == "xlsm"
    notes = {n.code: n for n in sniff.workbook_notes(path, kind)}
    assert set(notes) == {"macros-present", "external-links"}
    assert "济南数据.xlsx" in notes["external-links"].params["detail"]
    assert notes["macros-present"].severity == "warning"
    clean = tmp_path / "c.xlsx"
    clean.write_bytes(xlsx_bytes())
    assert sniff.workbook_notes(clean, "xlsx") == []


def test_cap_text() -> None:
    assert cells.cap_text("短") == ("短", False)
    long = "长" * (settings.MAX_CELL_CHARS + 5)
    cut, was_cut = cells.cap_text(long)
    assert was_cut and len(cut) == settings.MAX_CELL_CHARS


def test_rejection_for() -> None:
    p = Path("x.xls")
    assert reading.rejection_for(zipfile.BadZipFile("File is not a zip file"), p).code == "file-truncated"
    assert reading.rejection_for(Exception("Workbook is encrypted"), p).code == "file-encrypted"
    assert reading.rejection_for(KeyError("xl/styles.xml"), p).code == "file-unreadable"


# ------------------------------------------------------------------------- HTML / XML 2003 tables
def test_html_xls_is_read(corpus: tuple[Path, dict[str, str]]) -> None:
    folder, _ = corpus
    rows = html.read_html_table(folder / "网页另存.xls")
    assert rows[0] == ["淄博市数字产业集群申报信息汇总表"] * 5
    assert rows[1] == ["推荐排序", "所在市", "集群名称", "研发投入", "研发投入"]
    assert rows[2] == ["推荐排序", "所在市", "集群名称", "金额（亿元）", "比重（%）"]
    assert rows[3] == ["1", "淄博市", "淄博 新型电子材料\n产业集群", "12.5", "3.5%"]
    assert rows[4] == ["2", "淄博市", "淄博先进计算集群", "8", "4"]
    assert len(rows) == 5  # the second table is not read


def test_html_sheet_keeps_merges(corpus: tuple[Path, dict[str, str]]) -> None:
    folder, _ = corpus
    sheet = html.read_html_sheet(folder / "网页另存.xls")
    assert sheet.value(0, 0) == "淄博市数字产业集群申报信息汇总表" and sheet.value(0, 1) is None
    assert (0, 0, 0, 4) in sheet.merged and (1, 3, 1, 4) in sheet.merged and (3, 1, 4, 1) in sheet.merged
    assert sheet.value(4, 1) is None and sheet.value(4, 2) == "淄博先进计算集群"


def test_html_encodings(tmp_path: Path) -> None:
    table = "<table><tr><td>济南市</td><td>集成电路</td></tr></table>"
    for i, data in enumerate(
        [
            table.encode("utf-8"),
            table.encode("gb18030"),  # no declaration: utf-8 fails, gb18030 wins
            ("<html><head><meta charset='GBK'></head><body>" + table).encode("gb18030"),
            ("\ufeff<html>" + table).encode("utf-16"),
        ]
    ):
        path = tmp_path / f"{i}.xls"
        path.write_bytes(data)
        assert limits.preflight(path) == "html", i
        assert html.read_html_table(path) == [["济南市", "集成电路"]], i


def test_html_without_table(tmp_path: Path) -> None:
    path = tmp_path / "x.xls"
    path.write_text("<html><body><p>请查收附件</p></body></html>", encoding="utf-8")
    with pytest.raises(FileRejected) as caught:
        html.read_html_table(path)
    assert caught.value.code == "not-a-spreadsheet"


def test_html_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.xls"
    # a span amplification attack: small file, huge grid when spans are expanded
    path.write_text("<table>" + "<tr><td colspan=100000 rowspan=100000>x</td></tr>" * 300 + "</table>")
    monkeypatch.setattr(settings, "MAX_CELLS", 100_000)
    with pytest.raises(FileRejected) as caught:
        html.read_html_table(path)
    assert caught.value.code == "file-too-large"
    path.write_text("<table><tr>" + "<td>1</td>" * (settings.MAX_COLS + 1) + "</tr></table>")
    with pytest.raises(FileRejected):
        html.read_html_table(path)
    long = "长" * (settings.MAX_CELL_CHARS * 2)
    path.write_text(f"<table><tr><td>{long}</td></tr></table>")
    cell = html.read_html_table(path)[0][0]
    assert cells.cap_text(cell)[1] is True and len(cell) <= settings.MAX_CELL_CHARS + 1


def test_xml2003_is_read(tmp_path: Path) -> None:
    path = tmp_path / "x.xls"
    path.write_text(XML2003, encoding="utf-8")
    [sheet] = xml2003.read_xml2003_sheets(path)
    assert sheet.name == "汇总表"
    assert sheet.rows[0][0] == "日照市汇总表" and (0, 0, 0, 2) in sheet.merged
    assert sheet.rows[1] == ["推荐排序", "所在市", None, "营业收入"]
    assert sheet.rows[2] == [1, "日照市", None, 66.5]


def test_xml2003_with_entities_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.xls"
    path.write_text(XML2003.replace("<?mso", '<!DOCTYPE W [<!ENTITY a "b">]><?mso'), encoding="utf-8")
    with pytest.raises(FileRejected) as caught:
        xml2003.read_xml2003_sheets(path)
    assert caught.value.code == "unsafe-xml"


# ------------------------------------------------------------------------- properties
FAST = hyp_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

prefixes = st.sampled_from(
    [
        b"",
        b"PK\x03\x04",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        b"<html><table>",
        b"<?xml version='1.0'?>",
        b"\xef\xbb\xbf",
    ]
)


@FAST
@given(
    prefix=prefixes,
    body=st.binary(max_size=3000),
    suffix=st.sampled_from([".xlsx", ".xls", ".csv", ".ods", ""]),
)
def test_preflight_random_bytes_only_rejects(tmp_path: Path, prefix: bytes, body: bytes, suffix: str) -> None:
    path = tmp_path / f"r{suffix}"
    path.write_bytes(prefix + body)
    try:
        kind = limits.preflight(path)
    except FileRejected as exc:
        assert exc.code in {
            "file-empty", "file-truncated", "file-unreadable", "not-a-spreadsheet", "file-encrypted",
            "archive-bomb", "unsafe-xml", "file-too-large",
        }  # fmt: skip
    else:
        assert kind in {"xlsx", "xlsm", "xls", "ods", "csv", "html", "xml2003"}


@FAST
@given(data=st.data())
def test_preflight_mutated_workbook_only_rejects(tmp_path: Path, data: st.DataObject) -> None:
    raw = bytearray(_valid_xlsx())
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    path = tmp_path / "m.xlsx"
    path.write_bytes(bytes(raw[:cut]))
    try:
        limits.preflight(path)
    except FileRejected:
        pass


html_bits = st.sampled_from(
    ["<table>", "</table>", "<tr>", "</tr>", "<td>", "</td>", "<th colspan=3>", "<td rowspan='2'>", "<td colspan=x>",
     "<td rowspan=-4 colspan=0>", "<br>", "<br/>", "&nbsp;", "&#0;", "<![CDATA[", "<!--", "-->", "<script>", "<!doctype",
     "<td x:num>", '<td x:num="1e9">', "<?", "<![if", "<meta charset=gb2312>", "济南", "\x00", "<", ">", "&"]
)  # fmt: skip


@FAST
@given(parts=st.lists(st.one_of(html_bits, st.text(max_size=20)), max_size=60))
def test_read_html_table_random_text_only_rejects(tmp_path: Path, parts: list[str]) -> None:
    path = tmp_path / "h.xls"
    path.write_text("".join(parts), encoding="utf-8", errors="surrogatepass")
    try:
        rows = html.read_html_table(path)
    except FileRejected as exc:
        assert exc.code in {"not-a-spreadsheet", "file-unreadable", "file-too-large"}
    else:
        assert all(isinstance(c, str) for row in rows for c in row)


@FAST
@given(body=st.binary(max_size=2000))
def test_read_html_table_random_bytes_only_rejects(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "h.xls"
    path.write_bytes(b"<table><tr><td>" + body)
    try:
        html.read_html_table(path)
    except FileRejected:
        pass


@FAST
@given(body=st.binary(max_size=2000))
def test_read_xml2003_random_bytes_only_rejects(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "x.xls"
    path.write_bytes(XML2003.encode()[: len(XML2003) // 2] + body)
    try:
        xml2003.read_xml2003_sheets(path)
    except FileRejected:
        pass


def test_html_percent_keeps_shown_text_and_wrong_charset_declaration(tmp_path: Path) -> None:
    page = (
        "<html><head><meta charset='utf-8'></head><table><tr>"
        "<td x:num='0.035'>3.5%</td><td x:num='3.456'>3.46</td><td>济南市</td></tr></table></html>"
    )
    path = tmp_path / "p.xls"
    path.write_bytes(page.encode("gb18030"))  # declared utf-8, written in GBK: the bytes win
    assert html.read_html_table(path) == [["3.5%", "3.456", "济南市"]]


def test_xml2003_hidden_sheet(tmp_path: Path) -> None:
    hidden = (
        '<Worksheet ss:Name="隐藏"><Table><Row><Cell><Data ss:Type="String">x</Data></Cell></Row></Table>'
        '<WorksheetOptions xmlns="urn:schemas-microsoft-com:office:excel"><Visible>SheetHidden</Visible>'
        "</WorksheetOptions></Worksheet>\n</Workbook>"
    )
    path = tmp_path / "x.xls"
    path.write_text(XML2003.replace("</Workbook>", hidden), encoding="utf-8")
    sheets = xml2003.read_xml2003_sheets(path)
    assert [(s.name, s.hidden) for s in sheets] == [("汇总表", False), ("隐藏", True)]


def test_workbook_part_found_through_content_types(tmp_path: Path) -> None:
    members = zipfile_members(_valid_xlsx())
    moved = {("xl/book.xml" if n == "xl/workbook.xml" else n): c for n, c in members.items()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in moved.items():
            zf.writestr(name, content)
    path = tmp_path / "moved.xlsx"
    path.write_bytes(buf.getvalue())
    assert limits.preflight(path) == "xlsx"


def test_ods_grid_limits(tmp_path: Path) -> None:
    # LibreOffice's own trailing empty repeats are fine; valued repeats are counted
    fine = ods_bytes(
        '<table:table table:name="S"><table:table-row><table:table-cell office:value-type="string">'
        '<text:p>济南市</text:p></table:table-cell><table:table-cell table:number-columns-repeated="16383"/>'
        '</table:table-row><table:table-row table:number-rows-repeated="1048575">'
        '<table:table-cell table:number-columns-repeated="16384"/></table:table-row></table:table>'
    )
    (tmp_path / "fine.ods").write_bytes(fine)
    assert limits.preflight(tmp_path / "fine.ods") == "ods"
    (tmp_path / "bomb.ods").write_bytes(ods_repeat_bomb_bytes())
    with pytest.raises(FileRejected) as caught:
        limits.preflight(tmp_path / "bomb.ods")
    assert caught.value.code == "file-too-large" and "99000 行" in caught.value.params["detail"]


def test_sheet_xml_bytes(tmp_path: Path) -> None:
    path = tmp_path / "c.xlsx"
    path.write_bytes(cell_bomb_xlsx_bytes(rows=1000))
    assert 80_000 < limits.sheet_xml_bytes(path) < 100_000
    assert limits.sheet_xml_bytes(tmp_path / "missing.xlsx") == 0
