"""Per-city review workbooks ``<city>_审核意见.xlsx`` (SPEC §5).

Each workbook holds, for every file the city sent and that was read:

- the city's own sheet as sent: a copy of its .xlsx/.xlsm sheet, layout, merges, widths, data
  validations, conditional formats and images kept (:mod:`sdbatch.writers.xlsxpatch` edits the
  package without loading it), or the grid rebuilt for .xls/.csv/.ods; only the city's own rows
  (a workbook holding rows of several cities is rebuilt per city: its header and the city's rows,
  the other rows left out and hidden, so that cell addresses stay those of the city's file); the
  workbook's other sheets are left out (lists, notes, other data: only the table read is sent
  back); a .xlsm leaves as .xlsx without its macros; each cell with a finding
  filled in the legend's colour with a comment (批注) citing the clause, the value written and
  the fix; a value computed from other cells is marked on the cells it came from;
- ``审核结论``: every application of the city, its values in their units, status and reason;
- ``问题清单``: what the city must fix (red) first, then what to check or leave to the experts
  (amber); ``数据处理说明``: every other note (values converted, rows not counted…);
- the sheets a program declares for the city, and ``说明``: round, run, one colour legend,
  statuses and the items left to the experts.

Every sheet is print-ready (A4, repeated title rows, header and footer, a readable scale).  A
city sees only what the catalogue, the program and the sheets declare for the ``city`` audience.
Everything that came from a city is written as text or a number, never as a formula.

One city's failure never costs another city its review: it is logged and recorded in
``RunResult.review_failures`` (city -> reason), and the other cities are written.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sdbatch import errors
from sdbatch.catalogue import text
from sdbatch.model import RunResult
from sdbatch.writers.review import book, content

log = logging.getLogger("sdbatch")

__all__ = ["review_file_name", "write_city_reviews"]


def review_file_name(city: str) -> str:
    """``济南市_审核意见.xlsx``: built only from the canonical city name."""
    return text("review.file_name", city=city)


def write_city_reviews(result: RunResult, run_dir: Path) -> dict[str, Path]:
    """Write one review workbook per city; return city -> path of those written.

    A city gets a workbook when it has a processed file or an application (a city whose only
    file was rejected gets one too, so that the reason can be sent back).  Applications and
    files whose city could not be determined go to ``未识别城市_审核意见.xlsx``.  A city whose
    workbook could not be written is left out of the result and named in
    ``result.review_failures``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for city in content.review_cities(result):
        path = run_dir / review_file_name(city)
        try:
            book.write_review(result, city, path)
        except Exception as exc:  # noqa: BLE001 - one city's failure never costs another city its review
            if errors.stops_the_run(exc):
                raise  # a full disk is not this city's problem: the run stops and says so
            log.exception(text("review.log.failed", city=city, error=type(exc).__name__))
            result.review_failures[city] = text("review.failed", error=type(exc).__name__)
            continue
        out[city] = path
    return out
