"""How a review sheet prints and reads: column widths by content, row heights for wrapped text,
and a page layout that keeps text at a readable size.

Excel measures a column in characters of the default font's widest digit (about 7 pixels at
11 pt); a CJK character takes about two.  A4 leaves 523 pt (portrait) or 770 pt (landscape)
between half-inch margins.  A sheet is fitted to the page width only when the scale this needs
keeps its text at ``PRINT_MIN_FONT_PT`` or more (and the scale at ``PRINT_MIN_SCALE`` percent or more);
a wider sheet prints landscape at that scale, its columns over several pages, with its first
columns and title rows repeated on each page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sdbatch import settings

A4_POINTS = (595.3, 841.9)  # width of an A4 page, portrait and landscape
MARGINS_POINTS = 72.0  # half an inch on each side (xlsxpatch.PageSetup.margins)


def display_width(value: Any) -> int:
    """Width of a value's text in digit widths: a CJK (wide) character counts two."""
    if value is None:
        return 0
    if isinstance(value, float):
        text = f"{value:.2f}"
    elif isinstance(value, str):
        text = value
    else:
        text = str(value)
    if "\n" in text:
        return max(display_width(line) for line in text.split("\n"))
    if text.isascii():
        return len(text)
    return (len(text.encode("utf-8", "replace")) + len(text)) // 2  # 3-byte CJK -> 2, ASCII -> 1


def lines_needed(value: Any, width: float) -> int:
    """Lines a wrapped cell of ``width`` characters needs for ``value`` (an estimate: a CJK
    character is two digit widths)."""
    if value is None:
        return 1
    text = value if isinstance(value, str) else str(value)
    per_line = max(width - 1.5, 1.0)
    breaks = text.count("\n")
    wide = (len(text.encode("utf-8", "replace")) + len(text)) // 2 if not text.isascii() else len(text)
    return max(1, math.ceil(wide / per_line)) + breaks


def row_height(lines: int, font_points: float) -> float | None:
    """Row height (points) for ``lines`` lines of text; None for one line (the default)."""
    if lines <= 1:
        return None
    return round(min(409.0, lines * font_points * 1.35 + 3), 1)


def widths_by_content(titles: Sequence[str], rows: Sequence[Sequence[Any]], fixed: Sequence[float | None],
                      minimum: Sequence[float], wrap: Sequence[bool]) -> list[float]:
    """Column widths (characters) from the header and the values of the first rows
    (``REVIEW_WIDTH_SAMPLE_ROWS``); a wrapped column stops at ``REVIEW_WRAP_WIDTH``, a header
    wraps rather than widening a column of short values."""
    sample = rows[: settings.REVIEW_WIDTH_SAMPLE_ROWS]
    out = []
    for c, title in enumerate(titles):
        if fixed[c]:
            out.append(float(fixed[c]))  # type: ignore[arg-type]
            continue
        widest = max((display_width(r[c]) for r in sample if c < len(r)), default=0)
        head = display_width(title)
        limit = settings.REVIEW_WRAP_WIDTH if wrap[c] else settings.REVIEW_MAX_WIDTH
        width = max(widest, min(head, max(widest, 8))) + 2
        out.append(float(min(max(width, minimum[c]), limit)))
    return out


def sheet_points(widths: Sequence[float], font_points: float) -> float:
    """Printed width (points, at 100 %) of columns of these widths."""
    digit = max(font_points * 7 / 11, 1.0)  # pixels of the widest digit
    return sum((w * digit + 5) * 0.75 for w in widths if w > 0)


@dataclass(frozen=True)
class PageChoice:
    landscape: bool
    fit_width: bool
    scale: int  # per cent: what fitting gives (at most 100), or the fixed scale when split


def choose_page(widths: Sequence[float], font_points: float) -> PageChoice:
    """Portrait if the sheet fits the page width at a readable scale, else landscape, else
    landscape at the smallest readable scale with its columns over several pages."""
    need = sheet_points(widths, font_points)
    smallest = max(settings.PRINT_MIN_SCALE / 100, settings.PRINT_MIN_FONT_PT / max(font_points, 1.0))
    for landscape in (False, True):
        room = A4_POINTS[landscape] - MARGINS_POINTS
        scale = room / need if need else 1.0
        if scale >= smallest:
            return PageChoice(landscape, True, min(100, math.floor(scale * 100)))
    return PageChoice(True, False, min(100, int(math.ceil(smallest * 20)) * 5))


def amp(text: str) -> str:
    """Text for an Excel header or footer: ``&`` is its code character."""
    return text.replace("&", "&&")
