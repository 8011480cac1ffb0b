"""Small text helpers shared by the header matcher and the value normalisers."""

from __future__ import annotations

import re
import sys
import tomllib
import unicodedata
from functools import lru_cache
from importlib import resources
from typing import Any


def vocabulary() -> dict[str, Any]:
    """The shared reading vocabulary (sdbatch/vocabulary.toml), loaded once."""
    global _VOCABULARY
    if _VOCABULARY is None:
        raw = resources.files("sdbatch").joinpath("vocabulary.toml").read_text(encoding="utf-8")
        _VOCABULARY = tomllib.loads(raw)
    return _VOCABULARY


_VOCABULARY: dict[str, Any] | None = None
_TEXT: dict[str, Any] = vocabulary()["text"]
AMOUNT_UNITS: dict[str, float] = dict(vocabulary()["units"]["amounts"])
COUNT_UNITS = tuple(vocabulary()["units"]["counts"])
PERCENT_WORDS = tuple(_TEXT["percent_words"])
UNIT_WORDS = tuple(sorted([*AMOUNT_UNITS, *PERCENT_WORDS, *COUNT_UNITS], key=len, reverse=True))
OPEN_BRACKETS: str = _TEXT["open_brackets"]
CLOSE_BRACKETS: str = _TEXT["close_brackets"]
BRACKET_CHARS = OPEN_BRACKETS + CLOSE_BRACKETS

_SPACES = re.compile(r"\s+")
_OPEN, _CLOSE = re.escape(OPEN_BRACKETS), re.escape(CLOSE_BRACKETS)
_BRACKETS = re.compile(rf"[{_OPEN}][^{_CLOSE}]*[{_CLOSE}]")
_PUNCT = re.compile(rf"[\s{re.escape(_TEXT['header_punctuation'])}]+")
_ANY_BRACKET = re.compile(rf"[{_OPEN}{_CLOSE}]")
_BRACKETED = re.compile(rf"[{_OPEN}]([^{_CLOSE}]*)[{_CLOSE}]")
_INTRODUCER = _TEXT["unit_introducer"]
_INTRODUCED = re.compile(rf"{re.escape(_INTRODUCER)}:?([^\s,;]+)")  # on squashed (NFKC) text
_UNIT_LIST = re.compile(rf"[{re.escape(_TEXT['list_separators'])}]")


def nfkc(value: Any) -> str:
    """Full-width -> half-width, compatibility forms folded; None -> ''."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value))


def squash(value: Any) -> str:
    """NFKC, simplified characters (數字產業 -> 数字产业), lower case, every space removed
    (also inside: clerks type 集 群 名 称)."""
    if isinstance(value, str):
        return _squash_text(value) if len(value) <= 64 else _squash(value)
    return _squash(value)


@lru_cache(maxsize=16384)
def _squash_text(value: str) -> str:
    """Short texts repeat down a column (是, 无, 济南市, 高端软件): read each once."""
    return _squash(value)


def _squash(value: Any) -> str:
    text = _SPACES.sub("", nfkc(value)).lower()
    return _simplified(text) if not text.isascii() else text


_T2S: Any = None


def _simplified(text: str) -> str:
    global _T2S
    if _T2S is None:
        import opencc

        _T2S = opencc.OpenCC("t2s")
    return str(_T2S.convert(text))


def split_at_last_close(text: str) -> tuple[str, str]:
    """``text`` cut after its last closing bracket: no bracketed part starts past it, and a regular
    expression looking for one there would scan to the end from every opening bracket (quadratic
    in a long cell of unclosed brackets, seconds for one mis-decoded CSV line)."""
    end = max(map(text.rfind, CLOSE_BRACKETS), default=-1) + 1
    return text[:end], text[end:]


def header_key(value: Any) -> str:
    """A header reduced for matching: NFKC, no spaces, no bracketed parts, no punctuation."""
    closed, rest = split_at_last_close(squash(value))
    text = _ANY_BRACKET.sub("", _BRACKETS.sub("", closed) + rest)
    return _PUNCT.sub("", text)


def header_key_full(value: Any) -> str:
    """Like :func:`header_key` but bracketed words kept (for keyword matching)."""
    return _PUNCT.sub("", _ANY_BRACKET.sub("", squash(value)))


def unit_of(header: Any) -> str | None:
    """The unit named in a header: ``（亿元）``, ``(万元)``, ``单位：万元``, ``（近三年，项）``, a trailing ``%``."""
    text = squash(header)
    found = None
    for part in _BRACKETED.findall(split_at_last_close(text)[0]):
        inner = part.replace(_INTRODUCER, "").strip(":")
        unit = _unit_word(inner)
        if unit is None:  # （近三年，项）: the unit is one item of the bracket
            pieces = [p for p in _UNIT_LIST.split(inner) if p]
            units = [u for u in map(_unit_word, pieces) if u]
            unit = units[-1] if len(units) == 1 else None
        if unit:
            found = unit
    if found:
        return found
    m = _INTRODUCED.search(text)
    if m:
        return _unit_word(m.group(1))
    if text.endswith(PERCENT_WORDS[:2]):
        return "%"
    for word in _TEXT["trailing_units"]:
        if text.endswith(word):
            return str(word)
    return None


def _unit_word(text: str) -> str | None:
    text = text.strip()
    if text in PERCENT_WORDS:
        return "%"
    for word in UNIT_WORDS:
        if text == word or text == word + _TEXT["count_noun_suffix"]:
            return "%" if word in PERCENT_WORDS else word
    return None


def is_unit_cell(value: Any) -> bool:
    """A cell of a units row: ``亿元``, ``（万元）``, ``%``, ``家``, ``单位：个``…"""
    text = squash(value).strip(BRACKET_CHARS)
    text = text.replace(_INTRODUCER, "").strip(":")
    return bool(text) and _unit_word(text) is not None


def cell_text(value: Any) -> str:
    """How a value reads in a message: integral floats without '.0', text stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# Characters a name may hold that show as nothing or change how a line reads: control characters
# (a line break forged a line of run.log) and the marks that reverse text ("xslx.exe" shown as
# "exe.xlsx").
_UNSEEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def display_name(name: str) -> str:
    """A file name as people should read it.  Names zipped on Chinese Windows arrive as GBK bytes,
    which Python holds as surrogates: decode them as GB18030 (else replace what cannot be read).
    A character that shows as nothing or turns the text around becomes "_"."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raw = name.encode("utf-8", "surrogateescape")
        try:
            name = raw.decode("gb18030")
        except UnicodeDecodeError:
            name = raw.decode("utf-8", "replace")
    return _UNSEEN.sub("_", name)


def held_once(value: Any) -> Any:
    """A short text read again on many rows (a program, a run, a city, a status) as one shared
    object: 100,000 rows read from the ledger then hold it once, not 100,000 times (issue 16).
    Anything else is returned as it is."""
    return sys.intern(value) if type(value) is str and len(value) <= 64 else value


def detached(value: Any) -> Any:
    """A copy of a non-ASCII text, to hand to an encoder that keeps the UTF-8 form of what it
    encodes inside the text object (sqlite3 binding a value, orjson writing results.json): an
    application's id, name and values live as long as the run (15 MB at 100,000 rows, issue 16),
    the copy's form goes with the copy.  ASCII texts carry no second form; anything else is
    returned as it is."""
    if type(value) is str and not value.isascii():
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")
    return value
