"""python-calamine (Rust): values of big .xlsx sheets, of .ods files and of .xls files xlrd
cannot open.  An order of magnitude faster than openpyxl's streaming mode; hidden rows,
number formats and formulas are not available here (for an xlsx, :mod:`sdbatch.reading.xlsx`
adds hidden rows, percent formats and formulas without a value from the sheet scan).

calamine lays a sheet out densely from its first to its last used cell; the callers bound
that rectangle before (``limits.check_extent`` for xlsx, the ODS grid check in preflight)
and reading stops past ``MAX_CELLS`` cells.  Rows that hold nothing become ``[]`` at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sdbatch import settings
from sdbatch.catalogue import text
from sdbatch.model import FileRejected, Finding, RawSheet
from sdbatch.reading.cells import CellCleaner, check_position, strip_illegal, trim_rows
from sdbatch.reading.sniff import reject
from sdbatch.text import display_name

Box = tuple[int, int, int, int]


class CalamineFailed(Exception):
    """python-calamine gave up on a damaged file (a panic of its Rust code, which Python sees as a
    ``BaseException``): an ordinary library failure, that file's alone."""


def is_panic(exc: BaseException) -> bool:
    return type(exc).__name__ == "PanicException"


@contextlib.contextmanager
def native() -> Iterator[None]:
    """Around calls into python-calamine: a panic becomes :class:`CalamineFailed`, and the message
    Rust prints on a panic (English, with a backtrace) goes to nobody's screen."""
    saved = _silence_stderr()
    try:
        yield
    except BaseException as exc:
        if is_panic(exc):
            raise CalamineFailed(str(exc)) from None
        raise
    finally:
        _restore_stderr(saved)


def _silence_stderr() -> int | None:
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
    except (OSError, ValueError, AttributeError):
        return None  # no descriptor 2 to guard (an embedding without one): nothing to hide
    return saved


def _restore_stderr(saved: int | None) -> None:
    if saved is not None:
        os.dup2(saved, 2)
        os.close(saved)


def read(path: Path, merged_for: Callable[[str], list[Box] | None] | None = None, *, ods: bool = False
         ) -> tuple[list[RawSheet], list[Finding]]:
    """Every sheet of ``path``.  ``merged_for(sheet name)``: the merged ranges to use instead of
    calamine's (the xlsx reader's own scan, bounded), None to ask calamine.  ``ods``: calamine
    hands over an ODS time value as its ISO text (PT36H15M00S), read as a duration."""
    value_of = _ods_value if ods else _value
    import python_calamine

    path = Path(path)
    with native():
        return _read(python_calamine, path, value_of, merged_for)


def _read(python_calamine: Any, path: Path, value_of: Callable[[Any], Any],
          merged_for: Callable[[str], list[Box] | None] | None) -> tuple[list[RawSheet], list[Finding]]:
    file = display_name(path.name)
    wb = _open(python_calamine, path)
    hidden_names = {m.name for m in wb.sheets_metadata if str(m.visible).lower().rsplit(".", 1)[-1] != "visible"}
    sheets = []
    notes: list[Finding] = []
    cells_read = 0
    for name in wb.sheet_names:
        cs = wb.get_sheet_by_name(name)
        start_col = (cs.start or (0, 0))[1]  # calamine's rows start at the first used column
        clean = CellCleaner(file, strip_illegal(name))
        rows: list[list[Any]] = []
        for r, row in enumerate(cs.iter_rows()):
            cells_read += len(row)
            if cells_read > settings.MAX_CELLS:
                raise reject("file-too-large", path, text("reading.too_many_cells", limit=settings.MAX_CELLS))
            end = len(row)
            while end and row[end - 1] == "":
                end -= 1
            if not end:
                if r < settings.MAX_ROWS:  # empty rows past the limit cost nothing; a value there is refused
                    rows.append([])
                continue
            check_position(path, r, start_col + end - 1)
            line = [None] * start_col
            line += [None if v == "" else clean(value_of(v), r, start_col + c) for c, v in enumerate(row[:end])]
            rows.append(line)
        sheet = RawSheet(name=strip_illegal(name), rows=trim_rows(rows), hidden=name in hidden_names)
        declared = merged_for(name) if merged_for else None
        if declared is None:
            try:
                ranges = cs.merged_cell_ranges or []
            except Exception:  # noqa: BLE001 - not every format carries merges
                ranges = []
            declared = [(a[0], a[1], b[0], b[1]) for a, b in ranges]
        sheet.merged = declared
        sheets.append(sheet)
        notes += clean.notes()
    wb.close()
    return sheets, notes


def read_apart(path: Path) -> tuple[list[RawSheet], list[Finding]]:
    """:func:`read` in a child process, for a file another reader has already failed on (an .xls
    xlrd cannot open): on an absurd size in a damaged file python-calamine does not raise, it
    aborts the process (a bit-flipped .xls asked for 4 TB), which here costs the child only.  The
    file is then rejected as unreadable and the batch goes on."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("spawn")  # the same on Windows; no state of ours shared
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        try:
            status, payload = pool.submit(_read_in_child, os.fsencode(path)).result(
                timeout=settings.CHILD_READ_TIMEOUT_S)
        except (BrokenProcessPool, TimeoutError):
            for child in list(getattr(pool, "_processes", {}).values()):
                child.kill()  # a hung child is not waited for
            raise reject("file-unreadable", path, text("reading.library_failed")) from None
    if status == "rejected":
        code, params = payload
        raise FileRejected(code, **params)
    return payload  # type: ignore[no-any-return]


def _read_in_child(raw_path: bytes) -> tuple[str, Any]:
    """The child's side of :func:`read_apart`: Rust's abort message goes nowhere."""
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 2)
    try:
        return "ok", read(Path(os.fsdecode(raw_path)))
    except FileRejected as exc:
        return "rejected", (exc.code, exc.params)


def open_book(path: Path) -> Any:
    import python_calamine

    return _open(python_calamine, path)


class _SharedBook:
    """A workbook opened within :func:`shared_books`: each sheet laid out once, whoever asks for it;
    ``close`` waits for the end of the block."""

    def __init__(self, book: Any) -> None:
        self.book = book
        self.sheets: dict[str, Any] = {}

    @property
    def sheet_names(self) -> list[str]:
        return self.book.sheet_names  # type: ignore[no-any-return]

    @property
    def sheets_metadata(self) -> Any:
        return self.book.sheets_metadata

    def get_sheet_by_name(self, name: str) -> Any:
        sheet = self.sheets.get(name)
        if sheet is None:
            sheet = self.sheets[name] = self.book.get_sheet_by_name(name)
        return sheet

    def close(self) -> None:
        pass


_SHARED: dict[str, _SharedBook] | None = None  # set by shared_books()


@contextlib.contextmanager
def shared_books() -> Iterator[None]:
    """Within the block, a file read twice by calamine is parsed once (issue 16): the evidence stage
    looks at every file's sheets for an enterprise list, then the summary reader reads the same
    sheets (a second parse was a tenth of reading a large summary).  Closed at the end."""
    global _SHARED
    previous, _SHARED = _SHARED, {}
    try:
        yield
    finally:
        opened, _SHARED = _SHARED, previous
        for shared in opened.values():
            shared.sheets.clear()
            with contextlib.suppress(Exception):
                shared.book.close()


def _open(python_calamine: Any, path: Path) -> Any:
    shared = _SHARED
    if shared is None:
        return _open_file(python_calamine, path)
    key = os.fspath(path)
    book = shared.get(key)
    if book is None:
        book = shared[key] = _SharedBook(_open_file(python_calamine, path))
    return book


def _open_file(python_calamine: Any, path: Path) -> Any:
    """calamine opens a path it can spell in UTF-8; a name in another encoding (GBK bytes from a
    zip made on Windows) is opened here and handed over as a file."""
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        with path.open("rb") as fh:
            return python_calamine.CalamineWorkbook.from_filelike(fh)
    return python_calamine.CalamineWorkbook.from_path(str(path))


def _value(value: Any) -> Any:
    if value == "":
        return None
    if isinstance(value, dt.time):
        return value.isoformat()
    return value


_ISO_DURATION = re.compile(r"(-?)PT(\d+)H(\d+)M(\d+(?:\.\d*)?)S")


def _ods_value(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(("PT", "-PT")):
        found = _ISO_DURATION.fullmatch(value)
        if found:
            sign, hours, minutes, seconds = found.groups()
            duration = dt.timedelta(hours=int(hours), minutes=int(minutes), seconds=float(seconds))
            return dt.timedelta(0) - duration if sign else duration  # cells.duration_text shows it
    return _value(value)
