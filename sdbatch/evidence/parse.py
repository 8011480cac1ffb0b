"""Vectorised parsing of list columns: numbers with units, yes/no, credit codes, choices, text.

A list column arrives as a pandas Series of cells as read (numbers, text, booleans, None or
``""``).  Each parser returns the canonical values as one array and a mask of the cells that
hold something that could not be read (reported, never counted).  Work per cell stays in
numpy/pandas; what must go through the summary's own scalar parsers (:mod:`sdbatch.normalise`)
goes through them once per *distinct* written value (yes/no words, industries, cities).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from sdbatch import normalise
from sdbatch.text import AMOUNT_UNITS, COUNT_UNITS, squash, vocabulary

# 统一社会信用代码 (GB 32100-2015): 18 characters of this alphabet, the last a check character.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64)
_USCC_VALUE = np.full(256, -1, dtype=np.int64)
for _i, _ch in enumerate(USCC_ALPHABET):
    _USCC_VALUE[ord(_ch)] = _i

_NUMBER_CELL = r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))([^\d]*)$"


def _blank_mask(values: pd.Series) -> np.ndarray:
    """Cells that hold nothing: empty, NaN, or a written blank (/, —, 无…)."""
    mask = values.isna().to_numpy(dtype=bool, na_value=True).copy()
    try:
        stripped = values.str.strip()  # NaN for cells that are not text
    except AttributeError:  # no text at all (a column of numbers)
        return mask
    blank = (stripped == "") | stripped.isin(normalise.BLANKS)
    mask |= blank.to_numpy(dtype=bool, na_value=False)
    return mask


def _positional(values: pd.Series) -> pd.Series:
    return values.reset_index(drop=True)


def numbers(values: pd.Series, *, column_unit: str | None, unit: str | None, count: bool
            ) -> tuple[np.ndarray, np.ndarray]:
    """Numbers in ``unit`` (an amount unit of vocabulary.toml, or a count): (float array with NaN
    where nothing is written or readable, mask of unreadable cells).  A unit written in a cell
    (``1.2亿元``) wins over the column's (``（万元）`` in the header)."""
    values = _positional(values)
    n = len(values)
    out = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan).copy()
    factor_col = _factor(column_unit, unit)
    if factor_col != 1.0:
        out = out * factor_col
    bad = np.zeros(n, dtype=bool)
    todo = np.isnan(out) & ~_blank_mask(values)
    if todo.any():
        idx = np.flatnonzero(todo)
        raw = values.iloc[idx]
        texts = raw.astype(str).str.normalize("NFKC").str.replace(r"[\s,]", "", regex=True)
        parts = texts.str.extract(_NUMBER_CELL)
        num = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float, na_value=np.nan).copy()
        suffix = parts[1].fillna("")
        factors = suffix.map(lambda s: _suffix_factor(s, column_unit, unit, count)).to_numpy(dtype=float)
        num = num * factors
        still = np.isnan(num)
        if still.any():  # 约30, (5), ≥10亿元: the summary's own parser, once per distinct text
            uniques = pd.unique(raw.iloc[np.flatnonzero(still)].astype(str))
            parsed = {u: _scalar_number(u, column_unit, unit, count) for u in uniques}
            num[still] = raw.iloc[np.flatnonzero(still)].astype(str).map(parsed).to_numpy(dtype=float)
        out[idx] = num
        bad[idx] = np.isnan(num)
    if count:
        fractional = ~np.isnan(out) & (np.abs(out - np.round(out)) > 1e-9)
        bad |= fractional
        out[fractional] = np.nan
    return out, bad


def _factor(source: str | None, target: str | None) -> float:
    if source in AMOUNT_UNITS and target in AMOUNT_UNITS and source != target:
        return float(AMOUNT_UNITS[source or ""]) / float(AMOUNT_UNITS[target or ""])
    return 1.0


def _suffix_factor(suffix: str, column_unit: str | None, unit: str | None, count: bool) -> float:
    """The factor of a number written as text with ``suffix`` after it (``万元``, ``家``…); NaN
    when the suffix is not a unit the vectorised path knows (the scalar parser tries then)."""
    if count:
        return 1.0 if not suffix or suffix in COUNT_UNITS else np.nan
    if not suffix:
        return _factor(column_unit, unit)
    return _factor(suffix, unit) if suffix in AMOUNT_UNITS else np.nan


def _scalar_number(text: str, column_unit: str | None, unit: str | None, count: bool) -> float:
    parsed = normalise.parse_number(text)
    if parsed.value is None:
        return np.nan
    if count:
        parsed = normalise.to_count(parsed)
        return float(parsed.value) if parsed.value is not None else np.nan
    if unit in AMOUNT_UNITS:
        parsed = normalise.to_amount(parsed, column_unit, unit)
    return float(parsed.value) if parsed.value is not None else np.nan


def by_distinct(values: pd.Series, parse: Callable[[Any], Any]) -> tuple[pd.Series, np.ndarray]:
    """Parse each distinct written value once: (parsed values as an object Series, mask of cells
    that hold something ``parse`` could not read — it returns ``None`` for blank and the
    sentinel :data:`UNREADABLE` for unreadable)."""
    values = _positional(values)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = [parse(u) for u in uniques]
    unreadable = np.array([p is UNREADABLE for p in parsed] + [False], dtype=bool)
    table = np.array([None if p is UNREADABLE else p for p in parsed] + [None], dtype=object)
    return pd.Series(table[codes]), unreadable[codes]


UNREADABLE = object()


_EXTRA_YES = frozenset(vocabulary()["evidence"]["yes"])
_EXTRA_NO = frozenset(vocabulary()["evidence"]["no"])


def _bool_of(value: Any) -> Any:
    if isinstance(value, str):
        word = squash(value)
        if word in _EXTRA_YES:
            return True
        if word in _EXTRA_NO:
            return False
    parsed = normalise.parse_bool(value)
    if parsed.code:
        return UNREADABLE
    return parsed.value


def bools(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Yes/no cells: (is yes, is no, unreadable) as boolean arrays."""
    parsed, bad = by_distinct(values, _bool_of)
    arr = parsed.to_numpy(dtype=object)
    return arr == True, arr == False, bad  # noqa: E712 - elementwise comparison on an object array


def texts(values: pd.Series) -> pd.Series:
    """Text cells stripped, blanks as None (names of firms, clusters, parks)."""
    values = _positional(values)
    out = values.astype(object).where(~_blank_mask(values), None)
    has = out.notna()
    out[has] = out[has].astype(str).str.strip()
    return out


def uscc(values: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """统一社会信用代码: (codes as written, compacted and upper-cased; valid mask; written-but-invalid
    mask).  The check character is computed for every cell at once (numpy); only codes that are not
    already valid as written are compacted (full-width, spaces, dashes, lower case) and checked again."""
    values = _positional(values).astype(object)
    present = ~_blank_mask(values)
    codes = values.where(present, "").to_numpy(dtype=object).copy()
    valid = present & valid_uscc(codes)
    retry = np.flatnonzero(present & ~valid)
    if len(retry):
        fixed = pd.Series(codes[retry], dtype=object).astype(str).str.normalize("NFKC") \
            .str.replace(r"[\s\-—_]", "", regex=True).str.upper().to_numpy(dtype=object)
        codes[retry] = fixed
        valid[retry] = valid_uscc(fixed)
    out = pd.Series(codes, dtype=object).where(present, None)
    return out, valid, present & ~valid


def valid_uscc(codes: np.ndarray) -> np.ndarray:
    """Which of ``codes`` (an array of str) are valid credit codes, checked as stdnum does."""
    n = len(codes)
    ok = np.zeros(n, dtype=bool)
    if not n:
        return ok
    lengths = np.fromiter((len(c) if isinstance(c, str) else 0 for c in codes), dtype=np.int64, count=n)
    right = np.flatnonzero(lengths == 18)
    if not len(right):
        return ok
    try:
        raw = np.array([codes[i] for i in right], dtype="S18")
    except UnicodeEncodeError:  # a non-ASCII character: those codes are invalid
        keep = [i for i in right if codes[i].isascii()]
        right = np.array(keep, dtype=np.int64)
        if not len(right):
            return ok
        raw = np.array([codes[i] for i in right], dtype="S18")
    grid = raw.view(np.uint8).reshape(-1, 18)
    vals = _USCC_VALUE[grid]
    digits = (grid[:, :8] >= ord("0")) & (grid[:, :8] <= ord("9"))
    known = (vals >= 0).all(axis=1) & digits.all(axis=1)
    total = (vals[:, :17] * USCC_WEIGHTS).sum(axis=1)
    check = (31 - total) % 31
    ok[right] = known & (vals[:, 17] == check)
    return ok
