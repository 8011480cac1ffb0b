"""Small text helpers shared by the header matcher and the value normalisers."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from importlib import resources
from typing import Any


# Unit words that may appear in headers, a units row or a cell, and their factor to the
# canonical unit of their family (amounts -> 亿元).  Longest first for matching.
def vocabulary() -> dict[str, Any]:
    """The shared reading vocabulary (sdbatch/vocabulary.toml), loaded once."""
    global _VOCABULARY
    if _VOCABULARY is None:
        raw = resources.files("sdbatch").joinpath("vocabulary.toml").read_text(encoding="utf-8")
        _VOCABULARY = tomllib.loads(raw)
    return _VOCABULARY


_VOCABULARY: dict[str, Any] | None = None
AMOUNT_UNITS: dict[str, float] = dict(vocabulary()["units"]["amounts"])
COUNT_UNITS = tuple(vocabulary()["units"]["counts"])
UNIT_WORDS = tuple(sorted([*AMOUNT_UNITS, "%", "％", "百分比", *COUNT_UNITS], key=len, reverse=True))

_SPACES = re.compile(r"\s+")
_BRACKETS = re.compile(r"[（(\[【〔{「『][^）)\]】〕}」』]*[）)\]】〕}」』]")
_PUNCT = re.compile(r"[\s、，,。.:：;；/／\\|*＊#＃\-—_~·•'\"“”‘’!！?？<>《》]+")


def nfkc(value: Any) -> str:
    """Full-width -> half-width, compatibility forms folded; None -> ''."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value))


def squash(value: Any) -> str:
    """NFKC, simplified characters (數字產業 -> 数字产业), lower case, every space removed
    (also inside: clerks type 集 群 名 称)."""
    text = _SPACES.sub("", nfkc(value)).lower()
    return _simplified(text) if not text.isascii() else text


_T2S: Any = None


def _simplified(text: str) -> str:
    global _T2S
    if _T2S is None:
        import opencc

        _T2S = opencc.OpenCC("t2s")
    return str(_T2S.convert(text))


def header_key(value: Any) -> str:
    """A header reduced for matching: NFKC, no spaces, no bracketed parts, no punctuation."""
    text = _BRACKETS.sub("", squash(value))
    text = text.replace("（", "").replace("）", "")
    return _PUNCT.sub("", text)


def header_key_full(value: Any) -> str:
    """Like :func:`header_key` but bracketed words kept (for keyword matching)."""
    return _PUNCT.sub("", re.sub(r"[（()）\[\]【】〔〕]", "", squash(value)))


def unit_of(header: Any) -> str | None:
    """The unit named in a header: ``（亿元）``, ``(万元)``, ``单位：万元``, a trailing ``%``."""
    text = squash(header)
    found = None
    for part in re.findall(r"[（(\[【]([^）)\]】]*)[）)\]】]", text):
        unit = _unit_word(part.replace("单位", "").strip(":："))
        if unit:
            found = unit
    if found:
        return found
    m = re.search(r"单位[:：]?([^\s,，;；]+)", text)
    if m:
        return _unit_word(m.group(1))
    if text.endswith("%") or text.endswith("％"):
        return "%"
    for word in ("万元", "亿元", "千元"):
        if text.endswith(word):
            return word
    return None


def _unit_word(text: str) -> str | None:
    text = text.strip()
    if text in ("%", "％", "百分比", "百分数"):
        return "%"
    for word in UNIT_WORDS:
        if text == word or text == word + "数":
            return "%" if word in ("％", "百分比") else word
    return None


def is_unit_cell(value: Any) -> bool:
    """A cell of a units row: ``亿元``, ``（万元）``, ``%``, ``家``, ``单位：个``…"""
    text = squash(value).strip("()（）[]【】")
    text = text.replace("单位", "").strip(":：")
    return bool(text) and _unit_word(text) is not None


def cell_text(value: Any) -> str:
    """How a value reads in a message: integral floats without '.0', text stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def display_name(name: str) -> str:
    """A file name as people should read it.  Names zipped on Chinese Windows arrive as GBK bytes,
    which Python holds as surrogates: decode them as GB18030 (else replace what cannot be read)."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        raw = name.encode("utf-8", "surrogateescape")
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError:
            return raw.decode("utf-8", "replace")
