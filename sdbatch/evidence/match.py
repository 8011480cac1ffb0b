"""Which application each list (or each part of a list) belongs to.

A list names its application in a column (one list for several clusters), in its sheet name
(one sheet per application), in its title or in its file name (one workbook per application).
Names are compared as the summary's duplicate check compares them (:func:`sdbatch.decide.name_key`),
after the words around a name in a file or sheet name are removed: exactly, by containment,
then by similarity, never across cities.  A city with a single application of the round takes a
list that names only the city.  What matches no application, or two equally, is unmatched.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sdbatch.decide import name_key
from sdbatch.evidence.read import ListSheet
from sdbatch.jurisdiction import Jurisdiction
from sdbatch.model import Application
from sdbatch.text import vocabulary

LIST_WORDS = tuple(sorted(vocabulary()["evidence"]["list_words"], key=len, reverse=True))
GENERIC_WORDS = tuple(sorted(vocabulary()["evidence"]["generic_words"], key=len, reverse=True))
SIMILAR = 0.85  # difflib ratio of two names taken for the same


@dataclass
class Part:
    """The rows of one list sheet that belong to one application."""

    sheet: ListSheet
    rows: np.ndarray  # positions in sheet.frame
    how: str  # column | sheet | title | file | city
    text: str  # what named the application
    city: str | None = None

    @property
    def frame(self) -> pd.DataFrame:
        return self.sheet.frame.iloc[self.rows]


def _key(text: str) -> str:
    key = name_key(text)
    for word in LIST_WORDS:
        key = key.replace(word, "")
    return key


class Matcher:
    def __init__(self, apps: list[Application], jurisdiction: Jurisdiction) -> None:
        self.apps = [a for a in apps if a.name]
        self.jurisdiction = jurisdiction
        self.keys = [_key(a.name or "") for a in self.apps]
        self.bare = [self._without_city(k, a.city) for k, a in zip(self.keys, self.apps, strict=True)]

    def _without_city(self, key: str, city: str | None) -> str:
        if not city:
            return key
        for form in (city, city[:-1] if len(city) > 2 else city):  # with or without the suffix, as find_city
            if key.startswith(form):
                return key[len(form):]
        return key

    def city_of(self, text: str) -> str | None:
        hit = self.jurisdiction.find_city(text)
        return hit[0] if hit else None

    def find(self, text: str, city: str | None) -> Application | None:
        """The application ``text`` names (within ``city`` when known), or None."""
        key = _key(text)
        if not key:
            return None
        city = city or self.city_of(text)
        bare = self._without_city(key, city)
        best: list[tuple[float, int]] = []
        for i, app in enumerate(self.apps):
            if city and app.city and app.city != city:
                continue
            score = self._score(key, bare, self.keys[i], self.bare[i])
            if score > 0:
                best.append((score, i))
        if not best:
            return None
        best.sort(reverse=True)
        if len(best) > 1 and best[1][0] == best[0][0] and self.apps[best[1][1]] is not self.apps[best[0][1]]:
            return None  # two applications equally named: not guessed
        return self.apps[best[0][1]]

    @staticmethod
    def _score(key: str, bare: str, app_key: str, app_bare: str) -> float:
        if key == app_key or (bare and bare == app_bare):
            return 100.0
        if app_bare and len(app_bare) >= 2 and app_bare in key:
            return 50.0 + len(app_bare)
        if bare and len(bare) >= 2 and bare in app_bare:
            return 30.0 + len(bare)
        ratio = difflib.SequenceMatcher(None, bare or key, app_bare or app_key).ratio()
        return 10.0 * ratio if ratio >= SIMILAR else 0.0

    def only_app_of(self, city: str | None, texts: tuple[str, ...]) -> Application | None:
        """The city's only application, when ``texts`` name nothing but the city (and generic words)."""
        mine = [a for a in self.apps if a.city == city] if city else []
        if len(mine) != 1:
            return None
        for text in texts:
            key = self._without_city(_key(text), city)
            for word in GENERIC_WORDS:
                key = key.replace(word, "")
            if key and not key.isascii():  # a name of its own (曹州…): another application
                return None
        return mine[0]


def split_sheet(sheet: ListSheet, matcher: Matcher, app_field: str | None, city_field: str | None
                ) -> tuple[list[tuple[Part, Application]], list[Part]]:
    """The parts of ``sheet`` with their applications, and the parts no application takes."""
    matched: list[tuple[Part, Application]] = []
    unmatched: list[Part] = []
    frame = sheet.frame
    n = len(frame)
    if not n:
        return matched, unmatched
    cities = frame[city_field].to_numpy(dtype=object) if city_field and city_field in frame else None
    rest = np.ones(n, dtype=bool)
    if app_field and app_field in frame:
        names = frame[app_field]
        codes, uniques = pd.factorize(names, use_na_sentinel=True)
        for u, value in enumerate(uniques):
            rows = np.flatnonzero(codes == u)
            rest[rows] = False
            city = _mode(cities[rows]) if cities is not None else None
            city = city or sheet.city
            part = Part(sheet, rows, "column", str(value), city)
            app = matcher.find(str(value), city)
            (matched.append((part, app)) if app is not None else unmatched.append(part))
    if rest.any():
        rows = np.flatnonzero(rest)
        city = (_mode(cities[rows]) if cities is not None else None) or sheet.city
        for how, candidate in zip(("sheet", "title", "file"), _texts(sheet), strict=True):
            if not candidate:
                continue
            app = matcher.find(candidate, city)
            if app is not None:
                matched.append((Part(sheet, rows, how, candidate, city), app))
                break
        else:
            named = tuple(t for t in _texts(sheet) if t and matcher.city_of(t) == city)
            app = matcher.only_app_of(city, named) if named else None
            text = max((t for t in _texts(sheet) if t), key=lambda t: len(_key(t)), default=sheet.sheet)
            if app is not None:
                matched.append((Part(sheet, rows, "city", text, city), app))
            else:
                unmatched.append(Part(sheet, rows, "", text, city))
    return matched, unmatched


def _texts(sheet: ListSheet) -> tuple[str, str, str]:
    from pathlib import Path

    return sheet.sheet, sheet.title or "", Path(sheet.file).stem


def _mode(values: np.ndarray) -> str | None:
    present = [v for v in values[:1000] if isinstance(v, str) and v]
    if not present:
        return None
    return str(max(set(present), key=present.count))
