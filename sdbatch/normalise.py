"""Stage 3 — values as written -> canonical values (亿元, percent, 是/否, cities, choices).

Each parser takes any cell value and returns a :class:`Parsed`: the canonical value, or a
finding code saying why there is none.  Parsers never raise and never return a silent None
for something that was written: an unparseable value always carries a code.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdbatch import settings
from sdbatch.header import classify_rows, preamble
from sdbatch.jurisdiction import Jurisdiction
from sdbatch.model import Application, Finding, Source, Table, cell_address, column_letter
from sdbatch.rules import Choices, FieldRule, Rules
from sdbatch.text import AMOUNT_UNITS, cell_text, nfkc, squash, vocabulary

# Written forms of "nothing here" (SPEC §2.1).  For yes/no fields 无 means "no", not blank.
BLANKS = frozenset(vocabulary()["values"]["blanks"])
TRUE_WORDS = tuple(vocabulary()["values"]["yes"])
UNKNOWN_WORDS = tuple(vocabulary()["values"]["unknown"])
FALSE_WORDS = tuple(vocabulary()["values"]["no"])

_FOOTNOTE_MARKS = re.compile(r"[\u2460-\u24ff\u2776-\u2793\u00b9\u00b2\u00b3\u2070-\u2079\u2080-\u2089*※#△▲]+")
_TRAILING_NOTE = re.compile(r"\s*[（(][^（()）]*[）)]\s*$")


def _strip_footnotes(text: str) -> tuple[str, bool]:
    """``52.3*``, ``18①``, ``86.4（注2）``, ``1家（东营某公司）`` -> the number part, and whether
    something was removed.  Done before NFKC, which would turn ① into a digit 1."""
    cleaned = _FOOTNOTE_MARKS.sub("", text)
    while _TRAILING_NOTE.search(cleaned) and re.search(r"\d", _TRAILING_NOTE.sub("", cleaned)):
        cleaned = _TRAILING_NOTE.sub("", cleaned)
    return cleaned, cleaned != text


_NUMBER = re.compile(r"^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:e([+-]?\d+))?$")


@dataclass(frozen=True)
class Parsed:
    value: Any = None
    code: str | None = None  # why there is no value (unparseable-value, negative-value…)
    how: str | None = None  # how the written value was converted, for a value-converted finding
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def missing(self) -> bool:
        return self.value is None and self.code is None


MISSING = Parsed()


def is_blank(value: Any, *, yes_no: bool = False) -> bool:
    if value is None or (isinstance(value, float) and value != value):  # NaN: an empty cell via pandas
        return True
    if isinstance(value, str):
        text = squash(value)
        if yes_no and text in ("无", "暂无"):  # 有无不良信用记录: 暂无 is an answer, 无
            return False
        return text in BLANKS
    return False


# ----------------------------------------------------------------------------- numbers
def parse_number(value: Any) -> Parsed:
    """A number as written: ``2,380``, ``３．５``, ``52.3亿元``, ``3.5%``, ``约30``.

    The value is returned as written (no unit conversion); ``params`` carry a unit found in
    the cell (``unit``) and whether a percent sign was present (``percent``).
    """
    if isinstance(value, bool):
        return Parsed(code="unparseable-value", params=(("expected", "数字"),))
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")) or abs(value) > 1e300:
            return Parsed(code="unparseable-value", params=(("expected", "数字"),))
        return Parsed(value)
    if isinstance(value, dt.datetime) and value.year < 1910 and value.time() == dt.time(0):
        # A number typed into a date-formatted cell (5 shows as 1900-01-05): its serial is the number.
        base = dt.datetime(1899, 12, 31) if value < dt.datetime(1900, 3, 1) else dt.datetime(1899, 12, 30)
        return Parsed((value - base).days, how="单元格为日期格式，按数值读取")
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return Parsed(code="unparseable-value", params=(("expected", "数字（不应为日期）"),))
    if is_blank(value):
        return MISSING
    raw_text, footnote = _strip_footnotes(str(value))
    text = squash(raw_text)
    text = text.replace("，", ",").replace("。", ".")
    notes = ["去掉标注或括号中的说明"] if footnote else []
    if re.fullmatch(r"\(\s*[\d.,]+\s*\)", text):  # (5): accounting notation for -5
        text = "-" + text[1:-1]
    if text.startswith(("≥", ">=", "＞", ">")):
        text = text.lstrip("≥>=＞")
        notes.append("去掉“≥”")
    if text.startswith(("约", "近", "超", "逾", "≈", "~")):
        text = text[1:]
        notes.append("去掉“约/近”等字样")
    unit = None
    units = sorted([*AMOUNT_UNITS, "%", "家", "个", "项", "件", "人"], key=len, reverse=True)
    stripped = True
    while stripped:  # 1000项以上, 30余家, 52亿元+: units and 以上/余/多 in any order
        stripped = False
        for suffix in ("以上", "余", "多", "+"):
            if text.endswith(suffix) and len(text) > len(suffix):
                text = text[: -len(suffix)]
                notes.append("去掉“余/多/以上”等字样")
                stripped = True
        for word in units:
            if unit is None and text.endswith(word) and len(text) > len(word):
                unit = word
                text = text[: -len(word)]
                stripped = True
                break
    percent = unit == "%"
    if percent:
        unit = None
    text = re.sub(r"(?<=\d)[,\s'](?=\d{3})", "", text)  # thousands separators
    m = _NUMBER.match(text)
    if not m:
        return Parsed(code="unparseable-value", params=(("expected", "数字"),))
    try:
        number = float(m.group(1) + m.group(2) + (f"e{m.group(3)}" if m.group(3) else ""))
    except (ValueError, OverflowError):
        return Parsed(code="unparseable-value", params=(("expected", "数字"),))
    if number != number or abs(number) == float("inf"):
        return Parsed(code="unparseable-value", params=(("expected", "数字"),))
    if number.is_integer() and abs(number) < 1e15:
        number = int(number)
    how = "；".join(notes) or None
    return Parsed(number, how=how, params=(("unit", unit), ("percent", percent)))


def to_amount(parsed: Parsed, column_unit: str | None, target: str) -> Parsed:
    """A parsed number in the cell's or column's unit -> ``target`` (亿元)."""
    if parsed.value is None:
        return parsed
    params = dict(parsed.params)
    unit = params.get("unit") if params.get("unit") in AMOUNT_UNITS else column_unit
    unit = {"亿": "亿元", "万": "万元"}.get(unit or "", unit)  # 52.3亿 is 52.3 亿元
    if unit not in AMOUNT_UNITS:
        unit = None
    value = parsed.value
    if unit and unit != target:
        try:
            value = round(value * AMOUNT_UNITS[unit] / AMOUNT_UNITS[target], 8)
        except OverflowError:
            return Parsed(code="unparseable-value", params=(("expected", "数字"),))
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        how = f"{unit}→{target}"
        return Parsed(value, how="；".join(x for x in (parsed.how, how) if x), params=(("from_unit", unit),))
    return Parsed(value, how=parsed.how, params=(("from_unit", unit),))


def to_percent(parsed: Parsed, *, percent_format: bool) -> Parsed:
    """A ratio as written -> percent.  ``3.5%`` and 0.035 in a ``0.0%`` cell and 3.5 are all 3.5.

    A plain number below 1 is read as a fraction (0.035 -> 3.5 %) and reported as converted.
    """
    if parsed.value is None:
        return parsed
    params = dict(parsed.params)
    value = parsed.value
    if params.get("percent"):
        return Parsed(value, how=parsed.how)
    if percent_format:
        return Parsed(round(value * 100, 8), how="百分比格式单元格：小数×100")
    if 0 < value < 1:
        return Parsed(round(value * 100, 8), how="按小数换算为百分数（×100）")
    return Parsed(value, how=parsed.how)


def to_count(parsed: Parsed) -> Parsed:
    if parsed.value is None:
        return parsed
    value = parsed.value
    unit = dict(parsed.params).get("unit")
    if unit in ("万", "亿"):  # 1.2万 (项) is 12000
        value = round(value * (10_000 if unit == "万" else 100_000_000), 6)
        parsed = Parsed(value, how="；".join(x for x in (parsed.how, f"{unit}→个数") if x))
    elif unit in ("万元", "亿元", "千元", "百万元", "元"):
        return Parsed(code="unparseable-value", params=(("expected", "个数（不应带金额单位）"),))
    if isinstance(value, float):
        if not value.is_integer():
            return Parsed(code="unparseable-value", params=(("expected", "整数"),))
        value = int(value)
    return Parsed(value, how=parsed.how)


# ----------------------------------------------------------------------------- yes / no
def parse_bool(value: Any) -> Parsed:
    if isinstance(value, bool):
        return Parsed(value)
    if isinstance(value, (int, float)):
        if value != value:
            return MISSING
        if value in (0, 1):
            return Parsed(bool(value))
        return Parsed(code="unparseable-value", params=(("expected", "是/否（或有/无）"),))
    if is_blank(value, yes_no=True):
        return MISSING
    text = squash(value)
    if text.startswith(UNKNOWN_WORDS):
        return Parsed(code="unparseable-value", params=(("expected", "是/否（或有/无）"),))
    for word in FALSE_WORDS:
        if text.startswith(word):
            return Parsed(False)
    for word in TRUE_WORDS:
        if text.startswith(word):
            return Parsed(True)
    return Parsed(code="unparseable-value", params=(("expected", "是/否（或有/无）"),))


# ----------------------------------------------------------------------------- cities
def parse_city(value: Any, jurisdiction: Jurisdiction) -> Parsed:
    """One of the jurisdiction's cities in any common writing; 莱芜 -> 济南市 with code legacy-city."""
    if is_blank(value):
        return MISSING
    text = squash(value)
    found = find_city(text, jurisdiction)
    if found is None:
        return Parsed(code="unknown-city")
    city, legacy = found
    return Parsed(city, code=None, how="legacy" if legacy else None)


def find_city(text: str, jurisdiction: Jurisdiction) -> tuple[str, bool] | None:
    """The first city named in ``text`` (earliest position), and whether it was a legacy name."""
    return jurisdiction.find_city(text)


# ----------------------------------------------------------------------------- choices (industries…)
_LATIN = re.compile(r"[a-z]+")


def parse_choice(value: Any, choices: Choices) -> Parsed:
    """A choice such as an industry: canonical name, a listed variant, or a name inside the text.

    ``how`` is "variant" when a variant was used, "several" when several choices are named
    (the first named is taken).  Nothing recognisable -> code "unknown-choice".
    """
    if is_blank(value):
        return MISSING
    raw = squash(value)
    key = re.sub(r"[（(【\[].*?[）)】\]]", "", raw).strip(" 、,，.。;；")
    for canon in choices.allowed:
        if key == squash(canon):
            return Parsed(canon)
    for canon, forms in choices.variants.items():
        if key in {squash(f) for f in forms}:
            return Parsed(canon, how="variant")
    hits: list[tuple[int, str]] = []
    for canon in choices.allowed:
        pos = raw.find(squash(canon))
        if pos >= 0:
            hits.append((pos, canon))
    if not hits:
        words = set(_LATIN.findall(raw))
        for canon, forms in choices.variants.items():
            for form in forms:
                f = squash(form)
                if _LATIN.fullmatch(f):
                    if f in words:
                        hits.append((raw.find(f), canon))
                elif len(f) >= 2 and f in raw:
                    hits.append((raw.find(f), canon))
    if not hits:
        return Parsed(code="unknown-choice")
    hits.sort()
    distinct = list(dict.fromkeys(canon for _, canon in hits))
    if len(distinct) > 1:
        # 新型电子材料、集成电路（主要）: the one marked 主要 / 为主 is the main direction.
        for part in re.split(r"[、,，/;；]|和|及|与", raw):
            if "主要" in part or "(主)" in part or part.endswith("为主"):
                main = parse_choice(part.replace("主要", "").replace("(主)", "").removesuffix("为主"), choices)
                if main.value is not None:
                    return Parsed(main.value, how="variant")
    return Parsed(distinct[0], how="several" if len(distinct) > 1 else "variant")


# ----------------------------------------------------------------------------- codes and contacts
def parse_uscc(value: Any) -> Parsed:
    """统一社会信用代码: 18 characters with a valid check digit (python-stdnum)."""
    from stdnum import exceptions
    from stdnum.cn import uscc

    if is_blank(value):
        return MISSING
    text = re.sub(r"[\s\-—_]", "", nfkc(value)).upper()
    try:
        return Parsed(uscc.validate(text))
    except exceptions.InvalidLength:
        return Parsed(code="invalid-credit-code", params=(("detail", f"长度为{len(text)}位，应为18位"),))
    except exceptions.InvalidChecksum:
        return Parsed(code="invalid-credit-code", params=(("detail", "校验位不正确"),))
    except exceptions.ValidationError:
        return Parsed(code="invalid-credit-code", params=(("detail", "含有不允许的字符"),))


_MOBILE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^(?:\+?86)?(?:0\d{2,3})?[2-9]\d{6,7}(?:(?:转|ext|-)\d{1,6})?$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")


def parse_phone(value: Any) -> Parsed:
    if is_blank(value):
        return MISSING
    text = cell_text(nfkc(value))
    numbers = [p for p in re.split(r"[/、,，;；]+|或", text) if p.strip()]
    for number in numbers:
        compact = re.sub(r"[()（）\s]", "", number).replace("—", "-")
        plain = compact.replace("-", "")
        if not (_MOBILE.match(plain) or _LANDLINE.match(compact) or _LANDLINE.match(plain)):
            return Parsed(text, code="invalid-phone")
    return Parsed(text)


def parse_email(value: Any) -> Parsed:
    if is_blank(value):
        return MISSING
    text = nfkc(value).strip()
    if not _EMAIL.match(text):
        return Parsed(text, code="invalid-email")
    return Parsed(text)


_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def parse_text(value: Any) -> Parsed:
    """Text as written, spaces collapsed; control and direction-override characters removed
    (invisible in Excel, they can make a name display as something else)."""
    if is_blank(value):
        return MISSING
    if isinstance(value, (dt.date, dt.datetime)):
        return Parsed(value.isoformat())
    text = re.sub(r"\s+", " ", _INVISIBLE.sub("", cell_text(value))).strip()
    return Parsed(text) if text else Parsed(code="unparseable-value", params=(("expected", "文字"),))


_CHINESE_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
                   "九": 9}


def chinese_int(text: str) -> int | None:
    """一 … 九十九 as written in 序号/推荐排序 (一、（三）、十二); None for anything else."""
    text = text.strip("()（）、.．。 ")
    if not text or any(ch not in _CHINESE_DIGITS and ch != "十" for ch in text) or len(text) > 3:
        return None
    if "十" not in text:
        return _CHINESE_DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    return (_CHINESE_DIGITS[tens] if tens else 1) * 10 + (_CHINESE_DIGITS[ones] if ones else 0)


def parse_int(value: Any) -> Parsed:
    """An order or row number: 3, ``3.``, ``第3``, ``第三名``, ``（三）``, ``一、``."""
    if isinstance(value, str) and not is_blank(value):
        text = squash(value).strip("()（）、.．。")
        text = text.removeprefix("第")
        for suffix in ("名", "位", "个"):
            text = text.removesuffix(suffix)
        number = chinese_int(text)
        if number is not None:
            return Parsed(number)
        if is_blank(text):  # only brackets and a blank word left: not a number
            return Parsed(code="unparseable-value", params=(("expected", "整数"),))
        value = text
    return to_count(parse_number(value))


# ----------------------------------------------------------------------------- one field
def normalise_value(f: FieldRule, value: Any, *, column_unit: str | None, percent_format: bool,
                    rules: Rules) -> Parsed:
    """Dispatch on the field's type. Never raises."""
    kind = f.type
    if kind in ("text",):
        return parse_text(value)
    if kind == "int":
        return parse_int(value)
    if kind == "count":
        parsed = to_count(parse_number(value))
        return _non_negative(parsed)
    if kind == "number":
        return _non_negative(parse_number(value))
    if kind == "amount":
        return _non_negative(to_amount(parse_number(value), column_unit, f.unit or "亿元"))
    if kind == "ratio":
        number = parse_number(value)
        if column_unit == "%" and not percent_format and number.value is not None \
                and not dict(number.params).get("percent"):
            # The header says (%): 0.8 is 0.8 %.  If the amounts say 80 %, _derive corrects it.
            return _non_negative(Parsed(number.value, how=number.how,
                                        params=(("fraction_candidate", 0 < number.value < 1),)))
        return _non_negative(to_percent(number, percent_format=percent_format))
    if kind == "bool":
        return parse_bool(value)
    if kind == "city":
        return parse_city(value, rules.jurisdiction)
    if kind == "choice":
        return parse_choice(value, rules.choices[f.choices or ""])
    if kind == "uscc":
        return parse_uscc(value)
    if kind == "phone":
        return parse_phone(value)
    if kind == "email":
        return parse_email(value)
    if kind == "date":
        return parse_text(value)
    return parse_text(value)


def _non_negative(parsed: Parsed) -> Parsed:
    if isinstance(parsed.value, (int, float)) and parsed.value < 0:
        return Parsed(code="negative-value")
    return parsed


# ----------------------------------------------------------------------------- a table -> applications
@dataclass
class FileCity:
    city: str | None
    where: str | None = None  # 填报单位 / 标题 / 文件名 / 工作表名
    text: str | None = None
    legacy: bool = False
    findings: list[Finding] = field(default_factory=list)


def city_of_file(table: Table, file_name: str, jurisdiction: Jurisdiction) -> FileCity:
    """The city a file speaks for, from a 填报单位 line, the title, the file name or sheet name."""
    lines = preamble(table.sheet, table.header_rows[0])
    # Notes below the table may carry 填报单位 too.
    for r in range(table.data_start, len(table.sheet.rows)):
        for c, v in enumerate(table.sheet.rows[r]):
            if isinstance(v, str) and "填报单位" in v:
                lines.append((r, c, cell_text(v)))
    sources = []
    for _, _, text in lines:
        if "填报单位" in text or "报送单位" in text or "推荐单位" in text:
            sources.append(("填报单位", text))
    for _, _, text in lines:
        sources.append(("标题", text))
    sources.append(("文件名", Path(file_name).stem))
    sources.append(("工作表名", table.sheet.name))
    for where, text in sources:
        hit = find_city(squash(text), jurisdiction)
        if hit:
            return FileCity(hit[0], where, text, hit[1])
    return FileCity(None)


def build_applications(table: Table, rules: Rules, file: str, file_city: FileCity) -> tuple[list[Application], list[Finding]]:
    """Every data row of the table as an Application with canonical values and findings."""
    sheet = table.sheet
    file_findings: list[Finding] = []
    rows, row_notes = classify_rows(table, file, _order_fields(rules))
    file_findings.extend(row_notes)
    by_field = {c.field: c for c in table.columns if c.field}
    defaults = _values_from_title(table, rules, file, by_field)
    for col in table.columns:
        src = Source(file, sheet.name, table.header_rows[0] + 1, cell_address(table.header_rows[0], col.index))
        if col.duplicate_of is not None:
            first = next(c for c in table.columns if c.index == col.duplicate_of)
            file_findings.append(Finding("duplicate-column", "warning", field=first.field, params={
                "column": column_letter(col.index), "header": col.header, "first": column_letter(first.index),
                "label": rules.label(first.field)}, source=src))
        elif col.field is None and col.header:
            file_findings.append(Finding("unknown-column", "warning", params={
                "column": column_letter(col.index), "header": col.header}, source=src))
    for f in rules.fields.values():
        covered = f.id in by_field or (f.parts and any(p in by_field for p in f.parts)) or \
            (f.derive and f.derive["numerator"] in by_field and f.derive["denominator"] in by_field)
        if f.required and not covered and f.id != rules.role("city") and f.id not in defaults:
            file_findings.append(Finding("missing-column", "error", field=f.id, clause=f.clause,
                                         params={"label": f.label}, source=Source(file, sheet.name)))
        if f.type == "amount" and f.id in by_field and by_field[f.id].unit is None:
            col = by_field[f.id]
            file_findings.append(Finding("unit-assumed", "info", field=f.id, params={"label": f.label, "unit": f.unit},
                                         source=Source(file, sheet.name, table.header_rows[0] + 1,
                                                       cell_address(table.header_rows[0], col.index))))

    apps: list[Application] = []
    for n, r in enumerate(rows):
        app = _application(table, rules, file, file_city, r, by_field, n)
        for fid, (value, text) in defaults.items():
            app.values[fid] = value
            app.findings.append(Finding("value-from-title", "info", field=fid, params={
                "label": rules.label(fid), "text": text[:40], "value": value}, source=app.source))
            if fid == rules.group_field:
                app.industry = value
        apps.append(app)
    return apps, file_findings


def _order_fields(rules: Rules) -> frozenset[str]:
    """The numbering columns (the city's own order, 序号): a row holding only these is blank."""
    return frozenset(fid for fid in (rules.role("order"), rules.role("seq")) if fid)


def _values_from_title(table: Table, rules: Rules, file: str, by_field: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    """The application type written once for the whole table (a title 园区汇总表（产业数字化园区）
    or the file name) when the table has no column for it."""
    fid = rules.type_field
    if not fid or fid in by_field or fid not in rules.fields:
        return {}
    f = rules.fields[fid]
    if f.type != "choice":
        return {}
    texts = [text for _, _, text in preamble(table.sheet, table.header_rows[0])]
    texts += [Path(file).stem, table.sheet.name]
    for text in texts:
        parsed = parse_choice(text, rules.choices[f.choices or ""])
        if parsed.value is not None and parsed.how != "several":
            return {fid: (parsed.value, text)}
    return {}


def _application(table: Table, rules: Rules, file: str, file_city: FileCity, r: int,
                 by_field: dict[str, Any], n: int) -> Application:
    sheet = table.sheet
    values: dict[str, Any] = {}
    findings: list[Finding] = []
    cells: dict[str, str] = {}
    originals: dict[str, Any] = {}
    invalid: set[str] = set()
    fraction_candidates: set[str] = set()
    row_source = Source(file, sheet.name, r + 1)
    name_field, city_field, order_field = rules.role("name"), rules.role("city") or "", rules.role("order")
    for fid, col in by_field.items():
        f = rules.fields[fid]
        raw = sheet.merged_value(r, col.index)  # 所在市 merged down several rows applies to each
        address = cell_address(r, col.index)
        cells[fid] = address
        originals[fid] = raw
        src = Source(file, sheet.name, r + 1, address)
        if (r, col.index) in sheet.formula_without_value:
            findings.append(Finding("formula-without-value", "error", field=fid, clause=f.clause,
                                    params={"label": f.label, "formula": cell_text(raw)[:60]}, source=src,
                                    effect="incomplete", original=raw))
            invalid.add(fid)
            continue
        parsed = normalise_value(f, raw, column_unit=col.unit, percent_format=(r, col.index) in sheet.percent_cells,
                                 rules=rules)
        params = {"label": f.label, **dict(parsed.params)}
        if parsed.code in ("unparseable-value", "negative-value"):
            # Unreadable: incomplete when a check needs the value; a warning for 序号 and the like.
            needed = fid in rules.needed_fields
            findings.append(Finding(parsed.code, "error" if needed else "warning", field=fid, clause=f.clause,
                                    params=params, source=src, effect="incomplete" if needed else None,
                                    original=raw))
            invalid.add(fid)
            continue
        if params.pop("fraction_candidate", False):
            fraction_candidates.add(fid)
        if parsed.code == "invalid-credit-code":
            invalid.add(fid)
            values[fid] = None
            findings.append(Finding("invalid-credit-code", "error", field=fid, clause=f.clause, params=params,
                                    source=src, effect=None, original=raw))  # effect set by its condition
            continue
        if parsed.code in ("invalid-phone", "invalid-email"):
            values[fid] = parsed.value
            findings.append(Finding(parsed.code, "warning", field=fid, clause=f.clause, params=params,
                                    source=src, original=raw))
            continue
        if parsed.code == "unknown-choice":
            invalid.add(fid)
            values[fid] = None
            choices = rules.choices[f.choices or ""]
            allowed = "、".join(choices.allowed)
            findings.append(Finding(choices.unknown_code, "error", field=fid, clause=f.clause or choices.clause,
                                    params={**params, "allowed": allowed}, source=src, original=raw))
            continue
        if parsed.code == "unknown-city":
            values[fid] = None
            if file_city.city:  # 市南区 under 所在市 in 青岛's own workbook: 青岛市, with a warning
                findings.append(Finding("city-unrecognised", "warning", field=fid, clause=f.clause,
                                        params={**params, "city": file_city.city}, source=src, original=raw))
                continue
            invalid.add(fid)
            findings.append(Finding("unknown-city", "error", field=fid, clause=f.clause, params=params, source=src,
                                    effect="incomplete", original=raw))
            continue
        values[fid] = parsed.value
        if parsed.how == "legacy":
            findings.append(Finding("legacy-city", "warning", field=fid, clause=f.clause, params=params, source=src, original=raw))
        elif f.type == "choice" and parsed.how == "several":
            findings.append(Finding("several-industries", "warning", field=fid, clause=f.clause, params={**params, "value": parsed.value},
                                    source=src, original=raw))
        elif f.type == "choice" and parsed.how == "variant":
            findings.append(Finding("industry-normalised", "info", field=fid, clause=f.clause, params={**params, "value": parsed.value},
                                    source=src, original=raw))
        elif parsed.how and parsed.value is not None:
            findings.append(Finding("value-converted", "info", field=fid, clause=f.clause, params={
                **params, "value": parsed.value, "unit": f.unit or "", "how": parsed.how}, source=src, original=raw))
        if f.plausible_max is not None and isinstance(parsed.value, (int, float)) and parsed.value > f.plausible_max:
            findings.append(Finding("implausible-value", "warning", field=fid, clause=f.clause, params={
                **params, "value": parsed.value, "unit": f.unit or ""}, source=src, effect="needs_review",
                original=raw))
        if isinstance(raw, str) and len(raw) >= settings.MAX_CELL_CHARS:
            findings.append(Finding("text-truncated", "warning", field=fid, clause=f.clause,
                                    params={**params, "limit": settings.MAX_CELL_CHARS}, source=src))
        if r in sheet.hidden_rows and fid == name_field:
            findings.append(Finding("hidden-row", "warning", field=None, params={"row": r + 1}, source=src))

    derived = _derive(rules, values, invalid, findings, cells, by_field, row_source, fraction_candidates)

    # Unknown columns are kept with the application (never dropped silently).
    unknown = {}
    for col in table.columns:
        if col.field is None and col.header:  # unknown and duplicate columns alike
            value = sheet.merged_value(r, col.index)
            if value is not None:
                unknown[col.header] = value

    # The city: the row's own city column, else the file's.
    city = values.get(city_field)
    if city is None and city_field not in invalid:
        city = file_city.city
        if city is not None and file_city.where:
            findings.append(Finding("city-source", "info", field=city_field, params={
                "where": file_city.where, "text": (file_city.text or "")[:40], "city": city},
                source=row_source))
            if file_city.legacy:
                findings.append(Finding("legacy-city", "warning", field=city_field,
                                        params={"original": file_city.text}, source=row_source))
        values[city_field] = city
    elif city is not None and file_city.city and city != file_city.city and file_city.where != "文件名":
        findings.append(Finding("city-mismatch", "warning", field=city_field,
                                params={"city": city, "file_city": file_city.city},
                                source=Source(file, sheet.name, r + 1, cells.get(city_field))))

    name = values.get(name_field) if name_field else None
    order = values.get(order_field) if order_field else None
    app = Application(
        id="", program=rules.name, city=city, name=name, industry=values.get(rules.group_field),
        city_order=order if isinstance(order, int) else None, values=values,
        source=row_source, findings=findings, cells=cells, originals=originals, unknown=unknown,
    )
    app.extra["_invalid"] = invalid
    app.extra["_roles"] = rules.roles  # role -> field id, for later stages that see only the application
    app.extra["_row_index"] = n
    app.extra["_derived"] = derived  # ratios recomputed from their amounts, for the checks
    return app


def _derive(rules: Rules, values: dict[str, Any], invalid: set[str], findings: list[Finding], cells: dict[str, str],
            by_field: dict[str, Any], row_source: Source, fraction_candidates: set[str]) -> dict[str, float]:
    """Totals from split columns and ratios from their two amounts; cross-check when both exist.

    Returns the ratios computed from amounts (field -> percent), whether or not they were used.
    """
    computed: dict[str, float] = {}
    for f in rules.fields.values():
        cell_src = Source(row_source.file, row_source.sheet, row_source.row, cells.get(f.id))
        if f.parts:
            parts = [p for p in f.parts if values.get(p) is not None]
            if parts and not any(p in invalid for p in f.parts if p in by_field):
                total = sum(values[p] for p in parts)
                labels = "、".join(rules.label(p) for p in parts)
                if values.get(f.id) is None and f.id not in invalid:
                    values[f.id] = total
                    findings.append(Finding("parts-summed", "info", field=f.id, clause=f.clause, params={
                        "label": f.label, "parts": labels, "value": total, "unit": f.unit or ""}, source=cell_src))
                elif values.get(f.id) is not None and values[f.id] != total and len(parts) == len(
                        [p for p in f.parts if p in by_field]):
                    findings.append(Finding("parts-mismatch", "warning", field=f.id, clause=f.clause, params={
                        "label": f.label, "parts": labels, "declared": values[f.id], "derived": total,
                        "unit": f.unit or ""}, source=cell_src, effect="needs_review"))
        if not f.derive:
            continue
        num, den = values.get(f.derive["numerator"]), values.get(f.derive["denominator"])
        if num is None or den is None or not den:
            continue
        derived = round(num / den * 100, 4)
        computed[f.id] = derived
        params = {"label": f.label, "numerator_label": rules.label(f.derive["numerator"]),
                  "denominator_label": rules.label(f.derive["denominator"])}
        declared = values.get(f.id)
        if declared is None:
            if f.id in invalid:
                # Written but unreadable (百分之三点五): the amounts give the ratio; the note stays.
                invalid.discard(f.id)
                _soften(findings, f.id)
            values[f.id] = derived
            findings.append(Finding("ratio-derived", "info", field=f.id, clause=f.clause,
                                    params={**params, "value": derived}, source=cell_src))
        elif abs(declared - derived) > settings.RATIO_TOLERANCE_POINTS:
            if f.id in fraction_candidates and abs(declared * 100 - derived) <= settings.RATIO_TOLERANCE_POINTS:
                # 0.035 under (%) while the amounts give 3.5 %: a fraction typed in a percent column.
                values[f.id] = round(declared * 100, 8)
                findings.append(Finding("value-converted", "info", field=f.id, clause=f.clause, params={
                    **params, "value": values[f.id], "unit": "%", "how": "按小数换算为百分数（与金额计算一致）"},
                    source=cell_src, original=declared))
                continue
            findings.append(Finding("ratio-mismatch", "warning", field=f.id, clause=f.clause, params={
                **params, "declared": declared, "derived": derived}, source=cell_src, effect="needs_review"))
    return computed


def _soften(findings: list[Finding], field_id: str) -> None:
    """An unreadable value that could be recomputed no longer makes the application incomplete."""
    for i, finding in enumerate(findings):
        if finding.field == field_id and finding.code == "unparseable-value":
            findings[i] = Finding(finding.code, "warning", field=finding.field, clause=finding.clause,
                                  params=finding.params, source=finding.source, effect=None,
                                  original=finding.original)
