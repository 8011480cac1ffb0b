"""Checks made before a file is opened (limits before work, issue 8).

``preflight`` looks at a file's name, size, first bytes and (for zip containers) the
central directory, and either returns the kind of reader to use or raises
:class:`FileRejected` with a code from the catalogue.  It never decompresses a whole
member: archive limits are checked on the *declared* sizes, which ``zipfile`` also enforces
when a reader later opens a member (it never returns more bytes than declared).

Kinds returned: ``xlsx``, ``xlsm``, ``xls``, ``ods``, ``csv``, ``html`` (an HTML table saved
as .xls, read by :func:`read_html_table` / :func:`read_html_sheet`) and ``xml2003`` (Excel
2003 XML spreadsheet saved as .xls, read by :func:`read_xml2003_sheets`).

Also here, for the readers in ``ingest``: :func:`workbook_notes` (macros, external links),
:func:`cap_text` (cell length limit) and :func:`rejection_for` (a reader library's exception
turned into a ``FileRejected``).
"""

from __future__ import annotations

import codecs
import re
import struct
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any

from sdbatch import settings
from sdbatch.model import FileRejected, Finding, RawSheet, Source

# ---------------------------------------------------------------------------------- magic
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SPREADSHEETML_NS = "urn:schemas-microsoft-com:office:spreadsheet"
# Formats people mistake for a spreadsheet: first bytes -> what to call them in the reason.
_OTHER_FORMATS: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF 文件"),
    (b"{\\rtf", "RTF 文档"),
    (b"Rar!", "RAR 压缩包，请解压后报送其中的表格"),
    (b"7z\xbc\xaf\x27\x1c", "7z 压缩包，请解压后报送其中的表格"),
    (b"\x1f\x8b", "gzip 压缩包"),
    (b"\x89PNG", "PNG 图片"),
    (b"\xff\xd8\xff", "JPEG 图片"),
    (b"GIF8", "GIF 图片"),
    (b"BM", "BMP 图片"),
    (b"MZ", "可执行程序"),
    (b"\x7fELF", "可执行程序"),
)
_TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
_SNIFF_BYTES = 8192


def _reject(code: str, path: Path, detail: str = "") -> FileRejected:
    return FileRejected(code, file=path.name, detail=detail)


# ------------------------------------------------------------------------------ preflight
def preflight(path: Path) -> str:
    """Return the reader kind for ``path`` or raise FileRejected.

    Kinds: xlsx, xlsm, xls, ods, csv, html, xml2003.  Decided by content, not by the file
    name's suffix (a .xls may be an HTML page, an .xlsx may be a Word document).
    """
    path = Path(path)
    name = path.name
    if name.startswith("~$") or name.startswith(".~lock"):
        raise FileRejected("lock-file", file=name)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _reject("file-unreadable", path, f"无法访问文件：{type(exc).__name__}") from None
    if size == 0:
        raise FileRejected("file-empty", file=name)
    if size > settings.MAX_FILE_BYTES:
        raise _reject(
            "file-too-large", path, f"{size / 1024 / 1024:.0f} MB，上限 {_mb(settings.MAX_FILE_BYTES)}"
        )
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        raise _reject("file-unreadable", path, f"无法读取文件：{type(exc).__name__}") from None

    if head.startswith(_ZIP_MAGIC):
        return _inspect_zip(path, size)
    if head.startswith(_OLE_MAGIC):
        return _inspect_ole(path)
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # OLE magic cut short
        raise _reject("file-truncated", path)
    for magic, what in _OTHER_FORMATS:
        if head.startswith(magic):
            raise _reject("not-a-spreadsheet", path, what)
    if not head.strip(b" \t\r\n\x00"):
        raise FileRejected("file-empty", file=name)
    return _inspect_text(path, head)


def _mb(n: int) -> str:
    return f"{n // 1024 // 1024} MB"


# ------------------------------------------------------------------------------------ zip
def _read_eocd(path: Path, size: int) -> tuple[int, int]:
    """(entry count, central directory size) from the end-of-central-directory record.

    Read by hand before ``zipfile`` builds one object per entry, so that a directory of
    millions of tiny entries is refused without being loaded.
    """
    tail_len = min(size, 22 + 65535 + 20 + 56)
    with path.open("rb") as fh:
        fh.seek(size - tail_len)
        tail = fh.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise _reject("file-truncated", path)
    (_sig, _disk, _cd_disk, _n_disk, count, cd_size, _cd_off, _clen) = struct.unpack(
        "<IHHHHIIH", tail[at : at + 22]
    )
    locator = tail.rfind(b"PK\x06\x07", 0, at)
    if locator >= 0 and (count == 0xFFFF or cd_size == 0xFFFFFFFF):
        zip64 = tail.rfind(b"PK\x06\x06", 0, locator)
        if zip64 >= 0 and len(tail) - zip64 >= 56:
            count, cd_size = struct.unpack("<QQ", tail[zip64 + 32 : zip64 + 48])
    return count, cd_size


def _inspect_zip(path: Path, size: int) -> str:
    count, cd_size = _read_eocd(path, size)
    if count > settings.MAX_ZIP_MEMBERS or cd_size > settings.MAX_ZIP_DIRECTORY_BYTES:
        raise _reject("archive-bomb", path, f"压缩包内文件数过多（{count} 个）")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise _reject("file-truncated", path) from None
    except (OSError, EOFError, ValueError, struct.error, NotImplementedError, RuntimeError) as exc:
        raise _reject("file-unreadable", path, f"压缩结构损坏：{type(exc).__name__}") from None
    with zf:
        infos = zf.infolist()
        _check_archive_limits(path, infos)
        names = {info.filename for info in infos}
        lower = {n.lower(): n for n in names}
        kind = _zip_kind(path, zf, lower)
        _check_sheet_sizes(path, infos, kind)
        _check_xml_members(path, zf, infos)
        if kind == "ods":
            _check_ods_grid(path, zf, lower["content.xml"])
        return kind


def _is_sheet_part(name: str, kind: str) -> bool:
    lower = name.lower()
    if kind == "ods":
        return lower == "content.xml"
    return lower.startswith("xl/worksheets/") and lower.endswith(".xml")


def sheet_xml_bytes(path: Path) -> int:
    """Declared uncompressed size of the largest sheet part of an xlsx/xlsm/ods (0 if none).

    For ``ingest`` to choose between full and streaming reads: the file size says little, a
    600 KB xlsx may hold 80 MB of sheet XML (5 million cells) within every archive limit.
    """
    kind = "ods" if Path(path).suffix.lower() == ".ods" else "xlsx"
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError):
        return 0
    if kind != "ods" and any(i.filename == "content.xml" for i in infos):
        kind = "ods"
    return max((i.file_size for i in infos if _is_sheet_part(i.filename, kind)), default=0)


def _check_sheet_sizes(path: Path, infos: list[zipfile.ZipInfo], kind: str) -> None:
    for info in infos:
        if _is_sheet_part(info.filename, kind) and info.file_size > settings.MAX_SHEET_XML_BYTES:
            raise _reject(
                "file-too-large",
                path,
                f"工作表解压后 {info.file_size / 1024 / 1024:.0f} MB，超过上限 {_mb(settings.MAX_SHEET_XML_BYTES)}",
            )


_ODS_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_ODS_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"


def _check_ods_grid(path: Path, zf: zipfile.ZipFile, name: str) -> None:
    """Refuse an ODS whose repeated rows/columns expand to a huge grid.

    ``table:number-rows-repeated`` / ``number-columns-repeated`` let a 1 KB file describe a
    billion cells; calamine builds the dense grid up to the last non-empty cell and aborts the
    whole process when memory runs out. Empty repeats (LibreOffice writes them for every
    file) cost nothing and are allowed.
    """
    from xml.parsers import expat

    state = {"row": 0, "height": 0, "width": 0, "rows_rep": 1, "col": 0, "row_width": 0}
    t_row, t_cell, t_cov = (f"{_ODS_TABLE} {n}" for n in ("table-row", "table-cell", "covered-table-cell"))
    t_table = f"{_ODS_TABLE} table"
    value_type = f"{_ODS_OFFICE} value-type"

    def repeat(attrs: dict[str, str], key: str) -> int:
        try:
            return max(int(attrs.get(f"{_ODS_TABLE} {key}", "1")), 1)
        except ValueError:
            return 1

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == t_table:
            state.update(row=0, height=0, width=0)
        elif tag == t_row:
            state.update(rows_rep=repeat(attrs, "number-rows-repeated"), col=0, row_width=0)
        elif tag in (t_cell, t_cov):
            cols = repeat(attrs, "number-columns-repeated")
            state["col"] += cols
            if value_type in attrs:
                state["row_width"] = state["col"]

    def end(tag: str) -> None:
        if tag == t_row:
            if state["row_width"]:
                state["height"] = state["row"] + state["rows_rep"]
                state["width"] = max(state["width"], state["row_width"])
            state["row"] += state["rows_rep"]
        elif tag == t_table:
            cells = state["height"] * state["width"]
            if (
                state["height"] > settings.MAX_ROWS
                or state["width"] > settings.MAX_COLS
                or cells > settings.MAX_CELLS
            ):
                raise _reject(
                    "file-too-large",
                    path,
                    f"表格展开后为 {state['height']} 行 × {state['width']} 列，超过上限",
                )

    def refuse(*_: Any) -> None:
        raise _reject("unsafe-xml", path, "content.xml：含实体声明（<!ENTITY>）")

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        with zf.open(name) as member:
            while chunk := member.read(1 << 20):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except FileRejected:
        raise
    except expat.ExpatError:
        raise _reject("file-unreadable", path, "content.xml 不是有效的 XML") from None
    except Exception as exc:  # noqa: BLE001 - zlib/CRC errors in a damaged member
        raise _reject("file-unreadable", path, f"压缩数据损坏：{type(exc).__name__}") from None


def _check_archive_limits(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > settings.MAX_ZIP_MEMBERS:
        raise _reject("archive-bomb", path, f"压缩包内文件数过多（{len(infos)} 个）")
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > settings.ZIP_RATIO_MIN_BYTES:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > settings.MAX_COMPRESSION_RATIO:
                raise _reject(
                    "archive-bomb",
                    path,
                    f"内部文件压缩比 {ratio:.0f}:1，超过上限 {settings.MAX_COMPRESSION_RATIO}:1",
                )
    if total > settings.MAX_UNCOMPRESSED_BYTES:
        raise _reject(
            "archive-bomb",
            path,
            f"解压后共 {total / 1024 / 1024:.0f} MB，超过上限 {_mb(settings.MAX_UNCOMPRESSED_BYTES)}",
        )


def _zip_kind(path: Path, zf: zipfile.ZipFile, lower: dict[str, str]) -> str:
    if "xl/workbook.xml" in lower or _declares_workbook(zf, lower):
        if any(n.startswith("xl/") and n.endswith("vbaproject.bin") for n in lower):
            return "xlsm"
        return "xlsx"
    if "xl/workbook.bin" in lower:
        raise _reject("file-unreadable", path, "Excel 二进制工作簿（.xlsb）暂不支持")
    if "mimetype" in lower:
        mimetype = _read_member_head(zf, lower["mimetype"], 200).decode("ascii", "replace").strip()
        if mimetype == "application/vnd.oasis.opendocument.spreadsheet":
            if "content.xml" not in lower:
                raise _reject("file-unreadable", path, "ODS 文件缺少 content.xml")
            return "ods"
        if "opendocument.text" in mimetype:
            raise _reject("not-a-spreadsheet", path, "ODF 文本文档")
        if "opendocument.presentation" in mimetype:
            raise _reject("not-a-spreadsheet", path, "ODF 演示文稿")
    if "word/document.xml" in lower:
        raise _reject("not-a-spreadsheet", path, "Word 文档")
    if "ppt/presentation.xml" in lower:
        raise _reject("not-a-spreadsheet", path, "PowerPoint 演示文稿")
    if "[content_types].xml" in lower:
        raise _reject("not-a-spreadsheet", path, "Office 文档，但不是 Excel 工作簿")
    if "index/document.iwa" in lower:
        raise _reject("not-a-spreadsheet", path, "Numbers 表格，请导出为 .xlsx")
    if not lower:
        raise FileRejected("file-empty", file=path.name)
    raise _reject(
        "not-a-spreadsheet", path, f"ZIP 压缩包（内含 {len(lower)} 个文件），请解压后报送其中的表格"
    )


_WORKBOOK_TYPES = (
    b"spreadsheetml.sheet.main+xml",
    b"ms-excel.sheet.macroenabled.main+xml",
    b"spreadsheetml.template.main+xml",
    b"ms-excel.template.macroenabled.main+xml",
)


def _declares_workbook(zf: zipfile.ZipFile, lower: dict[str, str]) -> bool:
    """An OOXML package whose workbook part is not at the usual xl/workbook.xml."""
    if "[content_types].xml" not in lower:
        return False
    types = _read_member_head(zf, lower["[content_types].xml"], settings.XML_PROLOG_SCAN_BYTES).lower()
    return any(t in types for t in _WORKBOOK_TYPES)


def _read_member_head(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    try:
        with zf.open(name) as member:
            return member.read(limit)
    except RuntimeError as exc:  # zipfile: "File ... is encrypted, password required"
        if "encrypted" in str(exc):
            raise FileRejected("file-encrypted", file=Path(zf.filename or "").name) from None
        raise FileRejected(
            "file-unreadable", file=Path(zf.filename or "").name, detail="压缩结构损坏"
        ) from None
    except zipfile.BadZipFile:
        raise FileRejected("file-truncated", file=Path(zf.filename or "").name) from None
    except Exception as exc:  # noqa: BLE001 - zlib.error, EOFError, struct.error…: a damaged member
        raise FileRejected(
            "file-unreadable", file=Path(zf.filename or "").name, detail=f"压缩数据损坏：{type(exc).__name__}"
        ) from None


_XML_SUFFIXES = (".xml", ".rels", ".vml")


def _check_xml_members(path: Path, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse DTDs and entity declarations (billion laughs, external entities) in any XML part.

    A DTD may only stand in the prolog, before the root element, so reading up to the root
    element (at most ``XML_PROLOG_SCAN_BYTES``) is enough.
    """
    for info in infos:
        if info.is_dir() or not info.filename.lower().endswith(_XML_SUFFIXES):
            continue
        head = _read_member_head(zf, info.filename, 4096)  # the prolog is short in every real file
        problem = xml_prolog_problem(head, complete=info.file_size <= len(head))
        if problem and len(head) < info.file_size:  # "too long to tell" on 4 KB: look further
            head = _read_member_head(zf, info.filename, settings.XML_PROLOG_SCAN_BYTES)
            problem = xml_prolog_problem(head, complete=info.file_size <= len(head))
        if problem:
            raise _reject("unsafe-xml", path, f"{PurePosixPath(info.filename).name}：{problem}")


# (first bytes, encoding, bytes to drop): BOMs first, then UTF-16/32 without BOM ("<" is 0x3C)
_MARKUP_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", 4),
    (codecs.BOM_UTF32_BE, "utf-32-be", 4),
    (codecs.BOM_UTF8, "utf-8", 3),
    (codecs.BOM_UTF16_LE, "utf-16-le", 2),
    (codecs.BOM_UTF16_BE, "utf-16-be", 2),
    (b"<\x00\x00\x00", "utf-32-le", 0),
    (b"\x00\x00\x00<", "utf-32-be", 0),
    (b"<\x00", "utf-16-le", 0),
    (b"\x00<", "utf-16-be", 0),
)


def _decode_markup_head(data: bytes) -> str:
    """Enough of an XML/HTML head, decoded, to look at its markup (ASCII-only decisions)."""
    for prefix, encoding, drop in _MARKUP_ENCODINGS:
        if data.startswith(prefix):
            body = data[drop:]
            width = 4 if "32" in encoding else 2 if "16" in encoding else 1
            return body[: len(body) // width * width].decode(encoding, "replace")
    return data.decode("latin-1")  # ASCII-compatible: enough to see the markup


def xml_prolog_problem(data: bytes, complete: bool = False) -> str | None:
    """Chinese reason when the XML prolog in ``data`` declares a DTD or entities, else None."""
    text = _decode_markup_head(data)
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n\ufeff":
            i += 1
            continue
        if ch != "<":
            return None  # not well-formed XML: the parser will say so, it cannot expand entities
        if text.startswith("<?", i):
            end = text.find("?>", i + 2)
            if end < 0:
                break
            i = end + 2
            continue
        if text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            if end < 0:
                break
            i = end + 3
            continue
        if text.startswith("<!", i):
            word = text[i + 2 : i + 9].upper()
            if word.startswith("ENTITY"):
                return "含实体声明（<!ENTITY>）"
            return "含文档类型定义（<!DOCTYPE>）"
        return None  # the root element: the prolog is over
    if complete:
        return None
    return "XML 文件开头过长，无法确认其安全"


# ------------------------------------------------------------------------------------ OLE
def _inspect_ole(path: Path) -> str:
    import olefile

    try:
        ole = olefile.OleFileIO(str(path))
    except Exception:  # noqa: BLE001 - olefile raises OSError, struct.error, IndexError…
        raise _reject("file-truncated", path) from None
    with ole:
        try:
            streams = {"/".join(entry).lower() for entry in ole.listdir(streams=True, storages=True)}
        except Exception:  # noqa: BLE001
            raise _reject("file-unreadable", path, "OLE 结构损坏") from None
    if "encryptioninfo" in streams or "encryptedpackage" in streams:
        raise FileRejected("file-encrypted", file=path.name)
    if "workbook" in streams:
        if _xls_encrypted(path):
            raise FileRejected("file-encrypted", file=path.name)
        return "xls"
    if "book" in streams:  # Excel 5.0/95 (BIFF5): xlrd reads it and reports encryption itself
        return "xls"
    if "worddocument" in streams:
        raise _reject("not-a-spreadsheet", path, "Word 文档")
    if "powerpoint document" in streams:
        raise _reject("not-a-spreadsheet", path, "PowerPoint 演示文稿")
    raise _reject("not-a-spreadsheet", path, "OLE 复合文档，但不含 Excel 工作簿")


def _xls_encrypted(path: Path) -> bool:
    """True when a BIFF8 workbook stream carries a FILEPASS record (password to open)."""
    import msoffcrypto

    try:
        with path.open("rb") as fh:
            return bool(msoffcrypto.OfficeFile(fh).is_encrypted())
    except Exception:  # noqa: BLE001 - msoffcrypto asserts on damaged BIFF
        raise _reject("file-unreadable", path, "Excel 97-2003 工作簿结构损坏") from None


# ----------------------------------------------------------------------------------- text
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""", re.I)


def _inspect_text(path: Path, head: bytes) -> str:
    text = _decode_markup_head(head).lstrip("\ufeff \t\r\n").lower()
    if text.startswith("<?xml") or text.startswith("<workbook"):
        if _SPREADSHEETML_NS in text or "<workbook" in text and "<ss:" in text:
            return "xml2003"
        if "<html" in text or "<table" in text:
            return "html"
        raise _reject("not-a-spreadsheet", path, "XML 文件，但不是 Excel 表格")
    if text.startswith("mime-version") or "multipart/related" in text[:2000]:
        raise _reject("not-a-spreadsheet", path, "单个文件网页（.mht），请在 Excel/WPS 中另存为 .xlsx")
    if text.startswith("<") and any(tag in text for tag in ("<html", "<table", "<!doctype html", "<body")):
        return "html"
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _reject("not-a-spreadsheet", path, "无法识别的二进制文件")
    if _decodes_as_text(head):
        first = text.split("\n", 1)[0]
        if path.suffix.lower() in _TEXT_SUFFIXES or any(sep in first for sep in (",", "\t", "，", ";")):
            return "csv"
        raise _reject("not-a-spreadsheet", path, "纯文本文件，不是表格")
    raise _reject("not-a-spreadsheet", path, "无法识别的文件格式")


def _decodes_as_text(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    for enc in ("utf-8", *settings.CSV_ENCODINGS):
        try:
            decoded = codecs.getincrementaldecoder(enc)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        controls = sum(1 for c in decoded if ord(c) < 32 and c not in "\t\r\n\f")
        return controls <= len(decoded) // 100
    return False


def detect_encoding(head: bytes) -> str:
    """Encoding of an HTML/XML/text file: BOM, then declared charset, then utf-8, then gb18030."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head[:2] == b"<\x00":
        return "utf-16-le"
    if head[:2] == b"\x00<":
        return "utf-16-be"
    found = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    if found:
        declared = found.group(1).decode("ascii", "replace").lower()
        try:
            canonical = codecs.lookup(declared).name
        except LookupError:
            canonical = ""
        if canonical in ("gb2312", "gbk", "gb18030", "hz") or declared in ("gb2312", "gbk", "cp936"):
            return "gb18030"  # a superset: files declared GB2312 often hold GBK characters
        if canonical and canonical not in ("utf-16", "utf-32") and _decodes(head, canonical):
            return (
                canonical  # a declared UTF-16 without BOM, or a declaration the bytes contradict, is ignored
            )
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut by the end of the sample
            return "utf-8"
    return "gb18030"


def _decodes(head: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _iter_text(path: Path, encoding: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            yield decoder.decode(chunk)
    yield decoder.decode(b"", final=True)


# ----------------------------------------------------------------------------- cell limits
def cap_text(value: str) -> tuple[str, bool]:
    """``value`` cut to ``MAX_CELL_CHARS`` characters, and whether it was cut."""
    if len(value) > settings.MAX_CELL_CHARS:
        return value[: settings.MAX_CELL_CHARS], True
    return value, False


class _Grid:
    """Cells placed at (row, col) with spans, bounded by MAX_ROWS / MAX_COLS / MAX_CELLS."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cells: dict[int, dict[int, str]] = {}
        self.merged: list[tuple[int, int, int, int]] = []
        self.count = 0

    def put(self, row: int, col: int, text: str, rowspan: int = 1, colspan: int = 1) -> None:
        if row >= settings.MAX_ROWS or col >= settings.MAX_COLS:
            if text.strip():
                what = (
                    f"超过 {settings.MAX_ROWS} 行"
                    if row >= settings.MAX_ROWS
                    else f"超过 {settings.MAX_COLS} 列"
                )
                raise _reject("file-too-large", self.path, f"表格{what}")
            return
        self.count += 1  # empty cells count too: they may carry spans
        if self.count > settings.MAX_CELLS:
            raise _reject("file-too-large", self.path, f"单元格超过 {settings.MAX_CELLS} 个")
        if text:
            self.cells.setdefault(row, {})[col] = text
        r1 = min(row + max(rowspan, 1), settings.MAX_ROWS) - 1
        c1 = min(col + max(colspan, 1), settings.MAX_COLS) - 1
        if (r1, c1) != (row, col):
            self.merged.append((row, col, r1, c1))

    def rows(self, n_rows: int, fill: bool) -> list[list[Any]]:
        out: list[list[Any]] = [[] for _ in range(n_rows)]
        for r, cols in self.cells.items():
            if r < n_rows:
                line = out[r]
                for c, text in cols.items():
                    if c >= len(line):
                        line.extend([None] * (c + 1 - len(line)))
                    line[c] = text
        merged = [(r0, c0, min(r1, n_rows - 1), c1) for (r0, c0, r1, c1) in self.merged if r0 < n_rows]
        self.merged = merged
        if fill:
            budget = settings.MAX_CELLS
            for r0, c0, r1, c1 in merged:
                value = out[r0][c0] if c0 < len(out[r0]) else None
                if value is None:
                    continue
                budget -= (r1 - r0 + 1) * (c1 - c0 + 1)
                if budget < 0:
                    raise _reject(
                        "file-too-large", self.path, f"合并单元格展开后超过 {settings.MAX_CELLS} 个"
                    )
                for r in range(r0, r1 + 1):
                    line = out[r]
                    if c1 >= len(line):
                        line.extend([None] * (c1 + 1 - len(line)))
                    for c in range(c0, c1 + 1):
                        if line[c] is None:
                            line[c] = value
        return out


# ----------------------------------------------------------------------------------- HTML
def _span(value: str | None) -> int:
    try:
        n = int((value or "1").strip().split(".")[0] or 1)
    except ValueError:
        return 1
    return n if n > 0 else 1


class _TableParser(HTMLParser):
    """The first <table> of a page: text of each td/th, with rowspan/colspan placement."""

    _BLOCK_BREAKS = ("br", "p", "div", "li")

    def __init__(self, grid: _Grid) -> None:
        super().__init__(convert_charrefs=True)
        self.grid = grid
        self.depth = 0  # <table> nesting; we read the outermost first table only
        self.done = False
        self.found = False
        self.row = -1
        self.col = 0
        self.active: list[tuple[int, int, int, int]] = []  # rowspans still open: (r0, c0, c1, r1)
        self.cell: list[str] | None = None
        self.cell_len = 0
        self.cell_span = (1, 1)
        self.cell_value: str | None = None  # Excel's x:num / x:str attribute
        self.skip = 0  # inside <script>/<style>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag in ("script", "style"):
            self.skip += 1
            return
        if tag == "table":
            self.depth += 1
            self.found = True
            return
        if self.depth != 1:
            if self.depth > 1 and tag in self._BLOCK_BREAKS:
                self._text("\n")
            return
        if tag == "tr":
            self._end_cell()
            self.row += 1
            self.col = 0
        elif tag in ("td", "th"):
            self._end_cell()
            if self.row < 0:
                self.row, self.col = 0, 0
            a = {k.lower(): v for k, v in attrs}
            self.cell = []
            self.cell_len = 0
            self.cell_span = (_span(a.get("rowspan")), _span(a.get("colspan")))
            # Excel's full-precision number; not for percentages, whose shown text keeps the "%"
            raw = a.get("x:num")
            self.cell_value = raw.strip() if raw and raw.strip() else None
        elif tag in self._BLOCK_BREAKS and self.cell is not None:
            self._text("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and self.cell is not None and not self.done:
            self._text("\n")
        elif tag not in ("table", "tr", "td", "th"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.done:
            return
        if tag in ("script", "style"):
            self.skip = max(self.skip - 1, 0)
        elif tag == "table" and self.depth:
            self.depth -= 1
            if self.depth == 0:
                self._end_cell()
                self.done = True
        elif self.depth == 1 and tag in ("td", "th", "tr"):
            self._end_cell()

    def handle_data(self, data: str) -> None:
        if self.cell is not None and not self.skip and not self.done:
            self._text(data)

    def _text(self, data: str) -> None:
        assert self.cell is not None
        room = settings.MAX_CELL_CHARS + 1 - self.cell_len  # one over, so cap_text still sees it
        if room > 0:
            piece = data[:room]
            self.cell.append(piece)
            self.cell_len += len(piece)

    def _end_cell(self) -> None:
        if self.cell is None:
            return
        text = _tidy("".join(self.cell))
        if self.cell_value is not None and not text.endswith("%"):
            text = self.cell_value
        self.cell = None
        self.active = [span for span in self.active if span[3] >= self.row]
        col = self.col
        moved = True
        while moved:  # skip the columns covered by rowspans from the rows above
            moved = False
            for r0, c0, c1, _r1 in self.active:
                if r0 < self.row and c0 <= col <= c1:
                    col, moved = c1 + 1, True
        rowspan, colspan = self.cell_span
        colspan = min(colspan, settings.MAX_COLS)
        rowspan = min(rowspan, settings.MAX_ROWS)
        self.grid.put(self.row, col, text, rowspan, colspan)
        if rowspan > 1 and col < settings.MAX_COLS:
            self.active.append((self.row, col, col + colspan - 1, self.row + rowspan - 1))
        self.col = col + colspan


def _tidy(text: str) -> str:
    """HTML whitespace rules: runs collapse to one space; <br> line breaks are kept."""
    lines = [" ".join(part.replace("\xa0", " ").split()) for part in text.split("\n")]
    return "\n".join(line for line in lines).strip("\n ")


def _parse_html(path: Path) -> tuple[_Grid, int]:
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    encoding = detect_encoding(head)
    grid = _Grid(path)
    parser = _TableParser(grid)
    try:
        for piece in _iter_text(path, encoding):
            parser.feed(piece)
            if parser.done:
                break
        parser.close()
    except FileRejected:
        raise
    except Exception as exc:  # noqa: BLE001 - html.parser on hostile markup
        raise _reject("file-unreadable", path, f"网页表格无法解析：{type(exc).__name__}") from None
    parser._end_cell()
    if not parser.found:
        raise _reject("not-a-spreadsheet", path, "网页文件中没有表格")
    return grid, parser.row + 1


def read_html_table(path: Path) -> list[list[str]]:
    """Rows of the first <table> of an HTML page saved as .xls, as text.

    A cell spanning several rows or columns has its text repeated in every cell it covers
    (so a two-row merged header or a city written once for three rows reads naturally).
    Empty cells are "". Raises FileRejected (not-a-spreadsheet when there is no table).
    """
    grid, n_rows = _parse_html(Path(path))
    return [["" if v is None else v for v in row] for row in grid.rows(n_rows, fill=True)]


def read_html_sheet(path: Path, name: str | None = None) -> RawSheet:
    """The first <table> as a RawSheet: spanned cells are None and listed in ``merged``,
    as the openpyxl reader does for merged cells."""
    path = Path(path)
    grid, n_rows = _parse_html(path)
    rows = grid.rows(n_rows, fill=False)
    return RawSheet(name=name or path.stem, rows=rows, merged=grid.merged)


# ------------------------------------------------------------------- Excel 2003 XML (.xls)
def read_xml2003_sheets(path: Path) -> list[RawSheet]:
    """Worksheets of an Excel 2003 XML spreadsheet (SpreadsheetML) saved as .xls.

    Parsed with defusedxml (no DTD, no entities) as a stream; cells are text or numbers.
    """
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    path = Path(path)
    ns = "{" + _SPREADSHEETML_NS + "}"
    sheets: list[RawSheet] = []
    grid: _Grid | None = None
    hidden_rows: set[int] = set()
    sheet_name = ""
    row = col = -1
    n_rows = 0
    numbers: dict[tuple[int, int], float] = {}
    try:
        for event, elem in iterparse(str(path), events=("start", "end"), forbid_dtd=True):
            tag = elem.tag
            if event == "start":
                if tag == ns + "Worksheet":
                    grid, hidden_rows, numbers = _Grid(path), set(), {}
                    sheet_name = elem.get(ns + "Name") or f"Sheet{len(sheets) + 1}"
                    row, n_rows = -1, 0
                elif tag == ns + "Row" and grid is not None:
                    index = elem.get(ns + "Index")
                    row = _span(index) - 1 if index else row + 1
                    col = -1
                    if elem.get(ns + "Hidden") == "1":
                        hidden_rows.add(row)
                    n_rows = max(n_rows, row + 1)
                    if n_rows > settings.MAX_ROWS:
                        raise _reject("file-too-large", path, f"表格超过 {settings.MAX_ROWS} 行")
                continue
            if tag == ns + "Cell" and grid is not None:
                index = elem.get(ns + "Index")
                col = _span(index) - 1 if index else col + 1
                across = _span(str(int(elem.get(ns + "MergeAcross") or 0) + 1))
                down = _span(str(int(elem.get(ns + "MergeDown") or 0) + 1))
                data = elem.find(ns + "Data")
                text = "".join(data.itertext()) if data is not None else ""
                text, _ = cap_text(text) if len(text) > settings.MAX_CELL_CHARS + 1 else (text, False)
                grid.put(row, col, text, down, across)
                if data is not None and data.get(ns + "Type") == "Number":
                    try:
                        numbers[(row, col)] = float(text)
                    except ValueError:
                        pass
                col += across - 1
                elem.clear()
            elif tag == ns + "Row":
                elem.clear()
            elif tag == ns + "Worksheet" and grid is not None:
                rows = grid.rows(n_rows, fill=False)
                for (r, c), number in numbers.items():
                    rows[r][c] = int(number) if number.is_integer() else number
                excel = "{urn:schemas-microsoft-com:office:excel}"
                visible = elem.findtext(f"{excel}WorksheetOptions/{excel}Visible") or ""
                hidden = visible.strip() in ("SheetHidden", "SheetVeryHidden")
                sheets.append(
                    RawSheet(
                        name=sheet_name, rows=rows, hidden=hidden, hidden_rows=hidden_rows, merged=grid.merged
                    )
                )
                grid = None
                elem.clear()
    except FileRejected:
        raise
    except DefusedXmlException:
        raise _reject("unsafe-xml", path, "含文档类型定义或实体声明") from None
    except Exception as exc:  # noqa: BLE001 - ParseError, ValueError on bad attributes…
        raise _reject("file-unreadable", path, f"XML 表格无法解析：{type(exc).__name__}") from None
    if not sheets:
        raise _reject("not-a-spreadsheet", path, "XML 文件中没有工作表")
    return sheets


# ------------------------------------------------------------------------- notes on a file
def workbook_notes(path: Path, kind: str) -> list[Finding]:
    """File-level findings for a file that passed preflight: macros (never run, never kept)
    and external links (ignored: only the cached cell values are read)."""
    from sdbatch.catalogue import default_severity

    path = Path(path)
    source = Source(file=path.name)
    notes: list[Finding] = []

    def note(code: str, **params: Any) -> None:
        notes.append(
            Finding(code, default_severity(code), params={"file": path.name, **params}, source=source)
        )

    if kind in ("xlsx", "xlsm", "ods"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                lower = [n.lower() for n in names]
                if any(n.endswith("vbaproject.bin") for n in lower) or (
                    kind == "ods" and any(n.startswith("basic/") and n.endswith(".xml") for n in lower)
                ):
                    note("macros-present")
                links = [
                    n
                    for n, lo in zip(names, lower, strict=True)
                    if lo.startswith("xl/externallinks/externallink")
                ]
                if links:
                    note("external-links", detail=_external_targets(zf, names, len(links)))
        except (zipfile.BadZipFile, OSError):
            pass  # preflight already vouched for the container; the reader will report damage
    elif kind == "xls":
        try:
            import olefile

            with olefile.OleFileIO(str(path)) as ole:
                entries = ["/".join(e).lower() for e in ole.listdir(streams=True, storages=True)]
            if any(e.startswith(("_vba_project_cur", "_vba_project")) for e in entries):
                note("macros-present")
        except Exception:  # noqa: BLE001
            pass
    return notes


_TARGET = re.compile(rb'Target="([^"]{1,500})"')


def _external_targets(zf: zipfile.ZipFile, names: list[str], count: int) -> str:
    targets: list[str] = []
    for name in names:
        lo = name.lower()
        if lo.startswith("xl/externallinks/_rels/") and lo.endswith(".rels"):
            head = _read_member_head(zf, name, 16384)
            for found in _TARGET.findall(head):
                target = found.decode("utf-8", "replace").replace("\\", "/").rsplit("/", 1)[-1]
                target = "".join(ch for ch in target if ch.isprintable())[:60]
                if target and target not in targets:
                    targets.append(target)
    shown = "、".join(targets[:3]) + ("等" if len(targets) > 3 else "")
    return f"{count} 个外部链接" + (f"：{shown}" if shown else "")


# ----------------------------------------------------------- reader exceptions -> rejection
_CELL_ROWS = re.compile(rb'<c r="[A-Z]{1,3}([0-9]{1,7})"[^>/]*>')
_CELL_COLS = re.compile(rb'<c r="([A-Z]{1,3})[0-9]{1,7}"[^>/]*>')


def value_extent(path: Path) -> tuple[int, int]:
    """(rows, columns) spanned by cells that hold something, over the worksheets of an xlsx.

    Readers lay sheets out densely: one value in XFD1048576 would make them build 17 billion
    cells.  Scanned in bounded chunks (the members passed the archive limits in preflight);
    a self-closing ``<c …/>`` is a styled empty cell and does not count.
    """
    rows = cols = 0
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not re.fullmatch(r"xl/worksheets/[^/]+\.xml", info.filename):
                    continue
                with zf.open(info) as fh:
                    tail = b""
                    while chunk := fh.read(1 << 22):
                        data = tail + chunk
                        found_rows = _CELL_ROWS.findall(data)
                        if found_rows:
                            rows = max(rows, max(map(int, found_rows)))
                            letters = max(set(_CELL_COLS.findall(data)), key=lambda b: (len(b), b))
                            cols = max(cols, _column_number(letters))
                        tail = chunk[-64:]
    except (OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError):
        return 0, 0  # the reader reports what is wrong with the archive
    return rows, cols


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


def full_read_ok(path: Path) -> bool:
    """Whether an xlsx is small enough for openpyxl's full mode (every cell held twice), by its
    file size and the uncompressed size of its largest sheet; ingest and the review writer agree."""
    return (Path(path).stat().st_size <= settings.FULL_READ_MAX_BYTES
            and sheet_xml_bytes(path) <= settings.FULL_READ_MAX_SHEET_XML_BYTES)


def rejection_for(exc: BaseException, path: Path) -> FileRejected:
    """A reader library's exception on a file that passed preflight, as a FileRejected.

    For ``ingest``: ``except Exception as exc: raise safety.rejection_for(exc, path) from None``.
    """
    path = Path(path)
    if isinstance(exc, FileRejected):
        return exc
    from defusedxml import DefusedXmlException

    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and len(chain) < 10:  # openpyxl wraps the parser's error in a ValueError
        chain.append(link)
        link = link.__cause__ or link.__context__
    if any(isinstance(e, DefusedXmlException) for e in chain):
        return _reject("unsafe-xml", path, "含文档类型定义或实体声明")
    text = str(exc).lower()
    if "encrypt" in text or "password" in text:
        return FileRejected("file-encrypted", file=path.name)
    if isinstance(exc, zipfile.BadZipFile | EOFError) or "truncat" in text or "unexpected end" in text:
        return _reject("file-truncated", path)
    if isinstance(exc, MemoryError):
        return _reject("file-too-large", path, "读取所需内存过大")
    # The library's own words are no help to a city: say what it means in Chinese.
    return _reject("file-unreadable", path, "文件内部结构不完整或不符合表格格式")
