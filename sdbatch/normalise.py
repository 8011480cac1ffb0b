"""Stage 3 — values as written -> canonical values (亿元, percent, 是/否, cities, choices).

Each parser takes any cell value and returns a :class:`Parsed`: the canonical value, or a
finding code saying why there is none.  Parsers never raise and never return a silent None
for something that was written: an unparseable value always carries a code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdbatch import settings
from sdbatch.catalogue import join
from sdbatch.catalogue import text as ui_text
from sdbatch.header import classify_rows, continuation_fields, group_records, preamble
from sdbatch.jurisdiction import Jurisdiction
from sdbatch.model import (
    NO_UNKNOWN,
    Application,
    CellMap,
    Column,
    Finding,
    Originals,
    Source,
    Table,
    Values,
    cell_address,
    column_letter,
)
from sdbatch.rules import Choices, FieldRule, Rules
from sdbatch.text import (
    AMOUNT_UNITS,
    BRACKET_CHARS,
    CLOSE_BRACKETS,
    OPEN_BRACKETS,
    cell_text,
    nfkc,
    split_at_last_close,
    squash,
    vocabulary,
)

_VALUES = vocabulary()["values"]
_NUMBERS = vocabulary()["numbers"]
_TEXT = vocabulary()["text"]
# Written forms of "nothing here" (SPEC §2.1).  For yes/no fields 无 means "no", not blank.
BLANKS = frozenset(_VALUES["blanks"])
TRUE_WORDS = tuple(_VALUES["yes"])
UNKNOWN_WORDS = tuple(_VALUES["unknown"])
FALSE_WORDS = tuple(_VALUES["no"])
# An answer after a few words of context (近三年未发生): read when the text is at most this long, and
# never by the words below, which also begin ordinary context (全年, 已经, 实现, n in "unknown"…).
YES_NO_MAX_CHARS = int(vocabulary()["values"]["answer_inside_max_chars"])
ANSWER_WORDS_ONLY_AT_START = frozenset(vocabulary()["values"]["answer_only_at_start"])
YES_NO_ANSWERS = frozenset(_VALUES["yes_no_answers"])
_BLANK_MAX = 2 * max(len(w) for w in BLANKS)  # longer than this (spaces aside) is never a blank word
EXISTENCE_WORDS = tuple(sorted([*_VALUES["existence_yes"], *_VALUES["existence_no"]], key=len, reverse=True))
STATE_WORDS = tuple(sorted([*((w, False) for w in _VALUES["good_state"]), *((w, True) for w in _VALUES["bad_state"])],
                           key=lambda item: len(item[0]), reverse=True))
SHORT_UNITS: dict[str, str] = dict(vocabulary()["units"]["short"])
COUNT_WORDS = tuple(vocabulary()["units"]["counts"])
COUNT_MULTIPLIERS: dict[str, int] = dict(_NUMBERS["count_multipliers"])
# The canonical amount unit: the one worth 1 (亿元).
CANONICAL_AMOUNT = next(unit for unit, factor in AMOUNT_UNITS.items() if factor == 1.0)

_FOOTNOTE_MARKS = re.compile(r"[\u2460-\u24ff\u2776-\u2793\u00b9\u00b2\u00b3\u2070-\u2079\u2080-\u2089*\u203b#\u25b3\u25b2]+")
_O, _C = re.escape(OPEN_BRACKETS), re.escape(CLOSE_BRACKETS)
_TRAILING_NOTE = re.compile(rf"\s*[{_O}][^{_O}{_C}]*[{_C}]\s*$")
_BRACKETED = re.compile(rf"[{_O}].*?[{_C}]")
_EXPECTED = {key: f"recognition.expected.{key}" for key in ("number", "not_a_date", "yes_no", "integer", "count",
                                                               "text", "credit_code")}


def _expected(key: str) -> tuple[tuple[str, Any], ...]:
    return (("expected", ui_text(_EXPECTED[key])),)


def _how(key: str, **params: Any) -> str:
    return ui_text(f"recognition.how.{key}", **params)


def _joined_how(*parts: str | None) -> str | None:
    present = [p for p in parts if p]
    if not present:
        return None
    return present[0] if len(present) == 1 else ui_text("recognition.how.separator").join(present)


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
        if len(value) > _BLANK_MAX and len("".join(value.split())) > _BLANK_MAX:
            return False  # longer than any blank word, spaces aside: something is written
        text = squash(value)
        if yes_no and text in YES_NO_ANSWERS:  # 有无不良信用记录: 暂无 is an answer, 无
            return False
        return text in BLANKS
    return False


# ----------------------------------------------------------------------------- numbers
_UNIT_SUFFIXES = tuple(sorted([*AMOUNT_UNITS, "%", *COUNT_WORDS], key=len, reverse=True))
_DECIMAL_COMMA = str.maketrans(dict(_NUMBERS["decimal_comma"]))
_AT_LEAST = tuple(_NUMBERS["at_least"])
_APPROXIMATELY = tuple(_NUMBERS["approximately"])
_CURRENCY_MARKS = tuple(dict.fromkeys(squash(m) for m in _NUMBERS["currency_marks"]))
_MORE_THAN = tuple(_NUMBERS["more_than"])


def parse_number(value: Any) -> Parsed:
    """A number as written: ``2,380``, ``３．５``, ``52.3亿元``, ``3.5%``, ``约30``.

    The value is returned as written (no unit conversion); ``params`` carry a unit found in
    the cell (``unit``) and whether a percent sign was present (``percent``).
    """
    if isinstance(value, bool):
        return Parsed(code="unparseable-value", params=_expected("number"))
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")) or abs(value) > 1e300:
            return Parsed(code="unparseable-value", params=_expected("number"))
        return Parsed(value)
    if isinstance(value, dt.datetime) and value.year < 1910 and value.time() == dt.time(0):
        # A number typed into a date-formatted cell (5 shows as 1900-01-05): its serial is the number.
        base = dt.datetime(1899, 12, 31) if value < dt.datetime(1900, 3, 1) else dt.datetime(1899, 12, 30)
        return Parsed((value - base).days, how=_how("date_cell"))
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return Parsed(code="unparseable-value", params=_expected("not_a_date"))
    if is_blank(value):
        return MISSING
    raw_text, footnote = _strip_footnotes(str(value))
    text = squash(raw_text).translate(_DECIMAL_COMMA)
    notes = [_how("footnote")] if footnote else []
    if re.fullmatch(r"\(\s*[\d.,]+\s*\)", text):  # (5): accounting notation for -5
        text = "-" + text[1:-1]
    if text.startswith(_AT_LEAST):
        text = text.lstrip("".join(_AT_LEAST))
        notes.append(_how("at_least"))
    if text.startswith(_APPROXIMATELY):
        text = text[1:]
        notes.append(_how("approximately"))
    if text.startswith(_CURRENCY_MARKS):  # ¥95.00, 人民币 3,500 万元: the number is what follows
        mark = next(m for m in _CURRENCY_MARKS if text.startswith(m))
        text = text[len(mark):].lstrip() or text
    unit = None
    stripped = True
    while stripped:  # 1000项以上, 30余家, 52亿元+: units and 以上/余/多 in any order
        stripped = False
        for suffix in _MORE_THAN:
            if text.endswith(suffix) and len(text) > len(suffix):
                text = text[: -len(suffix)]
                notes.append(_how("more_than"))
                stripped = True
        for word in _UNIT_SUFFIXES:
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
        return Parsed(code="unparseable-value", params=_expected("number"))
    try:
        number = float(m.group(1) + m.group(2) + (f"e{m.group(3)}" if m.group(3) else ""))
    except (ValueError, OverflowError):
        return Parsed(code="unparseable-value", params=_expected("number"))
    if number != number or abs(number) == float("inf"):
        return Parsed(code="unparseable-value", params=_expected("number"))
    if number.is_integer() and abs(number) < 1e15:
        number = int(number)
    return Parsed(number, how=_joined_how(*dict.fromkeys(notes)), params=(("unit", unit), ("percent", percent)))


def to_amount(parsed: Parsed, column_unit: str | None, target: str) -> Parsed:
    """A parsed number in the cell's or column's unit -> ``target`` (亿元)."""
    if parsed.value is None:
        return parsed
    params = dict(parsed.params)
    own = params.get("unit") if params.get("unit") in AMOUNT_UNITS else None
    unit = SHORT_UNITS.get(own or column_unit or "", own or column_unit)  # 52.3亿 is 52.3 亿元
    if unit not in AMOUNT_UNITS:
        unit = None
    column = SHORT_UNITS.get(column_unit or "", column_unit)
    if own and column in AMOUNT_UNITS and unit != column:
        # 56.3亿元 in a column of 万元: the cell says its own unit, and that is said too.
        parsed = Parsed(parsed.value, how=_joined_how(parsed.how, _how("cell_unit", unit=unit, column=column)),
                        params=parsed.params)
    value = parsed.value
    if unit and unit != target:
        try:
            value = round(value * AMOUNT_UNITS[unit] / AMOUNT_UNITS[target], 8)
        except OverflowError:
            return Parsed(code="unparseable-value", params=_expected("number"))
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return Parsed(value, how=_joined_how(parsed.how, _how("unit", unit=unit, target=target)),
                      params=(("from_unit", unit),))
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
        return Parsed(round(value * 100, 8), how=_how("percent_cell"))
    if 0 < value < 1:
        return Parsed(round(value * 100, 8), how=_how("fraction"))
    return Parsed(value, how=parsed.how)


def to_count(parsed: Parsed) -> Parsed:
    if parsed.value is None:
        return parsed
    value = parsed.value
    unit = dict(parsed.params).get("unit")
    if unit in COUNT_MULTIPLIERS:  # 1.2万 (项) is 12000
        value = round(value * COUNT_MULTIPLIERS[unit], 6)
        parsed = Parsed(value, how=_joined_how(parsed.how, _how("count_multiplier", unit=unit)))
    elif unit in AMOUNT_UNITS:
        return Parsed(code="unparseable-value", params=_expected("count"))
    if isinstance(value, float):
        if not value.is_integer():
            return Parsed(code="unparseable-value", params=_expected("integer"))
        value = int(value)
    return Parsed(value, how=parsed.how)


# ----------------------------------------------------------------------------- yes / no
def parse_bool(value: Any) -> Parsed:
    """是/否, 有/无, √/×, 1/0 and the like."""
    if isinstance(value, bool):
        return Parsed(value)
    if isinstance(value, (int, float)):
        if value != value:
            return MISSING
        if value in (0, 1):
            return Parsed(bool(value))
        return Parsed(code="unparseable-value", params=_expected("yes_no"))
    if is_blank(value, yes_no=True):
        return MISSING
    text = squash(value)
    if text.startswith(UNKNOWN_WORDS):
        return Parsed(code="unparseable-value", params=_expected("yes_no"))
    for word in FALSE_WORDS:
        if text.startswith(word):
            return Parsed(False)
    for word in TRUE_WORDS:
        if text.startswith(word):
            return Parsed(True)
    return _answer_inside(text)


def _answer_inside(text: str) -> Parsed:
    """A short answer that starts with its context (近三年未发生, 本集群无, 经核实不存在): the answer
    word that comes first decides.  Long text is an explanation, not an answer: unreadable."""
    if len(text) > YES_NO_MAX_CHARS or any(word in text for word in UNKNOWN_WORDS):
        return Parsed(code="unparseable-value", params=_expected("yes_no"))
    first = _first_answer_inside(text)
    if first is None:
        return Parsed(code="unparseable-value", params=_expected("yes_no"))
    return Parsed(first[2], how=_how("yes_no_inside"))


def _first_answer_inside(text: str) -> tuple[int, int, bool] | None:
    """(position, -length, answer) of the earliest (then longest) answer word after the start."""
    first: tuple[int, int, bool] | None = None
    for words, answer in ((FALSE_WORDS, False), (TRUE_WORDS, True)):
        for word in words:
            at = text.find(word)
            if at > 0 and word not in ANSWER_WORDS_ONLY_AT_START and (first is None or (at, -len(word)) < first[:2]):
                first = (at, -len(word), answer)
    return first


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
_CHOICES = vocabulary()["choices"]
_CHOICE_FILLERS = tuple(sorted((squash(w) if w.strip() else w for w in _CHOICES["fillers"]), key=len, reverse=True))
_MAIN_MARKS = tuple(squash(w) for w in _CHOICES["main_marks"])
_ETC = "".join(_CHOICES["etc_marks"])  # 集成电路、新型电子材料等
_SEPARATOR_SPLIT = re.compile("[" + re.escape(_TEXT["list_separators"]) + "]")
_LIST_SPLIT = re.compile("[" + re.escape(_TEXT["list_separators"]) + "]|" + "|".join(map(re.escape, _CHOICES["conjunctions"])))
_LATIN_CHAR = re.compile(r"[a-z0-9]")


@dataclass(frozen=True)
class _ChoiceForms:
    forms: dict[str, str]  # written form (squashed) -> canonical value
    longest: int


_FORMS_CACHE: dict[int, tuple[Choices, _ChoiceForms]] = {}


def _forms(choices: Choices) -> _ChoiceForms:
    cached = _FORMS_CACHE.get(id(choices))
    if cached is not None and cached[0] is choices:
        return cached[1]
    forms: dict[str, str] = {}
    for canon, variants in choices.variants.items():
        for form in variants:
            forms[squash(form)] = canon
    for canon in choices.allowed:
        forms[squash(canon)] = canon
    ready = _ChoiceForms(forms, max((len(f) for f in forms), default=1))
    if len(_FORMS_CACHE) > 64:  # rules files loaded again and again (tests): keep the cache small
        _FORMS_CACHE.clear()
    _FORMS_CACHE[id(choices)] = (choices, ready)
    return ready


def _whole_terms(text: str, ready: _ChoiceForms) -> list[str] | None:
    """The choices a text names when it is made only of listed names and words that say nothing
    (云计算与大数据, AI人工智能, 人工智能产业); None when something else is written too."""
    found: list[str] = []
    i, n = 0, len(text)
    while i < n:
        step = 0
        for size in range(min(ready.longest, n - i), 0, -1):
            word = text[i:i + size]
            canon = ready.forms.get(word)
            if canon is None:
                continue
            if _LATIN_CHAR.match(word[0]) and i > 0 and _LATIN_CHAR.match(text[i - 1]):
                continue  # a Latin name is a whole word: ai is not inside paid
            if _LATIN_CHAR.match(word[-1]) and i + size < n and _LATIN_CHAR.match(text[i + size]):
                continue
            found.append(canon)
            step = size
            break
        if not step:
            filler = next((f for f in _CHOICE_FILLERS if f and text.startswith(f, i)), None)
            if filler is None:
                return None
            step = len(filler)
        i += step
    return found


def parse_choice(value: Any, choices: Choices) -> Parsed:
    """A choice such as an industry, read conservatively: its canonical name, a listed variant
    written as a whole term (the whole text, a bracketed or listed part of it, or a text made only
    of listed names: 云计算与大数据), or a text that contains exactly one canonical name in full
    (新一代人工智能).  A short variant never counts inside a longer word (智能 is not in 智能制造).

    ``how`` is "variant" when a variant was used, "several" when the text could be several
    choices (the first named is kept).  Nothing recognisable -> code "unknown-choice": the text
    names something outside the list.
    """
    if is_blank(value):
        return MISSING
    raw = squash(value)
    ready = _forms(choices)
    closed, rest = split_at_last_close(raw)  # linear in a long cell of unclosed brackets
    key = (_BRACKETED.sub("", closed) + rest).strip(" " + _TEXT["list_separators"] + _TEXT["sentence_ends"] + ".")
    if key in ready.forms:
        canon = ready.forms[key]
        return Parsed(canon, how=None if key == squash(canon) else "variant")
    terms: list[str] = []
    for part in [key, *(m.strip(BRACKET_CHARS) for m in _BRACKETED.findall(closed)), *_LIST_SPLIT.split(key)]:
        named = _whole_terms(part, ready) if part else None
        if named:
            terms.extend(named)
    if not terms:
        terms = [canon for _, canon in sorted((raw.find(squash(c)), c) for c in choices.allowed if squash(c) in raw)]
    distinct = list(dict.fromkeys(terms))
    if not distinct:
        return Parsed(code="unknown-choice")
    listed = [p for p in _SEPARATOR_SPLIT.split(key) if p.strip()]  # not at 和/与: 软件和信息技术服务 is one
    if len(distinct) > 1 or (len(listed) > 1 and any(_names_another(p, ready) for p in listed)):
        # 新型电子材料、集成电路（主要）: the one marked 主要 / 为主 is the main direction.
        for part in _LIST_SPLIT.split(raw):
            if any(mark in part for mark in _MAIN_MARKS):
                cleaned = part
                for mark in _MAIN_MARKS:
                    cleaned = cleaned.replace(mark, "")
                main = parse_choice(cleaned, choices)
                if main.value is not None and main.how != "several":
                    return Parsed(main.value, how="variant")
        # two choices named, or one beside a term the list does not have (物联网、集成电路): the
        # main one cannot be told, and the list's own term may be the lesser
        return Parsed(distinct[0], how="several")
    return Parsed(distinct[0], how="variant")


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _names_another(part: str, ready: _ChoiceForms) -> bool:
    """Whether a listed part that names no choice is a term of its own (物联网 beside 集成电路):
    ``settings.OTHER_TERM_MIN_CHARS`` characters or more once the words that say nothing are taken
    out (设计、制造 under 集成电路 are two)."""
    if _whole_terms(part, ready):
        return False
    rest = part.rstrip(_ETC)
    for filler in _CHOICE_FILLERS:
        if filler:
            rest = rest.replace(filler, "")
    least = settings.OTHER_TERM_MIN_CHARS
    return len(_CJK.findall(rest)) >= least or (len(rest) >= least and rest.isascii() and rest.isalpha())


# ----------------------------------------------------------------------------- codes and contacts
def parse_uscc(value: Any) -> Parsed:
    """统一社会信用代码: 18 characters with a valid check digit (python-stdnum)."""
    from stdnum import exceptions
    from stdnum.cn import uscc

    if is_blank(value):
        return MISSING
    text = re.sub(r"[\s\-\u2014_]", "", nfkc(value)).upper()
    if not re.search(r"[0-9A-Z]", text):  # 待补充, 申请中: words, not an attempt at a code
        return Parsed(code="unparseable-value", params=_expected("credit_code"))
    try:
        return Parsed(uscc.validate(text))
    except exceptions.InvalidLength:
        return Parsed(code="invalid-credit-code", params=(("detail", ui_text("recognition.uscc.length",
                                                                                length=len(text))),))
    except exceptions.InvalidChecksum:
        return Parsed(code="invalid-credit-code", params=(("detail", ui_text("recognition.uscc.checksum")),))
    except exceptions.ValidationError:
        return Parsed(code="invalid-credit-code", params=(("detail", ui_text("recognition.uscc.characters")),))


_CONTACTS = vocabulary()["contacts"]
_MOBILE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
_EXTENSION = "|".join(map(re.escape, _CONTACTS["extension_words"]))
_LANDLINE = re.compile(rf"^(?:\+?86)?(?:0\d{{2,3}})?[2-9]\d{{6,7}}(?:(?:{_EXTENSION})\d{{1,6}})?$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
_PHONE_SPLIT = re.compile("[" + re.escape(_TEXT["list_separators"]) + "]+|" + "|".join(map(re.escape, _CONTACTS["alternatives"])))
_PHONE_NOISE = re.compile(rf"[{_O}{_C}\s]")


def parse_phone(value: Any) -> Parsed:
    if is_blank(value):
        return MISSING
    text = cell_text(nfkc(value))
    numbers = [p for p in _PHONE_SPLIT.split(text) if p.strip()]
    for number in numbers:
        compact = _PHONE_NOISE.sub("", number).replace("\u2014", "-")
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
    if isinstance(value, str) and value.isprintable() and "  " not in value:
        text = value.strip()  # the usual text: nothing invisible, no runs of spaces
    else:
        text = re.sub(r"\s+", " ", _INVISIBLE.sub("", cell_text(value))).strip()
    return Parsed(text) if text else Parsed(code="unparseable-value", params=_expected("text"))


_CHINESE_DIGITS: dict[str, int] = dict(_NUMBERS["chinese_digits"])
_TEN: str = _NUMBERS["chinese_ten"]
_ORDINAL_STRIP = BRACKET_CHARS + _TEXT["enumeration_marks"] + _TEXT["sentence_ends"] + " "


def chinese_int(text: str) -> int | None:
    """一 … 九十九 as written in 序号/推荐排序 (一、（三）、十二); None for anything else."""
    text = text.strip(_ORDINAL_STRIP)
    if not text or any(ch not in _CHINESE_DIGITS and ch != _TEN for ch in text) or len(text) > 3:
        return None
    if _TEN not in text:
        return _CHINESE_DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition(_TEN)
    if len(tens) > 1 or len(ones) > 1:
        return None
    return (_CHINESE_DIGITS[tens] if tens else 1) * 10 + (_CHINESE_DIGITS[ones] if ones else 0)


def parse_int(value: Any) -> Parsed:
    """An order or row number: 3, ``3.``, ``第3``, ``第三名``, ``（三）``, ``一、``."""
    if isinstance(value, str) and not is_blank(value):
        text = squash(value).strip(_ORDINAL_STRIP.replace(" ", ""))
        text = text.removeprefix(_NUMBERS["ordinal_prefix"])
        for suffix in _NUMBERS["ordinal_suffixes"]:
            text = text.removesuffix(suffix)
        number = chinese_int(text)
        if number is not None:
            return Parsed(number)
        if is_blank(text):  # only brackets and a blank word left: not a number
            return Parsed(code="unparseable-value", params=_expected("integer"))
        value = text
    return to_count(parse_number(value))


# ----------------------------------------------------------------------------- one field
Parser = Callable[[Any, bool], Parsed]  # (value as written, whether the cell has a percent format)


def parser_for(f: FieldRule, rules: Rules, *, column_unit: str | None = None, negated: bool = False) -> Parser:
    """The parser of one column, chosen once for all its cells by the field's type, the column's
    unit and whether its yes/no header states a negation."""
    kind = f.type
    if kind == "int":
        return lambda v, _pf: parse_int(v)
    if kind == "count":
        return _count
    if kind == "number":
        return lambda v, _pf: _non_negative(parse_number(v))
    if kind == "amount":
        target = f.unit or CANONICAL_AMOUNT
        return lambda v, _pf: _non_negative(to_amount(parse_number(v), column_unit, target))
    if kind == "ratio":
        return lambda v, pf: _ratio(v, column_unit, pf)
    if kind == "bool":
        answer: Callable[[Any], Parsed] = (lambda v: _inverted_bool(v, False)) if negated else parse_bool
        if rules.adverse(f.id):
            return _memoised(lambda v: _stated(v, answer))
        return _memoised(answer)
    if kind == "city":
        jurisdiction = rules.jurisdiction
        return _memoised(lambda v: parse_city(v, jurisdiction))
    if kind == "choice":
        return _memoised(lambda v: parse_choice(v, rules.choices[f.choices or ""]))
    if kind == "uscc":
        return _memoised(parse_uscc)
    if kind == "phone":
        return lambda v, _pf: parse_phone(v)
    if kind == "email":
        return lambda v, _pf: parse_email(v)
    return lambda v, _pf: parse_text(v)


def normalise_value(f: FieldRule, value: Any, *, column_unit: str | None, percent_format: bool,
                    rules: Rules) -> Parsed:
    """Dispatch on the field's type. Never raises."""
    return parser_for(f, rules, column_unit=column_unit)(value, percent_format)


def _ratio(value: Any, column_unit: str | None, percent_format: bool) -> Parsed:
    number = parse_number(value)
    if column_unit == "%" and not percent_format and number.value is not None \
            and not dict(number.params).get("percent"):
        # The header says (%): 0.8 is 0.8 %.  If the amounts say 80 %, _derive corrects it.
        return _non_negative(Parsed(number.value, how=number.how,
                                    params=(("fraction_candidate", 0 < number.value < 1),)))
    return _non_negative(to_percent(number, percent_format=percent_format))


def _count(value: Any, _percent_format: bool) -> Parsed:
    """A count: an integer as stored (the usual cell) read at once, anything else parsed."""
    if type(value) is int:
        return Parsed(value) if value >= 0 else Parsed(code="negative-value")
    return _non_negative(to_count(parse_number(value)))


def _inverted_bool(value: Any, _percent_format: bool) -> Parsed:
    """Under 无不良信用记录 or 未发生重大事故, √ and 是 say the negated statement holds: the field
    (有无不良信用记录, 是否发生…) is 否.  有, 无, 未发生 say whether the thing exists: as written."""
    parsed = parse_bool(value)
    if parsed.value is None or (isinstance(value, str) and squash(value).startswith(EXISTENCE_WORDS)):
        return parsed
    return Parsed(not parsed.value)


def _stated(value: Any, answer: Callable[[Any], Parsed]) -> Parsed:
    """A yes/no field naming something adverse (不良信用): a text starting with how things stand
    (良好, 不良记录1条) is that state; else a text starting with a yes/no answer is that answer
    (无不良记录); else a short text holding a state (信用状况不良) is that state, before any answer
    word inside it (the 不 of 不良)."""
    text = squash(value) if isinstance(value, str) else ""
    for word, present in STATE_WORDS:
        if text.startswith(word):
            return Parsed(present, how=_how("yes_no_state"))
    parsed = answer(value)
    read_at_start = parsed.code != "unparseable-value" and parsed.how != _how("yes_no_inside")
    if read_at_start or len(text) > YES_NO_MAX_CHARS:
        return parsed  # 无不良记录: the answer word first; a long text is an explanation
    states = [(text.find(word), -len(word), present) for word, present in STATE_WORDS if word in text]
    if not states:
        return parsed
    state = min(states)
    word = _first_answer_inside(text) if parsed.code != "unparseable-value" else None
    if word is not None and word[:2] < state[:2]:
        return parsed  # 经查询无失信记录: the answer word comes before the state it answers
    return Parsed(state[2], how=_how("yes_no_state"))  # 信用状况不良: 不良, not the 不 inside it


def _memoised(parse: Callable[[Any], Parsed]) -> Parser:
    """A parser that remembers the texts it has read (industries repeat down a column)."""
    seen: dict[Any, Parsed] = {}

    def parser(value: Any, _percent_format: bool) -> Parsed:
        key = value if isinstance(value, str) else None
        if key is not None and key in seen:
            return seen[key]
        parsed = parse(value)
        if key is not None and len(seen) < 10_000:
            seen[key] = parsed
        return parsed

    return parser


def _non_negative(parsed: Parsed) -> Parsed:
    if isinstance(parsed.value, (int, float)) and parsed.value < 0:
        return Parsed(code="negative-value")
    return parsed


# ----------------------------------------------------------------------------- a table -> applications
@dataclass
class FileCity:
    city: str | None
    where: str | None = None  # 填报单位 / 标题 / 文件名 / 工作表名 (ui.toml recognition.city_source)
    text: str | None = None
    legacy: bool = False
    findings: list[Finding] = field(default_factory=list)


_SENDER_WORDS = tuple(vocabulary()["cities"]["sender_words"])


def city_of_file(table: Table, file_name: str, jurisdiction: Jurisdiction) -> FileCity:
    """The city a file speaks for, from a 填报单位 line, the title, the file name or sheet name."""
    lines = preamble(table.sheet, table.header_rows[0])
    # Notes below the table may carry 填报单位 too.
    for r in range(table.data_start, len(table.sheet.rows)):
        for c, v in enumerate(table.sheet.rows[r]):
            if isinstance(v, str) and _SENDER_WORDS[0] in v:
                lines.append((r, c, cell_text(v)))
    where = {key: ui_text(f"recognition.city_source.{key}") for key in ("sender", "title", "file_name", "sheet_name")}
    sources = []
    for _, _, text in lines:
        if any(word in text for word in _SENDER_WORDS):
            sources.append((where["sender"], text))
    for _, _, text in lines:
        sources.append((where["title"], text))
    sources.append((where["file_name"], Path(file_name).stem))
    sources.append((where["sheet_name"], table.sheet.name))
    for place, text in sources:
        hit = find_city(squash(text), jurisdiction)
        if hit:
            return FileCity(hit[0], place, text, hit[1])
    return FileCity(None)


@dataclass
class _Plan:
    """What is decided once per column: its field, parser and how its cells are read."""

    field: FieldRule
    column: Column
    parse: Parser
    needed: bool
    going_on: bool  # may continue on a second row of the application (contacts, remarks)

    def __post_init__(self) -> None:
        self.letter = column_letter(self.column.index)
        self.ratio = self.field.type == "ratio"  # a percent-formatted cell changes how it reads
        self.max = self.field.plausible_max

    def quiet(self, raw: Any, value: Any) -> bool:
        """Whether a cell read without a code or conversion has nothing to say either."""
        if self.max is not None and isinstance(value, (int, float)) and value > self.max:
            return False
        return not (isinstance(raw, str) and len(raw) >= settings.MAX_CELL_CHARS)


def build_applications(table: Table, rules: Rules, file: str, file_city: FileCity) -> tuple[list[Application], list[Finding]]:
    """Every application of the table (a record of one or more rows) with canonical values and findings."""
    sheet = table.sheet
    going_on = continuation_fields(rules)
    rows, row_notes = classify_rows(table, file, _order_fields(rules), going_on)
    rows = _without_totals(table, rows, rules, file, row_notes)
    records = group_records(table, rows, rules)
    file_findings: list[Finding] = list(row_notes)
    by_field = {c.field: c for c in table.columns if c.field}
    defaults = _values_from_title(table, rules, file, by_field)
    candidates = _candidates(table)
    file_findings += _column_findings(table, rules, file, by_field, candidates)
    for f in rules.fields.values():
        covered = f.id in by_field or (f.parts and any(p in by_field for p in f.parts)) or \
            (f.derive and f.derive["numerator"] in by_field and f.derive["denominator"] in by_field)
        inputs = [*f.parts, *((f.derive["numerator"], f.derive["denominator"]) if f.derive else ())]
        if not covered and f.id not in candidates:
            # A total or ratio no column carries, whose parts or amounts may be in uncertain columns.
            through = [col for i in inputs if i not in by_field for col in candidates.get(i, [])]
            if through:
                candidates[f.id] = through
        if f.required and not covered and f.id != rules.role("city") and f.id not in defaults \
                and f.id not in candidates:
            file_findings.append(Finding("missing-column", "error", field=f.id, clause=f.clause,
                                         params={"label": f.label}, source=Source(file, sheet.name)))
    plans = [_Plan(rules.fields[fid], col, parser_for(rules.fields[fid], rules, column_unit=col.unit,
                                                      negated=col.negated),
                   fid in rules.needed_fields, fid in going_on)
             for fid, col in by_field.items()]
    partial = {c.field: c for c in table.columns if c.field and c.parts}
    letters = {plan.field.id: plan.letter for plan in plans}  # shared by every application's CellMap
    columns = {plan.field.id: plan.column.index for plan in plans}  # and its Originals
    apps: list[Application] = []
    pack = Values.packer()
    for record in records:
        app = _application(table, rules, file, file_city, record, plans, letters, columns, by_field, partial)
        if candidates:
            # The columns that may carry a missing field, when this application wrote something there.
            written = {c.index: sheet.merged_value(record[0], c.index) for cols in candidates.values() for c in cols}
            app.extra["_candidates"] = {fid: found for fid, cols in candidates.items() if (found := [
                (column_letter(c.index), c.header, cell_text(written[c.index]), cell_address(record[0], c.index))
                for c in cols if not is_blank(written[c.index])])}
        for fid, (value, text) in defaults.items():
            app.values[fid] = value
            app.findings.append(Finding("value-from-title", "info", field=fid, params={
                "label": rules.label(fid), "text": text[:40], "value": value}, source=app.source))
            if fid == rules.group_field:
                app.industry = value
        app.values = pack(app.values)
        apps.append(app)
    return apps, file_findings


_SUMMED_TYPES = ("amount", "count")


def _without_totals(table: Table, rows: list[int], rules: Rules, file: str, notes: list[Finding]) -> list[int]:
    """The rows without totals rows that carry no 合计 label: a row without a name holding nothing
    but amounts, counts and ratios, whose amounts and counts are the sums of their columns over
    the applications above it (since the last such row, or all of them for a grand total), at
    least two columns checked and none differing.  Such a row is said (summary-row-skipped), not
    read as a nameless application; a row whose numbers are not those sums stays an application.
    A row with a name costs one look; the sums are taken only when a row may be a total, and
    carried on from there (one pass over the table at most)."""
    sheet = table.sheet
    types = {c.index: rules.fields[c.field].type for c in table.columns if c.field}
    summed = [c for c, t in types.items() if t in _SUMMED_TYPES]
    name_col = next((c.index for c in table.columns if c.field and c.field == rules.role("name")), None)
    if len(summed) < 2 or len(rows) < 2 or name_col is None:
        return rows
    allowed = {c for c, t in types.items() if t in (*_SUMMED_TYPES, "ratio")}
    kept: list[int] = []
    every = _Sums(summed)
    before = _Sums(summed)  # ``every`` at the last totals row: since then = every - before
    for r in rows:
        if not kept or not _blank_cell(sheet.value(r, name_col)):
            kept.append(r)
            continue
        own = [c for c, v in enumerate(sheet.rows[r]) if not _blank_cell(v)]
        if len(own) >= 2 and all(c in allowed for c in own):
            every.take(sheet, kept)
            since = every.minus(before)
            if any(sums.rows and sums.match(sheet, r) for sums in (since, every)):
                notes.append(Finding("summary-row-skipped", "info", params={"row": r + 1},
                                     source=Source(file, sheet.name, r + 1, cell_address(r, own[0]))))
                before = every.copy()
                continue
        kept.append(r)
    table.data_rows = kept
    return kept


class _Sums:
    """Column sums over the first ``rows`` rows of a list, a column dropped once a value in it is
    not a plain number (约35家: its sum cannot be checked)."""

    def __init__(self, columns: list[int]) -> None:
        self.totals: dict[int, float] = dict.fromkeys(columns, 0.0)
        self.rows = 0

    def take(self, sheet: Any, rows: list[int]) -> None:
        """Carry the sums on to the end of ``rows`` (the rows taken so far, in order)."""
        for r in rows[self.rows:]:
            for c in list(self.totals):
                value = sheet.value(r, c)
                if _blank_cell(value):
                    continue
                number = _plain_number(value)
                if number is None:
                    del self.totals[c]
                else:
                    self.totals[c] += number
        self.rows = len(rows)

    def minus(self, other: _Sums) -> _Sums:
        out = _Sums([])
        out.totals = {c: v - other.totals[c] for c, v in self.totals.items() if c in other.totals}
        out.rows = self.rows - other.rows
        return out

    def copy(self) -> _Sums:
        out = _Sums([])
        out.totals, out.rows = dict(self.totals), self.rows
        return out

    def match(self, sheet: Any, r: int) -> bool:
        checked = 0
        for c, expected in self.totals.items():
            total = _plain_number(sheet.value(r, c))
            if total is None:
                continue
            if abs(total - expected) > settings.TOTAL_TOLERANCE * max(1.0, abs(expected)):
                return False
            checked += 1
        return checked >= 2


def _plain_number(value: Any) -> float | None:
    """A number as written with nothing to say about it (¥, thousands separators allowed)."""
    if _blank_cell(value):
        return None
    parsed = parse_number(value)
    said = dict(parsed.params)
    if parsed.code is not None or parsed.how is not None or not isinstance(parsed.value, (int, float)) or \
            said.get("unit") or said.get("percent"):
        return None
    return float(parsed.value)


def _candidates(table: Table) -> dict[str, list[Column]]:
    """Field -> columns that may carry it but were not read as it (not sure enough), for fields
    no column carries."""
    held = {c.field for c in table.columns if c.field}
    out: dict[str, list[Column]] = {}
    for col in table.columns:
        if col.level != "candidate":
            continue
        for fid in col.rivals:
            if fid not in held:
                out.setdefault(fid, []).append(col)
    return out


def _column_findings(table: Table, rules: Rules, file: str, by_field: dict[str, Column],
                     candidates: dict[str, list[Column]]) -> list[Finding]:
    """What the header stage decided about each column, said once per column."""
    sheet = table.sheet
    header_row = table.header_rows[0]
    out: list[Finding] = []
    for col in table.columns:
        letter = column_letter(col.index)
        src = Source(file, sheet.name, header_row + 1, cell_address(header_row, col.index))
        if col.duplicate_of is not None:
            first = next(c for c in table.columns if c.index == col.duplicate_of)
            out.append(Finding("duplicate-column", "warning", field=first.field, params={
                "column": letter, "header": col.header, "first": column_letter(first.index),
                "label": rules.label(first.field)}, source=src))
        elif col.level == "candidate" and any(fid in candidates for fid in col.rivals):
            fields = [fid for fid in col.rivals if fid in candidates]
            out.append(Finding("column-uncertain", "warning", field=fields[0], params={
                "column": letter, "header": col.header, "labels": _or_labels(rules, fields)}, source=src))
        elif col.field is None and col.header:
            out.append(Finding("unknown-column", "warning", params={"column": letter, "header": col.header},
                               source=src))
        elif col.field and col.level == "assumed":
            out.append(Finding("column-assumed", "warning", field=col.field, params={
                "column": letter, "header": col.header, "label": rules.label(col.field)}, source=src))
        if col.field and col.negated:
            out.append(Finding("negated-header", "info", field=col.field, params={
                "column": letter, "header": col.header, "label": rules.label(col.field)}, source=src))
        if col.field and col.parts:
            f = rules.fields[col.field]
            others = [p for p in f.parts if p not in col.parts]
            out.append(Finding("column-carries-parts", "info", field=col.field, params={
                "column": letter, "header": col.header, "label": f.label,
                "parts": join(rules.label(p) for p in col.parts), "others": join(rules.label(p) for p in others)},
                source=src))
    for fid, col in by_field.items():
        f = rules.fields[fid]
        if f.type != "amount":
            continue
        src = Source(file, sheet.name, header_row + 1, cell_address(header_row, col.index))
        note = col.unit_note
        if col.unit_source == "context" and note is not None:
            out.append(Finding("unit-from-context", "info", field=fid, params={
                "column": column_letter(col.index), "label": f.label, "unit": col.unit, "text": note.text[:40],
                "where": _where(note, sheet.name)}, source=src))
        elif note is not None:
            out.append(Finding("unit-context-conflict", "warning", field=fid, params={
                "column": column_letter(col.index), "label": f.label, "unit": col.unit, "context_unit": note.unit,
                "text": note.text[:40], "where": _where(note, sheet.name)}, source=src))
        elif col.unit is None:
            out.append(Finding("unit-assumed", "info", field=fid, params={"label": f.label, "unit": f.unit},
                               source=src))
    return out


def _or_labels(rules: Rules, fields: list[str]) -> str:
    return ui_text("recognition.or").join(rules.label(fid) for fid in fields)


def _where(note: Any, table_sheet: str) -> str:
    """Where a unit statement was read: 第2行, or 工作表“填表说明”第3行."""
    if note.sheet == table_sheet:
        return ui_text("recognition.where_row", row=note.row + 1)
    return ui_text("recognition.where_sheet_row", sheet=note.sheet, row=note.row + 1)


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


def _blank_cell(value: Any) -> bool:
    return value is None or cell_text(value) == ""


def _cells_of(table: Table, record: list[int], plan: _Plan, findings: list[Finding], file: str,
              rules: Rules) -> list[tuple[int, Any]]:
    """The cells of one field over the rows of a record, as (row, value): the first row's (a
    merged cell shows its value), then what later rows hold of their own.  A field that may go
    on keeps them all; any other keeps one value, and a different one is a finding."""
    sheet = table.sheet
    c = plan.column.index
    first = record[0]
    cells = [(first, sheet.merged_value(first, c))]
    for r in record[1:]:
        own = sheet.value(r, c)
        if _blank_cell(own):
            continue
        if r in table.wrapped and not plan.going_on and not _blank_cell(cells[0][1]):
            cells[0] = (cells[0][0], wrapped_text(cell_text(cells[0][1]), cell_text(own)))
        elif plan.going_on:
            cells.append((r, own))
        elif _blank_cell(cells[0][1]):
            cells[0] = (r, own)  # the first row left it empty: the row below says it
        elif cell_text(own) != cell_text(cells[0][1]):
            f = plan.field
            findings.append(Finding("record-values-differ", "warning", field=f.id, clause=f.clause, params={
                "label": f.label, "row": r + 1, "value": cell_text(own)[:40], "first_row": cells[0][0] + 1,
                "first": cell_text(cells[0][1])[:40]}, source=Source(file, sheet.name, r + 1, cell_address(r, c)),
                effect="needs_review", original=own))
    return cells


def _cell_findings(plan: _Plan, rules: Rules, file_city: FileCity, raw: Any, parsed: Parsed, src: Source,
                   values: dict[str, Any], findings: list[Finding], invalid: set[str],
                   fraction_candidates: set[str]) -> None:
    """A cell with something to say: unreadable, converted, implausible, a variant…"""
    f = plan.field
    fid = f.id
    params = {"label": f.label, **dict(parsed.params)}
    if parsed.code in ("unparseable-value", "negative-value"):
        # Unreadable: incomplete when a check needs the value; a warning for 序号 and the like.
        findings.append(Finding(parsed.code, "error" if plan.needed else "warning", field=fid, clause=f.clause,
                                params=params, source=src, effect="incomplete" if plan.needed else None,
                                original=raw))
        invalid.add(fid)
        return
    if params.pop("fraction_candidate", False):
        fraction_candidates.add(fid)
    if parsed.code == "invalid-credit-code":
        invalid.add(fid)
        values[fid] = None
        findings.append(Finding("invalid-credit-code", "error", field=fid, clause=f.clause, params=params,
                                source=src, effect=None, original=raw))  # effect set by its condition
        return
    if parsed.code in ("invalid-phone", "invalid-email"):
        values[fid] = parsed.value
        findings.append(Finding(parsed.code, "warning", field=fid, clause=f.clause, params=params,
                                source=src, original=raw))
        return
    if parsed.code == "unknown-choice":
        invalid.add(fid)
        values[fid] = None
        choices = rules.choices[f.choices or ""]
        findings.append(Finding(choices.unknown_code, "error", field=fid, clause=f.clause or choices.clause,
                                params={**params, "allowed": join(choices.allowed)}, source=src, original=raw))
        return
    if parsed.code == "unknown-city":
        values[fid] = None
        if file_city.city:  # 市南区 under 所在市 in 青岛's own workbook: 青岛市, with a warning
            findings.append(Finding("city-unrecognised", "warning", field=fid, clause=f.clause,
                                    params={**params, "city": file_city.city}, source=src, original=raw))
            return
        invalid.add(fid)
        findings.append(Finding("unknown-city", "error", field=fid, clause=f.clause, params=params, source=src,
                                effect="incomplete", original=raw))
        return
    values[fid] = parsed.value
    if parsed.value is None:
        return
    if parsed.how == "legacy":
        findings.append(Finding("legacy-city", "warning", field=fid, clause=f.clause, params=params, source=src,
                                original=raw))
    elif f.type == "choice" and parsed.how == "several":
        findings.append(Finding("several-industries", "warning", field=fid, clause=f.clause,
                                params={**params, "value": parsed.value}, source=src, effect="needs_review",
                                original=raw))
    elif f.type == "choice" and parsed.how == "variant":
        findings.append(Finding("industry-normalised", "info", field=fid, clause=f.clause,
                                params={**params, "value": parsed.value}, source=src, original=raw))
    elif parsed.how:
        findings.append(Finding("value-converted", "info", field=fid, clause=f.clause, params={
            **params, "value": parsed.value, "unit": f.unit or "", "how": parsed.how}, source=src, original=raw))
    if f.plausible_max is not None and isinstance(parsed.value, (int, float)) and parsed.value > f.plausible_max:
        findings.append(Finding("implausible-value", "warning", field=fid, clause=f.clause, params={
            **params, "value": parsed.value, "unit": f.unit or ""}, source=src, effect="needs_review",
            original=raw))
    if isinstance(raw, str) and len(raw) >= settings.MAX_CELL_CHARS:
        findings.append(Finding("text-truncated", "warning", field=fid, clause=f.clause,
                                params={**params, "limit": settings.MAX_CELL_CHARS}, source=src))


def _application(table: Table, rules: Rules, file: str, file_city: FileCity, record: list[int],
                 plans: list[_Plan], letters: dict[str, str], columns: dict[str, int], by_field: dict[str, Column],
                 partial: dict[str, Column]) -> Application:
    sheet = table.sheet
    r = record[0]
    values: dict[str, Any] = {}
    findings: list[Finding] = []
    moved: dict[str, str] = {}  # fields a record of several rows says on another row than its first
    kept: dict[str, Any] = {}  # values as written that are not the row's own cell (merged, a later row)
    invalid: set[str] = set()
    fraction_candidates: set[str] = set()
    row_source = Source(file, sheet.name, r + 1)
    name_field, city_field, order_field = rules.role("name"), rules.role("city") or "", rules.role("order")
    percent_cells, formula_without_value = sheet.percent_cells, sheet.formula_without_value
    single = len(record) == 1
    row = sheet.rows[r] if r < len(sheet.rows) else []
    merged = bool(sheet.merged)
    for plan in plans:
        fid, c = plan.field.id, plan.column.index
        row_cells: list[tuple[int, Any]] | None = None
        if single:
            at = r
            raw = row[c] if c < len(row) else None
            if raw is None and merged:
                raw = sheet.merged_value(r, c)  # 所在市 merged down several rows applies to each
        else:
            row_cells = _cells_of(table, record, plan, findings, file, rules)
            at, raw = row_cells[0]
        address = plan.letter + str(at + 1)
        if at != r:
            moved[fid] = address
        if raw is not (row[c] if c < len(row) else None):
            kept[fid] = raw
        if formula_without_value and (at, c) in formula_without_value:
            f = plan.field
            findings.append(Finding("formula-without-value", "error", field=fid, clause=f.clause,
                                    params={"label": f.label, "formula": cell_text(raw)[:60]},
                                    source=Source(file, sheet.name, at + 1, address), effect="incomplete", original=raw))
            invalid.add(fid)
            continue
        if raw is None and row_cells is None:
            values[fid] = None  # an empty cell: nothing to read (the checks say what is missing)
            continue
        parsed = plan.parse(raw, plan.ratio and (at, c) in percent_cells)
        if row_cells is not None and len(row_cells) > 1:
            parsed = _joined(plan, row_cells, parsed, findings, file, sheet.name)
        if parsed.code is None and parsed.how is None and not plan.ratio and plan.quiet(raw, parsed.value):
            values[fid] = parsed.value  # the usual cell: read as written, nothing to say
            continue
        _cell_findings(plan, rules, file_city, raw, parsed, Source(file, sheet.name, at + 1, address), values,
                       findings, invalid, fraction_candidates)
    if name_field in by_field and any(row in sheet.hidden_rows for row in record):
        hidden = next(row for row in record if row in sheet.hidden_rows)
        findings.append(Finding("hidden-row", "warning", field=None, params={"row": hidden + 1},
                                source=Source(file, sheet.name, hidden + 1, cell_address(hidden, by_field[name_field].index))))
    if len(record) > 1:
        name_col = by_field[name_field].index if name_field in by_field else 0
        findings.append(Finding("record-rows", "info", field=name_field, params={
            "first": record[0] + 1, "last": record[-1] + 1, "count": len(record), "entity": rules.entity},
            source=Source(file, sheet.name, r + 1, cell_address(r, name_col))))

    cells = CellMap(letters, r + 1, moved or None)
    originals = Originals(columns, row, kept or None)
    derived = _derive(rules, values, invalid, findings, cells, by_field, row_source, fraction_candidates, partial)

    # Unknown columns are kept with the application (never dropped silently), from each of its rows.
    unknown: dict[str, Any] = {}
    for col in table.columns:
        if col.field is None and col.header:  # unknown and duplicate columns alike
            value = sheet.merged_value(r, col.index)
            for later in record[1:]:
                own = sheet.value(later, col.index)
                if _blank_cell(own):
                    continue
                if _blank_cell(value):
                    value = own
                elif later in table.wrapped:
                    value = wrapped_text(cell_text(value), cell_text(own))
                elif cell_text(own) != cell_text(value):
                    value = ui_text("recognition.list_separator").join((cell_text(value), cell_text(own)))
            if value is not None:
                unknown[col.header] = value

    # The city: the row's own city column, else the file's.
    city = values.get(city_field)
    if city is None and city_field not in invalid:
        city = file_city.city
        # a city the row names but is not one of the cities (荣成市) already says where the city
        # came from (city-unrecognised); city-source would tell the city it left the cell empty
        written = any(f.code == "city-unrecognised" for f in findings)
        if city is not None and file_city.where and not written:
            findings.append(Finding("city-source", "info", field=city_field, params={
                "where": file_city.where, "text": (file_city.text or "")[:40], "city": city},
                source=row_source))
            if file_city.legacy:
                findings.append(Finding("legacy-city", "warning", field=city_field,
                                        params={"original": file_city.text}, source=row_source))
        values[city_field] = city
    elif city is not None and file_city.city and city != file_city.city and \
            file_city.where != ui_text("recognition.city_source.file_name"):
        findings.append(Finding("city-mismatch", "warning", field=city_field,
                                params={"city": city, "file_city": file_city.city},
                                source=Source(file, sheet.name, r + 1, cells.get(city_field))))

    name = values.get(name_field) if name_field else None
    order = values.get(order_field) if order_field else None
    app = Application(
        id="", program=rules.name, city=city, name=name, industry=values.get(rules.group_field),
        city_order=order if isinstance(order, int) else None, values=values,
        source=row_source, findings=findings, cells=cells, originals=originals, unknown=unknown or NO_UNKNOWN,
    )
    # What later stages that see only the application read; the usual empty set and dict are not
    # kept (100,000 applications held them all, issue 16).
    if invalid:
        app.extra["_invalid"] = invalid  # fields whose cell could not be read
    if derived:
        app.extra["_derived"] = derived  # ratios recomputed from their amounts, for the checks
    return app


def wrapped_text(first: str, going_on: str) -> str:
    """Text typed over two rows: joined as one, with a space only between two Latin words."""
    space = first[-1:].isascii() and first[-1:].isalnum() and going_on[:1].isascii() and going_on[:1].isalnum()
    return first + (" " if space else "") + going_on


def _joined(plan: _Plan, row_cells: list[tuple[int, Any]], first: Parsed, findings: list[Finding], file: str,
            sheet: str) -> Parsed:
    """A field written on several rows of one application (two contacts, a remark going on): each
    value read on its own, then joined; a malformed one is reported at its own cell."""
    texts: list[str] = []
    code = None
    for i, (r, raw) in enumerate(row_cells):
        parsed = first if i == 0 else plan.parse(raw, False)
        if parsed.value is None:
            continue
        if parsed.code and i > 0:
            findings.append(Finding(parsed.code, "warning", field=plan.field.id, clause=plan.field.clause,
                                    params={"label": plan.field.label}, original=raw,
                                    source=Source(file, sheet, r + 1, cell_address(r, plan.column.index))))
        elif parsed.code:
            code = parsed.code
        text = cell_text(parsed.value)
        if texts and texts[-1] and texts[-1][-1] in _TEXT["list_separators"]:
            texts[-1] += text  # a sentence going on (集群核心区位于烟台开发区，／拓展区涵盖…)
        else:
            texts.append(text)
    if not texts:
        return first
    return Parsed(ui_text("recognition.list_separator").join(texts), code=code)


def _derive(rules: Rules, values: dict[str, Any], invalid: set[str], findings: list[Finding], cells: CellMap,
            by_field: dict[str, Any], row_source: Source, fraction_candidates: set[str],
            partial: dict[str, Column] | None = None) -> dict[str, float]:
    """Totals from split columns and ratios from their two amounts; cross-check when both exist.

    A total whose column carries only some of its parts (``partial``: 专利及软件著作权 beside 科技奖励)
    is that column plus the other parts.  Returns the ratios computed from amounts (field ->
    percent), whether or not they were used.
    """
    computed: dict[str, float] = {}
    partial = partial or {}
    for f in _derived_fields(rules):
        cell_src = Source(row_source.file, row_source.sheet, row_source.row, cells.get(f.id))
        if f.parts and f.id in partial:
            carried = partial[f.id].parts
            others = [p for p in f.parts if p not in carried and values.get(p) is not None]
            if values.get(f.id) is not None and others and not any(p in invalid for p in others):
                total = values[f.id] + sum(values[p] for p in others)
                labels = join([partial[f.id].header, *(rules.label(p) for p in others)])
                values[f.id] = total
                findings.append(Finding("parts-summed", "info", field=f.id, clause=f.clause, params={
                    "label": f.label, "parts": labels, "value": total, "unit": f.unit or ""}, source=cell_src))
        elif f.parts:
            parts = [p for p in f.parts if values.get(p) is not None]
            if parts and not any(p in invalid for p in f.parts if p in by_field):
                total = sum(values[p] for p in parts)
                labels = join(rules.label(p) for p in parts)
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
                    **params, "value": values[f.id], "unit": "%", "how": _how("fraction_agrees")},
                    source=cell_src, original=declared))
                continue
            findings.append(Finding("ratio-mismatch", "warning", field=f.id, clause=f.clause, params={
                **params, "declared": declared, "derived": derived}, source=cell_src, effect="needs_review"))
    return computed


_DERIVED: dict[int, tuple[Rules, tuple[FieldRule, ...]]] = {}


def _derived_fields(rules: Rules) -> tuple[FieldRule, ...]:
    """The fields summed from parts or derived from two amounts (found once per rules object)."""
    cached = _DERIVED.get(id(rules))
    if cached is None or cached[0] is not rules:
        cached = (rules, tuple(f for f in rules.fields.values() if f.parts or f.derive))
        if len(_DERIVED) > 64:
            _DERIVED.clear()
        _DERIVED[id(rules)] = cached
    return cached[1]


def _soften(findings: list[Finding], field_id: str) -> None:
    """An unreadable value that could be recomputed no longer makes the application incomplete."""
    for i, finding in enumerate(findings):
        if finding.field == field_id and finding.code == "unparseable-value":
            findings[i] = Finding(finding.code, "warning", field=finding.field, clause=finding.clause,
                                  params=finding.params, source=finding.source, effect=None,
                                  original=finding.original)
