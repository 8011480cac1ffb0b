"""The jurisdiction a program round applies to, as data (``sdbatch/jurisdictions/<name>.toml``).

A jurisdiction file names the province, the issuing department (it signs the e-mails and the
templates) and its cities in the customary order, with former cities accepted under a new name
(莱芜 -> 济南市).  A rules file names its jurisdiction (``[program] jurisdiction = "shandong"``,
or a path to a ``.toml`` file relative to the rules file); a rules file that names none gets
:data:`sdbatch.settings.JURISDICTION`.  Loaded rules expose it as ``rules.jurisdiction``.

Where one run applies several programs, :func:`jurisdiction_of` gives their union: the first
program's province and department, the cities of every program in the order of the first (then
the others' own cities after them).  Commands that read no rules file (``sdbatch status``,
``mail send``) use :func:`default`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from sdbatch.tomlschema import FileInvalid, Strict, Text, problems_of, render_all, root_of, syntax_message


class Jurisdiction(Strict):
    """A province: its department, its cities (in order) and former city names."""

    province: Text
    department: Text
    """The department that issues the calls; it signs the e-mails and the templates."""
    cities: list[Text] = Field(min_length=1)
    """In the customary order; recognised with or without their last character (the city suffix)."""
    legacy: dict[str, str] = {}
    """A former name as written -> the city it belongs to now."""

    @field_validator("cities")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for city in value:
            if city in seen:
                raise PydanticCustomError("not_unique", "duplicate", {"value": city})
            seen.add(city)
        return value

    @field_validator("legacy")
    @classmethod
    def _legacy_targets(cls, value: dict[str, str], info: Any) -> dict[str, str]:
        cities = info.data.get("cities") or ()
        for old, city in value.items():
            if cities and city not in cities:
                raise PydanticCustomError("legacy_city", "legacy", {"old": old, "city": city})
        return value

    @cached_property
    def order(self) -> dict[str, int]:
        """city -> its position in the customary order."""
        return {c: i for i, c in enumerate(self.cities)}

    def position(self, city: str | None, missing: int = 99) -> int:
        return self.order.get(city or "", missing)

    def find_city(self, text: str) -> tuple[str, bool] | None:
        """The first city named in ``text`` (earliest position), and whether a former name was used.

        A city is recognised with or without its last character (济南市 / 济南)."""
        hits: list[tuple[int, str, bool]] = []
        for city in self.cities:
            pos = text.find(city[:-1] if len(city) > 2 else city)
            if pos >= 0:
                hits.append((pos, city, False))
        for old, city in self.legacy.items():
            pos = text.find(old)
            if pos >= 0:
                hits.append((pos, city, True))
        if not hits:
            return None
        hits.sort(key=lambda h: (h[0], h[2]))
        return hits[0][1], hits[0][2]


ROOT = root_of(Jurisdiction)


def bundled() -> dict[str, Path]:
    """Name -> path of every jurisdiction file shipped in the package."""
    folder = resources.files("sdbatch").joinpath("jurisdictions")
    return {entry.name[:-5]: Path(str(entry)) for entry in sorted(folder.iterdir(), key=lambda e: e.name)
            if entry.name.endswith(".toml")}


def load(name_or_path: str | Path, relative_to: Path | None = None) -> Jurisdiction:
    """A bundled jurisdiction by name (``shandong``) or a jurisdiction file by path (relative to
    ``relative_to``, the folder of the rules file naming it).  :class:`FileInvalid` when it cannot
    be used."""
    text = str(name_or_path)
    if not text.endswith(".toml"):
        if text in bundled():
            return _load_bundled(text)
        from sdbatch.catalogue import text as ui_text

        raise FileInvalid([ui_text("rules_check.jurisdiction.unknown", name=text, known=", ".join(bundled()))],
                          text)
    path = Path(text)
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    return _load_file(path)


@cache
def _load_bundled(name: str) -> Jurisdiction:
    return _load_file(bundled()[name])


def _load_file(path: Path) -> Jurisdiction:
    from sdbatch.catalogue import text

    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FileInvalid([text("rules_check.unreadable", detail=exc.strerror or exc)], str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FileInvalid([syntax_message(exc)], str(path)) from None
    try:
        return Jurisdiction.model_validate(raw)
    except ValidationError as exc:
        raise FileInvalid(render_all(problems_of(exc, ROOT), raw, ROOT), str(path)) from None


def default() -> Jurisdiction:
    """The jurisdiction of commands that read no rules file (:data:`sdbatch.settings.JURISDICTION`)."""
    from sdbatch import settings

    return load(settings.JURISDICTION)


def combined(parts: Iterable[Jurisdiction]) -> Jurisdiction:
    """Several programs' jurisdictions as one (see the module's note); :func:`default` for none."""
    items: list[Jurisdiction] = []
    for part in parts:
        if not any(part is seen for seen in items):
            items.append(part)
    if not items:
        return default()
    if len(items) == 1:
        return items[0]
    first = items[0]
    cities = list(first.cities)
    legacy = dict(first.legacy)
    for other in items[1:]:
        cities += [c for c in other.cities if c not in cities]
        for old, city in other.legacy.items():
            legacy.setdefault(old, city)
    return Jurisdiction(province=first.province, department=first.department, cities=cities, legacy=legacy)


def jurisdiction_of(source: Any = None) -> Jurisdiction:
    """The jurisdiction that applies to ``source``: a Rules object, a RunResult (all its programs),
    a list of Rules, or None (:func:`default`)."""
    if source is None:
        return default()
    own = getattr(source, "jurisdiction", None)
    if isinstance(own, Jurisdiction):
        return own
    programs = getattr(source, "programs", None)
    if isinstance(programs, dict):
        rules = [*programs.values()] or [getattr(source, "rules", None)]
        return combined(r.jurisdiction for r in rules if isinstance(getattr(r, "jurisdiction", None), Jurisdiction))
    if isinstance(source, (list, tuple)):
        return combined(r.jurisdiction for r in source if isinstance(getattr(r, "jurisdiction", None), Jurisdiction))
    return default()


def city_of_file_name(file: str, jurisdiction: Jurisdiction | None = None) -> str | None:
    """The city a file's name names, so that the city is told why the file was not read; None
    for a name that marks an expert's file (专家, 复核…: vocabulary ``[scores] expert_markers``): an
    expert's score sheet that cannot be read is the department's to see, and its name often
    carries the expert's (园区专家评分_某某.xlsx)."""
    from sdbatch.text import vocabulary

    stem = Path(file).stem
    if any(marker in stem for marker in vocabulary()["scores"]["expert_markers"]):
        return None
    hit = (jurisdiction or jurisdiction_of(None)).find_city(stem)
    return hit[0] if hit else None
