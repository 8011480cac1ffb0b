"""Stage 2 — find the table: header row(s), what each column carries, units, and which rows are
applications.

Works on the plain grid of a :class:`RawSheet`, for any program.  Columns are recognised by
meaning (:mod:`sdbatch.concepts`): every column of the chosen header is scored against every field
of the rules file and the columns are assigned to the fields together.  Units come from the
header, a units row under it, or the table's context (title, lines above the header, 填表说明 rows
or sheets: :func:`unit_statements`).  Rows that belong to one application (vertical merges, a
second contact line, a 备注 continuation) are grouped into one record (:func:`group_records`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from sdbatch import concepts, settings
from sdbatch.catalogue import text as ui_text
from sdbatch.model import Column, Finding, RawSheet, RawWorkbook, Source, Table, cell_address
from sdbatch.rules import Rules
from sdbatch.text import (
    AMOUNT_UNITS,
    BRACKET_CHARS,
    CLOSE_BRACKETS,
    OPEN_BRACKETS,
    cell_text,
    header_key,
    is_unit_cell,
    squash,
    unit_of,
    vocabulary,
)

_ROWS = vocabulary()["rows"]
SUMMARY_WORDS = tuple(_ROWS["summary"])
NOTE_PREFIXES = tuple(_ROWS["notes"])
NOTE_ALWAYS = tuple(_ROWS["notes_always"])  # 填表说明…: a note whatever follows
NOTE_FOLLOWERS = _ROWS["note_followers"]  # 说明：, 注1, 备注（ … : what may follow a note word
NOTE_NUMBERED = tuple(_ROWS["notes_numbered"])  # 注1, 注一, 注：
NOTE_MARKS = _ROWS["note_marks"]  # ※ * before a note
EXPLANATION_PREFIXES = tuple(_ROWS["explanations"])
NUMBER_MARKS = vocabulary()["text"]["enumeration_marks"]  # 1、 2. after a row number
_HINT = _ROWS["answer_hint"]
_ANSWER_HINT = re.compile("({prefix})?({yes})[{seps}]({no})".format(
    prefix="|".join(map(re.escape, _HINT["prefix"])), yes="|".join(map(re.escape, _HINT["yes"])),
    no="|".join(map(re.escape, _HINT["no"])), seps="".join(map(re.escape, _HINT["separators"]))))
_UNITS = vocabulary()["header"]["units"]

STRONG_MATCH = concepts.STRONG  # a full group of key concepts (50+) or an exact alias (100+)


@dataclass
class Located:
    rules: Rules
    table: Table
    score: int
    findings: list[Finding] = field(default_factory=list)
    # Tables of the same program on other sheets that hold other applications (parks split by
    # type over two sheets): read too.  A sheet repeating the chosen one's applications is not.
    more: list[Table] = field(default_factory=list)


# ----------------------------------------------------------------------------- header matching
def match_header(text: Any, rules: Rules) -> tuple[str | None, int]:
    """The canonical field one header names on its own, with a confidence score (0: none).

    Scores: 100+ an exact alias, 50+ a full group of the field's key concepts, less a partial
    reading (:mod:`sdbatch.concepts`).  Within a table the columns are assigned together
    (:func:`find_table`), which may read a column otherwise."""
    return concepts.best_field(cell_text(text), rules)


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
                                 params={"sheet": sheet.name, "detail": ui_text("recognition.no_header")},
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
        # Read too only a table as full as the chosen one holding other applications; a partial
        # table (草稿) or a copy (打印版) is reported, not read.
        if other.score < chosen.score * settings.MORE_TABLE_MIN_SHARE or \
                _repeats(other.table, [chosen.table, *chosen.more], chosen.rules):
            notes.append(Finding("extra-table-sheet", "warning", params={"sheet": sheet.name,
                                                                         "used": chosen.table.sheet.name},
                                 source=Source(_name(raw), sheet.name)))
            continue
        chosen.more.append(other.table)
        notes.append(Finding("more-table-sheet", "info", params={"sheet": sheet.name, "used": chosen.table.sheet.name},
                             source=Source(_name(raw), sheet.name)))
    for table in (chosen.table, *chosen.more):
        others = [s for s in raw.sheets if s is not table.sheet and not s.hidden]
        apply_context_units(table, unit_statements(table, others, chosen.rules), chosen.rules)
    return chosen, notes


def _names_of(table: Table, rules: Rules) -> set[str]:
    """The texts of a table's name column below its header (what tells two tables' rows apart)."""
    column = next((c.index for c in table.columns if c.field == rules.role("name")), None)
    if column is None:
        return set()
    rows = table.sheet.rows[table.data_start:table.data_start + settings.MAX_ROWS]
    return {squash(row[column]) for row in rows if column < len(row) and row[column] not in (None, "")}


def _repeats(table: Table, read: list[Table], rules: Rules) -> bool:
    """Whether a further table holds (mostly) the applications of a table already read: a copy of
    the sheet (打印版, 备份), not more applications.  Without a name column to tell, it is a copy."""
    names = _names_of(table, rules)
    if not names:
        return True
    seen = set().union(*(_names_of(t, rules) for t in read))
    return len(names & seen) * 2 >= len(names)


def _claimed_by_program(sheet: RawSheet, candidates: list[Rules]) -> bool:
    from sdbatch.programs import program_for

    return any(program_for(rules).claims_sheet(sheet) for rules in candidates)


def _name(raw: RawWorkbook) -> str:
    return raw.path.replace("\\", "/").rsplit("/", 1)[-1]


def find_table(sheet: RawSheet, rules: Rules) -> Table | None:
    """Find the header of ``rules``' table in ``sheet``, or None.  The columns of the header found
    are then assigned to the fields together (:func:`assign_columns`)."""
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
                    col.unit_source = "units_row"
                    if col.unit and col.labels:  # the unit tells the measure: 家 is a count, not an amount
                        col.labels = (f"{col.labels[0]}({col.unit})", *col.labels)
                        col.scores, _ = concepts.scores(col.labels, rules, grouped=len(col.labels) > 2)
            header_rows = [*header_rows, data_start]
            data_start += 1
    assign_columns(columns, rules, sheet.hidden_cols)
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
        if match_header(value, rules)[1] >= concepts.EXACT and below is not None and not _header_like(below, rules):
            filled += 1
    return filled >= 2


def _header_like(value: Any, rules: Rules) -> bool:
    """A label rather than a value: a unit (亿元, （家）), or a header naming a field."""
    if not isinstance(value, str):
        return False
    return is_unit_cell(value) or unit_of(value) is not None or match_header(value, rules)[1] >= STRONG_MATCH


def _is_answer_hint(value: Any) -> bool:
    """A units-row cell telling how to answer: 是/否, 有/无, √/×, （是或否）."""
    return bool(_ANSWER_HINT.fullmatch(squash(value).strip(BRACKET_CHARS)))


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
        if not layers:
            continue
        # A unit alone under a label (万元, （家）) is a units row read as a header row: it tells the
        # label's measure.
        unit_below = len(layers) > 1 and is_unit_cell(layers[-1])
        words = layers[:-1] if unit_below else layers
        suffix = f"({layers[-1]})" if unit_below else ""
        # The most specific label first: the lowest header row alone, then the joined labels
        # (国家级创新平台 / 数量), then the parents alone (a vertically merged label).
        labels = tuple(dict.fromkeys([words[-1] + suffix, "".join(words) + suffix, *reversed(words[:-1])]))
        found, _ = concepts.scores(labels, rules, grouped=len(words) > 1)
        plain = [_without_gloss(w) for w in words]
        if plain != words:  # 主导产业\nLeading industry: the Chinese lines read alone as well
            bare = tuple(dict.fromkeys([plain[-1] + suffix, "".join(plain) + suffix, *reversed(plain[:-1])]))
            for fid, value in concepts.scores(bare, rules, grouped=len(plain) > 1)[0].items():
                found[fid] = max(found.get(fid, 0), value)
            labels = tuple(dict.fromkeys([*labels, *bare]))
        best_field, best_score = None, 0
        if found:
            fid, value = max(found.items(), key=lambda kv: (kv[1], kv[0]))
            if value >= concepts.WEAK:
                best_field, best_score = fid, value
        unit, source = None, None
        for label in reversed(layers):
            if is_unit_cell(label):  # 万元 alone: a units row read as the last header row
                unit, source = unit_of(f"({label})"), "units_row"
            else:
                unit, source = unit_of(label), "header"
            if unit:
                break
        columns.append(Column(index=c, header="/".join(layers), field=best_field, unit=unit, score=best_score,
                              unit_source=source if unit else None, scores=found, labels=labels))
    return columns


def assign_columns(columns: list[Column], rules: Rules, hidden: AbstractSet[int] = frozenset()) -> None:
    """Give the columns to the fields together (one column per field, the best total) and say how
    sure each reading is; mark yes/no columns whose header states a negation, and a total's column
    that carries only some of its parts beside columns of the others.  Of two columns naming a
    field alike, a ``hidden`` one gives way to the one the city sees (an old value kept out of
    sight beside the corrected one)."""
    board = concepts.Board([c.index for c in columns], {
        c.index: {f: s - 1 for f, s in c.scores.items()} if c.index in hidden else dict(c.scores)
        for c in columns})
    result = concepts.assign(board)
    for col in columns:
        a = result[col.index]
        col.field, col.score, col.level, col.rivals = a.field, a.score, a.level, a.rivals
        col.duplicate_of = a.duplicate_of
        if col.field is None:
            continue
        f = rules.fields[col.field]
        reading = _reading_for(col, rules)
        col.negated = f.type == "bool" and reading.negated
    book = concepts.profiles(rules)
    held = {c.field: c for c in columns if c.field}
    for col in columns:
        total = rules.fields.get(col.field or "")
        if total is None or not total.parts:
            continue
        profile = book.by_id(total.id)
        named = concepts.parts_named(_reading_for(col, rules), profile, rules) if profile else ()
        beside = [p for p in total.parts if p in held and p not in named]
        if named and beside and len(named) < len(total.parts):
            col.parts = named  # 专利及软件著作权 beside 科技奖励: the total is their sum


def _reading_for(col: Column, rules: Rules) -> concepts.Reading:
    """The reading of the label that gave the column its field."""
    best = None
    for label in col.labels:
        value = concepts.field_scores(label, rules).get(col.field or "", 0)
        if best is None or value > best[0]:
            best = (value, label)
    return concepts.read_header(best[1] if best else col.header)


_CJK = re.compile(r"[\u3400-\u9fff]")


def _without_gloss(text: str) -> str:
    """A header written in two languages, one per line (主导产业\nLeading industry): the Chinese
    lines name the column; an English gloss would only add words of other fields (leading)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or not any(_CJK.search(line) for line in lines):
        return text
    return "\n".join(line for line in lines if _CJK.search(line) or not re.search(r"[A-Za-z]", line))


def _filled_row(sheet: RawSheet, r: int, width: int) -> list[str]:
    """Header texts of row r, with horizontally merged labels spread over their span.  A text longer
    than any header (a paragraph) is no label."""
    out = [_label(sheet.value(r, c)) for c in range(width)]
    for r0, c0, r1, c1 in sheet.merged:
        if r0 <= r <= r1:
            label = _label(sheet.value(r0, c0))
            for c in range(c0, min(c1 + 1, width)):
                out[c] = label
    return out


def _label(value: Any) -> str:
    text = cell_text(value)
    return text if len(text) <= settings.MAX_HEADER_CHARS else ""


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


# ----------------------------------------------------------------------------- units from context
@dataclass(frozen=True)
class UnitStatement:
    """A unit stated for the amounts of a table outside their headers (单位：万元)."""

    unit: str
    fields: tuple[str, ...]  # the amount fields it names; empty: every amount column
    text: str  # the statement as written (a clause of the cell)
    sheet: str
    row: int  # 0-based
    col: int


_UNIT_WORDS = "|".join(re.escape(u) for u in sorted(AMOUNT_UNITS, key=len, reverse=True) if not u.isascii())
_INTRODUCERS = "|".join(re.escape(w) for w in sorted(_UNITS["introducers"], key=len, reverse=True))
_TEXT = vocabulary()["text"]
_ENDS = re.escape(_TEXT["sentence_ends"])
# After squash (NFKC) the full-width ，：；（） are ASCII; the sentence ends and 、 are not.
_STATEMENT = re.compile(rf"(?P<subject>[^,;:(){_ENDS}]*?)(?:{_INTRODUCERS})[^,;{_ENDS}\d]{{0,4}}?(?P<unit>{_UNIT_WORDS})")
_BRACKETED_UNIT = re.compile(rf"[(\[](?P<unit>{_UNIT_WORDS})[)\]]")
_CLAUSES = re.compile(rf"[{_ENDS}\n]|(?<=,)|\d+[{re.escape(_TEXT['enumeration_marks'])}]"
                      rf"|[{_TEXT['chinese_digits']}]+[{re.escape(_TEXT['enumeration_marks'])}]")


def unit_statements(table: Table, other_sheets: list[RawSheet], rules: Rules) -> list[UnitStatement]:
    """Units of the amounts stated around the table: in the title and the lines between it and the
    header (also at their right end), in 填表说明/备注 rows under the table, and in a sheet of
    instructions beside it."""
    sheet = table.sheet
    cells: list[tuple[RawSheet, int, int, str]] = []
    for r, c, text in preamble(sheet, table.header_rows[0]):
        cells.append((sheet, r, c, text))
    for r in range(table.data_start, len(sheet.rows)):
        values = [(c, v) for c, v in enumerate(sheet.rows[r]) if isinstance(v, str) and v.strip()]
        if values and len(values) <= 2 and any(w in squash(v) for _, v in values for w in _UNITS["introducers"]):
            cells.extend((sheet, r, c, cell_text(v)) for c, v in values)
    for other in other_sheets:
        first = next((cell_text(v) for row in other.rows[:3] for v in row if v is not None), "")
        if squash(other.name).startswith(tuple(_UNITS["instruction_sheets"])) or \
                squash(first).startswith(tuple(_UNITS["instruction_sheets"])):
            for r, row in enumerate(other.rows[:200]):
                for c, v in enumerate(row[:20]):
                    if isinstance(v, str) and v.strip():
                        cells.append((other, r, c, cell_text(v)))
    out: list[UnitStatement] = []
    introducers = tuple(_UNITS["introducers"])
    for where, r, c, text in cells:
        for clause in _CLAUSES.split(squash(text)):
            if not clause or len(clause) > settings.MAX_STATEMENT_CHARS or \
                    (not any(w in clause for w in introducers) and not _BRACKETED_UNIT.search(clause)):
                continue
            found = _STATEMENT.search(clause) or _BRACKETED_UNIT.search(clause)
            if not found:
                continue
            unit = found.group("unit")
            subject = found.groupdict().get("subject") or ""
            shown = clause.strip(_TEXT["list_separators"] + _TEXT["sentence_ends"] + ",;")
            out.append(UnitStatement(unit, _amount_fields(subject, rules), shown, where.name, r, c))
    return out


def _amount_fields(subject: str, rules: Rules) -> tuple[str, ...]:
    """The amount fields a statement's subject names (研发投入、销售收入单位：万元); none: all."""
    subject = subject.strip()
    if not subject or subject in _UNITS["all_amounts"]:
        return ()
    named: list[str] = []
    for part in re.split("[" + re.escape(_TEXT["list_separators"]) + "]", subject):
        fid, value = match_header(part, rules)
        if fid and value >= STRONG_MATCH and rules.fields[fid].type == "amount":
            named.append(fid)
    return tuple(dict.fromkeys(named))


def apply_context_units(table: Table, statements: list[UnitStatement], rules: Rules) -> None:
    """Each amount column without a unit of its own takes the unit stated for it (a statement that
    names it before one for every amount); a column whose header states another unit keeps its
    own, and the statement is kept on it (a conflict, reported by normalise)."""
    table.unit_notes = list(statements)
    if not statements:
        return
    for col in table.columns:
        f = rules.fields.get(col.field or "")
        if f is None or f.type != "amount":
            continue
        named = [s for s in statements if col.field in s.fields]
        general = [s for s in statements if not s.fields]
        if not named and not general:
            continue
        statement = (named or general)[0]
        if col.unit is None:
            col.unit, col.unit_source, col.unit_note = statement.unit, "context", statement
        elif col.unit in AMOUNT_UNITS and _unit_name(col.unit) != _unit_name(statement.unit):
            col.unit_note = statement  # the header says otherwise: the header wins, a finding says so


def _unit_name(unit: str) -> str:
    return str(vocabulary()["units"]["short"].get(unit, unit))


# ----------------------------------------------------------------------------- data rows
def classify_rows(table: Table, file: str, order_fields: Collection[str] = (),
                  continuation_fields: Collection[str] = ()) -> tuple[list[int], list[Finding]]:
    """Which rows below the header are applications; the others are reported, never lost.

    ``order_fields``: the numbering columns (the rules' ``order`` and ``seq`` roles); a row that
    holds nothing else is a blank template row or a group title.  ``continuation_fields``: fields
    an application may continue on a row of its own (a second contact, a 备注 going on): such a
    row right under an application is kept, for :func:`group_records`."""
    sheet = table.sheet
    mapped = {c.index: c.field for c in table.columns if c.field}
    order_cols = {i for i, f in mapped.items() if f in order_fields}
    going_on = {i for i, f in mapped.items() if f in continuation_fields}
    header_texts = {header_key(cell_text(sheet.value(r, c.index))) for r in table.header_rows for c in table.columns}
    rows: list[int] = []
    notes: list[Finding] = []
    in_notes = False
    for r in range(table.data_start, len(sheet.rows)):
        values = [(c, v) for c, v in enumerate(sheet.rows[r])
                  if v is not None and (not isinstance(v, str) or v.strip())]
        if not values:
            continue
        src = Source(file, sheet.name, r + 1, cell_address(r, values[0][0]))
        first = squash(values[0][1]) if len(values) <= 2 else ""  # a note holds one or two cells
        if first and _is_note(first) and not (rows and rows[-1] == r - 1 and all(c in going_on for c, _ in values)):
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
        if any(isinstance(v, str) and squash(v).startswith(SUMMARY_WORDS) for _, v in values[:3]):
            notes.append(Finding("summary-row-skipped", "info", params={"row": r + 1}, source=src))
            continue
        if isinstance(values[0][1], str) and header_key(values[0][1]) in header_texts and \
                {header_key(cell_text(v)) for _, v in values} <= header_texts:
            continue  # the header repeated (page breaks copied in)
        if len(values) >= 4 and _is_numbering(values):
            continue  # a row of column numbers (1 2 3 …) printed under the header
        if all(c in order_cols for c, _ in values):
            if len(values) == 1 and not cell_text(values[0][1]).rstrip(NUMBER_MARKS).isdigit() and \
                    len(cell_text(values[0][1])) > 3:
                # 二、能源电子: a group title between the rows of a table split by industry
                notes.append(Finding("section-row-skipped", "info", params={
                    "row": r + 1, "text": cell_text(values[0][1])[:30]}, source=src))
            else:
                notes.append(Finding("blank-template-row", "info", params={"row": r + 1}, source=src))
            continue
        if rows and rows[-1] == r - 1 and all(c in going_on for c, _ in values):
            rows.append(r)  # a second contact, a 备注 going on: part of the application above
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
        if isinstance(v, str) and not v[:1].isdigit() and v[:1] not in BRACKET_CHARS and not v[:1].isspace():
            return False  # a name, a word: not a column number (cheap: this is asked of every row)
        text = squash(v).strip(BRACKET_CHARS)
        if not text.isdigit():
            return False
        numbers.append(int(text))
    return numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def _is_note(text: str) -> bool:
    text = text.lstrip(NOTE_MARKS)
    if text.startswith(NOTE_ALWAYS):
        return True
    if any(text.startswith(p) and (len(text) == len(p) or text[len(p)] in NOTE_FOLLOWERS) for p in NOTE_PREFIXES):
        return True
    return any(text.startswith(p) and len(text) > len(p) and text[len(p)] in _ROWS["numbered_followers"]
               for p in NOTE_NUMBERED)


def _looks_like_data(values: list[tuple[int, Any]], mapped: dict[int, str], order_cols: set[int]) -> bool:
    return sum(1 for c, _ in values if c in mapped and c not in order_cols) >= settings.MIN_HEADER_MATCHES


# ----------------------------------------------------------------------------- records
def continuation_fields(rules: Rules) -> frozenset[str]:
    """Fields an application may write on more than one row (a second contact, phone, e-mail, a
    remark going on): text-like, needed by no check and playing no role."""
    decisive = {f.id for f in rules.fields.values() if f.required}
    for cond in rules.conditions:
        if cond.severity != "warning":  # a format check of a phone number decides nothing
            decisive.update([cond.field] if cond.field else [a.field for a in cond.any_of])
    return frozenset(f.id for f in rules.fields.values()
                     if f.type in ("text", "phone", "email") and f.id not in decisive
                     and f.id not in rules.role_fields)


def group_records(table: Table, rows: list[int], rules: Rules) -> list[list[int]]:
    """The applications of the table as records of rows.  A row continues the application above it
    when its name cell is part of a merge that starts in that application, or when it has no name
    of its own and holds nothing but a second contact, phone, e-mail or remark.  A row right
    under an application that holds nothing but text in text columns (the name, 申报主体, a remark,
    a column the rules do not know) carries their text going on (:func:`_wraps`)."""
    sheet = table.sheet
    name_field = rules.role("name")
    name_col = next((c.index for c in table.columns if c.field == name_field), None)
    if name_col is None:
        table.records = [[r] for r in rows]
        return table.records
    going_on = {c.index for c in table.columns if c.field in continuation_fields(rules)}
    texts = {c.index for c in table.columns
             if (c.field is None and c.header) or (c.field and rules.fields[c.field].type == "text")}
    vertical = _vertical_merges(sheet, name_col)
    records: list[list[int]] = []
    for r in rows:
        if records and _continues(sheet, records[-1], r, name_col, going_on, vertical):
            records[-1].append(r)
        elif records and _wraps(sheet, records[-1], r, name_col, texts, rules.entity):
            records[-1].append(r)
            table.wrapped.add(r)
        else:
            records.append([r])
    table.records = records
    return records


def _wraps(sheet: RawSheet, record: list[int], r: int, name_col: int, texts: set[int], entity: str) -> bool:
    """Whether row ``r`` carries text going on from the application above: right under it, only
    text, only in text columns (no number, code, city, industry or 是/否 of its own), and its name,
    if any, cannot be a name of its own (the name above is not whole: it does not end with what an
    application is called, 集群 or 园区, before a bracketed remark).  Asked of every row: the usual
    one (a whole name above, a number of its own) is answered at its first cells."""
    if r != record[-1] + 1:
        return False
    above = cell_text(sheet.value(record[0], name_col))
    if not above:
        return False
    if cell_text(sheet.value(r, name_col)) and entity and \
            _TRAILING_REMARK.sub("", above.strip()).rstrip().endswith(entity):
        return False
    found = False
    for c, v in enumerate(sheet.rows[r]):
        if v is None:
            continue
        if not isinstance(v, str):
            return False
        if v.strip():
            if c not in texts:
                return False
            found = True
    return found


_TRAILING_REMARK = re.compile(f"[{re.escape(OPEN_BRACKETS)}][^{re.escape(BRACKET_CHARS)}]*[{re.escape(CLOSE_BRACKETS)}]$")


def _vertical_merges(sheet: RawSheet, col: int) -> dict[int, int]:
    """Row -> first row of the vertical merge covering (row, col)."""
    out: dict[int, int] = {}
    for r0, c0, r1, c1 in sheet.merged:
        if c0 <= col <= c1 and r1 > r0:
            for r in range(r0 + 1, r1 + 1):
                out[r] = r0
    return out


def _continues(sheet: RawSheet, record: list[int], r: int, name_col: int, going_on: set[int],
               vertical: dict[int, int]) -> bool:
    if cell_text(sheet.value(r, name_col)):
        return False  # a name of its own: a new application
    if vertical.get(r) in record:
        return True  # the name is merged down over this row
    if r != record[-1] + 1:
        return False
    own = [c for c, v in enumerate(sheet.rows[r]) if v is not None and cell_text(v)]
    return bool(own) and all(c in going_on for c in own)

