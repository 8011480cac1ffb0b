"""Reading enterprise lists: the columns of the lists :mod:`.sheets` recognised, in bulk.

A list is located like a summary table (:func:`sdbatch.header.find_table` over the first rows,
with the round's list fields: title rows, merged and multi-row headers, a units row, header
wording) and its columns are then read as columns: python-calamine for .xlsx/.xlsm/.xls/.ods
(rows transposed a chunk at a time, only the columns the figures need), pandas for .csv, the
reading package for the rare HTML/XML 2003 files.  The hostile-file rules apply first
(:func:`sdbatch.reading.preflight`) and a sheet's extent is bounded before it is laid out.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sdbatch import header, normalise
from sdbatch.evidence import parse
from sdbatch.evidence.sheets import ListSource, _Found
from sdbatch.evidence.spec import EvidenceSpec
from sdbatch.model import Column, Finding, RawSheet, Source, Table
from sdbatch.text import AMOUNT_UNITS, unit_of, vocabulary

SUMMARY_WORDS = tuple(vocabulary()["rows"]["summary"])
NOTE_WORDS = tuple(vocabulary()["rows"]["notes"])


class TextColumn:
    """Texts kept compactly (UTF-8 in one buffer, offsets in numpy): the firms' names of a list of
    10^5–10^6 rows are shown only for the few firms a finding names, never worked on per row."""

    def __init__(self, values: Any) -> None:
        encoded = [v.encode("utf-8") if isinstance(v, str) else b"" for v in values]
        self.present = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(encoded))
        self.offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum(np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded)), out=self.offsets[1:])
        self.blob = b"".join(encoded)

    def __len__(self) -> int:
        return len(self.present)

    def __getitem__(self, pos: int) -> str | None:
        if not self.present[pos]:
            return None
        return self.blob[self.offsets[pos]:self.offsets[pos + 1]].decode("utf-8")

    def take(self, positions: Any) -> list[str | None]:
        return [self[int(p)] for p in positions]


@dataclass
class ListSheet:
    """One list as read: its place, header and parsed columns (one row per firm).

    The firm's name and credit code are kept beside the frame, compactly (``names``, ``codes``: the
    valid codes as 18 bytes, ``b""`` where none); the frame holds whether each is present."""

    file: str  # relative to the inbox
    sheet: str
    title: str | None
    columns: dict[str, Column]  # list field -> its column
    frame: pd.DataFrame  # list field -> canonical values; index: the Excel row (1-based)
    unreadable: dict[str, np.ndarray] = field(default_factory=dict)  # field -> cells not read
    invalid_uscc: np.ndarray | None = None  # written but not a valid credit code
    skipped_rows: int = 0  # total rows, notes, repeated headers below the header
    city: str | None = None  # the city named by the title, file or sheet name
    texts: tuple[str, ...] = ()  # what may name the application: the sheet name, the title, the file name
    names: TextColumn | None = None
    codes: np.ndarray | None = None  # dtype S18

    @property
    def rows(self) -> int:
        return len(self.frame)


@dataclass
class ListFile:
    """What the evidence stage read from one list file (``FileRecord.evidence``)."""

    program: str
    file: str
    mtime: float
    sheets: list[ListSheet] = field(default_factory=list)



def read_sheet(source: ListSource, found: _Found, file: str) -> ListSheet:
    """The list of ``found`` read from ``source``: columns parsed, rows that are not firms left out."""
    spec, table = found.spec, found.table
    columns = {c.field: c for c in table.columns if c.field in spec.fields}
    above = _unit_above(found.head, table)  # 单位：亿元 on a line of its own above the header
    wanted = [f for f in spec.needed() if f in columns]
    parts: dict[str, list[Any]] = {f: [] for f in wanted}
    bad_parts: dict[str, list[np.ndarray]] = {f: [] for f in wanted}
    invalid_parts: list[np.ndarray] = []
    row_parts: list[np.ndarray] = []
    for cells, rows in source.chunks(table.data_start, [columns[f].index for f in wanted]):
        row_parts.append(rows)
        for fid, col in zip(wanted, cells, strict=True):
            value, bad, invalid = _parse(spec, fid, pd.Series(col, dtype=object),
                                         columns[fid].unit or (above if spec.fields[fid].type == "amount" else None))
            parts[fid].append(value)
            bad_parts[fid].append(bad)
            if invalid is not None:
                invalid_parts.append(invalid)
    rows = np.concatenate(row_parts) if row_parts else np.arange(0)
    frame: dict[str, Any] = {f: _concat(v, len(rows)) for f, v in parts.items()}
    unreadable = {f: np.concatenate(m) for f, m in bad_parts.items() if m and any(x.any() for x in m)}
    invalid = np.concatenate(invalid_parts) if invalid_parts else None
    jurisdiction = spec.rules.jurisdiction
    for fid, rule in spec.fields.items():
        if rule.parts and fid not in frame and any(p in frame for p in rule.parts):
            present = [p for p in rule.parts if p in frame]
            stacked = np.vstack([np.asarray(frame[p], dtype=float) for p in present])
            total = np.nansum(stacked, axis=0)
            total[np.isnan(stacked).all(axis=0)] = np.nan
            frame[fid] = total
    df = pd.DataFrame(frame, index=pd.Index(rows, name="row"))
    for role in ("application", "city"):  # a few distinct values repeated on every row: stored once
        role_field = spec.role(role)
        if role_field in df:
            df[role_field] = df[role_field].astype("category")
    keep, skipped = _firm_rows(df, spec, found)
    if not keep.all():
        df = df[keep]
        unreadable = {f: m[keep] for f, m in unreadable.items()}
        invalid = invalid[keep] if invalid is not None else None
    unreadable = {f: m for f, m in unreadable.items() if m.any()}
    names, codes = _compact(df, spec)
    file_city = normalise.city_of_file(table, file, jurisdiction)
    return ListSheet(file=file, sheet=source.name, title=table.title, columns=columns, frame=df,
                     unreadable=unreadable, invalid_uscc=invalid, skipped_rows=skipped, city=file_city.city,
                     texts=tuple(t for t in (source.name, table.title, Path(file).stem) if t),
                     names=names, codes=codes)


def _compact(df: pd.DataFrame, spec: EvidenceSpec) -> tuple[TextColumn | None, np.ndarray | None]:
    """The firm's name and credit code taken out of the frame (which keeps whether they are there)."""
    names = codes = None
    firm, code = spec.role("firm"), spec.role("uscc")
    if firm in df:
        names = TextColumn(df[firm].to_numpy(dtype=object))
        df[firm] = _presence(names.present)
    if code in df:
        written = df[code].to_numpy(dtype=object)
        codes = np.array([c if isinstance(c, str) else "" for c in written], dtype="S18")
        df[code] = _presence(codes != b"")
    return names, codes


def _presence(mask: np.ndarray) -> Any:
    out = pd.array(mask, dtype="boolean")
    out[~mask] = pd.NA
    return out


def _parse(spec: EvidenceSpec, fid: str, values: pd.Series, column_unit: str | None
           ) -> tuple[Any, np.ndarray, np.ndarray | None]:
    """One chunk of one column: (canonical values, unreadable cells, invalid credit codes or None)."""
    rule = spec.fields[fid]
    if rule.type in ("amount", "count", "int", "number", "ratio"):
        value, bad = parse.numbers(values, column_unit=column_unit, unit=rule.unit, count=rule.type in ("count", "int"))
        return value, bad, None
    if rule.type == "bool":
        yes, no, bad = parse.bools(values)
        arr = pd.array(yes, dtype="boolean")
        arr[~(yes | no)] = pd.NA
        return arr, bad, None
    nothing = np.zeros(len(values), dtype=bool)
    if rule.type == "uscc":
        codes, valid, invalid = parse.uscc(values)
        return codes.where(valid, None).to_numpy(dtype=object), nothing, invalid
    if rule.type == "choice":
        choices = spec.rules.choices[rule.choices or ""]
        parsed, bad = parse.by_distinct(values, functools.partial(_choice, choices=choices))
        return parsed.to_numpy(dtype=object), bad, None
    if rule.type == "city":
        parsed, bad = parse.by_distinct(values, functools.partial(_city, jurisdiction=spec.rules.jurisdiction))
        return parsed.to_numpy(dtype=object), bad, None
    return parse.texts(values).to_numpy(dtype=object), nothing, None


def _concat(parts: list[Any], n: int) -> Any:
    if not parts:
        return np.full(n, None, dtype=object)
    if isinstance(parts[0], pd.api.extensions.ExtensionArray):
        return type(parts[0])._concat_same_type(parts)
    return np.concatenate(parts)


def _unit_above(head: RawSheet, table: Table) -> str | None:
    """An amount unit written for the whole table above its header (``单位：万元``)."""
    for _, _, line in header.preamble(head, table.header_rows[0]):
        unit = unit_of(line)
        if unit in AMOUNT_UNITS:
            return unit
    return None


def _firm_rows(df: pd.DataFrame, spec: EvidenceSpec, found: _Found) -> tuple[np.ndarray, int]:
    """Rows that are firms: a firm name or a credit code, and not a total, a note or the header
    repeated (page breaks copied in)."""
    firm, code = spec.role("firm"), spec.role("uscc")
    names = df[firm] if firm in df else pd.Series([None] * len(df), index=df.index, dtype=object)
    has_name = names.notna().to_numpy()
    has_code = df[code].notna().to_numpy() if code in df else np.zeros(len(df), dtype=bool)
    keep = has_name | has_code
    texts = names[has_name].astype(str).str.replace(r"\s+", "", regex=True)
    header_texts = {re.sub(r"\s+", "", part) for c in found.table.columns for part in c.header.split("/") if part}
    other = texts.str.startswith(SUMMARY_WORDS + NOTE_WORDS) | texts.isin(header_texts)
    drop = np.zeros(len(df), dtype=bool)
    drop[np.flatnonzero(has_name)[other.to_numpy(dtype=bool)]] = True
    keep &= ~drop
    return keep, int(drop.sum())


def _choice(value: Any, choices: Any) -> Any:
    parsed = normalise.parse_choice(value, choices)
    if parsed.code:
        return parse.UNREADABLE
    return parsed.value


def _city(value: Any, jurisdiction: Any) -> Any:
    parsed = normalise.parse_city(value, jurisdiction)
    if parsed.code:
        return parse.UNREADABLE
    return parsed.value


def read_lists(found_sheets: list[tuple[ListSource, _Found]], notes: list[Finding], *, file: str, mtime: float
               ) -> tuple[ListFile, list[Finding]]:
    """The lists :func:`sdbatch.evidence.sheets.find_lists` found, read by columns (the caller
    closes the workbook :func:`sdbatch.evidence.sheets.sources` opened, once this returns)."""
    program = found_sheets[0][1].spec.rules.name
    listed = ListFile(program=program, file=file, mtime=mtime)
    for src, found in found_sheets:
        if found.spec.rules.name != program:
            notes.append(Finding("other-program-sheet", "warning", params={
                "sheet": src.name, "program_title": found.spec.rules.title, "used": found_sheets[0][0].name,
                "used_title": found_sheets[0][1].spec.rules.title}, source=Source(file, src.name)))
            continue
        listed.sheets.append(read_sheet(src, found, file))
    return listed, notes
