"""Print-ready sheets (issue 14 Build 5): A4, a readable size, titles, page numbers.

:func:`plan` decides, from a table's column widths alone, how a sheet prints: portrait when it
fits, landscape when it does not, *fit to one page wide* only while the scale stays readable
(``settings.PRINT_MIN_SCALE`` and ``settings.PRINT_MIN_FONT_PT``), and otherwise the table split
into blocks of columns, each printed on its own pages with the key columns (rank, city, name)
repeated.  It is pure, so the review writer (sdbatch.writers.xlsxpatch) and the lists (xlsxwriter) share it;
:func:`apply_xlsxwriter` applies a plan to an xlsxwriter worksheet.

Widths are in Excel's character units (the width of one digit of the default font); one
character unit is about 7 pixels plus 5 pixels of padding at 96 pixels per inch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sdbatch import settings

A4_INCHES = (8.27, 11.69)  # portrait width, height
MARGIN_SIDE = 0.4  # inches, left and right
MARGIN_TOP = 0.75  # inches, room for the page header
MARGIN_BOTTOM = 0.75  # room for the page footer
HEADER_MARGIN = 0.3
PIXELS_PER_INCH = 96
LINE_HEIGHT_PT = 15.0  # one line of 11 pt text (CJK glyphs included)
# Share of the printable width a plan fills: room for a reader whose default font is a little
# wider than Excel's Calibri (LibreOffice, WPS), so that no last column spills onto a page alone.
FILL = 0.92


CJK_UNITS = 2.1  # an 11 pt CJK glyph (14.7 px) in character units of Calibri 11 (7 px a digit)


def text_width(value: Any) -> float:
    """Width of a value's text in character units: CJK and full-width characters count about two,
    a number with two decimals as it is shown, a text of several lines as its longest line."""
    if value is None:
        return 0.0
    text = f"{value:.2f}" if isinstance(value, float) else str(value)
    if "\n" in text:
        return max(text_width(line) for line in text.split("\n"))
    if text.isascii():
        return float(len(text))
    return sum(CJK_UNITS if ord(ch) > 0x2E80 else 1 for ch in text)


def column_pixels(width: float, font_pt: float = settings.PRINT_FONT_PT) -> float:
    """Pixels of a column ``width`` characters wide in a sheet whose body font is ``font_pt``."""
    return width * 7 * font_pt / 11 + 5


def printable_pixels(landscape: bool) -> float:
    paper = A4_INCHES[1] if landscape else A4_INCHES[0]
    return (paper - 2 * MARGIN_SIDE) * PIXELS_PER_INCH * FILL


def min_scale(font_pt: float = settings.PRINT_FONT_PT) -> int:
    """The smallest print scale (percent) at which text stays readable."""
    return max(settings.PRINT_MIN_SCALE, math.ceil(100 * settings.PRINT_MIN_FONT_PT / font_pt))


@dataclass(frozen=True)
class PrintPlan:
    """How one sheet prints.

    ``fit_width``: all columns on one page wide (Excel's "fit to 1 page wide"), at about ``scale``
    percent.  Otherwise the sheet prints at ``scale`` percent, and when ``breaks`` is not empty
    the columns are split into blocks: a new block of pages starts before each column in
    ``breaks`` (0-based), with the first ``repeat_columns`` columns repeated on every block.
    """

    landscape: bool
    fit_width: bool
    scale: int
    breaks: tuple[int, ...] = ()
    repeat_columns: int = 0
    pages_tall: int = 0  # > 0: fit to one page wide and this many pages tall (a text sheet)


def plan(widths: Sequence[float], key_columns: int = 0, font_pt: float = settings.PRINT_FONT_PT) -> PrintPlan:
    """The print layout of a table whose columns have ``widths`` (character units)."""
    pixels = [column_pixels(w, font_pt) for w in widths]
    total = sum(pixels)
    portrait, landscape = printable_pixels(False), printable_pixels(True)
    if total <= portrait:
        return PrintPlan(landscape=False, fit_width=False, scale=100)
    if total <= landscape:
        return PrintPlan(landscape=True, fit_width=False, scale=100)
    lowest = min_scale(font_pt)
    fit = math.floor(100 * landscape / total)
    if fit >= lowest:
        return PrintPlan(landscape=True, fit_width=True, scale=fit)
    # Too wide to fit readably: blocks of columns at a readable scale, the key columns repeated.
    scale = max(lowest, settings.PRINT_SPLIT_SCALE)
    room = landscape * 100 / scale
    key = min(key_columns, len(pixels))
    key_px = sum(pixels[:key])
    if key_px > room / 2:  # key columns that would crowd out the rest are not repeated
        key, key_px = 0, 0.0
    breaks: list[int] = []
    used = key_px
    for col in range(key, len(pixels)):
        if used + pixels[col] > room and used > key_px:
            breaks.append(col)
            used = key_px
        used += pixels[col]
    return PrintPlan(landscape=True, fit_width=False, scale=scale, breaks=tuple(breaks), repeat_columns=key)


def printable_height(landscape: bool) -> float:
    """Printable height in points."""
    paper = A4_INCHES[0] if landscape else A4_INCHES[1]
    return (paper - MARGIN_TOP - MARGIN_BOTTOM) * 72


def fit_pages(layout: PrintPlan, height_pt: float, pages: int, font_pt: float = settings.PRINT_FONT_PT) -> PrintPlan:
    """A text sheet (rows of ``height_pt`` points in all) on at most ``pages`` pages when that
    keeps the scale readable; otherwise the plan unchanged (it prints on more pages)."""
    if layout.breaks or layout.fit_width:
        return layout
    page = printable_height(layout.landscape) * FILL
    if height_pt * 100 / layout.scale <= page * pages:
        return layout
    scale = math.floor(100 * page * pages / height_pt)
    if scale < min_scale(font_pt):
        return layout
    return PrintPlan(landscape=layout.landscape, fit_width=False, scale=scale, pages_tall=pages)


def header_width(title: str, lines: int = 5, narrowest: int = 12) -> float:
    """The width a header needs: a short header (up to ``narrowest``) on one line, a longer one
    wrapped into at most ``lines`` lines."""
    width = text_width(title)
    if width + 1 <= narrowest:
        return width + 1
    return max(math.ceil(width / lines) + 1, 6)


def room_pixels(layout: PrintPlan) -> float:
    """The width (pixels at 100 %) one printed page holds under a plan."""
    return printable_pixels(layout.landscape) * 100 / layout.scale


def row_height(cells: Iterable[tuple[Any, float]], minimum: float = LINE_HEIGHT_PT) -> float:
    """Height (points) of a row whose cells wrap: ``cells`` are (text, column width) pairs."""
    lines = 1
    for value, width in cells:
        if value is None or value == "":
            continue
        usable = max(width - 0.5, 1)
        count = sum(max(1, math.ceil(text_width(part) / usable)) for part in str(value).split("\n"))
        lines = max(lines, count)
    return max(minimum, lines * LINE_HEIGHT_PT)


HEADER_MAX = 255  # Excel holds at most 255 characters (UTF-16 units) of a header or footer


def utf16_len(text: str) -> int:
    """The length of ``text`` as Excel counts it (a character beyond U+FFFF counts two)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def header_footer(title: str, run_time: str, footer: str) -> tuple[str, str]:
    """Excel header and footer codes: the title left, the run time right, ``footer`` (with &P
    and &N, page x of y) centred.  ``&`` in a title is doubled so it prints as itself; a text
    starting with a digit is set apart from the size code before it (``&9`` then ``2025年`` would
    read as size 92025); a title too long for Excel's 255 characters is shortened."""
    left, right = "&L&9", "&R&9" + _header_text(run_time)
    room = HEADER_MAX - utf16_len(left + right)
    safe = _header_text(title)
    while utf16_len(safe) > room and title:
        title = title[:-1]
        safe = _header_text(title + "…")
    return left + safe + right, f"&C&9{footer}"


def _header_text(text: str) -> str:
    safe = text.replace("&", "&&")
    return " " + safe if safe[:1].isdigit() else safe


def apply_xlsxwriter(ws: Any, layout: PrintPlan, *, last_row: int, last_col: int, title_rows: tuple[int, int] | None,
                     header: str, footer: str) -> None:
    """Apply a plan to an xlsxwriter worksheet: A4, orientation, scale or fit, blocks, print
    area, repeated title rows and the page header/footer."""
    ws.set_paper(9)  # A4
    if layout.landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.set_margins(left=MARGIN_SIDE, right=MARGIN_SIDE, top=MARGIN_TOP, bottom=MARGIN_BOTTOM)
    if layout.pages_tall:
        ws.fit_to_pages(1, layout.pages_tall)
    elif layout.fit_width:
        ws.fit_to_pages(1, 0)
    else:
        ws.set_print_scale(layout.scale)
    if layout.breaks:
        ws.set_v_pagebreaks(list(layout.breaks))
        if layout.repeat_columns:
            ws.repeat_columns(0, layout.repeat_columns - 1)
    ws.print_area(0, 0, max(last_row, 0), max(last_col, 0))
    if title_rows is not None:
        ws.repeat_rows(*title_rows)
    ws.set_header(header, {"margin": HEADER_MARGIN})
    ws.set_footer(footer, {"margin": HEADER_MARGIN})
