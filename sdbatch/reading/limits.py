"""Limits before work (issue 8) and the scans that let work stay in proportion to content.

:func:`preflight` looks at a file's name, size, first bytes and (for zip containers) the
central directory, and either returns the reader kind (see :mod:`sdbatch.reading.sniff`) or
raises :class:`FileRejected`.  It never decompresses a whole member: archive limits are
checked on the *declared* sizes, which ``zipfile`` also enforces when a reader later opens a
member (it never returns more bytes than declared).  XML parts may not declare a DTD or
entities (billion laughs, external entities); the readers parse with defusedxml as well.

:func:`scan_workbook` reads each worksheet part of an xlsx once, in bounded chunks, for what
the XML declares beyond its cells: where the values really end, where the cell elements end
(styled empty cells too) and the merged ranges.  A 7 KB file may declare a merged range over
a whole sheet or a single value in row 99,999; readers and writers use the scan to keep their
work in proportion to the cells that hold something (:func:`check_extent`,
:func:`merges_fit`, :func:`full_read_ok`).  Every limit is in :mod:`sdbatch.settings`.
"""

from __future__ import annotations

import array
import re
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any
from xml.sax.saxutils import unescape

from sdbatch import settings
from sdbatch.catalogue import text
from sdbatch.model import CellKeys, FileRejected
from sdbatch.reading import sniff
from sdbatch.reading.sniff import reject
from sdbatch.text import display_name


def _mb(n: float) -> str:
    return f"{n / 1024 / 1024:.0f}"


# ------------------------------------------------------------------------------ preflight
def preflight(path: Path) -> str:
    """Return the reader kind for ``path`` or raise FileRejected.

    Kinds: xlsx, xlsm, xls, ods, csv, html, xml2003.  Decided by content, not by the file
    name's suffix (a .xls may be an HTML page, an .xlsx may be a Word document).
    """
    path = Path(path)
    sniff.check_name(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise reject("file-unreadable", path, text("reading.cannot_access", error=type(exc).__name__)) from None
    if size == 0:
        raise FileRejected("file-empty", file=display_name(path.name))
    if size > settings.MAX_FILE_BYTES:
        raise reject("file-too-large", path,
                     text("reading.file_too_large", size=_mb(size), limit=_mb(settings.MAX_FILE_BYTES)))
    try:
        with path.open("rb") as fh:
            head = fh.read(sniff.SNIFF_BYTES)
    except OSError as exc:
        raise reject("file-unreadable", path, text("reading.cannot_read", error=type(exc).__name__)) from None
    kind = sniff.container(path, head)
    if kind == "zip":
        return _inspect_zip(path, size)
    if kind == "ole":
        return sniff.ole_kind(path)
    return sniff.text_kind(path, head)


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
        raise reject("file-truncated", path)
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
        raise reject("archive-bomb", path, text("reading.too_many_members", count=count))
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise reject("file-truncated", path) from None
    except (OSError, EOFError, ValueError, struct.error, NotImplementedError, RuntimeError) as exc:
        raise reject("file-unreadable", path, text("reading.zip_structure_damaged", error=type(exc).__name__)) from None
    with zf:
        infos = zf.infolist()
        if any(not info.filename for info in infos):  # zeroed bytes in the central directory
            raise reject("file-unreadable", path, text("reading.zip_member_unnamed"))
        _check_archive_limits(path, infos)
        lower = {info.filename.lower(): info.filename for info in infos}
        kind = sniff.zip_kind(path, zf, lower)
        _check_sheet_sizes(path, infos, kind)
        _check_xml_members(path, zf, infos)
        if kind == "ods":
            _check_ods_grid(path, zf, lower["content.xml"])
        return kind


def _check_archive_limits(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    found = unbounded_member(infos)
    if found is not None:
        raise reject("file-unreadable", path, text("reading.compression_method", member=found[0], method=found[1]))
    check_archive_members(path, [(info.file_size, info.compress_size) for info in infos])


# Zip compression methods whose output Python's zipfile bounds on every read: stored and deflated,
# all Excel, WPS and the usual archivers write.  bzip2, LZMA (and the others, which zipfile cannot
# read anyway) are decompressed without a bound: a 3 KB member declaring 500 KB gave 4 GiB at once.
ZIP_METHODS_BOUNDED = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
_ZIP_METHOD_NAMES = {zipfile.ZIP_BZIP2: "BZIP2", zipfile.ZIP_LZMA: "LZMA", 9: "Deflate64", 93: "Zstandard",
                     95: "XZ", 98: "PPMd"}


def unbounded_member(infos: list[zipfile.ZipInfo]) -> tuple[str, str] | None:
    """(name, method) of the first member not stored or deflated, if any."""
    for info in infos:
        if info.compress_type not in ZIP_METHODS_BOUNDED:
            return info.filename, _ZIP_METHOD_NAMES.get(info.compress_type, f"#{info.compress_type}")
    return None


def check_archive_members(path: Path, sizes: list[tuple[int, int | None]], *, packed: int | None = None,
                          budget: int | None = None) -> int:
    """The archive limits on the *declared* sizes of an archive's members, before any is
    decompressed: member count, each member's compression ratio, the uncompressed total.

    ``sizes``: (uncompressed, compressed) per member; compressed is None when the format does not
    say per member (a solid 7z or rar): the ratio is then checked on the whole archive, whose size
    on disk is ``packed``.  ``budget``: the bytes still allowed (a container nested in another
    shares its parent's MAX_UNCOMPRESSED_BYTES).  Returns the uncompressed total.  Shared by the
    xlsx/ods preflight and the containers of :mod:`sdbatch.intake.archives`.
    """
    if len(sizes) > settings.MAX_ZIP_MEMBERS:
        raise reject("archive-bomb", path, text("reading.too_many_members", count=len(sizes)))
    total = 0
    unknown = 0
    for size, compressed in sizes:
        total += size
        if compressed is None:
            unknown += size
        elif size > settings.ZIP_RATIO_MIN_BYTES:
            _check_ratio(path, size, compressed)
    if unknown > settings.ZIP_RATIO_MIN_BYTES and packed is not None:
        _check_ratio(path, unknown, packed)
    limit = settings.MAX_UNCOMPRESSED_BYTES if budget is None else min(budget, settings.MAX_UNCOMPRESSED_BYTES)
    if total > limit:
        raise reject("archive-bomb", path, text(
            "reading.uncompressed_too_large", size=_mb(total), limit=_mb(limit)))
    return total


def _check_ratio(path: Path, size: int, compressed: int) -> None:
    ratio = size / max(compressed, 1)
    if ratio > settings.MAX_COMPRESSION_RATIO:
        raise reject("archive-bomb", path, text(
            "reading.compression_ratio", ratio=f"{ratio:.0f}", limit=settings.MAX_COMPRESSION_RATIO))


def member_path_problem(name: str) -> str | None:
    """None when an archive member's name stays inside the archive; else the ui.toml key (under
    ``intake.archive``) saying why not: an absolute path, a drive letter, ``..`` or a NUL.  Backslashes
    count as separators (archives made on Windows)."""
    if "\x00" in name:
        return "member_name_nul"
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(parts[0]) == 2 and parts[0][1] == ":"):
        return "member_absolute"
    if any(part == ".." for part in parts):
        return "member_outside"
    return None


def zip_directory(path: Path, size: int) -> tuple[int, int]:
    """(entry count, central directory size) of a zip, read before ``zipfile`` loads its directory."""
    return _read_eocd(path, size)


def is_sheet_part(name: str, kind: str) -> bool:
    """Whether a zip member holds cells: xl/worksheets/*.xml, or an ODS's content.xml."""
    lower = name.lower()
    if kind == "ods":
        return lower == "content.xml"
    return lower.startswith("xl/worksheets/") and lower.endswith(".xml")


def sheet_xml_bytes(path: Path) -> int:
    """Declared uncompressed size of the largest sheet part of an xlsx/xlsm/ods (0 if none).

    For the xlsx reader to choose between full and streaming reads: the file size says little,
    a 600 KB xlsx may hold 80 MB of sheet XML (5 million cells) within every archive limit.
    """
    kind = "ods" if Path(path).suffix.lower() == ".ods" else "xlsx"
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError):
        return 0
    if kind != "ods" and any(i.filename == "content.xml" for i in infos):
        kind = "ods"
    return max((i.file_size for i in infos if is_sheet_part(i.filename, kind)), default=0)


def _check_sheet_sizes(path: Path, infos: list[zipfile.ZipInfo], kind: str) -> None:
    for info in infos:
        if is_sheet_part(info.filename, kind) and info.file_size > settings.MAX_SHEET_XML_BYTES:
            raise reject("file-too-large", path, text(
                "reading.sheet_too_large", size=_mb(info.file_size), limit=_mb(settings.MAX_SHEET_XML_BYTES)))


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

    state = {"row": 0, "height": 0, "width": 0, "rows_rep": 1, "col": 0, "row_width": 0, "tables": 0}
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
            state.update(row=0, height=0, width=0, tables=state["tables"] + 1)
            check_sheet_count(path, state["tables"])
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
                raise reject("file-too-large", path,
                             text("reading.ods_grid_too_large", rows=state["height"], cols=state["width"]))

    def refuse(*_: Any) -> None:
        raise reject("unsafe-xml", path, text("reading.ods_entities"))

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
        raise reject("file-unreadable", path, text("reading.ods_not_xml")) from None
    except Exception as exc:  # noqa: BLE001 - zlib/CRC errors in a damaged member
        raise reject("file-unreadable", path, text("reading.zip_data_damaged", error=type(exc).__name__)) from None


# ------------------------------------------------------------------------------------ XML
_XML_SUFFIXES = (".xml", ".rels", ".vml")


def _check_xml_members(path: Path, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse DTDs and entity declarations (billion laughs, external entities) in any XML part.

    A DTD may only stand in the prolog, before the root element, so reading up to the root
    element (at most ``XML_PROLOG_SCAN_BYTES``) is enough.
    """
    for info in infos:
        if info.is_dir() or not info.filename.lower().endswith(_XML_SUFFIXES):
            continue
        head = sniff.read_member_head(zf, info.filename, 4096)  # the prolog is short in every real file
        problem = xml_prolog_problem(head, complete=info.file_size <= len(head))
        if problem and len(head) < info.file_size:  # "too long to tell" on 4 KB: look further
            head = sniff.read_member_head(zf, info.filename, settings.XML_PROLOG_SCAN_BYTES)
            problem = xml_prolog_problem(head, complete=info.file_size <= len(head))
        if problem:
            raise reject("unsafe-xml", path, text(
                "reading.xml_member_problem", member=PurePosixPath(info.filename).name, problem=problem))
        if info.filename.lower().endswith("sharedstrings.xml"):
            _check_shared_strings(path, head, info.file_size)


_SST = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sst\b([^<>]*)>")
_COUNTS = re.compile(rb'\b(count|uniqueCount)\s*=\s*["\']\s*([0-9]{1,30})\s*["\']')


def _check_shared_strings(path: Path, head: bytes, size: int) -> None:
    """A shared-string table declaring more strings than its part could hold (each takes at least
    ``<si/>``) or than a readable file has cells is damaged: python-calamine reserves room for
    the declared number before reading one, and a process that cannot get it is aborted."""
    found = _SST.search(head)
    if found is None:
        return
    declared = {name.decode(): int(value) for name, value in _COUNTS.findall(found.group(1))}
    if declared.get("uniqueCount", 0) > size // 5 + 1 or declared.get("count", 0) > settings.MAX_CELLS:
        raise reject("file-unreadable", path, text("reading.shared_strings_damaged"))


def xml_prolog_problem(data: bytes, complete: bool = False) -> str | None:
    """Chinese reason when the XML prolog in ``data`` declares a DTD or entities, else None."""
    head = sniff.decode_markup_head(data)
    i, n = 0, len(head)
    while i < n:
        ch = head[i]
        if ch in " \t\r\n\ufeff":
            i += 1
            continue
        if ch != "<":
            return None  # not well-formed XML: the parser will say so, it cannot expand entities
        if head.startswith("<?", i):
            end = head.find("?>", i + 2)
            if end < 0:
                break
            i = end + 2
            continue
        if head.startswith("<!--", i):
            end = head.find("-->", i + 4)
            if end < 0:
                break
            i = end + 3
            continue
        if head.startswith("<!", i):
            word = head[i + 2 : i + 9].upper()
            if word.startswith("ENTITY"):
                return text("reading.xml_entity")
            return text("reading.xml_doctype")
        return None  # the root element: the prolog is over
    if complete:
        return None
    return text("reading.xml_prolog_too_long")


# ------------------------------------------------------------------ what a worksheet declares
@dataclass
class PartScan:
    """What one worksheet part declares, found without building any cell.

    Extents are 1-based counts (a value in B5 gives rows 5, cols 2); ``merged`` holds the
    first ``MAX_MERGED_RANGES + 1`` declared ranges as 0-based (r0, c0, r1, c1).
    """

    value_rows: int = 0  # last row / column of a cell that holds something
    value_cols: int = 0
    cell_rows: int = 0  # last row / column of any cell element, styled empty ones too (only for
    cell_cols: int = 0  # a part small enough for full mode: others are never loaded whole)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)
    merged_count: int = 0  # mergeCell elements
    merged_cells: int = 0  # cells covered by them, as declared
    hidden_rows: set[int] = field(default_factory=set)  # 1-based rows declared hidden (MAX_ROWS at most)
    hidden_cols: set[int] = field(default_factory=set)  # 1-based columns declared hidden (MAX_COLS at most)
    # cells whose number format shows a percentage, as row * COLUMNS + column, 0-based (MAX_CELLS at most):
    # 8 bytes a cell, held while the file is cached
    percent: array.array[int] = field(default_factory=lambda: array.array("q"))
    # formula cells without a cached value: (row * COLUMNS + column, the formula's text), MAX_ROWS at most
    formulas: list[tuple[int, str]] = field(default_factory=list)

    def grid_cells(self) -> int:
        """Cells of the rectangle openpyxl lays out for this sheet (cells and merged ranges)."""
        rows = max([self.cell_rows, *(r1 + 1 for _, _, r1, _ in self.merged)])
        cols = max([self.cell_cols, *(c1 + 1 for _, _, _, c1 in self.merged)])
        return rows * cols


_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"
# A cell element with its reference, in any spelling (attributes in any order, a namespace
# prefix); group 3 is "/" for a self-closing (empty, styled) cell.
_CELL = re.compile(
    rb"<" + _PREFIX + rb"c\s(?:[^<>]*?\s)?r\s*=\s*[\"']\$?([A-Za-z]{1,9})\$?([0-9]{1,12})[\"'][^<>]*?(/?)>")
# Excel's own spelling (the reference first, no prefix): found faster, cells holding something only.
# Up to nine letters and twelve digits: a damaged reference past XFD1048576 (ZZZZ1) is seen, and refused
# for its extent, before calamine lays the sheet out up to it.
_VALUE_ROW = re.compile(rb'<c r="[A-Za-z]{1,9}([0-9]{1,12})"[^<>/]*>')
_VALUE_COL = re.compile(rb'<c r="([A-Za-z]{1,9})[0-9]{1,12}"[^<>/]*>')
_OTHER_CELL = re.compile(rb'<c\s(?!r=")')  # a cell element spelt otherwise: attributes in another order
_PREFIXED_CELL = re.compile(rb"<[A-Za-z_][\w.-]*:c\s")
_MERGE = re.compile(rb"<" + _PREFIX + rb"mergeCell\s(?:[^<>]*?\s)?ref\s*=\s*[\"']([^\"']{1,40})[\"']")
# A formula cell with no cached value (openpyxl and other programs write none): its reference and
# its formula's text (group 3; empty for the other cells of a shared formula), then an empty value
# or none before the cell ends.  Excel's spelling, then any other.
_FORMULA_ONLY = re.compile(
    rb'<c r="([A-Za-z]{1,3})([0-9]{1,7})"[^<>]*?(?<!/)>\s*<f(?:\s[^<>]*?)?(?:/>|>([^<]{0,8192})</f>)'
    rb"\s*(?:<v\s*/>|<v>\s*</v>)?\s*</c>")
_FORMULA_ONLY_ANY = re.compile(
    rb"<" + _PREFIX + rb"c\s(?=[^<>]*?(?<=\s)r\s*=\s*[\"']\$?([A-Za-z]{1,3})\$?([0-9]{1,7})[\"'])[^<>]*?(?<!/)>\s*"
    rb"<" + _PREFIX + rb"f(?:\s[^<>]*?)?(?:/>|>([^<]{0,8192})</" + _PREFIX + rb"f>)\s*"
    rb"(?:<" + _PREFIX + rb"v\s*/>|<" + _PREFIX + rb"v>\s*</" + _PREFIX + rb"v>)?\s*</" + _PREFIX + rb"c>")
_HIDDEN_ROW = re.compile(rb"<" + _PREFIX + rb"row\s[^<>]*?(?<=\s)hidden\s*=\s*[\"'](?:1|true)[\"'][^<>]*>")
_ROW_NUMBER = re.compile(rb"\sr\s*=\s*[\"']([0-9]{1,9})[\"']")
_HIDDEN_COL = re.compile(rb"<" + _PREFIX + rb"col\s[^<>]*?(?<=\s)hidden\s*=\s*[\"'](?:1|true)[\"'][^<>]*>")
_COL_SPAN = (re.compile(rb"\smin\s*=\s*[\"']([0-9]{1,9})[\"']"), re.compile(rb"\smax\s*=\s*[\"']([0-9]{1,9})[\"']"))
_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,9})")
_CARRY_LIMIT = 1 << 20  # a text node longer than this holds no tag: not carried to the next chunk
_CHUNK = 1 << 22  # bytes of a worksheet part looked at at once
_XML_QUOTES = {"&quot;": '"', "&apos;": "'"}  # the entities saxutils.unescape does not know by itself
COLUMNS = CellKeys.WIDTH  # row * COLUMNS + column keys a cell


def column_number(letters: str | bytes) -> int:
    """``A`` -> 1, ``XFD`` -> 16384."""
    n = 0
    for ch in letters.upper() if isinstance(letters, str) else letters.upper().decode("ascii"):
        n = n * 26 + ord(ch) - 64
    return n


def parse_range(ref: str) -> tuple[int, int, int, int] | None:
    """``A1:C3`` (or ``B2``) as 0-based (r0, c0, r1, c1), corners in order; None if not a reference."""
    corners = [_REF.fullmatch(part.strip()) for part in ref.split(":")]
    if not 1 <= len(corners) <= 2 or not all(corners):
        return None
    points = [(int(m.group(2)) - 1, column_number(m.group(1)) - 1) for m in corners if m]
    (ra, ca), (rb, cb) = points[0], points[-1]
    if min(ra, ca, rb, cb) < 0:
        return None
    return min(ra, rb), min(ca, cb), max(ra, rb), max(ca, cb)


def _scan_part(fh: Any, every_cell: bool, percent: _PercentCells | None = None) -> PartScan:
    """``every_cell``: also find where the cell elements end (styled empty ones too), which only
    matters for a part small enough for openpyxl's full mode."""
    scan = PartScan()
    for data in _tag_chunks(fh):
        _scan_chunk(data, scan, every_cell, percent)
    return scan


def _tag_chunks(fh: Any) -> Iterator[bytes]:
    """A part's XML in chunks of about ``_CHUNK`` bytes, each ending before a tag it would cut."""
    carry = b""
    while True:
        chunk = fh.read(_CHUNK)
        data = carry + chunk
        if chunk:  # keep an unfinished tag for the next chunk
            cut = data.rfind(b"<")
            cut = cut if cut >= 0 and len(data) - cut <= _CARRY_LIMIT else len(data)
            data, carry = data[:cut], data[cut:]
        yield data
        if not chunk:
            return


def _scan_chunk(data: bytes, scan: PartScan, every_cell: bool, percent: _PercentCells | None = None) -> None:
    unusual = bool(_OTHER_CELL.search(data) or _PREFIXED_CELL.search(data))
    if percent is not None and len(scan.percent) < settings.MAX_CELLS:
        found = (percent.any_spelling if unusual else percent.plain).findall(data)
        scan.percent.extend((int(digits) - 1) * COLUMNS + column_number(letters) - 1 for letters, digits in found)
    if (b"<f" in data or b":f" in data) and len(scan.formulas) < settings.MAX_ROWS:
        for letters, digits, formula in (_FORMULA_ONLY_ANY if unusual else _FORMULA_ONLY).findall(data):
            key = (int(digits) - 1) * COLUMNS + column_number(letters) - 1
            scan.formulas.append((key, unescape(formula.decode("utf-8", "replace"), _XML_QUOTES)))
    if every_cell or unusual:
        found = _CELL.findall(data)
        if found:
            scan.cell_rows = max(scan.cell_rows, max(int(digits) for _, digits, _ in found))
            scan.cell_cols = max(scan.cell_cols, max(map(column_number, {letters for letters, _, _ in found})))
            values = [(letters, digits) for letters, digits, closed in found if not closed]
            if values:
                scan.value_rows = max(scan.value_rows, max(int(digits) for _, digits in values))
                scan.value_cols = max(scan.value_cols, max(map(column_number, {letters for letters, _ in values})))
    else:  # every cell element spelt as Excel does: two plain passes
        value_rows = _VALUE_ROW.findall(data)
        if value_rows:
            scan.value_rows = max(scan.value_rows, max(map(int, value_rows)))
            scan.value_cols = max(scan.value_cols, max(map(column_number, set(_VALUE_COL.findall(data)))))
    if b"hidden" in data and len(scan.hidden_cols) < settings.MAX_COLS:
        for tag in _HIDDEN_COL.findall(data):  # <col min="7" max="7" hidden="1"/>: widths, before the cells
            low, high = (pattern.search(tag) for pattern in _COL_SPAN)
            if low is not None:
                first = int(low.group(1))
                last = min(int(high.group(1)) if high is not None else first, settings.MAX_COLS)
                scan.hidden_cols.update(range(first, last + 1))
    if b"hidden" in data and len(scan.hidden_rows) < settings.MAX_ROWS:
        for tag in _HIDDEN_ROW.findall(data):
            number = _ROW_NUMBER.search(tag)
            if number is not None and len(scan.hidden_rows) < settings.MAX_ROWS:
                scan.hidden_rows.add(int(number.group(1)))
    if b"mergeCell" not in data:
        return
    for ref in _MERGE.findall(data):
        box = parse_range(ref.decode("ascii", "replace"))
        if box is None:
            continue
        r0, c0, r1, c1 = box
        scan.merged_count += 1
        scan.merged_cells += (r1 - r0 + 1) * (c1 - c0 + 1)
        if len(scan.merged) <= settings.MAX_MERGED_RANGES:
            scan.merged.append(box)


_BUILTIN_PERCENT = frozenset({9, 10})  # the built-in number formats 0% and 0.00%
_STYLES_MAX_BYTES = 16 * 1024 * 1024  # a styles part past this is not looked at (no percent formats then)


def _percent_styles(zf: zipfile.ZipFile) -> frozenset[int]:
    """The cell formats (indexes into styles.xml's ``cellXfs``) whose number format shows a
    percentage: a "%" in its code, as full mode reads a cell's number format.  Empty when the
    workbook has none, or its styles cannot be read (unsafe or damaged XML: the reader says so)."""
    from defusedxml import ElementTree as SafeET

    try:
        name = next((n for n in zf.namelist() if n.lower() == "xl/styles.xml"), None)  # where openpyxl looks
        if name is None or zf.getinfo(name).file_size > _STYLES_MAX_BYTES:
            return frozenset()
        root = SafeET.fromstring(zf.read(name), forbid_dtd=True)
    except Exception:  # noqa: BLE001 - a damaged or unsafe part: no percent formats known
        return frozenset()
    local = {el: el.tag.rsplit("}", 1)[-1] for el in root.iter()}
    codes = {el.get("numFmtId", ""): el.get("formatCode", "") for el in local if local[el] == "numFmt"}
    found = set()
    for holder in (el for el in root if local[el] == "cellXfs"):
        for i, xf in enumerate(el for el in holder if local[el] == "xf"):
            number = xf.get("numFmtId", "0")
            if "%" in codes.get(number, "") or (number.isdigit() and int(number) in _BUILTIN_PERCENT
                                                and number not in codes):
                found.add(i)
    return frozenset(found)


@dataclass(frozen=True)
class _PercentCells:
    """The cells of the ``styles`` formats: Excel's spelling (the reference, then the style) found
    fast, any other (attributes in another order, a prefix) by a pattern that looks at every cell."""

    plain: re.Pattern[bytes]
    any_spelling: re.Pattern[bytes]

    @classmethod
    def of(cls, styles: frozenset[int]) -> _PercentCells | None:
        if not styles:
            return None
        ids = b"|".join(str(i).encode() for i in sorted(styles))
        return cls(re.compile(rb'<c r="([A-Za-z]{1,3})([0-9]{1,7})"(?: [^<>]*?)? s="(?:' + ids + rb')"'),
                   re.compile(rb"<" + _PREFIX + rb"c\s(?=[^<>]*?(?<=\s)s\s*=\s*[\"'](?:" + ids + rb")[\"'])"
                              rb"[^<>]*?(?<=\s)r\s*=\s*[\"']\$?([A-Za-z]{1,3})\$?([0-9]{1,7})[\"']"))


def scan_workbook(path: Path) -> dict[str, PartScan]:
    """Every worksheet part of an xlsx/xlsm (member name -> PartScan); {} when unreadable.

    Scanned in bounded chunks; the members passed the archive limits in preflight.  Cached
    per file version: the reader and the review writer ask about the same file.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return {}
    return dict(_scan_cached(str(path), stat.st_size, stat.st_mtime_ns))


@lru_cache(maxsize=16)
def _scan_cached(path: str, _size: int, _mtime: int) -> tuple[tuple[str, PartScan], ...]:
    parts = []
    try:
        with zipfile.ZipFile(path) as zf:
            percent = _PercentCells.of(_percent_styles(zf))
            for info in zf.infolist():
                if re.fullmatch(r"xl/worksheets/[^/]+\.xml", info.filename, re.I):
                    with zf.open(info) as fh:
                        every_cell = info.file_size <= settings.FULL_READ_MAX_SHEET_XML_BYTES
                        parts.append((info.filename, _scan_part(fh, every_cell, percent)))
    except (OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, ValueError):
        return ()  # the reader reports what is wrong with the archive
    except Exception:  # noqa: BLE001 - zlib errors in a damaged member: the reader reports them
        return ()
    return tuple(parts)


def check_extent(path: Path, scan: PartScan) -> None:
    """Refuse a sheet whose values span more rows, columns or cells than the limits.

    Readers that lay a sheet out densely (calamine) would build every cell of the rectangle;
    a value in XFD1048576 would make 17 billion.  Checked on the declared references, before
    any reader starts.
    """
    rows, cols = scan.value_rows, scan.value_cols
    if rows > settings.MAX_ROWS or cols > settings.MAX_COLS or rows * cols > settings.MAX_CELLS:
        raise reject("file-too-large", path, text("reading.extent_too_large", rows=rows, cols=cols))


def check_sheet_count(path: Path, count: int) -> None:
    """Refuse a workbook of more sheets than ``MAX_SHEETS``: each costs a load, a search for the
    table and a copy in the review, whatever it holds."""
    if count > settings.MAX_SHEETS:
        raise reject("file-too-large", path, text("reading.too_many_sheets", count=count, limit=settings.MAX_SHEETS))


def merges_fit(scan: PartScan) -> bool:
    """Whether openpyxl's full mode may see this sheet's merged ranges as declared.

    Not when they would cost more than the limits (openpyxl makes one object per covered cell:
    a range over a whole sheet is 17 billion), nor when one reaches far past the values
    (openpyxl would also drop the values under it, before :mod:`.merges` can judge it).
    """
    if scan.merged_count > settings.MAX_MERGED_RANGES or scan.merged_cells > settings.MAX_MERGED_CELLS:
        return False
    slack = settings.MERGED_RANGE_SLACK
    return not any(r1 >= scan.value_rows + slack or c1 >= scan.value_cols + slack for _, _, r1, c1 in scan.merged)


def full_read_ok(path: Path) -> bool:
    """Whether an xlsx may be loaded whole, as it is, by openpyxl's full mode.

    By file size, the uncompressed size of its largest sheet (full mode holds every cell
    object), the merged ranges it declares and the rectangle openpyxl lays out when a sheet
    is walked (styled empty cells and merged ranges far away count).  The xlsx reader streams
    files that fail the size rule; the review writer copies the city's sheet from the file
    only when this holds, and rebuilds it from the values read otherwise.
    """
    path = Path(path)
    try:
        if path.stat().st_size > settings.FULL_READ_MAX_BYTES:
            return False
    except OSError:
        return False
    if sheet_xml_bytes(path) > settings.FULL_READ_MAX_SHEET_XML_BYTES:
        return False
    return all(merges_fit(part) and part.grid_cells() <= settings.FULL_READ_MAX_GRID_CELLS
               for part in scan_workbook(path).values())
