"""Stage 2 — find the table: header row(s), columns, units, and which rows are data.

Works on the plain grid of a :class:`RawSheet`, for any program: the field aliases,
keywords and exclusions come from the program's rules file.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sdbatch import settings
from sdbatch.model import Column, Finding, RawSheet, RawWorkbook, Source, Table, cell_address
from sdbatch.rules import FieldRule, Rules
from sdbatch.text import cell_text, header_key, header_key_full, is_unit_cell, squash, unit_of, vocabulary

SUMMARY_WORDS = tuple(vocabulary()["rows"]["summary"])
NOTE_PREFIXES = tuple(vocabulary()["rows"]["notes"])
EXPLANATION_PREFIXES = tuple(vocabulary()["rows"]["explanations"])


STRONG_MATCH = 50  # an exact alias (100+) or a keyword group (50+); a bare containment is weaker


@dataclass
class Located:
    rules: Rules
    table: Table
    score: int
    findings: list[Finding] = field(default_factory=list)


# ----------------------------------------------------------------------------- header matching
_CACHE: weakref.WeakKeyDictionary[Rules, dict[str, tuple[str | None, int]]] = weakref.WeakKeyDictionary()


def _match(text: str, rules: Rules) -> tuple[str | None, int]:
    cache = _CACHE.setdefault(rules, {})
    if text in cache:
        return cache[text]
    key = header_key(text)
    full = header_key_full(text)
    if not key:
        return None, 0
    best: tuple[str | None, int] = (None, 0)
    for f in rules.fields.values():
        score = _score(f, key, full)
        if score > best[1]:
            best = (f.id, score)
    cache[text] = best
    return best


_PREPARED: weakref.WeakKeyDictionary[FieldRule, tuple[list[str], list[str], list[list[str]]]] = \
    weakref.WeakKeyDictionary()


def _prepared(f: FieldRule) -> tuple[list[str], list[str], list[list[str]]]:
    """A field's aliases, exclusions and keywords reduced once (not per header)."""
    ready = _PREPARED.get(f)
    if ready is None:
        ready = ([header_key(a) for a in f.aliases], [header_key(x) for x in f.exclude],
                 [[squash(w) for w in group] for group in f.keywords])
        _PREPARED[f] = ready
    return ready


def _score(f: FieldRule, key: str, full: str) -> int:
    aliases, excludes, keywords = _prepared(f)
    if key in aliases:
        return 100 + len(key)
    if any(x in full for x in excludes):
        return 0
    best = 0
    for words in keywords:
        if words and all(w in full for w in words):
            best = max(best, 50 + sum(len(w) for w in words))
    for alias in aliases:
        # Two-character aliases (名称, 集群, 电话) name a column only exactly: 所在园区名称 is not 集群名称.
        if len(alias) >= 3 and alias in key:
            best = max(best, 30 + min(len(alias), STRONG_MATCH - 31))  # containment alone is weak
    return best


def match_header(text: Any, rules: Rules) -> tuple[str | None, int]:
    """The canonical field a header names, with a confidence score (0: none)."""
    return _match(cell_text(text), rules)


# ----------------------------------------------------------------------------- locating
def locate(raw: RawWorkbook, candidates: list[Rules]) -> tuple[Located | None, list[Finding]]:
    """Pick the data sheet and the program whose table it holds.

    Hidden sheets are not read (a warning says so); other visible sheets are reported.
    """
    notes: list[Finding] = []
    found: list[tuple[RawSheet, Located]] = []
    for sheet in raw.sheets:
        has_content = any(any(v is not None for v in row) for row in sheet.rows)
        if sheet.hidden:
            if has_content:
                notes.append(Finding("hidden-sheet-skipped", "warning", params={"sheet": sheet.name},
                                     source=Source(_name(raw), sheet.name)))
            continue
        best: Located | None = None
        if _claimed_by_program(sheet, candidates):
            continue  # e.g. an expert score sheet: its program reads it, not as a summary table
        for rules in candidates:
            table = find_table(sheet, rules)
            if table is None:
                continue
            matched = {c.field for c in table.columns if c.field}
            strong = {c.field for c in table.columns if c.field and c.score >= STRONG_MATCH}
            detected = strong & set(rules.detect_fields)
            if rules.detect_fields and len(detected) < min(2, len(rules.detect_fields)):
                continue  # a park table is not a cluster table because it has 所在市 and 信用代码
            score = len(matched) + 2 * len(matched & set(rules.detect_fields))
            if best is None or score > best.score:
                best = Located(rules, table, score)
        if best is not None:
            found.append((sheet, best))
        elif has_content:
            notes.append(Finding("other-sheet-skipped", "info",
                                 params={"sheet": sheet.name, "detail": "未找到汇总表表头"},
                                 source=Source(_name(raw), sheet.name)))
    if not found:
        return None, notes
    # The sheet with the most matched fields wins; on a tie, the first sheet.
    found.sort(key=lambda pair: -pair[1].score)
    chosen = found[0][1]
    for sheet, other in found[1:]:
        if other.rules is not chosen.rules:  # a park sheet beside a cluster sheet: one table a file
            notes.append(Finding("other-program-sheet", "warning", params={
                "sheet": sheet.name, "program_title": other.rules.title, "used": chosen.table.sheet.name,
                "used_title": chosen.rules.title}, source=Source(_name(raw), sheet.name)))
            continue
        notes.append(Finding("extra-table-sheet", "warning", params={"sheet": sheet.name, "used": chosen.table.sheet.name},
                             source=Source(_name(raw), sheet.name)))
    return chosen, notes


def _claimed_by_program(sheet: RawSheet, candidates: list[Rules]) -> bool:
    from sdbatch.programs import program_for

    return any(program_for(rules).claims_sheet(sheet) for rules in candidates)


def _name(raw: RawWorkbook) -> str:
    return raw.path.replace("\\", "/").rsplit("/", 1)[-1]


def find_table(sheet: RawSheet, rules: Rules) -> Table | None:
    """Find the header of ``rules``' table in ``sheet``, or None."""
    limit = min(len(sheet.rows), settings.HEADER_SEARCH_ROWS)
    best: tuple[int, list[int], list[Column]] | None = None
    for r in range(limit):
        row = sheet.rows[r]
        if sum(1 for v in row if v is not None) < settings.MIN_HEADER_MATCHES:
            continue
        for depth in range(1, settings.MAX_HEADER_DEPTH + 1):
            rows = list(range(r, min(r + depth, len(sheet.rows))))
            if len(rows) < depth:
                break
            if depth > 1 and _is_data_row(sheet, rows[-2], rows[-1], rules):
                break
            columns = _columns(sheet, rows, rules)
            matched = len({c.field for c in columns if c.field})
            strong = len({c.field for c in columns if c.field and c.score >= STRONG_MATCH})
            # A deeper header wins with more fields, or with as many when its last row is
            # plainly a sub-header (数量（家） | 金额（亿元） under group labels).
            deeper = best is not None and matched == best[0] and rows[:-1] == best[1] \
                and _is_subheader_row(sheet, rows[-1], rules)
            if strong >= settings.MIN_HEADER_MATCHES and (best is None or matched > best[0] or deeper):
                best = (matched, rows, columns)
    if best is None:
        return None
    _, header_rows, columns = best
    data_start = header_rows[-1] + 1
    # A units row right below the header: 亿元 | 家 | % …
    if data_start < len(sheet.rows):
        cells = [v for v in sheet.rows[data_start] if v is not None]
        units = sum(is_unit_cell(v) for v in cells)
        hints = sum(_is_answer_hint(v) for v in cells)  # 是/否 over the yes/no columns
        if len(cells) >= 2 and units >= 1 and units + hints >= max(2, len(cells) - 1):
            for col in columns:
                value = sheet.merged_value(data_start, col.index)  # 万元 merged over two columns
                if col.unit is None and value is not None and is_unit_cell(value):
                    col.unit = unit_of(f"({cell_text(value)})") or unit_of(value)
            header_rows = [*header_rows, data_start]
            data_start += 1
    _mark_duplicates(columns)
    title = _title(sheet, header_rows[0])
    return Table(sheet=sheet, header_rows=header_rows, data_start=data_start, columns=columns, title=title)


def _is_data_row(sheet: RawSheet, upper: int, lower: int, rules: Rules) -> bool:
    """Whether ``lower`` is a row of data rather than a second header row under ``upper``.

    In a real two-row header, a column whose upper label names a field on its own is merged
    down (empty below); data fills it.  A row of numbers is data too.
    """
    if sum(isinstance(v, (int, float)) and not isinstance(v, bool) for v in sheet.rows[lower]) >= 2:
        return True
    spans = {c for r0, c0, r1, c1 in sheet.merged if r0 <= upper <= r1 and c1 > c0 for c in range(c0, c1 + 1)}
    filled = 0
    for c, value in enumerate(sheet.rows[upper]):
        if value is None or c in spans:
            continue
        below = sheet.value(lower, c)
        if match_header(value, rules)[1] >= 100 and below is not None and not _header_like(below, rules):
            filled += 1
    return filled >= 2


def _header_like(value: Any, rules: Rules) -> bool:
    """A label rather than a value: a unit (亿元, （家）), or a header naming a field."""
    if not isinstance(value, str):
        return False
    return is_unit_cell(value) or unit_of(value) is not None or match_header(value, rules)[1] >= STRONG_MATCH


def _is_answer_hint(value: Any) -> bool:
    """A units-row cell telling how to answer: 是/否, 有/无, √/×, （是或否）."""
    text = squash(value).strip("()（）[]【】")
    return bool(re.fullmatch(r"(填)?(是|有|√)[/／或、](否|无|×)", text))


def _is_subheader_row(sheet: RawSheet, row: int, rules: Rules) -> bool:
    cells = [v for v in sheet.rows[row] if v is not None]
    return bool(cells) and all(_header_like(v, rules) for v in cells)


def _columns(sheet: RawSheet, rows: list[int], rules: Rules) -> list[Column]:
    width = max((len(sheet.rows[r]) for r in rows), default=0)
    texts = [_filled_row(sheet, r, width) for r in rows]
    columns = []
    for c in range(width):
        parts = [t[c] for t in texts if t[c]]
        # Dedupe vertically merged text (the same label repeated down a merge).
        layers: list[str] = []
        for p in parts:
            if not layers or layers[-1] != p:
                layers.append(p)
        # The most specific label first: the lowest header row alone, then the joined
        # labels (国家级创新平台 / 数量), then the parent alone (a vertically merged label).
        candidates = [layers[-1], "".join(layers), *reversed(layers[:-1])] if layers else []
        best_field, best_score, best_text = None, 0, "/".join(layers)
        for text in candidates:
            fid, score = match_header(text, rules)
            if score > 0:
                best_field, best_score = fid, score
                break
        unit = None
        for text in reversed(layers):
            unit = unit_of(text)
            if unit:
                break
        if layers or best_field:
            columns.append(Column(index=c, header=best_text, field=best_field, unit=unit, score=best_score))
    return columns


def _filled_row(sheet: RawSheet, r: int, width: int) -> list[str]:
    """Header texts of row r, with horizontally merged labels spread over their span."""
    out = [cell_text(sheet.value(r, c)) for c in range(width)]
    for r0, c0, r1, c1 in sheet.merged:
        if r0 <= r <= r1:
            label = cell_text(sheet.value(r0, c0))
            for c in range(c0, min(c1 + 1, width)):
                out[c] = label
    return out


def _mark_duplicates(columns: list[Column]) -> None:
    seen: dict[str, Column] = {}
    for col in columns:
        if col.field is None:
            continue
        if col.field in seen:
            col.duplicate_of = seen[col.field].index
            col.field = None
        else:
            seen[col.field] = col


def _title(sheet: RawSheet, header_row: int) -> str | None:
    for r in range(header_row):
        texts = [cell_text(v) for v in sheet.rows[r] if v is not None]
        if texts:
            return texts[0]
    return None


def preamble(sheet: RawSheet, header_row: int) -> list[tuple[int, int, str]]:
    """Non-empty cells above the header: (row, col, text) — the title, 填报单位：… lines."""
    out = []
    for r in range(header_row):
        for c, v in enumerate(sheet.rows[r]):
            if v is not None:
                out.append((r, c, cell_text(v)))
    return out


# ----------------------------------------------------------------------------- data rows
def classify_rows(table: Table, file: str, order_fields: Collection[str] = ()) -> tuple[list[int], list[Finding]]:
    """Which rows below the header are applications; the others are reported, never lost.

    ``order_fields``: the numbering columns (the rules' ``order`` and ``seq`` roles); a row that
    holds nothing else is a blank template row or a group title."""
    sheet = table.sheet
    mapped = {c.index: c.field for c in table.columns if c.field}
    order_cols = {i for i, f in mapped.items() if f in order_fields}
    header_texts = {header_key(cell_text(sheet.value(r, c.index))) for r in table.header_rows for c in table.columns}
    rows: list[int] = []
    notes: list[Finding] = []
    in_notes = False
    for r in range(table.data_start, len(sheet.rows)):
        values = [(c, v) for c, v in enumerate(sheet.rows[r]) if v is not None and cell_text(v) != ""]
        if not values:
            continue
        src = Source(file, sheet.name, r + 1, cell_address(r, values[0][0]))
        first = squash(values[0][1])
        if _is_note(first) and len(values) <= 2:
            if not in_notes:  # "第N行起为填表说明": one finding for the block of notes
                notes.append(Finding("note-row-skipped", "info", params={
                    "row": r + 1, "text": cell_text(values[0][1])[:30]}, source=src))
            in_notes = True
            continue
        if in_notes:
            if not _looks_like_data(values, mapped, order_cols):
                continue  # the notes go on (1. 金额单位… 2. …)
            # A row of data after a 说明 row: read it (a 说明 between applications), and say so.
            notes.append(Finding("row-after-notes", "warning", params={"row": r + 1}, source=src))
            in_notes = False
        if any(squash(v).replace(" ", "").startswith(SUMMARY_WORDS) for _, v in values[:3]):
            notes.append(Finding("summary-row-skipped", "info", params={"row": r + 1}, source=src))
            continue
        if header_key(cell_text(values[0][1])) in header_texts and \
                {header_key(cell_text(v)) for _, v in values} <= header_texts:
            continue  # the header repeated (page breaks copied in)
        if len(values) >= 4 and _is_numbering(values):
            continue  # a row of column numbers (1 2 3 …) printed under the header
        if all(c in order_cols for c, _ in values):
            if len(values) == 1 and not cell_text(values[0][1]).rstrip("、.．").isdigit() and \
                    len(cell_text(values[0][1])) > 3:
                # 二、能源电子: a group title between the rows of a table split by industry
                notes.append(Finding("section-row-skipped", "info", params={
                    "row": r + 1, "text": cell_text(values[0][1])[:30]}, source=src))
            else:
                notes.append(Finding("blank-template-row", "info", params={"row": r + 1}, source=src))
            continue
        if all(isinstance(v, str) and squash(v).startswith(EXPLANATION_PREFIXES) for _, v in values):
            # Every cell in brackets or a remark (（含高新区、淄川区两个片区）… under an application):
            # explanations of the row above, not an application.
            notes.append(Finding("explanation-row-skipped", "info", params={
                "row": r + 1, "text": cell_text(values[0][1])[:30]}, source=src))
            continue
        rows.append(r)
    table.data_rows = rows
    return rows, notes


def _is_numbering(values: list[tuple[int, Any]]) -> bool:
    numbers = []
    for _, v in values:
        text = squash(v).strip("()（）")
        if not text.isdigit():
            return False
        numbers.append(int(text))
    return numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def _is_note(text: str) -> bool:
    text = text.lstrip("*＊※")
    return any(text.startswith(p) and (len(text) == len(p) or text[len(p)] in ":：1一、（(" or p in ("填表说明", "填报说明"))
               for p in NOTE_PREFIXES) or bool(re.match(r"^注[0-9一二三:：.、]", text))


def _looks_like_data(values: list[tuple[int, Any]], mapped: dict[int, str], order_cols: set[int]) -> bool:
    return sum(1 for c, _ in values if c in mapped and c not in order_cols) >= settings.MIN_HEADER_MATCHES
