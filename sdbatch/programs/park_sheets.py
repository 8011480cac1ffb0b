"""Score sheets of a park round: the experts' re-scores (第八条) and the city's preliminary score
(第六条), and the points the sheets state for each indicator.

A score sheet names indicator codes (``L1P1``…) along one row (parks as rows) or down one column
(parks as columns, the transpose).  Besides the raters' points it may state what each indicator is
out of: a row (or, transposed, a column) labelled 分值 / 满分 / 标准分, one per park type when the
points differ by type (``分值（数字产业化园区）``, or a 标准分 header over one column per type), or one
for the sheet when the sheet (its name or title) is for one type.  Those are read as
:class:`StatedPoints` and weighed by :mod:`sdbatch.programs.park_points`.

Every word recognised comes from the rules file (``[park.scoring]``) and the vocabulary
(``[scores]``); nothing here decides a score.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

from sdbatch import settings as app_settings
from sdbatch.catalogue import text
from sdbatch.model import RawSheet, RawWorkbook, Source, cell_address
from sdbatch.programs.park_settings import Settings, settings_of
from sdbatch.rules import Rules
from sdbatch.text import cell_text, display_name, nfkc, squash, vocabulary

#: how many rows above the first code row (parks as columns) may hold the column headers
HEADER_DEPTH = 4


@dataclass
class ScoreRow:
    """One rater's points for one park, as written."""

    rater: str  # unique key of the rater (file#sheet[#name])
    rater_label: str  # how people call the rater (专家姓名, sheet name…)
    kind: str  # "expert" (第八条) or "city" (第六条 preliminary score)
    park: str  # park name as written
    city: str | None
    points: dict[str, Any]  # code -> value as written
    cells: dict[str, str]  # code -> cell address
    source: Source
    named: bool = False  # the rater is named in the sheet (评审专家：…, a 专家 column), not guessed


@dataclass
class StatedPoints:
    """What a sheet states each indicator is out of: one 分值 / 满分 / 标准分 row or column."""

    label: str  # as written, e.g. 分值（数字产业化园区）
    park_type: str | None  # the type it is for (from its label, else the sheet's); None: not said
    points: dict[str, Any]  # code -> value as written
    cells: dict[str, str]  # code -> cell address
    source: Source
    type_from: str = ""  # "label" (its own label or header) or "sheet" (the sheet's name or title)


@dataclass
class ScoreSheet:
    file: str
    sheet: str
    layout: str  # "rows" (parks as rows) or "columns" (parks as columns)
    kind: str
    rater_label: str
    named: bool = False
    rows: list[ScoreRow] = dc_field(default_factory=list)
    unknown_codes: list[str] = dc_field(default_factory=list)
    stated: list[StatedPoints] = dc_field(default_factory=list)
    park_type: str | None = None  # the one park type the sheet's name or title names
    points_used: bool = False  # its stated points are (some of) the round's points (set when decided)

    @property
    def key(self) -> str:
        return f"{self.file}#{self.sheet}#{self.rater_label}"


@dataclass
class ScoreFile:
    """What :func:`claim_file` returns for a workbook of score sheets."""

    path: str
    sheets: list[ScoreSheet]


def code_of(value: Any, st: Settings) -> str | None:
    """``L1P1``, ``l1p1``, ``Ｌ１Ｐ１``, ``L1P1 网络覆盖情况`` -> ``L1P1``; anything else -> None."""
    if not isinstance(value, str):
        return None
    key = squash(value).upper()
    m = st.code_re.match(key)
    if not m:
        return None
    code = m.group(0)
    rest = key[len(code):]
    if rest[:1].isdigit():
        return None
    return code


def parse_score_sheets(sheet: RawSheet, file: str, st: Settings) -> list[ScoreSheet]:
    """Every score table of a sheet: usually one; two raters' tables stacked one under the other
    (each with its own title 评审专家：… and header row of codes) are read as two raters."""
    headers = [r for r, line in enumerate(sheet.rows) if sum(1 for v in line if code_of(v, st)) >= st.min_codes]
    if len(headers) < 2:
        single = parse_score_sheet(sheet, file, st)
        return [single] if single else []
    bounds = [0]
    for h in headers[1:]:  # a block ends after its last row of numbers; title lines go with the next
        numbers = [r for r in range(bounds[-1], h)
                   if any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in sheet.rows[r])]
        bounds.append((max(numbers) + 1) if numbers else h)
    bounds.append(len(sheet.rows))
    out = []
    for i in range(len(headers)):
        rows = [line if bounds[i] <= r < bounds[i + 1] else [] for r, line in enumerate(sheet.rows)]
        part = parse_score_sheet(RawSheet(name=sheet.name, rows=rows, hidden=sheet.hidden, merged=sheet.merged),
                                 file, st)
        if part is None:
            continue
        if not part.named:
            part.rater_label = text("programs.park.sheets.block", rater=part.rater_label, n=i + 1)
        for row in part.rows:
            row.rater = f"{row.rater}#{i + 1}"
            row.rater_label = part.rater_label
        out.append(part)
    return out


def parse_score_sheet(sheet: RawSheet, file: str, st: Settings) -> ScoreSheet | None:
    """A score sheet in either orientation, or None when the sheet names too few indicator codes or
    holds neither points nor stated maxima."""
    rows = sheet.rows
    by_row: dict[int, dict[int, str]] = {}
    by_col: dict[int, dict[int, str]] = {}
    for r, line in enumerate(rows):
        for c, value in enumerate(line):
            code = code_of(value, st)
            if code:
                by_row.setdefault(r, {})[c] = code
                by_col.setdefault(c, {})[r] = code
    best_row = max(by_row, key=lambda r: len(by_row[r]), default=None)
    best_col = max(by_col, key=lambda c: len(by_col[c]), default=None)
    n_row = len(by_row[best_row]) if best_row is not None else 0
    n_col = len(by_col[best_col]) if best_col is not None else 0
    if max(n_row, n_col) < st.min_codes:
        return None
    stem = Path(file).stem
    if n_row >= n_col:
        assert best_row is not None
        found = by_row[best_row]
        header_text = _text_above(rows, best_row)
        kind, label, named = _rater_of(sheet.name, header_text, stem, st)
        out = ScoreSheet(file, sheet.name, "rows", kind, label, named,
                         park_type=st.type_in(f"{sheet.name} {_title_text(rows, best_row)}"))
        _parse_rows(sheet, file, best_row, found, out, st)
    else:
        assert best_col is not None
        found = by_col[best_col]
        first = min(found)
        header_text = _text_above(rows, max(0, first - 1))
        kind, label, named = _rater_of(sheet.name, header_text, stem, st)
        out = ScoreSheet(file, sheet.name, "columns", kind, label, named,
                         park_type=st.type_in(f"{sheet.name} {_title_text(rows, first)}"))
        _parse_columns(sheet, file, best_col, found, out, st)
    out.unknown_codes = sorted(c for c in set(found.values()) if c not in st.indicators)
    for stated in out.stated:
        if stated.park_type is None and out.park_type is not None:
            stated.park_type, stated.type_from = out.park_type, "sheet"
    return out if out.rows or out.stated else None


def _text_above(rows: list[list[Any]], upto: int) -> str:
    return " ".join(cell_text(v) for line in rows[:upto] for v in line if isinstance(v, str) and v.strip())


def _title_text(rows: list[list[Any]], upto: int) -> str:
    """The title lines above a table (rows of one cell: 评分表（数字产业化园区）, 评审专家：…), not its
    header rows, whose park names may hold a type's words."""
    out = []
    for line in rows[:upto]:
        cells = [cell_text(v) for v in line if v is not None and cell_text(v)]
        if len(cells) == 1:
            out.append(cells[0])
    return " ".join(out)


# punctuation around a rater's name: full-width brackets, colons and commas written as escapes so
# that the pattern holds no Chinese character of its own
_NAME_STOP = r"\s,\uff0c;\uff1b()\uff08\uff09\[\]\u3010\u3011"
_COLON = r"[:\uff1a]"


def _rater_of(sheet_name: str, title: str, stem: str, st: Settings) -> tuple[str, str, bool]:
    """(kind, label, named) of a sheet's rater from its name, title rows and file name."""
    where = f"{sheet_name} {title} {stem}"
    if any(marker in where for marker in st.expert_markers):
        kind = "expert"  # 专家/评审专家/复核 wins over 市级 (e.g. 各市市级推荐园区 in an expert's title)
    elif any(marker in where for marker in st.city_markers):
        kind = "city"  # 初审、市级评分… without 专家: the city's preliminary score (第六条)
    else:
        kind = "expert"
    words = "|".join(re.escape(w) for w in sorted(st.rater_headers, key=len, reverse=True))
    m = re.search(rf"(?:{words})\s*{_COLON}\s*([^{_NAME_STOP}]+)", nfkc(f"{title} {sheet_name}")) if words else None
    if m:
        return kind, m.group(1), True
    person = re.search(r"[_\-\u2014\uff08(]([\u4e00-\u9fff]{2,4})[\uff09)]?$", stem)  # 复核评分_李明.xlsx
    if person and not any(marker in person.group(1) for marker in (*st.expert_markers, *st.city_markers)):
        return kind, person.group(1), False
    generic = "|".join(re.escape(w) for w in vocabulary()["scores"]["sheet_names"])
    if not re.fullmatch(rf"(?i)({generic})\s*\d*", sheet_name.strip()):
        return kind, sheet_name.strip(), False
    return kind, stem, False


def _header_of(sheet: RawSheet, header_row: int, col: int) -> str:
    rows = sheet.rows
    parts = []
    for r in range(max(0, header_row - 2), header_row + 1):
        if r < header_row and sum(1 for v in rows[r] if v is not None and str(v).strip()) < 2:
            continue  # a title row (one cell) is not part of the header
        value = sheet.merged_value(r, col)
        if isinstance(value, str):
            parts.append(squash(value))
    return "".join(parts)


def _find_col(headers: dict[int, str], words: tuple[str, ...], avoid: tuple[str, ...] = ()) -> int | None:
    for word in words:  # words in priority order
        for c, header in sorted(headers.items()):
            if word in header and not any(a in header for a in avoid):
                return c
    return None


def _max_label(values: list[Any], st: Settings) -> str | None:
    """The label among ``values`` that marks maxima (``分值（产业数字化园区）``), if any."""
    return next((cell_text(v) for v in values if is_max_label(v, st)), None)


def _parse_rows(sheet: RawSheet, file: str, hr: int, code_cols: dict[int, str], out: ScoreSheet,
                st: Settings) -> None:
    rows = sheet.rows
    width = max((len(line) for line in rows), default=0)
    headers = {c: _header_of(sheet, hr, c) for c in range(width) if c not in code_cols}
    rater_col = _find_col(headers, st.rater_headers)
    name_col = _find_col(headers, st.name_headers,
                         avoid=st.rater_headers + tuple(vocabulary()["scores"]["indicator_words"]))
    city_col = _find_col(headers, st.city_headers)
    if name_col is None:  # the first text column left of the codes
        first_code = min(code_cols)
        for c in range(first_code):
            if c in (rater_col, city_col):
                continue
            values = [rows[r][c] for r in range(hr + 1, len(rows)) if c < len(rows[r])]
            if any(isinstance(v, str) and v.strip() and not number(v)[0] for v in values):
                name_col = c
                break
    for r in range(max(0, hr - HEADER_DEPTH), len(rows)):  # a 分值 row may sit just above the codes too
        if r == hr:
            continue
        line = rows[r]
        others = [line[c] for c in range(len(line)) if c not in code_cols]
        label = _max_label(others, st)
        if label is not None:  # a 分值 row: what each indicator is out of, not a park
            points = {code: line[c] for c, code in code_cols.items() if c < len(line) and not _blank(line[c], st)}
            if any(number(v)[0] for v in points.values()):
                # the type in its label (分值（数字产业化园区）) or alone in a cell beside it (a 类型 column)
                ptype = st.type_in(label) or next((t for v in others if st.is_type_word(v) and (t := st.type_in(v))),
                                                  None)
                out.stated.append(StatedPoints(
                    label=label, park_type=ptype, points=points,
                    cells={code: cell_address(r, c) for c, code in code_cols.items()},
                    source=Source(file=file, sheet=sheet.name, row=r + 1), type_from="label" if ptype else ""))
            continue
        if r < hr or name_col is None:
            continue
        name = cell_text(line[name_col]) if name_col < len(line) else ""
        if not name or any(w in name for w in st.total_words) or _is_note(name, st):
            continue
        points = {code: line[c] for c, code in code_cols.items() if c < len(line) and not _blank(line[c], st)}
        if not points or not any(number(v)[0] for v in points.values()):
            continue  # nothing, or a row of words under the codes (指标名称): not a park's points
        rater, rater_label, named = f"{file}#{out.sheet}", out.rater_label, out.named
        if rater_col is not None and rater_col < len(line) and cell_text(line[rater_col]):
            rater_label, named = cell_text(line[rater_col]), True
            rater = f"{rater}#{rater_label}"
        # the same rater twice for one park is kept: the first row counts, the second is reported
        # with the park (score-duplicate) when the rows are scored
        city = cell_text(line[city_col]) if city_col is not None and city_col < len(line) else None
        out.rows.append(ScoreRow(
            rater=rater, rater_label=rater_label, kind=out.kind, park=name, city=city or None, points=points,
            cells={code: cell_address(r, c) for c, code in code_cols.items()},
            source=Source(file=file, sheet=sheet.name, row=r + 1), named=named,
        ))


def _parse_columns(sheet: RawSheet, file: str, cc: int, code_rows: dict[int, str], out: ScoreSheet,
                   st: Settings) -> None:
    rows = sheet.rows
    first = min(code_rows)
    width = max((len(line) for line in rows), default=0)
    top = max(0, first - HEADER_DEPTH)
    # maxima columns: a 分值 / 标准分 header (merged over one column per type: the type below it)
    for c in range(width):
        if c == cc:
            continue
        above = {r: sheet.merged_value(r, c) for r in range(top, first)}
        label_row = next((r for r, v in above.items() if is_max_label(v, st)), None)
        if label_row is None:
            continue
        points = {code: rows[r][c] for r, code in code_rows.items() if c < len(rows[r]) and not _blank(rows[r][c], st)}
        if not points:
            continue
        # the type in its own label, else in a header cell below it (标准分 over 数字产业化园区 | 产业数字化园区)
        below = [above[r] for r in range(label_row, first)]
        ptype = next((t for v in below if (t := st.type_in(v))), None)
        label = " ".join(cell_text(v) for v in below if isinstance(v, str) and v.strip())
        out.stated.append(StatedPoints(
            label=label, park_type=ptype, points=points,
            cells={code: cell_address(r, c) for r, code in code_rows.items()},
            source=Source(file=file, sheet=sheet.name, row=label_row + 1, cell=cell_address(label_row, c)),
            type_from="label" if ptype else ""))
    stated_cols = {c for c in range(width) if _max_label([sheet.merged_value(r, c) for r in range(top, first)], st)}
    park_cols: dict[int, str] = {}
    header_row = first - 1
    for hr in range(first - 1, top - 1, -1):
        line = rows[hr]
        for c in range(width):
            if c == cc or c >= len(line) or c in stated_cols:
                continue
            value = cell_text(line[c])
            key = squash(value)
            if (not value or number(value)[0] or any(w in key for w in st.label_headers)
                    or any(w in key for w in st.total_words) or any(w in key for w in st.rater_headers)
                    or is_max_label(value, st) or st.is_type_word(value)):
                continue  # a header word, or a row of park types under the names
            # a park column holds numbers (or blanks) against the codes
            values = [rows[r][c] for r in code_rows if c < len(rows[r])]
            if any(isinstance(v, str) and not _blank(v, st) and not number(v)[0] for v in values):
                continue
            park_cols[c] = value
        if park_cols:
            header_row = hr
            break
    for c, name in park_cols.items():
        points = {code: rows[r][c] for r, code in code_rows.items()
                  if c < len(rows[r]) and not _blank(rows[r][c], st)}
        if not points:
            continue
        out.rows.append(ScoreRow(
            rater=f"{file}#{out.sheet}", rater_label=out.rater_label, kind=out.kind, park=name, city=None,
            points=points, cells={code: cell_address(r, c) for r, code in code_rows.items()},
            source=Source(file=file, sheet=sheet.name, row=header_row + 1, cell=cell_address(header_row, c)),
            named=out.named,
        ))


def is_max_label(value: Any, st: Settings) -> bool:
    """``满分``, ``分值（分）``, ``最高分``, ``标准分（数字产业化园区）``: the label of a maxima row or column."""
    if not isinstance(value, str):
        return False
    key = re.sub(r"[\uff08(][^\uff09)]*[\uff09)]|[\W_]+", "", squash(value))
    return bool(key) and any(key == w or (key.startswith(w) and len(key) <= len(w) + 2) or
                             (key.endswith(w) and len(key) <= len(w) + 2) for w in st.max_words)


def _is_note(name: str, st: Settings) -> bool:
    words = "|".join(re.escape(w) for w in sorted(st.note_words, key=len, reverse=True))
    return bool(words) and bool(re.match(rf"^({words}){_COLON}", name.strip()) or name.strip() in st.note_words)


def _blank(value: Any, st: Settings) -> bool:
    return value is None or (isinstance(value, str) and squash(value) in st.blank_words)


def number(value: Any) -> tuple[bool, float | None]:
    """(is a number, value).  Text numbers in full width are numbers; booleans are not."""
    if isinstance(value, bool):
        return False, None
    if isinstance(value, (int, float)):
        return (False, None) if isinstance(value, float) and not math.isfinite(value) else (True, float(value))
    if isinstance(value, str):
        key = squash(value).replace(",", "")
        for unit in vocabulary()["scores"]["point_units"]:
            key = key.removesuffix(unit)
        try:
            out = float(key)
        except ValueError:
            return False, None
        return (True, out) if math.isfinite(out) else (False, None)
    return False, None


def norm_name(name: str | None, st: Settings) -> str:
    """A park name for matching: NFKC, lower case, no punctuation, no ending such as 试点."""
    key = re.sub(r"[\W_]+", "", nfkc(name or "").lower())
    for ending in st.name_endings:
        key = key.removesuffix(ending)
    return key


# ---------------------------------------------------------------------------------------- hooks
def claims_sheet(sheet: RawSheet, rules: Rules) -> bool:
    """Whether ``sheet`` is a score sheet (for a header locator that should leave it alone).

    Asked of every sheet before its header is looked for: a sheet naming no indicator code in the
    rows a header is looked for in (``HEADER_SEARCH_ROWS``, either orientation: a row of codes or
    the first codes down a column) is not one, and its other rows are not read (a summary of
    10,000 rows cost 230,000 looks at cells)."""
    st = settings_of(rules)
    head = sheet.rows[:app_settings.HEADER_SEARCH_ROWS]
    if not any(code_of(v, st) for row in head for v in row):
        return False
    return bool(parse_score_sheets(sheet, "", st))


def claim_file(raw: RawWorkbook, rules: Rules) -> ScoreFile | None:
    """Claim a workbook with no summary table when it holds score sheets; None otherwise."""
    st = settings_of(rules)
    name = display_name(Path(raw.path).name)  # a name zipped as GBK bytes, as people read it
    sheets = [s for sheet in raw.sheets if not sheet.hidden for s in parse_score_sheets(sheet, name, st)]
    return ScoreFile(raw.path, sheets) if sheets else None
