"""Streaming edits of spreadsheet packages (.xlsx/.xlsm): keep what a city sent, change only what must.

An annotated copy of a city's sheet is not loaded into an object model and saved again.  The
city's package (:class:`SourcePackage`) is opened once, and an :class:`OutputPackage` is written
beside it, part by part:

- parts kept as they are (shared strings, theme, the drawing of the sheet and its images,
  tables, hyperlinks) are copied;
- the sheet's XML is streamed through :func:`patch_sheet`, which rewrites only the rows that
  change: a flagged cell's style id points to a clone of its own cell format (``cellXfs``) with
  the finding's fill, formulas are removed (their cached value stays), merged ranges and page
  setup are replaced, parts the review does not carry (comments are re-made, printer settings,
  controls, OLE objects, macros) are dropped with the elements that point to them;
- the styles part (:class:`Styles`) is the city's, byte for byte, with new fonts, fills,
  borders, number formats and cell formats appended;
- new sheets are written with :class:`SheetWriter`, comments with :func:`write_comments`
  (a comments part and its VML drawing); ``workbook.xml``, its relationships and
  ``[Content_Types].xml`` are written new.

Layout, merges, widths, heights, hidden rows, frozen panes, data validations, conditional
formats and images of the city's sheet then survive as the city made them, and the work is a
copy's: the bytes of a row that does not change are passed on untouched.

Safety: XML is parsed with defusedxml (ElementTree) or expat with DTDs and entities refused,
only where a part is small (styles, workbook, relationships, content types, the parts of a
worksheet around its rows); the rows are never parsed as a tree.  Sizes are checked against
the limits of the preflight (:mod:`sdbatch.settings`) before anything is decompressed.  A
package that cannot be edited safely raises :class:`PatchError`; the caller then rebuilds
the sheet from the values it read.  Nothing the copy keeps points outside it, hyperlinks apart
(followed on a click only): a picture linked from a path or URL, which Excel would fetch on
opening, is left out with its drawing, and so is a rule whose formula refers to another sheet,
workbook or name.
"""

from __future__ import annotations

import array
import copy
import functools
import itertools
import math
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element
from xml.parsers import expat

from sdbatch import settings
from sdbatch.writers import printing

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
MAIN_STRICT = "http://purl.oclc.org/ooxml/spreadsheetml/main"

CT_WORKBOOK = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_STYLES = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"
CT_COMMENTS = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
CT_RELS = "application/vnd.openxmlformats-package.relationships+xml"
CT_SHARED_STRINGS = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
CT_CUSTOM_PROPERTIES = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
REL_CUSTOM_PROPERTIES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
CT_CORE_PROPERTIES = "application/vnd.openxmlformats-package.core-properties+xml"
REL_CORE_PROPERTIES = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
CT_DRAWING = "application/vnd.openxmlformats-officedocument.drawing+xml"
CT_CHART = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"

# Relationships of a worksheet the copy keeps (by the last segment of their type URI); the
# parts behind them are copied with everything they point to.  Comments and their VML drawing
# are re-made; printer settings, pivot tables, controls, OLE objects and the like are dropped.
SHEET_RELS_KEPT = frozenset({"drawing", "hyperlink", "table", "image"})
# Parts a kept drawing may point to (and so on); a drawing that needs anything else is dropped.
DRAWING_RELS_KEPT = frozenset({"image", "chart", "chartUserShapes", "chartStyle", "chartColorStyle",
                               "diagramData", "diagramLayout", "diagramQuickStyle", "diagramColors",
                               "diagramDrawing", "drawing", "themeOverride"})
# The content type a part reached through a relationship of each kind must have ("image/" stands
# for any image).  A part of another kind (the package's own relationships or content types, a
# worksheet, the workbook, its styles) is never copied through a drawing's or a sheet's link.
PART_TYPES = {
    "image": "image/",
    "drawing": "application/vnd.openxmlformats-officedocument.drawing+xml",
    "chart": "application/vnd.openxmlformats-officedocument.drawingml.chart+xml",
    "chartUserShapes": "application/vnd.openxmlformats-officedocument.drawingml.chartshapes+xml",
    "chartStyle": "application/vnd.ms-office.chartstyle+xml",
    "chartColorStyle": "application/vnd.ms-office.chartcolorstyle+xml",
    "diagramData": "application/vnd.openxmlformats-officedocument.drawingml.diagramdata+xml",
    "diagramLayout": "application/vnd.openxmlformats-officedocument.drawingml.diagramlayout+xml",
    "diagramQuickStyle": "application/vnd.openxmlformats-officedocument.drawingml.diagramstyle+xml",
    "diagramColors": "application/vnd.openxmlformats-officedocument.drawingml.diagramcolors+xml",
    "diagramDrawing": "application/vnd.ms-office.drawingml.diagramdrawing+xml",
    "themeOverride": "application/vnd.openxmlformats-officedocument.themeoverride+xml",
    "table": "application/vnd.openxmlformats-officedocument.spreadsheetml.table+xml",
}
# Elements of a worksheet after its rows, in the order the schema requires (CT_Worksheet).
SUFFIX_ORDER = ("sheetCalcPr", "sheetProtection", "protectedRanges", "scenarios", "autoFilter", "sortState",
                "dataConsolidate", "customSheetViews", "mergeCells", "phoneticPr", "conditionalFormatting",
                "dataValidations", "hyperlinks", "printOptions", "pageMargins", "pageSetup", "headerFooter",
                "rowBreaks", "colBreaks", "customProperties", "cellWatches", "ignoredErrors", "smartTags",
                "drawing", "legacyDrawing", "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls",
                "webPublishItems", "tableParts", "extLst")
_SUFFIX_KEPT = frozenset({"sheetCalcPr", "sheetProtection", "protectedRanges", "scenarios", "autoFilter",
                          "sortState", "dataConsolidate", "mergeCells", "phoneticPr", "conditionalFormatting", "dataValidations",
                          "hyperlinks", "ignoredErrors", "cellWatches", "smartTags", "drawing", "picture",
                          "tableParts", "extLst"})
_STYLE_ORDER = ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs",
                "tableStyles", "colors", "extLst")

CHUNK = 1 << 20  # bytes of a worksheet part handled at once
MAX_COLUMNS = 16384  # XFD: Excel's last column
MAX_PAGE_BREAKS = 1023  # manual page breaks Excel keeps per direction
MAX_PART_BYTES = 64 * 1024 * 1024  # a part other than a worksheet read whole (styles, strings, drawings)
MAX_AROUND_ROWS = 32 * 1024 * 1024  # what a worksheet holds before and after its rows
COMPRESS_LEVEL = 1  # deflate level of the output: most of it is XML that compresses well anyway
SHARED_MAX = 50_000  # texts of the review's tables kept as shared strings (repeated ones: files, labels, fixes)
BUILTIN_FORMATS = {"General": 0, "0": 1, "0.00": 2, "#,##0": 3, "#,##0.00": 4, "0%": 9, "0.00%": 10,
                   "mm-dd-yy": 14, "h:mm": 20, "h:mm:ss": 21, "m/d/yy h:mm": 22, "@": 49}

_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NEEDS_WORK = re.compile(r"[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_x[0-9A-Fa-f]{4}_|^\s|\s$")
_ATTR = re.compile(rb"""([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REF = re.compile(rb"([A-Za-z]{1,3})([0-9]{1,7})")
_PREFIX = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?worksheet[\s>/]")


ANY_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"  # an element name's namespace prefix, if any


def element_rest(p: bytes, name: bytes) -> bytes:
    """The rest of an element ``<p:name`` after its name: its attributes, then "/>" or its content
    and end tag (attributes in group 1, content in group 3).  Linear in any input: a tag ends at the next "<" or ">", and
    the content cannot run past another start or end of the same element, so an element left
    open fails where the next one begins instead of sending every later attempt to the part's end."""
    return (rb"(?=[\s>/])([^<>]*?)(/>|>((?:[^<]++|<(?!/?" + p + name + rb"[\s>/]))*+)</" + p + name + rb"\s*>)")


class PatchError(Exception):
    """A package, or a part of it, that cannot be edited safely: the caller rebuilds the sheet."""


# ============================================================================ XML helpers
def escape(text: str) -> str:
    """Text for XML character data: no markup, no character XML cannot hold, OOXML ``_xHHHH_``
    escapes kept literal (``_x0041_`` written by a city is not the letter A)."""
    text = _ILLEGAL.sub("", text)
    if "_x" in text:
        text = re.sub(r"_(x[0-9A-Fa-f]{4}_)", r"_x005F_\1", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attr(text: str) -> str:
    return escape(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")


def utf8(text: str) -> bytes:
    """UTF-8 bytes; a lone surrogate (a file name in an unknown encoding) becomes "?"."""
    return text.encode("utf-8", "replace")


def parse_xml(data: bytes) -> Element:
    """A small XML part as a tree, with DTDs, entities and external references refused."""
    from defusedxml import ElementTree as SafeET
    from defusedxml.common import DefusedXmlException

    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise PatchError(f"unsafe XML: {type(exc).__name__}") from None
    except Exception as exc:  # noqa: BLE001 - ParseError and friends: not XML we can edit
        raise PatchError(f"not XML: {type(exc).__name__}") from None


@dataclass(frozen=True)
class Span:
    """A child element of a part's root: qualified name and its byte range in the part."""

    name: str
    start: int
    end: int

    @property
    def local(self) -> str:
        return self.name.rsplit(":", 1)[-1]


def child_spans(data: bytes, depth: int = 1) -> list[Span]:
    """The elements at ``depth`` below the root of ``data`` (a complete XML document), in order.

    Found with expat (no tree is built) with DTDs and entities refused, as defusedxml does.
    """
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse(*_: Any) -> None:
        raise PatchError("DTD or entity declaration")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    level = 0
    opened: list[tuple[str, int]] = []
    found: list[Span] = []

    def start(name: str, _attrs: Any) -> None:
        nonlocal level
        if level == depth:
            opened.append((name, parser.CurrentByteIndex))
        level += 1

    def end(name: str) -> None:
        nonlocal level
        level -= 1
        if level == depth:
            qname, begin = opened.pop()
            at = parser.CurrentByteIndex
            close = b"</" + qname.encode("utf-8")
            if data.startswith(close, at) and data[at + len(close): at + len(close) + 1] in (b">", b" ", b"\t",
                                                                                          b"\n", b"\r"):
                at = data.index(b">", at) + 1  # the element's own end tag
            found.append(Span(qname, begin, at))  # else an empty element: expat is just past it

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise PatchError(f"not well-formed XML: {exc}") from None
    return found


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def serialise(el: Element, prefix: str = "") -> str:
    """An element of the main namespace as XML text with ``prefix`` (elements and attributes of
    other namespaces are left out: they only carry what Excel can do without)."""
    tag = el.tag
    if (tag.startswith("{") and not tag.startswith("{" + MAIN + "}")) or _local(tag) == "extLst":
        return ""
    name = f"{prefix}:{_local(tag)}" if prefix else _local(tag)
    attrs = "".join(f' {k}="{attr(v)}"' for k, v in el.attrib.items() if not k.startswith("{"))
    inner = escape(el.text) if el.text and el.text.strip() else ""
    inner += "".join(serialise(child, prefix) for child in el)
    return f"<{name}{attrs}>{inner}</{name}>" if inner else f"<{name}{attrs}/>"


def main_el(local: str, **attrs: Any) -> Element:
    el = Element(f"{{{MAIN}}}{local}")
    for key, value in attrs.items():
        if value is not None:
            el.set(key.rstrip("_"), str(value))
    return el


def _set_count(start_tag: bytes, count: int) -> bytes:
    if re.search(rb'\scount\s*=\s*["\']\d*["\']', start_tag):
        return re.sub(rb'(\scount\s*=\s*)["\']\d*["\']', rb'\1"' + str(count).encode() + b'"', start_tag, count=1)
    end = -2 if start_tag.endswith(b"/>") else -1
    return start_tag[:end] + b' count="' + str(count).encode() + b'"' + start_tag[end:]


# ============================================================================ cells
def column_letters(col: int) -> str:
    """1-based column number -> letters (1 -> A)."""
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


_AZ = [chr(65 + i) for i in range(26)]
_LETTERS = ([""] + _AZ + [a + b for a in _AZ for b in _AZ] + [a + b + c for a in _AZ for b in _AZ for c in _AZ])[:16385]
_COLUMN_OF: dict[bytes, int] = {}


def column_number(letters: bytes) -> int:
    n = _COLUMN_OF.get(letters)
    if n is None:
        n = 0
        for ch in letters.upper():
            n = n * 26 + ch - 64
        _COLUMN_OF[letters] = n
    return n


def ref(row: int, col: int) -> str:
    """1-based row and column -> ``A1``."""
    return f"{_LETTERS[col]}{row}"


def range_ref(r0: int, c0: int, r1: int, c1: int, absolute: bool = False) -> str:
    """1-based corners -> ``A1:C3`` (``$A$1:$C$3``)."""
    if absolute:
        return f"${_LETTERS[c0]}${r0}:${_LETTERS[c1]}${r1}"
    return f"{_LETTERS[c0]}{r0}:{_LETTERS[c1]}{r1}"


_BAD_TITLE = re.compile(r"[\[\]:*?/\\\x00-\x1f]")


def sheet_title(taken: set[str], base: str | None, fallback: str) -> str:
    r"""A title Excel accepts (none of ``[]:*?/\``, no apostrophe at either end, 31 characters at
    most) made from ``base`` (``fallback`` when nothing is left), unused in ``taken`` as Excel
    compares titles (ignoring case): ``名单(2)`` otherwise.  Added to ``taken``."""
    base = _title_cut(_BAD_TITLE.sub("_", (base or "").strip()), 31) or _title_cut(fallback, 31)
    used = {t.lower() for t in taken}
    title, n = base, 2
    while title.lower() in used:
        suffix = f"({n})"
        title = _title_cut(base, 31 - len(suffix)) + suffix
        n += 1
    taken.add(title)
    return title


def _title_cut(text: str, most: int) -> str:
    """``text`` without apostrophes at its ends, at most ``most`` UTF-16 units long (Excel's count)."""
    text = text.strip("'")
    while printing.utf16_len(text) > most:
        text = text[:-1].rstrip("'")
    return text


def quote_sheet(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


EXCEL_EPOCH = (1899, 12, 30)


def serial(value: Any, date1904: bool = False) -> float:
    """A date, date-time or time as Excel's serial number (1900 date system, or 1904's)."""
    import datetime as dt

    epoch = (1904, 1, 1) if date1904 else EXCEL_EPOCH
    if isinstance(value, dt.datetime):
        delta = value.replace(tzinfo=None) - dt.datetime(*epoch)
        return delta.days + delta.seconds / 86400 + delta.microseconds / 86400e6
    if isinstance(value, dt.date):
        return float((value - dt.date(*epoch)).days)
    if isinstance(value, dt.time):
        return (value.hour * 3600 + value.minute * 60 + value.second) / 86400
    raise TypeError(type(value).__name__)


def text_cell(cell_ref: str, text: str, style: int) -> str:
    if len(text) > settings.MAX_CELL_CHARS:
        text = text[: settings.MAX_CELL_CHARS]
    if _NEEDS_WORK.search(text):
        space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
        text = escape(text)
    else:
        space = ""
    s = f' s="{style}"' if style else ""
    return f'<c r="{cell_ref}"{s} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def cell_xml(cell_ref: str, value: Any, style: int, date1904: bool = False) -> str:
    """One cell: numbers as numbers, booleans as booleans, everything else as text (never a formula)."""
    kind = type(value)
    if kind is str and value:
        return text_cell(cell_ref, value, style)
    s = f' s="{style}"' if style else ""
    if kind is str:  # empty text: an empty cell
        return f'<c r="{cell_ref}"{s}/>' if style else ""
    if kind is int or kind is float:
        if kind is float and not math.isfinite(value):
            return text_cell(cell_ref, "#NUM!", style)
        return f'<c r="{cell_ref}"{s}><v>{value!r}</v></c>'
    if value is None:
        return f'<c r="{cell_ref}"{s}/>' if style else ""
    if kind is bool:
        return f'<c r="{cell_ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):  # numpy-like or bool subclasses
        return cell_xml(cell_ref, float(value), style, date1904)
    try:
        return f'<c r="{cell_ref}"{s}><v>{serial(value, date1904)!r}</v></c>'
    except TypeError:
        return text_cell(cell_ref, str(value), style)


# ============================================================================ the source
@dataclass(frozen=True)
class Rel:
    id: str
    type: str  # the last segment of the type URI ("worksheet", "drawing", "hyperlink"...)
    type_uri: str
    target: str  # a part name (no leading slash), or a URL when external
    external: bool


def rels_name(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def relative(from_part: str, to_part: str) -> str:
    return posixpath.relpath(to_part, posixpath.dirname(from_part) or ".")


class SourcePackage:
    """A city's .xlsx/.xlsm opened for copying: members bounded, relationships resolved."""

    def __init__(self, path: Any) -> None:
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise PatchError(f"not a zip: {type(exc).__name__}") from None
        try:
            infos = self.zip.infolist()
            if len(infos) > settings.MAX_ZIP_MEMBERS:
                raise PatchError("too many members")
            if sum(i.file_size for i in infos) > settings.MAX_UNCOMPRESSED_BYTES:
                raise PatchError("too large")
            self.infos = {i.filename: i for i in infos}
            self._lower = {name.lower(): name for name in self.infos}
            self._read_types()
            office = [r for r in self.rels("") if r.type == "officeDocument" and not r.external]
            if not office:
                raise PatchError("no workbook")
            self.workbook = office[0].target
            self._read_workbook()
        except BaseException:
            self.zip.close()
            raise

    # ------------------------------------------------------------------ members
    def has(self, name: str) -> bool:
        return self.find(name) is not None

    def find(self, name: str) -> str | None:
        """The member for a part name (part names are case-insensitive)."""
        if name in self.infos:
            return name
        return self._lower.get(name.lower())

    def read(self, name: str, limit: int = MAX_PART_BYTES) -> bytes:
        member = self.find(name)
        if member is None:
            raise PatchError(f"missing part {name}")
        info = self.infos[member]
        if info.file_size > limit:
            raise PatchError(f"part too large: {name}")
        try:
            return self.zip.read(info)
        except Exception as exc:  # noqa: BLE001 - zlib/CRC errors of a damaged member
            raise PatchError(f"damaged part {name}: {type(exc).__name__}") from None

    def open(self, name: str) -> IO[bytes]:
        member = self.find(name)
        if member is None:
            raise PatchError(f"missing part {name}")
        if self.infos[member].file_size > settings.MAX_SHEET_XML_BYTES:
            raise PatchError(f"part too large: {name}")
        return self.zip.open(self.infos[member])

    def close(self) -> None:
        self.zip.close()

    # ------------------------------------------------------------------ structure
    def _read_types(self) -> None:
        root = parse_xml(self.read("[Content_Types].xml"))
        self.defaults: dict[str, str] = {}
        self.overrides: dict[str, str] = {}
        for el in root:
            if _local(el.tag) == "Default":
                self.defaults[el.get("Extension", "").lower()] = el.get("ContentType", "")
            elif _local(el.tag) == "Override":
                self.overrides[el.get("PartName", "").lstrip("/").lower()] = el.get("ContentType", "")

    def content_type(self, part: str) -> str:
        found = self.overrides.get(part.lower())
        if found:
            return found
        ext = posixpath.splitext(part)[1].lstrip(".").lower()
        return self.defaults.get(ext, "application/octet-stream")

    def rels(self, part: str) -> list[Rel]:
        name = rels_name(part) if part else "_rels/.rels"
        if not self.has(name):
            return []
        out = []
        for el in parse_xml(self.read(name)):
            if _local(el.tag) != "Relationship":
                continue
            type_uri = el.get("Type", "")
            target = el.get("Target", "")
            external = el.get("TargetMode", "") == "External"
            if not external:
                target = unquote(target)
                if target.startswith("/"):
                    target = target.lstrip("/")
                else:
                    target = posixpath.normpath(posixpath.join(posixpath.dirname(part), target))
                target = self.find(target) or target
            out.append(Rel(el.get("Id", ""), type_uri.rsplit("/", 1)[-1], type_uri, target, external))
        return out

    def _read_workbook(self) -> None:
        data = self.read(self.workbook)
        root = parse_xml(data)
        if root.tag == f"{{{MAIN_STRICT}}}workbook" or root.tag != f"{{{MAIN}}}workbook":
            raise PatchError("not a transitional SpreadsheetML workbook")
        by_id = {r.id: r for r in self.rels(self.workbook)}
        self.sheets: dict[str, str] = {}  # sheet name -> worksheet part
        self.date1904 = False
        for el in root:
            local = _local(el.tag)
            if local == "workbookPr":
                self.date1904 = el.get("date1904", "0").lower() in ("1", "true")
            elif local == "sheets":
                for sheet in el:
                    rel = by_id.get(sheet.get(f"{{{RELS}}}id", ""))
                    if rel is not None and rel.type == "worksheet" and not rel.external:
                        self.sheets[sheet.get("name", "")] = rel.target
        self.workbook_rels = list(by_id.values())

    def structure(self) -> set[str]:
        """The parts the package and its workbook name (lower case): the workbook, its sheets,
        styles, theme, strings, the document properties.  None is anything's picture or drawing."""
        parts = {self.workbook.lower()}
        parts.update(rel.target.lower() for rel in [*self.rels(""), *self.workbook_rels] if not rel.external)
        return parts

    def workbook_part(self, kind: str) -> str | None:
        """The part of a workbook-level relationship (``styles``, ``theme``, ``sharedStrings``)."""
        for rel in self.workbook_rels:
            if rel.type == kind and not rel.external and self.has(rel.target):
                return rel.target
        return None

    def shared_strings(self) -> list[str]:
        """The plain text of every shared string (rich text flattened, phonetic runs left out)."""
        part = self.workbook_part("sharedStrings")
        if part is None:
            return []
        return [_item_text(si) for si in parse_xml(self.read(part))]


def _item_text(si: Element) -> str:
    """A shared string's text: its ``t``, or the ``t`` of its runs (phonetic runs ``rPh`` left out)."""
    parts = []
    for child in si:
        local = _local(child.tag)
        if local == "t":
            parts.append(child.text or "")
        elif local == "r":
            parts += [t.text or "" for t in child if _local(t.tag) == "t"]
    return "".join(parts)


# ============================================================================ styles
@dataclass(frozen=True)
class StyleImport:
    """How the cell formats of another package were appended: ``s`` -> ``s + offset``."""

    xf_offset: int
    xf_count: int
    dxf_offset: int

    def xf(self, s: int) -> int:
        return self.xf_offset + (s if 0 <= s < self.xf_count else 0)


def blank_styles(font_name: str, font_size: float) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<styleSheet xmlns="{MAIN}"><fonts count="1"><font><sz val="{font_size:g}"/><name val="{attr(font_name)}"/>'
        '<family val="2"/><charset val="134"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/>'
        '</fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        '<dxfs count="0"/><tableStyles count="0"/></styleSheet>'
    ).encode()


@dataclass(frozen=True)
class Look:
    """A cell format of the review's own sheets."""

    bold: bool = False
    size: float | None = None  # points; None: the workbook's default
    fill: str | None = None  # RGB, e.g. "FFC7CE"
    border: bool = False
    number_format: str | None = None
    wrap: bool = False
    horizontal: str | None = None
    vertical: str | None = None
    frame: bool = False  # a medium border in the default colour (a caveat every reader must see)


class Styles:
    """The styles part of the output: the base package's bytes, plus what is appended to it."""

    def __init__(self, data: bytes | None, font_name: str, font_size: float) -> None:
        self.raw = data if data is not None else blank_styles(font_name, font_size)
        root = parse_xml(self.raw)
        if root.tag != f"{{{MAIN}}}styleSheet":
            raise PatchError("not a styles part")
        found = re.search(rb"<(?:([A-Za-z_][\w.-]*):)?styleSheet[\s>/]", self.raw)
        self.prefix = (found.group(1) or b"").decode("ascii") if found else ""
        self.spans = {s.local: s for s in child_spans(self.raw)}
        self.base: dict[str, list[Element]] = {name: [] for name in _STYLE_ORDER}
        for el in root:
            local = _local(el.tag)
            if local in self.base and local != "extLst":
                self.base[local] = list(el)
        for needed in ("fonts", "fills", "borders", "cellXfs"):
            if not self.base[needed] or needed not in self.spans:
                raise PatchError(f"styles without {needed}")
        self.added: dict[str, list[Element]] = {name: [] for name in _STYLE_ORDER}
        self._formats = {el.get("formatCode", ""): int(el.get("numFmtId", "0")) for el in self.base["numFmts"]}
        self._next_format = max([163, *self._formats.values()]) + 1
        self._cache: dict[Any, int] = {}
        font0 = self.base["fonts"][0]
        size = font0.find(f"{{{MAIN}}}sz")
        try:
            self.font_size = float(size.get("val", "11")) if size is not None else 11.0
        except ValueError:
            self.font_size = 11.0
        if not 1 <= self.font_size <= 409:
            self.font_size = 11.0

    def count(self, kind: str) -> int:
        return len(self.base[kind]) + len(self.added[kind])

    def _append(self, kind: str, el: Element) -> int:
        self.added[kind].append(el)
        return self.count(kind) - 1

    def xf_element(self, index: int) -> Element:
        base = self.base["cellXfs"]
        if 0 <= index < len(base):
            return base[index]
        index -= len(base)
        added = self.added["cellXfs"]
        return added[index] if 0 <= index < len(added) else base[0]

    # ------------------------------------------------------------------ pieces
    def number_format(self, code: str) -> int:
        if code in BUILTIN_FORMATS:
            return BUILTIN_FORMATS[code]
        if code not in self._formats:
            self._formats[code] = self._next_format
            self._append("numFmts", main_el("numFmt", numFmtId=self._next_format, formatCode=code))
            self._next_format += 1
        return self._formats[code]

    def font(self, bold: bool = False, size: float | None = None) -> int:
        if not bold and size is None:
            return 0
        key = ("font", bold, size)
        if key not in self._cache:
            el = copy.deepcopy(self.base["fonts"][0])
            for child in list(el):
                if _local(child.tag) in ("b", "sz") or not child.tag.startswith("{" + MAIN):
                    el.remove(child)
            if bold:
                el.insert(0, main_el("b"))
            el.append(main_el("sz", val=f"{size or self.font_size:g}"))
            self._cache[key] = self._append("fonts", el)
        return self._cache[key]

    def fill(self, rgb: str) -> int:
        key = ("fill", rgb)
        if key not in self._cache:
            el = main_el("fill")
            pattern = main_el("patternFill", patternType="solid")
            pattern.append(main_el("fgColor", rgb="FF" + rgb))
            pattern.append(main_el("bgColor", indexed="64"))
            el.append(pattern)
            self._cache[key] = self._append("fills", el)
        return self._cache[key]

    def border(self, rgb: str | None = "BFBFBF", style: str = "thin") -> int:
        """A border on four sides: ``style`` lines in ``rgb`` (None: the default colour)."""
        key = ("border", rgb, style)
        if key not in self._cache:
            el = main_el("border")
            for side in ("left", "right", "top", "bottom"):
                line = main_el(side, style=style)
                if rgb is not None:
                    line.append(main_el("color", rgb="FF" + rgb))
                el.append(line)
            el.append(main_el("diagonal"))
            self._cache[key] = self._append("borders", el)
        return self._cache[key]

    # ------------------------------------------------------------------ cell formats
    def look(self, look: Look) -> int:
        """A cell format of the review's own sheets (cached)."""
        if look == Look():
            return 0
        key = ("look", look)
        if key not in self._cache:
            xf = main_el("xf", numFmtId=self.number_format(look.number_format) if look.number_format else 0,
                         fontId=self.font(look.bold, look.size), fillId=self.fill(look.fill) if look.fill else 0,
                         borderId=self.border(None, "medium") if look.frame else self.border() if look.border else 0,
                         xfId=0)
            for flag, used in (("applyNumberFormat", look.number_format), ("applyFont", look.bold or look.size),
                               ("applyFill", look.fill), ("applyBorder", look.border or look.frame)):
                if used:
                    xf.set(flag, "1")
            if look.wrap or look.horizontal or look.vertical:
                xf.set("applyAlignment", "1")
                xf.append(main_el("alignment", horizontal=look.horizontal, vertical=look.vertical,
                                  wrapText="1" if look.wrap else None))
            self._cache[key] = self._append("cellXfs", xf)
        return self._cache[key]

    def with_fill(self, index: int, rgb: str) -> int:
        """The cell format ``index`` with a solid fill ``rgb`` (a clone, cached): font, borders,
        number format and alignment stay the cell's own."""
        if not 0 <= index < self.count("cellXfs"):
            index = 0  # a bad style index in a city's file: its default format
        key = ("with_fill", index, rgb)
        if key not in self._cache:
            xf = copy.deepcopy(self.xf_element(index))
            for name in list(xf.attrib):
                if name.startswith("{"):
                    del xf.attrib[name]
            xf.set("fillId", str(self.fill(rgb)))
            xf.set("applyFill", "1")
            xf.set("xfId", xf.get("xfId", "0") if _int(xf.get("xfId")) < self.count("cellStyleXfs") else "0")
            self._cache[key] = self._append("cellXfs", xf)
        return self._cache[key]

    def import_styles(self, other: Styles) -> StyleImport:
        """Append another package's fonts, fills, borders, number formats, cell formats and
        differential formats, so that its sheet can be copied in with ``s + offset``."""
        formats = {int(el.get("numFmtId", "0")): el.get("formatCode", "") for el in other.base["numFmts"]}
        offsets = {}
        for kind in ("fonts", "fills", "borders"):
            offsets[kind] = self.count(kind)
            for el in other.base[kind]:
                self._append(kind, copy.deepcopy(el))
        dxf_offset = self.count("dxfs")
        for el in other.base["dxfs"]:
            self._append("dxfs", copy.deepcopy(el))
        xf_offset = self.count("cellXfs")
        for el in other.base["cellXfs"]:
            xf = copy.deepcopy(el)
            number = int(xf.get("numFmtId", "0") or 0)
            if number in formats:
                xf.set("numFmtId", str(self.number_format(formats[number])))
            for attr_name, kind in (("fontId", "fonts"), ("fillId", "fills"), ("borderId", "borders")):
                index = int(xf.get(attr_name, "0") or 0)
                xf.set(attr_name, str(offsets[kind] + (index if 0 <= index < len(other.base[kind]) else 0)))
            xf.set("xfId", "0")
            self._append("cellXfs", xf)
        return StyleImport(xf_offset, len(other.base["cellXfs"]), dxf_offset)

    # ------------------------------------------------------------------ bytes
    def to_bytes(self) -> bytes:
        raw = self.raw
        pieces: list[bytes] = []
        at = 0
        first_after: dict[str, int] = {}
        for kind in _STYLE_ORDER:  # where a container that does not exist yet goes
            later = [self.spans[k].start for k in _STYLE_ORDER[_STYLE_ORDER.index(kind) + 1:] if k in self.spans]
            first_after[kind] = min(later) if later else raw.rindex(b"</")
        inserts: list[tuple[int, int, bytes]] = []  # (start, end, replacement)
        for kind in ("numFmts", "fonts", "fills", "borders", "cellXfs", "dxfs"):
            added = self.added[kind]
            if not added:
                continue
            extra = "".join(serialise(el, self.prefix) for el in added).encode("utf-8")
            name = (f"{self.prefix}:{kind}" if self.prefix else kind).encode("ascii")
            span = self.spans.get(kind)
            if span is None:
                block = b"<" + name + b' count="' + str(len(added)).encode() + b'">' + extra + b"</" + name + b">"
                inserts.append((first_after[kind], first_after[kind], block))
                continue
            element = raw[span.start:span.end]
            tag_end = element.index(b">") + 1
            start_tag = element[:tag_end]
            if start_tag.endswith(b"/>"):
                body, end_tag = b"", b"</" + name + b">"
                start_tag = start_tag[:-2].rstrip() + b">"
            else:
                close = element.rindex(b"</")
                body, end_tag = element[tag_end:close], element[close:]
            block = _set_count(start_tag, self.count(kind)) + body + extra + end_tag
            inserts.append((span.start, span.end, block))
        for start, end, block in sorted(inserts, key=lambda i: (i[0], i[1])):
            pieces.append(raw[at:start])
            pieces.append(block)
            at = end
        pieces.append(raw[at:])
        return b"".join(pieces)


# ============================================================================ page setup
@dataclass(frozen=True)
class PageSetup:
    """How a sheet prints.  ``fit_width``: scaled to the page width (``scale`` ignored);
    otherwise printed at ``scale`` per cent, columns over several pages."""

    landscape: bool = False
    fit_width: bool = True
    scale: int = 100
    pages_tall: int = 0  # > 0: one page wide and this many tall (``fit_width`` ignored)
    row_breaks: tuple[int, ...] = ()  # a new page before each of these rows (1-based)
    col_breaks: tuple[int, ...] = ()  # a new block of pages before each of these columns (1-based)
    header: str = ""  # Excel header/footer codes (&P page, &N pages), already escaped for "&"
    footer: str = ""
    margins: tuple[float, float, float, float, float, float] = (  # l r t b h f, as the print plan reckons
        printing.MARGIN_SIDE, printing.MARGIN_SIDE, printing.MARGIN_TOP, printing.MARGIN_BOTTOM,
        printing.HEADER_MARGIN, printing.HEADER_MARGIN)

    def parts(self, p: str = "") -> list[tuple[str, str]]:
        """The elements of a worksheet that say it: pageMargins, pageSetup, headerFooter."""
        pre = f"{p}:" if p else ""
        left, right, top, bottom, head, foot = self.margins
        out = [("pageMargins", f'<{pre}pageMargins left="{left}" right="{right}" top="{top}" bottom="{bottom}" '
                               f'header="{head}" footer="{foot}"/>')]
        setup = f'paperSize="9" orientation="{"landscape" if self.landscape else "portrait"}"'
        if self.pages_tall:
            setup += f' fitToWidth="1" fitToHeight="{self.pages_tall}"'
        else:
            setup += ' fitToWidth="1" fitToHeight="0"' if self.fit_width else f' scale="{self.scale}"'
        out.append(("pageSetup", f"<{pre}pageSetup {setup}/>"))
        if self.header or self.footer:
            hf = f"<{pre}headerFooter>"
            if self.header:
                hf += f"<{pre}oddHeader>{escape(self.header)}</{pre}oddHeader>"
            if self.footer:
                hf += f"<{pre}oddFooter>{escape(self.footer)}</{pre}oddFooter>"
            out.append(("headerFooter", hf + f"</{pre}headerFooter>"))
        for kind, breaks, most in (("rowBreaks", self.row_breaks, 16383), ("colBreaks", self.col_breaks, 1048575)):
            breaks = breaks[:MAX_PAGE_BREAKS]  # Excel keeps no more
            if breaks:
                items = "".join(f'<{pre}brk id="{b - 1}" max="{most}" man="1"/>' for b in breaks)
                out.append((kind, f'<{pre}{kind} count="{len(breaks)}" manualBreakCount="{len(breaks)}">{items}'
                                  f"</{pre}{kind}>"))
        return out

    @property
    def fits(self) -> bool:
        """Whether the sheet is scaled to fit pages (``fitToPage`` in its properties)."""
        return bool(self.pages_tall or self.fit_width)


# ============================================================================ the output
@dataclass
class SheetEntry:
    title: str
    part: str
    hidden: bool = False
    print_titles: str | None = None  # e.g. "$1:$2" or "$A:$C,$1:$1" (already formatted)
    print_area: str | None = None  # e.g. "$A$1:$H$20"
    filter_range: str | None = None  # autoFilter range, "$A$1:$K$9"


class OutputPackage:
    """The review workbook being written: a zip written part by part, at most one part open."""

    def __init__(self, path: Any, base: SourcePackage | None, font_name: str, font_size: float = 11) -> None:
        self.path = path
        self.base = base
        self.types: dict[str, str] = {}
        self.custom_properties: bytes | None = None  # docProps/custom.xml (sdbatch's own mark), if any
        self.core_properties: bytes | None = None  # docProps/core.xml (title, description), if any
        self.taken: set[str] = {n.lower() for n in base.infos} if base is not None else set()
        self.sheets: list[SheetEntry] = []
        self.workbook_rels: list[tuple[str, str, str]] = []  # (id, type URI, target part)
        self.date1904 = base.date1904 if base is not None else False
        styles_part = base.workbook_part("styles") if base is not None else None
        self.styles = Styles(base.read(styles_part) if base is not None and styles_part else None,
                             font_name, font_size)
        # The base's workbook and styles are written new under their own names.
        self.workbook_part = base.workbook if base is not None else "xl/workbook.xml"
        self.styles_part = styles_part or self.reserve("xl/styles.xml")
        self.taken.update({self.workbook_part.lower(), self.styles_part.lower()})
        # Shared strings: the base's, kept as they are (its sheet points into them), and the
        # repeated texts of the review's own tables appended (SHARED_MAX at most, then inline).
        self.shared: dict[str, int] = {}
        self.shared_part = base.workbook_part("sharedStrings") if base is not None else None
        self.shared_base = _count_items(base.read(self.shared_part)) if base is not None and self.shared_part else 0
        self.written: set[str] = set()  # zip entries written (lower case)
        # Parts this package writes itself: no part of a city's is copied under one of their names.
        self.own = {n.lower() for n in ("[Content_Types].xml", "_rels/.rels", self.workbook_part,
                                        rels_name(self.workbook_part), self.styles_part, self.shared_part or "",
                                        "docProps/custom.xml", "docProps/core.xml") if n}
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
        try:
            theme = base.workbook_part("theme") if base is not None else None
            if base is not None and theme is not None:
                self.own.add(theme.lower())
                self.copy_part(base, theme, theme)
                self.workbook_rels.append(("rId1", f"{RELS}/theme", theme))
        except BaseException:
            self.zip.close()
            raise

    def share(self, text: str) -> int | None:
        """The shared-string index of a repeated text (None past ``SHARED_MAX`` texts: write it inline)."""
        index = self.shared.get(text)
        if index is None:
            if len(self.shared) >= SHARED_MAX:
                return None
            index = self.shared[text] = self.shared_base + len(self.shared)
        return index

    def _write_shared_strings(self) -> None:
        if self.shared_part is None and not self.shared:
            return
        items = "".join(_shared_item(t) for t in self.shared).encode("utf-8", "replace")
        if self.shared_part is not None and self.base is not None:
            data = self.base.read(self.shared_part)
            start = re.search(rb"<(?:([A-Za-z_][\w.-]*):)?sst\b[^<>]*?(/?)>", data)
            if start is None:
                raise PatchError("not a shared strings part")
            prefix = start.group(1) or b""
            if prefix:  # the base writes x:si, x:t: so do we
                items = items.replace(b"<si>", b"<" + prefix + b":si>").replace(b"</si>", b"</" + prefix + b":si>")
                items = re.sub(rb"<(/?)t([ >])", rb"<\1" + prefix + rb":t\2", items)
            tag = re.sub(rb"\s(?:count|uniqueCount)\s*=\s*[\"'][^\"']*[\"']", b"", start.group(0))
            if start.group(2):  # <sst .../>: no strings yet
                close = b"</" + (prefix + b":" if prefix else b"") + b"sst>"
                data = data[:start.start()] + tag[:-2].rstrip() + b">" + items + close + data[start.end():]
            else:
                end = data.rindex(b"</")
                data = data[:start.start()] + tag + data[start.end():end] + items + data[end:]
            self.write(self.shared_part, data, self.base.content_type(self.shared_part))
        else:
            part = self.reserve("xl/sharedStrings.xml")
            self.write(part, f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{MAIN}">'
                       .encode() + items + b"</sst>", CT_SHARED_STRINGS)
            self.shared_part = part
        self.workbook_rels.append((f"rId{len(self.workbook_rels) + 1}", f"{RELS}/sharedStrings",
                                   self.shared_part))

    # ------------------------------------------------------------------ parts
    def name(self, stem: str, ext: str) -> str:
        """A free part name ``stem{n}{ext}``."""
        n = 1
        while f"{stem}{n}{ext}".lower() in self.taken:
            n += 1
        name = f"{stem}{n}{ext}"
        self.taken.add(name.lower())
        return name

    def reserve(self, name: str) -> str:
        """``name`` if free, else the same name with a number before its extension."""
        if name.lower() not in self.taken:
            self.taken.add(name.lower())
            return name
        stem, ext = posixpath.splitext(name)
        return self.name(stem + "_", ext)

    def write(self, name: str, data: bytes, content_type: str | None) -> None:
        self._claim(name)
        self.zip.writestr(name, data)
        self.taken.add(name.lower())
        if content_type:
            self.types[name] = content_type

    def stream(self, name: str, content_type: str | None) -> IO[bytes]:
        self._claim(name)
        self.taken.add(name.lower())
        if content_type:
            self.types[name] = content_type
        return self.zip.open(name, "w", force_zip64=True)

    def _claim(self, name: str) -> None:
        """A zip entry written twice would leave readers to choose between two parts of one name."""
        if name.lower() in self.written:
            raise PatchError(f"part written twice: {name}")
        self.written.add(name.lower())

    def copy_part(self, src: SourcePackage, part: str, new_name: str,
                  transform: Callable[[bytes], bytes] | None = None) -> None:
        """One part copied (``transform`` may edit a small XML part on the way)."""
        ctype = src.content_type(part)
        if transform is not None:
            self.write(new_name, transform(src.read(part)), ctype)
            return
        member = src.find(part)
        if member is None:
            raise PatchError(f"missing part {part}")
        if src.infos[member].file_size > settings.MAX_UNCOMPRESSED_BYTES:
            raise PatchError(f"part too large: {part}")
        try:
            with src.zip.open(src.infos[member]) as fin, self.stream(new_name, ctype) as fout:
                while chunk := fin.read(1 << 20):
                    fout.write(chunk)
        except PatchError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged member
            raise PatchError(f"damaged part {part}: {type(exc).__name__}") from None

    def write_rels(self, part: str, rels: Iterable[tuple[str, str, str, bool]]) -> None:
        """Relationships of ``part``: (id, type URI, target part or URL, external)."""
        items = []
        for rid, type_uri, target, external in rels:
            where = attr(target) if external else attr(relative(part, target) if part else target)
            mode = ' TargetMode="External"' if external else ""
            items.append(f'<Relationship Id="{attr(rid)}" Type="{attr(type_uri)}" Target="{where}"{mode}/>')
        body = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PKG_RELS}">'
                + "".join(items) + "</Relationships>")
        self.write(rels_name(part) if part else "_rels/.rels", body.encode("utf-8"), None)

    def copy_closure(self, src: SourcePackage, part: str, kind: str, allowed: frozenset[str],
                     rename: Callable[[str], str], table_edit: Callable[[bytes], bytes] | None = None,
                     seen: dict[str, str] | None = None) -> str:
        """Copy ``part`` (reached by a relationship of type ``kind``) and every part it points to;
        raise PatchError when one is not of an ``allowed`` type, not of the content type of its
        kind, points outside the package or would take the name of a part this package writes
        itself.  A chart loses its link to its embedded workbook, a drawing the macros and cell
        links of its shapes; ``table_edit`` edits every table.  Returns the new name of ``part``."""
        if seen is None:
            closure_check(src, part, kind, allowed)
            seen = {}
        if part in seen:
            return seen[part]
        rels = src.rels(part)
        new = rename(part)
        if new.lower() in self.own:
            raise PatchError(f"{part} would replace a part of the review")
        seen[part] = new
        kept = []
        for rel in rels:
            if rel.type != "package":  # a chart's embedded workbook: its cached values suffice
                kept.append((rel.id, rel.type_uri, self.copy_closure(src, rel.target, rel.type, allowed, rename,
                                                                     table_edit, seen), False))
        edits: list[Callable[[bytes], bytes]] = []
        if kind == "table" and table_edit is not None:
            edits.append(table_edit)
        elif kind == "chart":
            edits.append(_without_external_data)
        elif kind in ("drawing", "chartUserShapes"):
            edits.append(_without_shape_code)

        def edit(data: bytes) -> bytes:
            for step in edits:
                data = step(data)
            return data

        self.copy_part(src, part, new, edit if edits else None)
        if kept:
            self.write_rels(new, kept)
        return new

    # ------------------------------------------------------------------ sheets
    def add_sheet(self, entry: SheetEntry) -> None:
        self.sheets.append(entry)

    def close(self) -> None:
        """Write the workbook, its relationships, the styles and the content types; close the zip."""
        try:
            self._write_shared_strings()
            styles = self.styles_part
            self.write(styles, self.styles.to_bytes(), CT_STYLES)
            rels = list(self.workbook_rels)
            rels.append((f"rId{len(rels) + 1}", f"{RELS}/styles", styles))
            sheet_ids = []
            for entry in self.sheets:
                rid = f"rId{len(rels) + 1}"
                rels.append((rid, f"{RELS}/worksheet", entry.part))
                sheet_ids.append(rid)
            workbook = self.workbook_part
            self.write(workbook, self._workbook_xml(sheet_ids), CT_WORKBOOK)
            self.write_rels(workbook, [(rid, uri, target, False) for rid, uri, target in rels])
            package_rels = [("rId1", f"{RELS}/officeDocument", workbook, False)]
            if self.custom_properties is not None:
                self.write("docProps/custom.xml", self.custom_properties, CT_CUSTOM_PROPERTIES)
                package_rels.append(("rId2", REL_CUSTOM_PROPERTIES, "docProps/custom.xml", False))
            if self.core_properties is not None:
                self.write("docProps/core.xml", self.core_properties, CT_CORE_PROPERTIES)
                package_rels.append((f"rId{len(package_rels) + 1}", REL_CORE_PROPERTIES, "docProps/core.xml", False))
            self.write_rels("", package_rels)
            self.write("[Content_Types].xml", self._content_types(), None)
        finally:
            self.zip.close()

    def abandon(self) -> None:
        self.zip.close()

    def _workbook_xml(self, sheet_ids: list[str]) -> bytes:
        out = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{MAIN}" '
               f'xmlns:r="{RELS}">']
        out.append('<workbookPr date1904="1"/>' if self.date1904 else "<workbookPr/>")
        out.append('<bookViews><workbookView activeTab="0"/></bookViews><sheets>')
        for n, (entry, rid) in enumerate(zip(self.sheets, sheet_ids, strict=True), start=1):
            state = ' state="hidden"' if entry.hidden else ""
            out.append(f'<sheet name="{attr(entry.title)}" sheetId="{n}"{state} r:id="{rid}"/>')
        out.append("</sheets>")
        names = []
        for index, entry in enumerate(self.sheets):
            sheet = quote_sheet(entry.title)
            if entry.filter_range:
                names.append(f'<definedName name="_xlnm._FilterDatabase" localSheetId="{index}" hidden="1">'
                             f"{escape(sheet)}!{entry.filter_range}</definedName>")
            if entry.print_area:
                names.append(f'<definedName name="_xlnm.Print_Area" localSheetId="{index}">'
                             f"{escape(sheet)}!{entry.print_area}</definedName>")
            if entry.print_titles:
                titles = ",".join(f"{sheet}!{part}" for part in entry.print_titles.split(","))
                names.append(f'<definedName name="_xlnm.Print_Titles" localSheetId="{index}">'
                             f"{escape(titles)}</definedName>")
        if names:
            out.append("<definedNames>" + "".join(names) + "</definedNames>")
        out.append('<calcPr calcId="191029"/></workbook>')
        return "".join(out).encode("utf-8")

    def _content_types(self) -> bytes:
        out = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="{CONTENT_TYPES}">',
               f'<Default Extension="rels" ContentType="{CT_RELS}"/>',
               '<Default Extension="xml" ContentType="application/xml"/>',
               f'<Default Extension="vml" ContentType="{CT_VML}"/>']
        for name, ctype in sorted(self.types.items()):
            if name.lower().endswith(".vml") and ctype == CT_VML:
                continue
            out.append(f'<Override PartName="/{attr(name)}" ContentType="{attr(ctype)}"/>')
        out.append("</Types>")
        return "".join(out).encode("utf-8")


def closure_check(src: SourcePackage, part: str, kind: str, allowed: frozenset[str]) -> None:
    """Raise PatchError unless ``part`` (reached by a relationship of type ``kind``) and all it
    points to exist, lie inside the package, are of ``allowed`` types and have the content type
    of their kind (:data:`PART_TYPES`), none a part of the workbook itself (a sheet, its styles).
    Nothing outside the package is kept: Excel fetches a picture linked from a path or URL when
    the workbook opens, whatever the type of the link.  A chart's embedded workbook (``package``)
    is left out of the copy."""
    structure = src.structure()
    todo, seen = [(part, kind)], set()
    while todo:
        current, current_kind = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if not src.has(current):
            raise PatchError(f"missing part {current}")
        if current.lower() in structure:
            raise PatchError(f"{current} is a part of the workbook itself")
        if len(seen) > settings.MAX_ZIP_MEMBERS:
            raise PatchError("too many parts")
        if not part_type_fits(src, current, current_kind):
            raise PatchError(f"{current} is not a {current_kind}")
        chart = current_kind == "chart"
        for rel in src.rels(current):
            if rel.external:
                raise PatchError(f"{current} links a {rel.type} from outside the package")
            if rel.type == "package" and chart:
                continue
            if rel.type not in allowed:
                raise PatchError(f"{current} needs a {rel.type}")
            todo.append((rel.target, rel.type))


def part_type_fits(src: SourcePackage, part: str, kind: str) -> bool:
    """Whether ``part`` has the content type of a part of ``kind``, and is no relationships part."""
    expected = PART_TYPES.get(kind)
    if expected is None or _is_rels(part):
        return False
    ctype = src.content_type(part).strip().lower()
    return ctype.startswith(expected) if expected.endswith("/") else ctype == expected


def _is_rels(part: str) -> bool:
    name = part.lower()
    return name.endswith(".rels") or "_rels/" in name or name.lstrip("/") == "[content_types].xml"


_ITEM = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s>/]")


def _count_items(data: bytes) -> int:
    """How many strings a shared strings part holds (``si`` elements cannot nest)."""
    return len(_ITEM.findall(data))


def _shared_item(text: str) -> str:
    text = text[: settings.MAX_CELL_CHARS]
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f"<si><t{space}>{escape(text)}</t></si>"


_EXTERNAL_DATA = re.compile(b"<" + ANY_PREFIX + b"externalData" + element_rest(ANY_PREFIX, b"externalData"))


_SHAPE_CODE = re.compile(rb"""\s(?:macro|textlink)\s*=\s*(?:"[^"]*"|'[^']*')""")


def _without_shape_code(data: bytes) -> bytes:
    """A drawing whose shapes run no macro and show no cell's formula (``macro``, ``textlink``)."""
    return _SHAPE_CODE.sub(b"", data)


def _without_external_data(data: bytes) -> bytes:
    """A chart without its link to an embedded workbook (the embedded package is not copied)."""
    return _EXTERNAL_DATA.sub(b"", data)


# ============================================================================ comments
@dataclass(frozen=True)
class Note:
    """A comment (批注) on a cell; 1-based row and column."""

    row: int
    col: int
    text: str
    author: str
    width: int = 320  # pixels
    lines: int = 6


def write_comments(out: OutputPackage, notes: Iterable[Note], serial_no: int,
                   authors: Sequence[str]) -> tuple[str, str] | None:
    """A comments part and its VML drawing for one sheet, from ``notes`` in row, column order
    (a generator is fine: each note's text is made, written and dropped); returns the two part
    names, or None when there is no note.  ``authors``: every author the notes name (a note by
    anyone else is shown under the first).  ``serial_no`` (1, 2, ...) keeps the VML shape ids
    of the sheets of a workbook apart."""
    notes = iter(notes)
    first = next(notes, None)
    if first is None:
        return None
    comments = out.name("xl/comments", ".xml")
    vml = out.name("xl/drawings/vmlDrawing", ".vml")
    index = {a: i for i, a in reversed(list(enumerate(authors)))}
    shapes = array.array("i")  # row, col, lines, width of each note: all the drawing needs, 16 bytes a note
    with out.stream(comments, CT_COMMENTS) as fh:
        fh.write(utf8(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<comments xmlns="{MAIN}"><authors>'
                      + "".join(f"<author>{escape(a)}</author>" for a in authors) + "</authors><commentList>"))
        body: list[str] = []
        size = 0
        for note in itertools.chain((first,), notes):
            text = escape(note.text[: settings.MAX_CELL_CHARS])
            piece = (f'<comment ref="{ref(note.row, note.col)}" authorId="{index.get(note.author, 0)}"><text><r>'
                     f'<t xml:space="preserve">{text}</t></r></text></comment>')
            body.append(piece)
            size += len(piece)
            shapes.extend((note.row, note.col, min(max(note.lines, 0), 1 << 20), min(max(note.width, 0), 1 << 20)))
            if size > 1 << 20:
                fh.write(utf8("".join(body)))
                body.clear()
                size = 0
        body.append("</commentList></comments>")
        fh.write(utf8("".join(body)))
    blocks = max(1, math.ceil((len(shapes) // 4 + 1) / 1024))
    first_block = 1 + (serial_no - 1) * 1000  # far apart: a sheet never needs 1,000 blocks of 1,024
    data_ids = ",".join(str(first_block + i) for i in range(blocks))
    with out.stream(vml, CT_VML) as fh:
        fh.write(('<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
                  'xmlns:x="urn:schemas-microsoft-com:office:excel"><o:shapelayout v:ext="edit">'
                  f'<o:idmap v:ext="edit" data="{data_ids}"/></o:shapelayout>'
                  '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" '
                  'path="m,l,21600r21600,l21600,xe"><v:stroke joinstyle="miter"/>'
                  '<v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>').encode("ascii"))
        buf: list[str] = []
        for n in range(len(shapes) // 4):
            row, col, lines, width = shapes[4 * n: 4 * n + 4]
            shape_id = first_block * 1024 + n + 1
            height = max(3, min(lines, 40))
            buf.append(f'<v:shape id="_x0000_s{shape_id}" type="#_x0000_t202" style="position:absolute;'
                       f'margin-left:59.25pt;margin-top:1.5pt;width:{width * 0.75:g}pt;height:{height * 15}pt;'
                       'z-index:1;visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto"><v:fill color2="#ffffe1"/>'
                       '<v:shadow color="black" obscured="t"/><v:path o:connecttype="none"/><v:textbox style='
                       '"mso-direction-alt:auto"><div style="text-align:left"></div></v:textbox><x:ClientData '
                       'ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/><x:AutoFill>False</x:AutoFill>'
                       f'<x:Row>{row - 1}</x:Row><x:Column>{col - 1}</x:Column></x:ClientData></v:shape>')
            if len(buf) >= 2000:
                fh.write("".join(buf).encode("ascii"))
                buf.clear()
        buf.append("</xml>")
        fh.write("".join(buf).encode("ascii"))
    return comments, vml


def read_comments(src: SourcePackage, sheet_part: str) -> dict[tuple[int, int], tuple[str, str]]:
    """The comments a city left on a sheet: (row, col) -> (author, text); {} when none."""
    out: dict[tuple[int, int], tuple[str, str]] = {}
    for rel in src.rels(sheet_part):
        if rel.type != "comments" or rel.external or not src.has(rel.target):
            continue
        root = parse_xml(src.read(rel.target))
        authors = [a.text or "" for a in root.iter(f"{{{MAIN}}}author")]
        for comment in root.iter(f"{{{MAIN}}}comment"):
            found = _REF.fullmatch(comment.get("ref", "").replace("$", "").encode("ascii", "replace"))
            if not found:
                continue
            text = "".join(t.text or "" for t in comment.iter(f"{{{MAIN}}}t"))
            try:
                author = authors[int(comment.get("authorId", "0"))]
            except (ValueError, IndexError):
                author = ""
            out[(int(found.group(2)), column_number(found.group(1)))] = (author, text)
    return out


# ============================================================================ new sheets
@dataclass
class SheetView:
    freeze: tuple[int, int] | None = None  # rows and columns frozen (1, 1): "B2"
    selected: bool = False
    fit_to_page: bool = False
    widths: dict[int, float] = field(default_factory=dict)  # 1-based column -> width in characters
    default_row_height: float | None = None
    dimension: str | None = None  # the range the cells span ("A1:K9"), when known before the rows


class SheetWriter:
    """A new worksheet streamed row by row (rows in order).  Text is written inline, numbers as
    numbers, never a formula."""

    def __init__(self, stream: IO[bytes], view: SheetView, share: Callable[[str], int | None] | None = None,
                 date1904: bool = False) -> None:
        self.fh = stream
        self.share = share
        self.date1904 = date1904  # the workbook's date system (the base package's)
        self.buf: list[str] = []
        self.size = 0
        self.last_row = 0
        self.max_col = 0
        head = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN}" '
                f'xmlns:r="{RELS}">']
        if view.fit_to_page:
            head.append('<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>')
        if view.dimension:  # readers that stream a sheet (openpyxl's read-only mode) size their rows by it
            head.append(f'<dimension ref="{view.dimension}"/>')
        head.append("<sheetViews><sheetView workbookViewId=\"0\"" + (' tabSelected="1"' if view.selected else "") + ">")
        if view.freeze and (view.freeze[0] or view.freeze[1]):
            rows, cols = view.freeze
            split = (f' xSplit="{cols}"' if cols else "") + (f' ySplit="{rows}"' if rows else "")
            pane = "bottomRight" if rows and cols else ("bottomLeft" if rows else "topRight")
            head.append(f'<pane{split} topLeftCell="{ref(rows + 1, cols + 1)}" activePane="{pane}" state="frozen"/>'
                        f'<selection pane="{pane}" activeCell="{ref(rows + 1, cols + 1)}" '
                        f'sqref="{ref(rows + 1, cols + 1)}"/>')
        head.append("</sheetView></sheetViews>")
        height = view.default_row_height or 15
        head.append(f'<sheetFormatPr defaultRowHeight="{height:g}"/>')
        if view.widths:
            head.append("<cols>" + "".join(
                f'<col min="{c}" max="{c}" width="{w:.2f}" customWidth="1"/>' for c, w in sorted(view.widths.items())
                if w > 0) + "</cols>")
        head.append("<sheetData>")
        self.fh.write("".join(head).encode("utf-8"))

    def row(self, r: int, values: Sequence[Any], styles: Sequence[int] | int = 0, *, first_col: int = 1,
            height: float | None = None, hidden: bool = False, shared: Sequence[bool] | None = None) -> None:
        """Row ``r`` (1-based, increasing) with ``values`` from column ``first_col``; ``styles`` one
        per value or one for all; ``shared``: the columns whose texts repeat (written once, as
        shared strings, when the writer was given ``share``)."""
        if r <= self.last_row:
            raise ValueError("rows must increase")
        self.last_row = r
        if first_col - 1 + len(values) > MAX_COLUMNS:  # past XFD: no sheet holds it
            values = values[:max(MAX_COLUMNS - first_col + 1, 0)]
        attrs = f'<row r="{r}"'
        if height:
            attrs += f' ht="{height:g}" customHeight="1"'
        if hidden:
            attrs += ' hidden="1"'
        cells: list[str] = []
        append = cells.append
        same = isinstance(styles, int)
        rs = str(r)
        col = first_col - 1
        needs_work = _NEEDS_WORK.search
        for i, value in enumerate(values):
            col += 1
            style = styles if same else styles[i]  # type: ignore[index]
            kind = type(value)
            # the common cases inline: this is the inner loop of every table of the review
            if kind is str and value and shared is not None and shared[i] and self.share is not None:
                index = self.share(value)
                if index is not None:
                    append(f'<c r="{_LETTERS[col]}{rs}" s="{style}" t="s"><v>{index}</v></c>')
                    continue
            if kind is str and value and len(value) <= settings.MAX_CELL_CHARS and not needs_work(value):
                append(f'<c r="{_LETTERS[col]}{rs}" s="{style}" t="inlineStr"><is><t>{value}</t></is></c>')
            elif (kind is int or kind is float) and math.isfinite(value):
                append(f'<c r="{_LETTERS[col]}{rs}" s="{style}"><v>{value!r}</v></c>')
            elif value is None or value == "":
                if style:
                    append(f'<c r="{_LETTERS[col]}{rs}" s="{style}"/>')
            else:
                append(cell_xml(_LETTERS[col] + rs, value, style, self.date1904))  # type: ignore[arg-type]
        if col > self.max_col:
            self.max_col = col
        line = attrs + ">" + "".join(cells) + "</row>" if cells else attrs + "/>"
        self.buf.append(line)
        self.size += len(line)
        if self.size > 1 << 20:
            self.flush()

    def raw_row(self, r: int, cells: str, *, height: float | None = None, hidden: bool = False) -> None:
        """Row ``r`` from cells already written with :func:`cell_xml`."""
        if r <= self.last_row:
            raise ValueError("rows must increase")
        self.last_row = r
        attrs = f'<row r="{r}"' + (f' ht="{height:g}" customHeight="1"' if height else "") + \
            (' hidden="1"' if hidden else "")
        line = attrs + ">" + cells + "</row>" if cells else attrs + "/>"
        self.buf.append(line)
        self.size += len(line)
        if self.size > 1 << 20:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            self.fh.write(utf8("".join(self.buf)))
            self.buf.clear()
            self.size = 0

    def close(self, *, merges: Iterable[tuple[int, int, int, int]] = (), auto_filter: str | None = None,
              page: PageSetup | None = None, drawing: str | None = None, legacy_drawing: str | None = None) -> None:
        """End the sheet: merged ranges (1-based corners), an autofilter range (``A1:K9``), page
        setup and the relationship ids of its drawing (a chart) and of the comments' VML drawing."""
        self.buf.append("</sheetData>")
        if auto_filter:
            self.buf.append(f'<autoFilter ref="{auto_filter}"/>')
        merged = [range_ref(*m) for m in merges if (m[0], m[1]) != (m[2], m[3])]
        if merged:
            self.buf.append(f'<mergeCells count="{len(merged)}">'
                            + "".join(f'<mergeCell ref="{m}"/>' for m in merged) + "</mergeCells>")
        if page is not None:
            self.buf.append("".join(xml for _, xml in page.parts()))
        if drawing:
            self.buf.append(f'<drawing r:id="{drawing}"/>')
        if legacy_drawing:
            self.buf.append(f'<legacyDrawing r:id="{legacy_drawing}"/>')
        self.buf.append("</worksheet>")
        self.flush()


# ============================================================================ patching a sheet
@dataclass
class SheetEdit:
    """What changes in a copied sheet.

    ``marks``: (row, {column: fill RGB}) in increasing row order (1-based; an iterator is fine:
    the marks of a row are made when the row is copied); a marked row that was hidden is shown.
    ``merge_extent``: the rows and columns the sheet's values reach; its own merged ranges are
    kept when they end within ``MERGED_RANGE_SLACK`` of it (a range over the whole sheet is not),
    up to ``MAX_MERGED_RANGES`` ranges and ``MAX_MERGED_CELLS`` cells.
    ``styles_from``: for a sheet from another package than the base, its formats' offsets, and
    ``shared_strings`` its shared strings (written inline).
    """

    marks: Iterable[tuple[int, dict[int, str]]] = ()
    merge_extent: tuple[int, int] = (0, 0)
    page: PageSetup = field(default_factory=PageSetup)
    legacy_drawing: str | None = None
    styles_from: StyleImport | None = None
    shared_strings: list[str] | None = None
    drop_elements: frozenset[str] = frozenset()  # suffix elements to leave out (their parts were dropped)
    # the page setup chosen from the sheet's column widths (1-based column -> width, default width)
    layout: Callable[[dict[int, float], float], PageSetup] | None = None
    # whether the sheet is the workbook's selected tab (two selected tabs open as a group in Excel,
    # where one edit changes both sheets)
    selected: bool = False
    # the relationships the copy keeps for its elements: id -> kind ("drawing", "hyperlink"...)
    rel_types: dict[str, str] = field(default_factory=dict)


@dataclass
class PatchReport:
    rows: int = 0
    formulas_removed: int = 0
    bad_styles: int = 0
    dropped: list[str] = field(default_factory=list)  # what the copy left out (element names)
    auto_filter: str | None = None


@functools.lru_cache(maxsize=8)
def _cell_patterns(p: bytes) -> tuple[re.Pattern[bytes], re.Pattern[bytes], re.Pattern[bytes]]:
    """A cell (attributes in group 1, content in group 3), a formula, a cached value (group 1)."""
    return (re.compile(b"<" + p + b"c" + element_rest(p, b"c")),
            re.compile(b"<" + p + b"f" + element_rest(p, b"f")),
            re.compile(b"<" + p + rb"v(?:\s[^<>]*+)?>((?:[^<]++|<(?!/?" + p + rb"v[\s>/]))*+)</" + p + rb"v>"))


class _Patcher:
    def __init__(self, styles: Styles, edit: SheetEdit, prefix: bytes, out: IO[bytes]) -> None:
        self.styles = styles
        self.edit = edit
        self.p = prefix + b":" if prefix else b""
        self.out = out
        self.report = PatchReport()
        self.marks = iter(edit.marks)
        self.next_mark = next(self.marks, None)  # the next marked row not met yet
        self.last_row = 0
        self.xf_count = styles.count("cellXfs") if edit.styles_from is None else edit.styles_from.xf_count
        p = re.escape(self.p)
        self.row_start = re.compile(b"<" + p + rb"row[\s>/]")
        self.cell_re, self.formula_re, self.value_re = _cell_patterns(p)
        self.cell_start = re.compile(b"<" + p + rb"c\s")
        self.has_formula = b"<" + self.p + b"f"
        self.close_row = b"</" + self.p + b"row>"
        self.close_data = b"</" + self.p + b"sheetData>"
        self.s_values = re.compile(rb'\ss="(\d+)"')

    # ------------------------------------------------------------------ rows
    def rows(self, buf: bytes, stream: IO[bytes]) -> bytes:
        """Copy and edit the rows; return what follows ``</sheetData>``."""
        out = self.out
        while True:
            pieces: list[bytes] = []
            pos = 0
            check_styles = self._styles_suspect(buf)
            if b"xmlns" in buf and _NS_DECL.search(buf):  # a prefix bound inside the rows: formulas
                raise PatchError("a namespace declared inside the rows")  # could hide behind it
            end_data = buf.find(self.close_data)  # once per chunk: rows never hold it
            while True:
                found = self.row_start.search(buf, pos)
                if end_data >= 0 and (found is None or end_data < found.start()):
                    pieces.append(buf[pos:end_data])
                    self._pending_rows(pieces, None)
                    out.write(b"".join(pieces))
                    return buf[end_data + len(self.close_data):] + _read_rest(stream)
                if found is None:
                    break
                tag_end = buf.find(b">", found.end() - 1)
                if tag_end < 0:
                    break
                if buf[tag_end - 1] == 0x2F:  # "/>": an empty row
                    row_end = tag_end + 1
                else:
                    close = buf.find(self.close_row, tag_end)
                    if close < 0:
                        break
                    row_end = close + len(self.close_row)
                pieces.append(buf[pos:found.start()])
                self._row(buf, found.start(), tag_end + 1, row_end, pieces, check_styles)
                pos = row_end
            out.write(b"".join(pieces))
            chunk = stream.read(CHUNK)
            if not chunk:
                raise PatchError("sheetData not closed")
            buf = buf[pos:] + chunk

    def _styles_suspect(self, buf: bytes) -> bool:
        """Whether a chunk may hold a style index past the cell formats (a damaged or hostile file)."""
        if self.edit.styles_from is not None:
            return True  # every index is mapped anyway
        values = self.s_values.findall(buf)
        return bool(values) and max(map(int, values)) >= self.xf_count

    def _pending_rows(self, pieces: list[bytes], before: int | None) -> None:
        """Rows holding a marked cell that the sheet does not have: written new, in order."""
        while self.next_mark is not None and (before is None or self.next_mark[0] < before):
            r, marks = self.next_mark
            self.next_mark = next(self.marks, None)
            if r <= self.last_row or not marks:
                continue
            pieces.append(b"<" + self.p + b'row r="%d">' % r + self._new_cells(r, marks, set()) + self.close_row)

    def _marks_of(self, r: int) -> dict[int, str] | None:
        if self.next_mark is not None and self.next_mark[0] == r:
            marks = self.next_mark[1]
            self.next_mark = next(self.marks, None)
            return marks or None
        return None

    def _row(self, buf: bytes, start: int, body: int, end: int, pieces: list[bytes], check_styles: bool) -> None:
        tag = buf[start:body]
        found = re.search(rb'\sr\s*=\s*["\'](\d+)["\']', tag)
        r = int(found.group(1)) if found else self.last_row + 1
        if r <= self.last_row:
            raise PatchError("rows out of order")
        self._pending_rows(pieces, r)
        self.last_row = r
        self.report.rows += 1
        marks = self._marks_of(r)
        data = buf[start:end]
        transplant = self.edit.styles_from is not None
        if not marks and not transplant and not check_styles and self.has_formula not in data:
            pieces.append(data)
            return
        if marks and b"hidden" in tag:  # a finding on a hidden row must be seen
            tag = re.sub(rb'\shidden\s*=\s*["\'](?:1|true)["\']', b"", tag)
        if transplant:
            tag = self.s_values.sub(lambda m: b' s="%d"' % self.edit.styles_from.xf(int(m.group(1))), tag)  # type: ignore[union-attr]
        if tag.endswith(b"/>"):
            if marks:
                cells = self._new_cells(r, marks, set())
                pieces.append(tag[:-2].rstrip() + b">" + cells + self.close_row)
            else:
                pieces.append(tag)
            return
        inner = buf[body:end - len(self.close_row)]
        if (marks and not transplant and not check_styles and self.has_formula not in inner):
            fast = self._marks_fast(r, inner, marks)
            if fast is not None:
                pieces.append(tag + fast + self.close_row)
                return
        pieces.append(tag + self._cells(r, inner, marks or {}) + self.close_row)

    def _marks_fast(self, r: int, inner: bytes, marks: dict[int, str]) -> bytes | None:
        """Marked cells found by their reference (Excel always writes it); None when one is not."""
        edits: list[tuple[int, int, bytes]] = []
        for c, rgb in marks.items():
            at = inner.find(b' r="' + _LETTERS[c].encode() + str(r).encode() + b'"')
            if at < 0:
                return None
            begin = inner.rfind(b"<", 0, at)
            stop = inner.find(b">", at)
            if begin < 0 or stop < 0 or not self.cell_start.match(inner, begin):
                return None
            tag = inner[begin:stop + 1]
            edits.append((begin, stop + 1, self._restyle(tag, rgb)))
        edits.sort()
        out, at = [], 0
        for begin, stop, tag in edits:
            out.append(inner[at:begin])
            out.append(tag)
            at = stop
        out.append(inner[at:])
        return b"".join(out)

    def _restyle(self, tag: bytes, rgb: str) -> bytes:
        found = re.search(rb'\ss\s*=\s*["\'](\d+)["\']', tag)
        s = int(found.group(1)) if found else 0
        new = self.styles.with_fill(self._map_style(s), rgb)
        if found:
            return tag[:found.start()] + b' s="%d"' % new + tag[found.end():]
        end = -2 if tag.endswith(b"/>") else -1
        return tag[:end] + b' s="%d"' % new + tag[end:]

    def _map_style(self, s: int) -> int:
        if self.edit.styles_from is not None:
            return self.edit.styles_from.xf(s)
        if not 0 <= s < self.xf_count:
            self.report.bad_styles += 1
            return 0
        return s

    def _cells(self, r: int, inner: bytes, marks: dict[int, str]) -> bytes:
        out: list[bytes] = []
        done: set[int] = set()
        col = 0
        at = 0
        pending = sorted(marks) if marks else []
        for found in self.cell_re.finditer(inner):
            attrs = dict((k, (v1 or v2)) for k, v1, v2 in _ATTR.findall(found.group(1)))
            where = attrs.get(b"r")
            position = _REF.fullmatch(where.replace(b"$", b"")) if where else None
            col = column_number(position.group(1)) if position else col + 1
            while pending and pending[0] < col:  # marked cells the row does not hold
                c = pending.pop(0)
                out.append(inner[at:found.start()])
                at = found.start()
                out.append(self._new_cell(r, c, marks[c]))
                done.add(c)
            if pending and pending[0] == col:
                pending.pop(0)
            out.append(inner[at:found.start()])
            at = found.end()
            out.append(self._cell(r, col, attrs, found.group(3), marks.get(col)))
            done.add(col)
        out.append(inner[at:])
        for c in pending:
            if c not in done:
                out.append(self._new_cell(r, c, marks[c]))
        return b"".join(out)

    def _new_cell(self, r: int, c: int, rgb: str) -> bytes:
        return b'<' + self.p + b'c r="' + ref(r, c).encode() + b'" s="%d"/>' % self.styles.with_fill(0, rgb)

    def _new_cells(self, r: int, marks: dict[int, str], skip: set[int]) -> bytes:
        return b"".join(self._new_cell(r, c, rgb) for c, rgb in sorted(marks.items()) if c not in skip)

    def _cell(self, r: int, col: int, attrs: dict[bytes, bytes], inner: bytes | None, rgb: str | None) -> bytes:
        s = self._map_style(int(attrs.get(b"s", b"0") or 0)) if attrs.get(b"s", b"0").isdigit() else 0
        if rgb:
            s = self.styles.with_fill(s, rgb)
        t = attrs.get(b"t", b"n")
        inner = inner or b""
        if self.has_formula in inner:
            self.report.formulas_removed += 1
            inner = self.formula_re.sub(b"", inner)
            if t == b"str":  # a formula's text result: kept as text
                found = self.value_re.search(inner)
                text = found.group(1) if found else b""
                inner = b"<" + self.p + b"is><" + self.p + b't xml:space="preserve">' + text + b"</" + self.p + \
                    b"t></" + self.p + b"is>"
                t = b"inlineStr"
            elif not self.value_re.search(inner) and b"<" + self.p + b"is" not in inner:
                inner, t = b"", b"n"  # no cached value: an empty cell
        if t == b"s" and self.edit.shared_strings is not None:
            found = self.value_re.search(inner)
            try:
                text = self.edit.shared_strings[int(found.group(1))] if found else ""
            except (ValueError, IndexError):
                text = ""
            inner = ("<{p}is><{p}t xml:space=\"preserve\">" + escape(text) + "</{p}t></{p}is>").replace(
                "{p}", self.p.decode()).encode("utf-8", "replace")
            t = b"inlineStr"
        head = b"<" + self.p + b'c r="' + ref(r, col).encode() + b'"'
        if s:
            head += b' s="%d"' % s
        if t != b"n" and inner:
            head += b' t="' + t + b'"'
        for key in (b"cm", b"vm", b"ph"):
            if key in attrs and inner:
                head += b" " + key + b'="' + attrs[key] + b'"'
        return head + (b">" + inner + b"</" + self.p + b"c>" if inner else b"/>")


def _read_rest(stream: IO[bytes]) -> bytes:
    rest = []
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > MAX_AROUND_ROWS:
            raise PatchError("too much after the rows")
        rest.append(chunk)
    return b"".join(rest)


def _read_prefix(stream: IO[bytes]) -> tuple[bytes, bytes, bytes, bool]:
    """(everything before sheetData, the root's prefix, what follows the sheetData start tag,
    whether sheetData was an empty element)."""
    buf = b""
    sheet_data: re.Pattern[bytes] | None = None
    prefix = b""
    looked = 0
    while True:
        chunk = stream.read(1 << 16)
        buf += chunk
        if sheet_data is None:
            root = _PREFIX.search(buf)
            if root is not None:
                prefix = root.group(1) or b""
                p = re.escape(prefix + b":") if prefix else b""
                sheet_data = re.compile(b"<" + p + rb"sheetData(?=[\s>/])[^<>]*?(/?)>")
        if sheet_data is not None:
            found = sheet_data.search(buf, max(0, looked - 256))
            if found is not None:
                return buf[:found.start()], prefix, buf[found.end():], bool(found.group(1))
            looked = len(buf)
        if not chunk or len(buf) > MAX_AROUND_ROWS:
            raise PatchError("no sheetData")


_NS_DECL = re.compile(rb"""\sxmlns(?::([A-Za-z_][\w.-]*))?\s*=\s*(?:"([^"<]*)"|'([^'<]*)')""")


def _main_prefixes(root_tag: bytes) -> set[bytes]:
    """The prefixes the worksheet's root binds to the SpreadsheetML namespace (b"" for the default)."""
    return {prefix for prefix, a, b in _NS_DECL.findall(root_tag) if (a or b).strip() == MAIN.encode()}


def patch_sheet(src: SourcePackage, part: str, out: IO[bytes], styles: Styles, edit: SheetEdit) -> PatchReport:
    """Stream worksheet ``part`` of ``src`` into ``out`` with the edits of ``edit``."""
    with src.open(part) as stream:
        try:
            head, prefix, rest, empty = _read_prefix(stream)
            root_start = _PREFIX.search(head)
            assert root_start is not None
            root_end = head.find(b">", root_start.start())
            root_tag = head[root_start.start():root_end + 1]
            if MAIN.encode() not in root_tag:
                raise PatchError("not a transitional worksheet")
            root_name = (prefix + b":worksheet") if prefix else b"worksheet"
            if _main_prefixes(root_tag) != {prefix}:  # rows could spell a formula with another prefix
                raise PatchError("the sheet's namespace is bound to several prefixes")
            rel_prefix = _rel_prefix(root_tag)
            if rel_prefix is None:
                rel_prefix = b"sdr"
                head = head[:root_end] + b' xmlns:sdr="' + RELS.encode() + b'"' + head[root_end:]
                root_end += len(b' xmlns:sdr="' + RELS.encode() + b'"')
                root_tag = head[root_start.start():root_end + 1]
            head = _real_widths(head)
            if edit.layout is not None:
                edit.page = edit.layout(*_column_widths(head, root_tag, root_name))
            head = _edit_sheet_pr(head, root_end, root_name, prefix, edit.page.fit_width)
            head = _select(head, prefix, edit.selected)
            p = prefix.decode("ascii") if prefix else ""
            patcher = _Patcher(styles, edit, prefix, out)
            out.write(head)
            out.write(b"<" + (prefix + b":" if prefix else b"") + b"sheetData>")
            if empty:
                pieces: list[bytes] = []
                patcher._pending_rows(pieces, None)
                out.write(b"".join(pieces))
                suffix = rest + _read_rest(stream)
            else:
                suffix = patcher.rows(rest, stream)
            out.write(b"</" + (prefix + b":" if prefix else b"") + b"sheetData>")
            if len(suffix) > MAX_AROUND_ROWS:
                raise PatchError("too much after the rows")
            out.write(_edit_suffix(suffix, root_tag, root_name, p, rel_prefix.decode("ascii"), edit, patcher.report))
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise PatchError(f"damaged sheet: {type(exc).__name__}") from None
        except Exception as exc:
            if isinstance(exc, PatchError):
                raise
            import zlib

            if isinstance(exc, zlib.error):
                raise PatchError("damaged sheet") from None
            raise
    return patcher.report


def _select(head: bytes, prefix: bytes, selected: bool) -> bytes:
    """The sheet's views selected as the workbook's first tab, or not selected at all."""
    p = re.escape(prefix + b":") if prefix else b""
    first = True

    def view(found: re.Match[bytes]) -> bytes:
        nonlocal first
        tag = re.sub(rb'\stabSelected\s*=\s*["\'][^"\']*["\']', b"", found.group(0))
        if selected and first:
            tag = re.sub(rb"(/?>)$", rb' tabSelected="1"\1', tag)
        first = False
        return tag

    return re.sub(b"<" + p + rb"sheetView(?=[\s>/])[^<>]*>", view, head)


MAX_COLUMN_WIDTH = 255.0  # Excel's widest column, in characters
DEFAULT_COLUMN_WIDTH = 8.43  # a column's width when the sheet states none (Calibri 11)
BASE_COLUMN_WIDTH = 8  # baseColWidth's default: characters, without the cell's padding
COLUMN_PADDING = 0.71  # what a column adds to baseColWidth (its margins), in characters


def _width(text: str | None, default: float) -> float:
    """A column width as a sheet states it: a number of characters from 0 to 255.  ``NaN``, an
    infinity or anything else that is not a width is ``default``; a width past either end is
    brought to it (a bit-flipped ``width="NaN"`` cost a city its review: the print plan could not
    use it)."""
    try:
        width = float(text) if text is not None else default
    except ValueError:
        return default
    if not math.isfinite(width):
        return default
    return min(max(width, 0.0), MAX_COLUMN_WIDTH)


_WIDTH_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:col|sheetFormatPr)(?=[\s/>])[^<>]*>")
_WIDTH_ATTR = re.compile(rb"""(\s(?:width|defaultColWidth|baseColWidth)\s*=\s*)(?:"([^"]*)"|'([^']*)')""")


def _real_widths(head: bytes) -> bytes:
    """``head`` with every column width that is not one (:func:`_width`) written as the width it
    is read as, so that the copy holds no ``width="NaN"`` for Excel to repair; the rest as it was."""

    def attr(m: re.Match[bytes]) -> bytes:
        raw = (m.group(2) if m.group(2) is not None else m.group(3) or b"").decode("ascii", "replace")
        base = b"baseColWidth" in m.group(1)
        width = _width(raw, BASE_COLUMN_WIDTH if base else DEFAULT_COLUMN_WIDTH)
        try:
            if float(raw) == width:
                return m.group(0)
        except ValueError:
            pass
        return m.group(1) + b'"' + (str(int(width)) if base else f"{width:g}").encode("ascii") + b'"'

    return _WIDTH_TAG.sub(lambda t: _WIDTH_ATTR.sub(attr, t.group(0)), head)


def _column_widths(head: bytes, root_tag: bytes, root_name: bytes) -> tuple[dict[int, float], float]:
    """The widths a sheet declares (``cols``; hidden columns as 0) and its default width, each a
    real width (:func:`_width`)."""
    spans = child_spans(head + b"</" + root_name + b">")

    def element(span: Span) -> Element:  # parsed inside the root's start tag: its prefixes declared
        return parse_xml(root_tag + head[span.start:span.end] + b"</" + root_name + b">")[0]

    widths: dict[int, float] = {}
    default = DEFAULT_COLUMN_WIDTH
    for span in spans:
        if span.local == "sheetFormatPr":
            el = element(span)
            if el.get("defaultColWidth"):
                default = _width(el.get("defaultColWidth"), default)
            elif el.get("baseColWidth"):
                default = _width(el.get("baseColWidth"), default - COLUMN_PADDING) + COLUMN_PADDING
        elif span.local == "cols":
            for col in element(span):
                try:
                    first, last = int(col.get("min", "0")), int(col.get("max", "0"))
                except ValueError:
                    continue
                width = 0.0 if col.get("hidden") in ("1", "true") else _width(col.get("width"), default)
                for c in range(max(first, 1), min(last, 512) + 1):  # a range over every column: the first 512
                    widths[c] = width
    return widths, default


def _rel_prefix(root_tag: bytes) -> bytes | None:
    for name, v1, v2 in _ATTR.findall(root_tag):
        if name.startswith(b"xmlns:") and (v1 or v2) == RELS.encode():
            return name[6:]
    return None


def _edit_sheet_pr(head: bytes, root_end: int, root_name: bytes, prefix: bytes, fit: bool) -> bytes:
    """``sheetPr/pageSetUpPr/@fitToPage`` as the layout wants it."""
    spans = child_spans(head + b"</" + root_name + b">")
    p = prefix.decode("ascii") + ":" if prefix else ""
    value = "1" if fit else "0"
    sheet_pr = next((s for s in spans if s.local == "sheetPr"), None)
    if sheet_pr is None:
        new = f'<{p}sheetPr><{p}pageSetUpPr fitToPage="{value}"/></{p}sheetPr>'.encode()
        return head[:root_end + 1] + new + head[root_end + 1:]
    element = head[sheet_pr.start:sheet_pr.end]
    setup = re.search(b"<" + re.escape(p.encode()) + rb"pageSetUpPr\b[^<>]*?/?>", element)
    if setup is not None:
        tag = setup.group(0)
        if re.search(rb"\sfitToPage\s*=", tag):
            tag = re.sub(rb'(\sfitToPage\s*=\s*)["\'][^"\']*["\']', rb'\1"' + value.encode() + b'"', tag)
        else:
            tag = tag[:-2] + b' fitToPage="' + value.encode() + b'"/>' if tag.endswith(b"/>") else \
                tag[:-1] + b' fitToPage="' + value.encode() + b'">'
        element = element[:setup.start()] + tag + element[setup.end():]
    else:
        add = f'<{p}pageSetUpPr fitToPage="{value}"/>'.encode()
        if element.endswith(b"/>"):
            element = element[:-2].rstrip() + b">" + add + f"</{p}sheetPr>".encode()
        else:
            close = element.rindex(b"</")
            element = element[:close] + add + element[close:]
    return head[:sheet_pr.start] + element + head[sheet_pr.end:]


_FORMULA_NAME = b"<" + ANY_PREFIX + rb"(?:formula|formula1|formula2|f)(?=[\s>/])"
_FORMULA_START = re.compile(_FORMULA_NAME)
_FORMULA_TEXT = re.compile(_FORMULA_NAME + rb"([^<>]*+)>([^<]*+)(</)?")  # attributes, text, its end
_CELL_REFS = re.compile(r"\$?[A-Za-z]{1,3}\$?\d+(?::\$?[A-Za-z]{1,3}\$?\d+)?")
_NAMES = re.compile(r"[A-Za-z_\u3400-\u9fff][\w.\u3400-\u9fff]*(\s*\()?")


def formula_is_local(text: str) -> bool:
    """Whether a rule's formula (data validation, conditional format) refers only to its own
    sheet and literals: no other sheet, no other workbook, no defined name, and calls only
    functions that read the sheet (:data:`settings.RULE_FUNCTIONS`)."""
    text = re.sub(r'"[^"]*"', "", text)
    if "!" in text or "[" in text:
        return False
    text = _CELL_REFS.sub("", text)
    for found in _NAMES.finditer(text):
        name = found.group(0).rstrip("( \t\r\n").upper()
        if found.group(1):  # a function, perhaps spelt with its file-format prefix (_xlfn.IFS)
            if name.rpartition(".")[2] not in settings.RULE_FUNCTIONS or name.count(".") > (
                    1 if name.startswith(("_XLFN.", "_XLWS.")) else 0):
                return False
        elif name not in ("TRUE", "FALSE"):
            return False
    return True


_CFVO = b"<" + ANY_PREFIX + rb"cfvo(?=[\s>/])"
_CFVO_START = re.compile(_CFVO)
_CFVO_TAG = re.compile(_CFVO + rb"""((?:[^<>"']++|"[^"<]*+"|'[^'<]*+')*+)/?>""")  # a ">" may stand in a value


def _rules_local(element: bytes) -> bool:
    """Whether every formula of a rule element is local (:func:`formula_is_local`): the texts of
    its formula elements (``formula``, ``formula1``, ``xm:f``...) and the thresholds of its colour
    scales and data bars (``cfvo val``).  A formula tag with attributes counts as much as a bare
    one; one that only wraps another (``x14:formula1`` around ``xm:f``) is read through it; one
    that holds anything else (CDATA, an element) or is not closed is one we cannot read, so it is
    not local."""
    import html

    def local(text: bytes) -> bool:
        return formula_is_local(html.unescape(text.decode("utf-8", "replace")))

    found = list(_FORMULA_TEXT.finditer(element))
    if len(found) != len(_FORMULA_START.findall(element)):
        return False
    for match in found:
        attributes, text, closed = match.groups()
        if attributes.endswith(b"/"):
            continue  # an empty formula
        if not closed:
            if text.strip() or not _FORMULA_START.match(element, match.end()):
                return False
            continue  # a wrapper: the formula inside is read on its own
        if not local(text):
            return False
    tags = _CFVO_TAG.findall(element)
    if len(tags) != len(_CFVO_START.findall(element)):
        return False
    return all(local(v1 or v2) for tag in tags for name, v1, v2 in _ATTR.findall(tag) if name == b"val")


def _edit_suffix(suffix: bytes, root_tag: bytes, root_name: bytes, p: str, rp: str, edit: SheetEdit,
                 report: PatchReport) -> bytes:
    """The elements after the rows: kept, filtered or replaced, in the schema's order."""
    doc = root_tag + suffix
    close = doc.rfind(b"</" + root_name)
    if close < 0:
        raise PatchError("worksheet not closed")
    spans = child_spans(doc[:close] + b"</" + root_name + b">")
    pre = f"{p}:" if p else ""
    kept: list[tuple[str, bytes]] = []
    for span in spans:
        element = doc[span.start:span.end]
        local = span.local
        if span.name.rpartition(":")[0] != p:
            report.dropped.append(span.name)  # an element of another namespace (mc:AlternateContent...)
            continue
        if local not in _SUFFIX_KEPT or local in edit.drop_elements:
            if local not in ("pageMargins", "pageSetup", "headerFooter", "printOptions"):
                report.dropped.append(local)
            continue
        if local == "conditionalFormatting":
            if not _rules_local(element):
                report.dropped.append(local)
                continue
            if edit.styles_from is not None:
                element = _shift_dxf(element, edit.styles_from.dxf_offset)
        elif local == "dataValidations":
            local_only = _local_validations(element, root_tag, root_name, report)
            if local_only is None:
                continue
            element = local_only
        elif local == "mergeCells":
            bounded = _bounded_merges(element, edit.merge_extent, pre)
            if bounded is None:
                continue
            element = bounded
        elif local == "extLst":  # x14 rules: their formulas are read as the others are (links: _links_fit)
            if not _rules_local(element):
                report.dropped.append(local)
                continue
        elif local == "autoFilter":
            found = re.search(rb'\sref\s*=\s*["\']([^"\']+)["\']', element)
            report.auto_filter = found.group(1).decode("ascii", "replace") if found else None
        if not _links_fit(element, local, edit.rel_types):
            report.dropped.append(local)
            continue
        kept.append((local, element))
    kept += [(local, xml.encode("utf-8")) for local, xml in edit.page.parts(p)]
    if edit.legacy_drawing:
        kept.append(("legacyDrawing", f'<{pre}legacyDrawing {rp}:id="{edit.legacy_drawing}"/>'.encode()))
    order = {name: i for i, name in enumerate(SUFFIX_ORDER)}
    kept.sort(key=lambda item: order.get(item[0], len(order)))
    return b"".join(e for _, e in kept) + b"</" + root_name + b">"


_REL_ID = re.compile(rb"""\s[A-Za-z_][\w.-]*:id\s*=\s*(?:"([^"<]*)"|'([^'<]*)')""")  # ">" may stand in a value
_LINKED = {"drawing": "drawing", "picture": "image", "hyperlinks": "hyperlink", "tableParts": "table"}


def _links_fit(element: bytes, local: str, rel_types: dict[str, str]) -> bool:
    """Whether every relationship an element names is one the copy keeps, of the kind the element
    takes: a background (``picture``) naming a hyperlink's URL would have Excel fetch it."""
    ids = [(a or b).decode("utf-8", "replace") for a, b in _REL_ID.findall(element)]
    if not ids:
        return True
    kind = _LINKED.get(local)
    return kind is not None and all(rel_types.get(i) == kind for i in ids)


_MERGE_REF = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?mergeCell\s[^<>]*?ref\s*=\s*["']([^"']{1,40})["']""")


def _bounded_merges(element: bytes, extent: tuple[int, int], pre: str) -> bytes | None:
    """The sheet's merged ranges that stay near its values, within the limits of the reading
    stage (a 7 KB file may declare a range over the whole sheet)."""
    rows, cols = extent
    slack = settings.MERGED_RANGE_SLACK
    kept: list[str] = []
    cells = 0
    for found in _MERGE_REF.finditer(element):
        corners = [_REF.fullmatch(part.strip().replace(b"$", b"")) for part in found.group(1).split(b":")]
        if len(corners) != 2 or not all(corners):
            continue
        (r0, c0), (r1, c1) = [(int(m.group(2)), column_number(m.group(1))) for m in corners if m]
        r0, r1, c0, c1 = min(r0, r1), max(r0, r1), min(c0, c1), max(c0, c1)
        if r1 > rows + slack or c1 > cols + slack or (r0, c0) == (r1, c1):
            continue
        cells += (r1 - r0 + 1) * (c1 - c0 + 1)
        if len(kept) >= settings.MAX_MERGED_RANGES or cells > settings.MAX_MERGED_CELLS:
            break
        kept.append(range_ref(r0, c0, r1, c1))
    if not kept:
        return None
    return (f'<{pre}mergeCells count="{len(kept)}">' + "".join(f'<{pre}mergeCell ref="{m}"/>' for m in kept)
            + f"</{pre}mergeCells>").encode("ascii")


def _shift_dxf(element: bytes, offset: int) -> bytes:
    return re.sub(rb'(\sdxfId\s*=\s*["\'])(\d+)', lambda m: m.group(1) + str(int(m.group(2)) + offset).encode(),
                  element)


def _local_validations(element: bytes, root_tag: bytes, root_name: bytes, report: PatchReport) -> bytes | None:
    """The data validations whose lists and limits refer only to the sheet itself."""
    doc = root_tag + element + b"</" + root_name + b">"
    children = child_spans(doc, depth=2)
    kept = [doc[s.start:s.end] for s in children if _rules_local(doc[s.start:s.end])]
    if len(kept) < len(children):
        report.dropped.append("dataValidation")
    if not kept:
        return None
    tag_end = element.index(b">") + 1
    close = element.rindex(b"</")
    return _set_count(element[:tag_end], len(kept)) + b"".join(kept) + element[close:]

