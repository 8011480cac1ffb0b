"""Stage 1, reading: a file -> a :class:`RawWorkbook` of plain grids, or :class:`FileRejected`.

    read_workbook(path, *, debug=False) -> RawWorkbook

Every supported format ends as the same sheets of plain values (see :mod:`.cells`), so the
later stages never know which library read a file.  The package is laid out as the work:

- :mod:`.sniff`: what a file really is (zip, OLE, text, HTML, XML; encrypted; a Word file
  renamed .xlsx; a lock file), and file-level notes (macros, external links);
- :mod:`.limits`: limits before work (sizes, zip members before decompression, DTDs and
  entities, rows/columns/cells) and the scan of what a worksheet declares (value extent,
  merged ranges), so that work stays in proportion to content;
- one module per reader: :mod:`.xlsx` (openpyxl full mode, :mod:`.calamine` for big files),
  :mod:`.xls`, :mod:`.ods`, :mod:`.csv`, :mod:`.html`, :mod:`.xml2003`; :mod:`.grid` places
  spanned cells for the last two;
- :mod:`.cells` and :mod:`.merges`: what every reader does to values and merged ranges.

A file that cannot be read raises :class:`FileRejected` with a catalogue code and a Chinese
``detail`` (from ui.toml ``[reading]``); nothing here raises anything else (with
``debug=True`` a library's own exception is let through, for ``--debug``).
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

from sdbatch import errors
from sdbatch.catalogue import text
from sdbatch.model import FileRejected, Finding, RawSheet, RawWorkbook
from sdbatch.reading import csv, html, merges, ods, xls, xlsx, xml2003
from sdbatch.reading.limits import check_sheet_count, full_read_ok, preflight
from sdbatch.reading.sniff import reject, workbook_notes
from sdbatch.text import display_name

__all__ = ["READERS", "full_read_ok", "preflight", "read_workbook", "rejection_for", "workbook_notes"]

Reader = Callable[[Path], tuple[list[RawSheet], list[Finding]]]
READERS: dict[str, Reader] = {
    "xlsx": xlsx.read,
    "xlsm": xlsx.read,
    "xls": xls.read,
    "ods": ods.read,
    "csv": csv.read,
    "html": html.read,
    "xml2003": xml2003.read,
}


def read_workbook(path: Path, *, debug: bool = False) -> RawWorkbook:
    """Read ``path`` into a RawWorkbook or raise FileRejected with a catalogue code."""
    path = Path(path)
    kind = preflight(path)
    reader = READERS.get(kind)
    if reader is None:
        raise reject("not-a-spreadsheet", path, text("reading.unsupported_kind", kind=kind))
    try:
        with warnings.catch_warnings():  # openpyxl's notes on odd files are not for staff
            warnings.simplefilter("ignore")
            sheets, notes = reader(path)
    except FileRejected:
        raise
    except Exception as exc:  # noqa: BLE001 - any library failure is a rejected file, not a crash
        if debug:
            raise
        raise rejection_for(exc, path) from None
    file = display_name(path.name)
    check_sheet_count(path, len(sheets))  # the readers of the other kinds (HTML tables, XML 2003)
    for sheet in sheets:  # every reader's ranges in proportion to its values (a no-op when settled)
        notes += merges.settle_sheet(sheet, file)
    notes = workbook_notes(path, kind) + notes
    if not any(any(v is not None for v in row) for s in sheets for row in s.rows):
        raise FileRejected("file-empty", file=file)
    return RawWorkbook(path=str(path), kind=kind, sheets=sheets, notes=notes)


def rejection_for(exc: BaseException, path: Path) -> FileRejected:
    """A reader library's exception on a file that passed preflight, as a FileRejected."""
    path = Path(path)
    if isinstance(exc, FileRejected):
        return exc
    from defusedxml import DefusedXmlException

    if any(isinstance(e, DefusedXmlException) for e in errors.causes(exc)):
        return reject("unsafe-xml", path, text("reading.xml_dtd_or_entities"))
    message = str(exc).lower()
    if "encrypt" in message or "password" in message:
        return FileRejected("file-encrypted", file=display_name(path.name))
    if isinstance(exc, zipfile.BadZipFile | EOFError) or "truncat" in message or "unexpected end" in message:
        return reject("file-truncated", path)
    if isinstance(exc, MemoryError):
        return reject("file-too-large", path, text("reading.out_of_memory"))
    # The library's own words are no help to a city: say what it means in Chinese.
    return reject("file-unreadable", path, text("reading.library_failed"))
