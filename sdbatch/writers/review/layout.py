"""How a review sheet prints and reads: column widths by content, row heights for wrapped text,
and the page layout of :mod:`sdbatch.writers.printing` (the lists' own), which keeps text at a
readable size.

Excel measures a column in characters of the default font's widest digit (about 7 pixels at
11 pt); a CJK character takes about two (``printing.text_width``).  A sheet is fitted to the page
width only when the scale this needs keeps its text at ``PRINT_MIN_FONT_PT`` or more (and the
scale at ``PRINT_MIN_SCALE`` percent or more); a wider sheet prints landscape at a readable
scale, its columns over several pages, with its first columns and title rows repeated.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from sdbatch import settings
from sdbatch.writers import printing


def lines_needed(value: Any, width: float) -> int:
    """Lines a wrapped cell of ``width`` characters needs for ``value`` (an estimate: a CJK
    character is about two digit widths)."""
    if value is None:
        return 1
    text = value if isinstance(value, str) else str(value)
    per_line = max(width - 1.5, 1.0)
    return sum(max(1, math.ceil(printing.text_width(line) / per_line)) for line in text.split("\n"))


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
        widest = max((printing.text_width(r[c]) for r in sample if c < len(r)), default=0.0)
        head = printing.text_width(title)
        limit = settings.REVIEW_WRAP_WIDTH if wrap[c] else settings.REVIEW_MAX_WIDTH
        width = math.ceil(max(widest, min(head, max(widest, 8)))) + 2
        out.append(float(min(max(width, minimum[c]), limit)))
    return out


def choose_page(widths: Sequence[float], font_points: float) -> printing.PrintPlan:
    """The lists' print plan (:func:`sdbatch.writers.printing.plan`) for a review sheet whose body
    font is ``font_points``; a sheet that fits the page at 100 % is printed fitted to its width."""
    chosen = printing.plan(widths, font_pt=font_points)
    if not chosen.fit_width and not chosen.breaks:
        return dataclasses.replace(chosen, fit_width=True)
    return chosen


def amp(text: str) -> str:
    """Text for an Excel header or footer: ``&`` is its code character."""
    return text.replace("&", "&&")
