"""What a file really is, decided by its content and never by its name's suffix.

A ``.xls`` may be an HTML page or an Excel 2003 XML spreadsheet, an ``.xlsx`` may be a Word
document, a ``.csv`` may be a PDF.  The functions here look at first bytes, zip members and
OLE streams and return the reader kind (``xlsx``, ``xlsm``, ``xls``, ``ods``, ``csv``,
``html``, ``xml2003``) or raise :class:`FileRejected` with a Chinese reason.  They are called
by :func:`sdbatch.reading.limits.preflight`, which checks the limits in between.

Also here: :func:`workbook_notes` (macros, external links: what a readable file carries
besides its cells) and the text helpers shared by the text readers (:func:`detect_encoding`,
:func:`iter_text`).
"""

from __future__ import annotations

import codecs
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sdbatch import settings
from sdbatch.catalogue import text
from sdbatch.model import FileRejected, Finding, Source
from sdbatch.text import display_name, vocabulary

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SPREADSHEETML_NS = "urn:schemas-microsoft-com:office:spreadsheet"
SNIFF_BYTES = 8192  # first bytes read to tell what a file is
# Formats people mistake for a spreadsheet: first bytes -> key of their name in ui.toml [reading.formats].
_OTHER_FORMATS: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "pdf"),
    (b"{\\rtf", "rtf"),
    (b"Rar!", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\x1f\x8b", "gzip"),
    (b"\x89PNG", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"BM", "bmp"),
    (b"MZ", "program"),
    (b"\x7fELF", "program"),
)
_TEXT_SUFFIXES = (".csv", ".txt", ".tsv")


def separators() -> tuple[str, ...]:
    """Column separators of text tables, in order of preference (vocabulary.toml)."""
    return tuple(vocabulary()["text_files"]["separators"])


def reject(code: str, path: Path, detail: str = "") -> FileRejected:
    """A FileRejected naming the file as people read it (GBK-byte names decoded)."""
    return FileRejected(code, file=display_name(Path(path).name), detail=detail)


# ------------------------------------------------------------------------------ the name
def check_name(path: Path) -> None:
    """Excel/WPS (``~$…``) and LibreOffice (``.~lock…``) lock files are not submissions."""
    name = Path(path).name
    if name.startswith("~$") or name.startswith(".~lock"):
        raise FileRejected("lock-file", file=display_name(name))


# ------------------------------------------------------------------------- first bytes
def container(path: Path, head: bytes) -> str:
    """``zip``, ``ole`` or ``text`` from a file's first bytes; other formats are refused."""
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(OLE_MAGIC):
        return "ole"
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # OLE magic cut short
        raise reject("file-truncated", path)
    for magic, what in _OTHER_FORMATS:
        if head.startswith(magic):
            raise reject("not-a-spreadsheet", path, text(f"reading.formats.{what}"))
    if not head.strip(b" \t\r\n\x00"):
        raise FileRejected("file-empty", file=display_name(Path(path).name))
    return "text"


# ------------------------------------------------------------------------------------ zip
def zip_kind(path: Path, zf: zipfile.ZipFile, lower: dict[str, str]) -> str:
    """The kind of a zip container (``lower``: member names lower-cased -> as stored)."""
    if "xl/workbook.xml" in lower or _declares_workbook(zf, lower):
        if any(n.startswith("xl/") and n.endswith("vbaproject.bin") for n in lower):
            return "xlsm"
        return "xlsx"
    if "xl/workbook.bin" in lower:
        raise reject("file-unreadable", path, text("reading.formats.xlsb"))
    if "mimetype" in lower:
        mimetype = read_member_head(zf, lower["mimetype"], 200).decode("ascii", "replace").strip()
        if mimetype == "application/vnd.oasis.opendocument.spreadsheet":
            if "content.xml" not in lower:
                raise reject("file-unreadable", path, text("reading.ods_without_content"))
            return "ods"
        if "opendocument.text" in mimetype:
            raise reject("not-a-spreadsheet", path, text("reading.formats.odt"))
        if "opendocument.presentation" in mimetype:
            raise reject("not-a-spreadsheet", path, text("reading.formats.odp"))
    if "word/document.xml" in lower:
        raise reject("not-a-spreadsheet", path, text("reading.formats.word"))
    if "ppt/presentation.xml" in lower:
        raise reject("not-a-spreadsheet", path, text("reading.formats.powerpoint"))
    if "[content_types].xml" in lower:
        raise reject("not-a-spreadsheet", path, text("reading.formats.office"))
    if "index/document.iwa" in lower:
        raise reject("not-a-spreadsheet", path, text("reading.formats.numbers"))
    if not lower:
        raise FileRejected("file-empty", file=display_name(Path(path).name))
    raise reject("not-a-spreadsheet", path, text("reading.formats.zip", count=len(lower)))


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
    types = read_member_head(zf, lower["[content_types].xml"], settings.XML_PROLOG_SCAN_BYTES).lower()
    return any(t in types for t in _WORKBOOK_TYPES)


def read_member_head(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """At most ``limit`` bytes of a zip member; damage and passwords become FileRejected."""
    file = Path(zf.filename or "")
    try:
        with zf.open(name) as member:
            return member.read(limit)
    except RuntimeError as exc:  # zipfile: "File ... is encrypted, password required"
        if "encrypted" in str(exc):
            raise FileRejected("file-encrypted", file=display_name(file.name)) from None
        raise reject("file-unreadable", file, text("reading.zip_damaged")) from None
    except zipfile.BadZipFile:
        raise reject("file-truncated", file) from None
    except Exception as exc:  # noqa: BLE001 - zlib.error, EOFError, struct.error…: a damaged member
        raise reject("file-unreadable", file, text("reading.zip_data_damaged", error=type(exc).__name__)) from None


# ------------------------------------------------------------------------------------ OLE
def ole_kind(path: Path) -> str:
    """``xls`` for an Excel 97-2003 (or 5.0/95) workbook; encrypted and other OLE files refused."""
    import olefile

    try:
        ole = olefile.OleFileIO(str(path))
    except Exception:  # noqa: BLE001 - olefile raises OSError, struct.error, IndexError…
        raise reject("file-truncated", path) from None
    with ole:
        try:
            streams = {"/".join(entry).lower() for entry in ole.listdir(streams=True, storages=True)}
        except Exception:  # noqa: BLE001
            raise reject("file-unreadable", path, text("reading.ole_damaged")) from None
    if "encryptioninfo" in streams or "encryptedpackage" in streams:
        raise FileRejected("file-encrypted", file=display_name(Path(path).name))
    if "workbook" in streams:
        if _xls_encrypted(path):
            raise FileRejected("file-encrypted", file=display_name(Path(path).name))
        return "xls"
    if "book" in streams:  # Excel 5.0/95 (BIFF5): xlrd reads it and reports encryption itself
        return "xls"
    if "worddocument" in streams:
        raise reject("not-a-spreadsheet", path, text("reading.formats.word"))
    if "powerpoint document" in streams:
        raise reject("not-a-spreadsheet", path, text("reading.formats.powerpoint"))
    raise reject("not-a-spreadsheet", path, text("reading.formats.ole"))


def _xls_encrypted(path: Path) -> bool:
    """True when a BIFF8 workbook stream carries a FILEPASS record (password to open)."""
    import msoffcrypto

    try:
        with Path(path).open("rb") as fh:
            return bool(msoffcrypto.OfficeFile(fh).is_encrypted())
    except Exception:  # noqa: BLE001 - msoffcrypto asserts on damaged BIFF
        raise reject("file-unreadable", path, text("reading.xls_damaged")) from None


# ----------------------------------------------------------------------------------- text
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""", re.I)
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


def decode_markup_head(data: bytes) -> str:
    """Enough of an XML/HTML head, decoded, to look at its markup (ASCII-only decisions)."""
    for prefix, encoding, drop in _MARKUP_ENCODINGS:
        if data.startswith(prefix):
            body = data[drop:]
            width = 4 if "32" in encoding else 2 if "16" in encoding else 1
            return body[: len(body) // width * width].decode(encoding, "replace")
    return data.decode("latin-1")  # ASCII-compatible: enough to see the markup


def text_kind(path: Path, head: bytes) -> str:
    """``xml2003``, ``html`` or ``csv`` for a file that is not a container."""
    head_text = decode_markup_head(head).lstrip("\ufeff \t\r\n").lower()
    if head_text.startswith("<?xml") or head_text.startswith("<workbook"):
        if SPREADSHEETML_NS in head_text or "<workbook" in head_text and "<ss:" in head_text:
            return "xml2003"
        if "<html" in head_text or "<table" in head_text:
            return "html"
        raise reject("not-a-spreadsheet", path, text("reading.formats.xml"))
    if head_text.startswith("mime-version") or "multipart/related" in head_text[:2000]:
        raise reject("not-a-spreadsheet", path, text("reading.formats.mht"))
    if head_text.startswith("<") and any(tag in head_text for tag in ("<html", "<table", "<!doctype html", "<body")):
        return "html"
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise reject("not-a-spreadsheet", path, text("reading.formats.binary"))
    if _decodes_as_text(head):
        first = head_text.split("\n", 1)[0]
        if Path(path).suffix.lower() in _TEXT_SUFFIXES or any(sep in first for sep in separators() if sep != "|"):
            return "csv"
        raise reject("not-a-spreadsheet", path, text("reading.formats.plain_text"))
    raise reject("not-a-spreadsheet", path, text("reading.formats.unknown"))


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
            # a declared UTF-16 without BOM, or a declaration the bytes contradict, is ignored
            return canonical
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


def iter_text(path: Path, encoding: str) -> Iterator[str]:
    """A text file decoded in 1 MB pieces (undecodable bytes replaced)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    with Path(path).open("rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            yield decoder.decode(chunk)
    yield decoder.decode(b"", final=True)


# ------------------------------------------------------------------------- notes on a file
def workbook_notes(path: Path, kind: str) -> list[Finding]:
    """File-level findings for a file that passed preflight: macros (never run, never kept)
    and external links (ignored: only the cached cell values are read)."""
    from sdbatch.catalogue import default_severity

    path = Path(path)
    name = display_name(path.name)
    source = Source(file=name)
    notes: list[Finding] = []

    def note(code: str, **params: Any) -> None:
        notes.append(Finding(code, default_severity(code), params={"file": name, **params}, source=source))

    if kind in ("xlsx", "xlsm", "ods"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                lower = [n.lower() for n in names]
                if any(n.endswith("vbaproject.bin") for n in lower) or (
                    kind == "ods" and any(n.startswith("basic/") and n.endswith(".xml") for n in lower)
                ):
                    note("macros-present")
                links = [n for n, lo in zip(names, lower, strict=True) if lo.startswith("xl/externallinks/externallink")]
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
            head = read_member_head(zf, name, 16384)
            for found in _TARGET.findall(head):
                target = found.decode("utf-8", "replace").replace("\\", "/").rsplit("/", 1)[-1]
                target = "".join(ch for ch in target if ch.isprintable())[:60]
                if target and target not in targets:
                    targets.append(target)
    if not targets:
        return text("reading.external_links", count=count)
    shown = text("reading.list_separator").join(targets[:3]) + (text("reading.and_more") if len(targets) > 3 else "")
    return text("reading.external_links_named", count=count, names=shown)
