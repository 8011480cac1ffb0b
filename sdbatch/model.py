"""Typed objects passed between the stages of the pipeline.

ingest -> RawWorkbook -> header -> Table -> normalise -> Application -> checks/decide/rank
-> RunResult -> writers.  `RunResult.to_dict()` *is* the results.json contract (SPEC §5).
"""

from __future__ import annotations

import array
import bisect
import itertools
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, MutableMapping
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

SEVERITIES = ("error", "warning", "info")
# Status precedence, strongest first (SPEC §2.2).
STATUSES = ("over_quota", "ineligible", "incomplete", "needs_review", "eligible")
FILE_STATUSES = ("processed", "rejected", "superseded", "duplicate", "ignored")


def column_letter(col: int) -> str:
    """0-based column index -> Excel letters (0 -> A, 26 -> AA)."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_address(row: int, col: int) -> str:
    """0-based row/column -> Excel address such as ``H5``."""
    return f"{column_letter(col)}{row + 1}"


class _RowView(Mapping[str, Any]):
    """Field -> something of one application's row, read through a dict shared by every
    application of a table (``shared``: field -> its column's letter or index), except the
    fields a record says elsewhere (``kept``: field -> what).  A dict per application was most
    of a 100,000-row run's memory (issue 16)."""

    __slots__ = ("_shared", "_row", "_kept")

    def __init__(self, shared: Mapping[str, Any], row: Any, kept: Mapping[str, Any] | None = None) -> None:
        self._shared = shared  # never changed
        self._row = row
        self._kept = kept or None  # never changed

    def __getitem__(self, key: str) -> Any:
        if self._kept is not None and key in self._kept:
            return self._kept[key]
        return self._own(self._shared[key])

    def _own(self, at: Any) -> Any:
        raise NotImplementedError

    def __contains__(self, key: object) -> bool:
        return key in self._shared

    def __iter__(self) -> Iterator[str]:
        return iter(self._shared)

    def __len__(self) -> int:
        return len(self._shared)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self)!r})"


class CellMap(_RowView):
    """Field -> cell address (``{"name": "B5", …}``): the column's letter (shared) and the row's
    1-based number; a field written on another row of a record keeps its address."""

    __slots__ = ()

    def _own(self, at: Any) -> Any:
        return at + str(self._row)


class Originals(_RowView):
    """Field -> the value as written: the cell of the row the reader made (shared with the sheet,
    never changed after reading) in the field's column (shared); a value that came from
    elsewhere — a merged cell's top-left, a record's later row — is kept."""

    __slots__ = ()

    def _own(self, at: Any) -> Any:
        row = self._row
        return row[at] if at < len(row) else None


_POSITIONS_MAX = 4096  # distinct orders of names remembered (they come from the code; bounded all the same)


def _positions(names: tuple[str, ...], cache: dict[tuple[str, ...], dict[str, int]]) -> dict[str, int]:
    """name -> position of ``names``, one dict per distinct tuple of names (shared by whatever
    holds values in that order)."""
    index = cache.get(names)
    if index is None:
        if len(cache) >= _POSITIONS_MAX:
            cache.clear()
        index = cache[names] = {k: i for i, k in enumerate(names)}
    return index


class PairsView(ItemsView[str, Any]):
    """``items()`` of a mapping that makes its pairs faster than a lookup per key (its ``pairs()``)."""

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return self._mapping.pairs()  # type: ignore[attr-defined, no-any-return]


class _AsDict:
    """Equal to a mapping of the same pairs, shown as a dict, unhashable: as the dict it stands for."""

    __slots__ = ()

    def items(self) -> Any:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return dict(self.items()) == dict(other.items()) if isinstance(other, Mapping) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(dict(self.items()))


class Values(_AsDict, MutableMapping[str, Any]):
    """Field -> value of one application, as a dict behaves (insertion order, ``get``, ``==``), held
    as a list beside a field -> position index shared by the applications whose fields came in the
    same order (:meth:`packer`).  A dict of two dozen fields takes 832 bytes, the list 250: most of
    a 100,000-row run's values (issue 16).  A field set later that the index lacks is kept in a
    dict of its own, after the others; a field deleted (never, in the pipeline) gives this
    application an index of its own."""

    __slots__ = ("_index", "_slots", "_more")

    def __init__(self, index: Mapping[str, int], slots: list[Any]) -> None:
        self._index = index  # field -> position in ``_slots``, in that order; never changed
        self._slots = slots
        self._more: dict[str, Any] | None = None

    @staticmethod
    def packer() -> Callable[[Mapping[str, Any]], Values]:
        """Packs dicts into Values, one index per distinct order of fields (one table's applications
        share one or a few)."""
        layouts: dict[tuple[str, ...], dict[str, int]] = {}

        def pack(values: Mapping[str, Any]) -> Values:
            return Values(_positions(tuple(values), layouts), list(values.values()))

        return pack

    def __getitem__(self, key: str) -> Any:
        i = self._index.get(key)
        if i is not None:
            return self._slots[i]
        if self._more is not None:
            return self._more[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        i = self._index.get(key)
        if i is not None:
            return self._slots[i]
        return default if self._more is None else self._more.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._index or (self._more is not None and key in self._more)

    def __setitem__(self, key: str, value: Any) -> None:
        i = self._index.get(key)
        if i is not None:
            self._slots[i] = value
            return
        if self._more is None:
            self._more = {}
        self._more[key] = value  # a new field goes last, as in a dict

    def __delitem__(self, key: str) -> None:
        if key in self._index:
            kept = [(k, v) for k, v in zip(self._index, self._slots, strict=True) if k != key]
            self._index = {k: i for i, (k, _v) in enumerate(kept)}
            self._slots = [v for _k, v in kept]
        elif self._more is not None and key in self._more:
            del self._more[key]
        else:
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        if self._more is None:
            return iter(self._index)
        return itertools.chain(self._index, list(self._more))

    def __len__(self) -> int:
        return len(self._slots) + (len(self._more) if self._more is not None else 0)

    def items(self) -> ItemsView[str, Any]:
        return PairsView(self)

    def pairs(self) -> Iterator[tuple[str, Any]]:
        pairs = zip(self._index, self._slots, strict=True)
        return pairs if self._more is None else itertools.chain(pairs, list(self._more.items()))


class CellKeys(AbstractSet[tuple[int, int]]):
    """A set of 0-based (row, column) cells held as sorted ``row * WIDTH + column`` keys, 8 bytes a
    cell (a set of tuples takes some 130): the percent cells of a sheet of 100,000 rows are 90,000
    (issue 16).  Read only; ``(r, c) in keys`` by bisection."""

    WIDTH = 1 << 15  # more than any column of three letters (ZZZ: 18,278)
    __slots__ = ("_keys",)

    def __init__(self, keys: Iterable[int]) -> None:
        self._keys = array.array("q", sorted(keys))

    def __contains__(self, cell: object) -> bool:
        if not isinstance(cell, tuple) or len(cell) != 2:
            return False
        r, c = cell
        if not 0 <= c < self.WIDTH:
            return False
        key = r * self.WIDTH + c
        i = bisect.bisect_left(self._keys, key)
        return i < len(self._keys) and self._keys[i] == key

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return (divmod(key, self.WIDTH) for key in self._keys)

    def __len__(self) -> int:
        return len(self._keys)


@dataclass(frozen=True, slots=True)
class Source:
    """Where something came from. ``row`` is 1-based as Excel shows it."""

    file: str
    sheet: str | None = None
    row: int | None = None
    cell: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "sheet": self.sheet, "row": self.row, "cell": self.cell}


_set = object.__setattr__


class Params(_AsDict, Mapping[str, Any]):
    """A finding's parameters as the dict it was given (read only): the values in a tuple beside
    a name -> position index shared by every finding given the same names in the same order.  A
    dict of three to eight entries takes 184 to 272 bytes, this 100 to 150; a 100,000-row run holds
    some 600,000 findings (issue 16)."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: Mapping[str, int], values: tuple[Any, ...]) -> None:
        self._index = index  # shared, never changed
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[self._index[key]]

    def get(self, key: str, default: Any = None) -> Any:
        i = self._index.get(key)
        return default if i is None else self._values[i]

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._values)

    def items(self) -> ItemsView[str, Any]:
        return PairsView(self)

    def pairs(self) -> Iterator[tuple[str, Any]]:
        return zip(self._index, self._values, strict=True)


NO_PARAMS = Params({}, ())
_PARAM_INDEX: dict[tuple[str, ...], dict[str, int]] = {}  # names in order -> their positions
_PACKED: dict[int, tuple[dict[str, Any], Params]] = {}  # id of a dict packed lately -> (it, its Params)
_PACKED_MAX = 64


def _params(given: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A finding's parameters as held: a dict packed into :class:`Params`; the same dict given to
    many findings in turn (the expert items of every application) stays one object."""
    if given is None or not given:
        return NO_PARAMS
    if type(given) is not dict:
        return given
    packed = _PACKED.get(id(given))
    if packed is not None and packed[0] is given:
        return packed[1]
    held = Params(_positions(tuple(given), _PARAM_INDEX), tuple(given.values()))
    if len(_PACKED) >= _PACKED_MAX:
        _PACKED.clear()
    _PACKED[id(given)] = (given, held)  # the dict is kept with its id: no other dict can take the id
    return held


@dataclass(frozen=True, eq=False, init=False, slots=True)
class Finding:
    """One observation about a file or an application.

    ``effect`` is the status this finding pushes its application towards (None: no effect).
    The Chinese message is rendered from the catalogue (``sdbatch.catalogue``), never stored here.
    """

    code: str
    severity: str
    field: str | None = None
    clause: str | None = None
    params: Mapping[str, Any] = dc_field(default_factory=dict)
    source: Source | None = None
    effect: str | None = None
    original: Any = None

    def __init__(self, code: str, severity: str, field: str | None = None, clause: str | None = None,
                 params: Mapping[str, Any] | None = None, source: Source | None = None, effect: str | None = None,
                 original: Any = None) -> None:
        # Slots and a plain initialiser: a large sheet creates hundreds of thousands of findings
        # (issue 16): about a third of the memory of a dict per finding, and faster to make.
        _set(self, "code", code)
        _set(self, "severity", severity)
        _set(self, "field", field)
        _set(self, "clause", clause)
        _set(self, "params", _params(params))
        _set(self, "source", source)
        _set(self, "effect", effect)
        _set(self, "original", original)

    def to_dict(self) -> dict[str, Any]:
        text = _rendered(self)
        return {
            "code": self.code,
            "severity": self.severity,
            "field": self.field,
            "clause": self.clause,
            "message": text.message,
            "fix": text.fix,
            "effect": self.effect,
            "cell": self.source.cell if self.source else None,
            "row": self.source.row if self.source else None,
            "original": _jsonable(self.original),
            "params": {k: _jsonable(v) for k, v in self.params.items()},
        }


_RENDER_MEMO: dict[Any, Any] | None = None  # set by rendering_memo()
_RENDER_MEMO_SIZE = 4096
_MEMO_TYPES = (str, int, bool, type(None))


@contextmanager
def rendering_memo() -> Iterator[None]:
    """Within the block, :meth:`Finding.to_dict` renders a finding's text once per distinct
    (code, clause, parameters, original) made only of text, whole numbers, yes/no and nothing
    (issue 16: results.json of 100,000 rows renders the same expert items and quota findings
    hundreds of thousands of times).  Scoped to one writer: a catalogue changed later is read."""
    global _RENDER_MEMO
    previous = _RENDER_MEMO
    _RENDER_MEMO = {}
    try:
        yield
    finally:
        _RENDER_MEMO = previous


def _rendered(finding: Finding) -> Any:
    from sdbatch.catalogue import render

    memo = _RENDER_MEMO
    if memo is None:
        return render(finding)
    original = finding.original
    if type(original) not in _MEMO_TYPES:
        return render(finding)
    items = []
    for k, v in finding.params.items():
        kind = type(v)
        if kind not in _MEMO_TYPES:
            return render(finding)
        items.append((k, kind, v))  # the type: 1 and True are equal keys but read 1 and 是
    key = (finding.code, finding.clause, tuple(items), type(original), original)
    text = memo.get(key)
    if text is None:
        text = render(finding)
        if len(memo) >= _RENDER_MEMO_SIZE:
            memo.clear()
        memo[key] = text
    return text


class FileRejected(Exception):
    """A file that cannot be read at all. Caught per file; the batch goes on."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


class RulesInvalid(Exception):
    """A rules file that cannot be used. Stops the run (exit 2)."""

    def __init__(self, problems: list[str], path: str = "") -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.path = path


@dataclass
class RawSheet:
    """A sheet as read: a grid of plain values plus what the grid alone cannot say.

    Coordinates are 0-based (row, col). ``rows`` holds str/int/float/bool/datetime/None.
    """

    name: str
    rows: list[list[Any]]
    hidden: bool = False
    percent_cells: AbstractSet[tuple[int, int]] = dc_field(default_factory=set)  # a set, or CellKeys
    formula_cells: set[tuple[int, int]] = dc_field(default_factory=set)
    formula_without_value: set[tuple[int, int]] = dc_field(default_factory=set)
    hidden_rows: set[int] = dc_field(default_factory=set)
    hidden_cols: set[int] = dc_field(default_factory=set)  # a column hidden in the sheet (xlsx, xls)
    merged: list[tuple[int, int, int, int]] = dc_field(default_factory=list)  # r0, c0, r1, c1 inclusive
    # merged ranges by row, built on first use (a lookup per cell must not walk every range);
    # rebuilt when ``merged`` is replaced or grows
    _merged_rows: tuple[list[Any], int, dict[int, list[tuple[int, int, int, int]]]] | None = dc_field(
        default=None, init=False, repr=False, compare=False)

    def value(self, row: int, col: int) -> Any:
        if row < len(self.rows) and col < len(self.rows[row]):
            return self.rows[row][col]
        return None

    def merged_value(self, row: int, col: int) -> Any:
        """The value shown in a cell: a merged range shows its top-left value in every cell."""
        value = self.value(row, col)
        if value is None and self.merged:
            for r0, c0, _r1, c1 in self._ranges_in_row(row):
                if c0 <= col <= c1:
                    return self.value(r0, c0)
        return value

    def _ranges_in_row(self, row: int) -> list[tuple[int, int, int, int]]:
        cache = self._merged_rows
        if cache is None or cache[0] is not self.merged or cache[1] != len(self.merged):
            by_row: dict[int, list[tuple[int, int, int, int]]] = {}
            for box in self.merged:  # in list order: the first range holding a cell wins
                for r in range(box[0], box[2] + 1):  # readers bound ranges (reading.merges)
                    by_row.setdefault(r, []).append(box)
            cache = self._merged_rows = (self.merged, len(self.merged), by_row)
        return cache[2].get(row, [])


@dataclass
class RawWorkbook:
    path: str
    kind: str  # xlsx, xlsm, xls, ods, csv, html
    sheets: list[RawSheet]
    notes: list[Finding] = dc_field(default_factory=list)


@dataclass
class Column:
    index: int  # 0-based
    header: str  # joined header text as written
    field: str | None  # canonical id, or None when unknown
    unit: str | None  # unit read from the header or a units row
    duplicate_of: int | None = None  # index of the first column naming the same field
    score: int = 0  # how surely the header names the field (>= 100 an alias, >= 50 a full group of concepts)
    # How the column is read (sdbatch.concepts.assign): "sure"; "assumed" (used, a finding names it);
    # "candidate" (not used: ``rivals`` are the fields it may carry); "duplicate"; "none".
    level: str = "sure"
    rivals: tuple[str, ...] = ()
    negated: bool = False  # a yes/no header that states the negation (无不良信用记录)
    unit_source: str | None = None  # where ``unit`` was read: header, units_row, context
    unit_note: Any = None  # the statement a context unit came from (header.UnitStatement)
    parts: tuple[str, ...] = ()  # a total's column that carries only these parts of it (专利及软件著作权)
    scores: dict[str, int] = dc_field(default_factory=dict, repr=False)  # field -> score of its header
    labels: tuple[str, ...] = dc_field(default=(), repr=False)  # its header texts, most specific first


@dataclass
class Table:
    """The located table of one sheet."""

    sheet: RawSheet
    header_rows: list[int]
    data_start: int
    columns: list[Column]
    title: str | None = None
    data_rows: list[int] = dc_field(default_factory=list)
    # The applications of the table: each a list of rows (one row, or rows that belong together:
    # vertical merges, a second contact line); filled by header.group_records.
    records: list[list[int]] = dc_field(default_factory=list)
    # Rows of a record that carry text going on from the row above (a name or 申报主体 typed over
    # two rows without a merge): their text is joined to the first row's, not read as its own.
    wrapped: set[int] = dc_field(default_factory=set)
    unit_notes: list[Any] = dc_field(default_factory=list)  # header.UnitStatement found around the table


NO_UNKNOWN: Mapping[str, Any] = Params({}, ())  # one for every application without unknown columns (read only)


@dataclass(slots=True)
class Application:
    id: str
    program: str
    city: str | None
    name: str | None
    industry: str | None
    city_order: int | None
    values: MutableMapping[str, Any]  # a dict, or Values once read (normalise)
    source: Source
    findings: list[Finding] = dc_field(default_factory=list)
    cells: Mapping[str, str] = dc_field(default_factory=dict)  # field -> cell address (a CellMap when read)
    originals: Mapping[str, Any] = dc_field(default_factory=dict)  # field -> value as written (Originals when read)
    unknown: Mapping[str, Any] = dc_field(default_factory=dict)  # unknown header -> value (NO_UNKNOWN: none)
    status: str = "eligible"
    score: float | None = None
    rank: int | None = None
    industry_rank: int | None = None
    quota_position: int | None = None  # place in the city's own order (推荐排序), counted for the quota
    # The program's typed result (programs.base.Outcome: a park's tier and subsidy…), or None.
    outcome: Any = None
    # What the enterprise list behind the application says (evidence.stage.AppEvidence), or None.
    evidence: Any = None
    # What the ledger's other rounds say about the applicant (history.model.ApplicantHistory), or None.
    history: Any = None
    # Working notes of the shared stages (keys start with "_"; never serialised).
    extra: dict[str, Any] = dc_field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "id": self.id,
            "program": self.program,
            "city": self.city,
            "name": self.name,
            "industry": self.industry,
            "city_order": self.city_order,
            "status": self.status,
            "score": self.score,
            "rank": self.rank,
            "industry_rank": self.industry_rank,
            "quota_position": self.quota_position,
            "values": {k: _jsonable(v) for k, v in self.values.items()},
            "findings": [f.to_dict() for f in self.findings],
            "source": self.source.to_dict(),
            "unknown_columns": {k: _jsonable(v) for k, v in self.unknown.items()},
        }
        if self.outcome is not None:
            block = _jsonable(self.outcome.to_dict())
            out["outcome"] = block
            # SPEC §5 names some outcome keys at the application's top level (a park's tier…).
            for key in getattr(self.outcome, "contract_keys", ()):
                out[key] = block.get(key)
        else:
            out["outcome"] = None
        out["evidence"] = _jsonable(self.evidence.to_dict()) if self.evidence is not None else None
        if self.history is not None:  # only when there is history (issue 19; department only)
            out["history"] = _jsonable(self.history.to_dict())
        return out


@dataclass(frozen=True)
class MessageInfo:
    """The e-mail a file came in (fetched from the mailbox, or saved as .eml/.msg): what the
    message itself says.  ``date`` is ISO 8601 in China time, None when the message has none;
    ``date_source`` says where the time a file was received was taken from: ``header`` (the
    Date header), ``server`` (the mailbox's arrival time: the message had no Date) or ``file``
    (the saved message's file time: it had no Date)."""

    message_id: str | None
    sender: str | None  # the address, lower case
    sender_name: str | None
    date: str | None
    subject: str | None
    references: tuple[str, ...] = ()  # its References then In-Reply-To (what a reply continues)
    date_source: str = "header"
    server_date: str | None = None  # when the mailbox received it (fetched mail), China time

    def to_dict(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "sender": self.sender, "sender_name": self.sender_name,
                "date": self.date, "date_source": self.date_source, "server_date": self.server_date,
                "subject": self.subject}


@dataclass(frozen=True)
class OriginStep:
    """One container on a file's way into the inbox, outermost first.

    ``kind``: ``message`` (an e-mail: ``message`` holds what it says) or ``archive`` (.zip/.7z/.rar).
    ``container``: the container as people find it -- its path relative to the inbox, or for a
    fetched message the original kept beside the inbox (``mailbox-archive/…``); for a container
    inside another, its member path there.  ``member``: the file's name or path in the container.
    """

    kind: str
    container: str
    member: str
    message: MessageInfo | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "container": self.container, "member": self.member,
                "message": self.message.to_dict() if self.message else None}


@dataclass(frozen=True)
class Provenance:
    """Where a file read from a message or an archive came from (issue 18): the chain of
    containers, outermost first, and the moment it was received (epoch seconds: the date of the
    innermost message; a file in an archive inherits its container's time)."""

    steps: tuple[OriginStep, ...]
    received: float | None = None

    @property
    def message(self) -> MessageInfo | None:
        """The innermost message: the e-mail the file was sent with."""
        return next((s.message for s in reversed(self.steps) if s.message is not None), None)

    def display(self) -> str:
        """One line for people (the review, ``sdbatch check``), e.g. the message's subject,
        sender and time, then the archive and member."""
        from sdbatch.intake.origin import display

        return display(self)

    def to_dict(self) -> dict[str, Any]:
        from sdbatch.intake.origin import china_iso

        return {"steps": [s.to_dict() for s in self.steps],
                "received": china_iso(self.received) if self.received is not None else None,
                "display": self.display()}


@dataclass
class FileRecord:
    file: str  # path relative to the inbox
    path: str  # absolute path
    sha256: str
    size: int
    mtime: float
    city: str | None = None
    status: str = "processed"
    program: str | None = None
    error_code: str | None = None
    error_params: dict[str, Any] = dc_field(default_factory=dict)
    findings: list[Finding] = dc_field(default_factory=list)
    kind: str | None = None
    sheet: str | None = None
    table: Table | None = None  # kept for the review writer; not serialised
    applications: list[Application] = dc_field(default_factory=list)
    superseded_by: str | None = None
    # Further tables of the same workbook read as records of their own (one per sheet), placed
    # right after this one by the batch; not serialised here (each is a record of its own).
    siblings: list[FileRecord] = dc_field(default_factory=list, repr=False)
    duplicate_of: str | None = None
    late: bool = False
    claimed: Any = None  # data a program read from a file that is not a summary table (score sheets)
    evidence: Any = None  # the enterprise lists the file holds (evidence.read.ListFile); not serialised
    origin: Provenance | None = None  # the message / archive the file was read from (issue 18)

    @property
    def origin_text(self) -> str:
        """Where the file came from, in one Chinese line (empty for a file saved in the inbox as it
        is): what the review shows beside the file's name."""
        return self.origin.display() if self.origin is not None else ""

    @property
    def received_at(self) -> float:
        """When the file was received (epoch seconds): its message's date when it came by mail or
        in an archive that did (issue 18), else its modification time.  Orders resubmissions and
        decides lateness."""
        if self.origin is not None and self.origin.received is not None:
            return self.origin.received
        return self.mtime

    @property
    def error(self) -> str | None:
        if self.error_code is None:
            return None
        from sdbatch.catalogue import render, text

        rendered = render(Finding(self.error_code, "error", params=self.error_params))
        if not rendered.fix:
            return rendered.message
        return text("punct.with_fix", message=rendered.message, fix=rendered.fix)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "size": self.size,
            "city": self.city,
            "program": self.program,
            "status": self.status,
            "error": self.error,
            "error_code": self.error_code,
            "sheet": self.sheet,
            "late": self.late,
            "superseded_by": self.superseded_by,
            "duplicate_of": self.duplicate_of,
            "received": _china_iso(self.received_at),
            "origin": self.origin.to_dict() if self.origin is not None else None,
            "applications": [a.id for a in self.applications],
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass
class RunResult:
    program: str
    rules_version: str
    run_id: str
    started: str
    finished: str | None
    applications: list[Application]
    files: list[FileRecord]
    rules: Any = None  # the Rules object(s) used; writers read wording and quotas from it
    programs: dict[str, Any] = dc_field(default_factory=dict)  # program name -> Rules
    reports: dict[str, Any] = dc_field(default_factory=dict)  # program name -> programs.base.ProgramReport
    # Sheets shared stages add to the outputs (programs.base.SheetSpec), e.g. evidence checks:
    review_sheets: dict[str, list[Any]] = dc_field(default_factory=dict)  # city -> sheets of its review
    list_sheets: dict[str, list[Any]] = dc_field(default_factory=dict)  # program -> sheets of the list
    # Cities whose review workbook could not be written (city -> Chinese reason); the writers
    # go on with the other cities (sdbatch.writers.review.write_city_reviews).
    review_failures: dict[str, str] = dc_field(default_factory=dict)

    @property
    def rejected(self) -> list[FileRecord]:
        return [f for f in self.files if f.status == "rejected"]

    def exit_code(self) -> int:
        return 1 if self.rejected else 0

    def to_dict(self) -> dict[str, Any]:
        out = {
            "program": self.program,
            "rules_version": self.rules_version,
            "run_id": self.run_id,
            "applications": [a.to_dict() for a in self.applications],
            "files": [f.to_dict() for f in self.files],
            "programs": {name: _jsonable(report.to_dict()) for name, report in self.reports.items()},
        }
        return out

    def report(self, program: str) -> dict[str, Any]:
        """The run-level block of one program (empty when it reported nothing)."""
        report = self.reports.get(program)
        return report.to_dict() if report is not None else {}


def _china_iso(timestamp: float) -> str:
    from sdbatch.intake.origin import china_iso

    return china_iso(timestamp)


def _jsonable(value: Any) -> Any:
    """Values safe for json.dumps (dates as ISO text, sets as sorted lists)."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:  # the common cases first
        return value
    import datetime as _dt

    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dict, Values, Params)):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value
