"""One message catalogue (STYLE §4).

Two data files, one API:

- ``catalogue.toml``: finding code -> Chinese title, message, what to do, severity and
  audience.  Every reader of findings (workbook comments, 问题清单, e-mail bodies, results.json)
  renders through :func:`render`, so the wording is the same everywhere.
- ``ui.toml``: every other sentence or word a person reads (CLI messages, sheet names, column
  titles, legends, rules-check problems), looked up by a dotted key with :func:`text`.

Python code holds no Chinese sentence of its own (a test enforces it): it names a key here.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from sdbatch.model import Finding

AUDIENCES = ("city", "department")


@dataclass(frozen=True)
class Text:
    title: str
    message: str
    fix: str


class _Blank(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return ""


@cache
def entries() -> dict[str, Any]:
    raw = resources.files("sdbatch").joinpath("catalogue.toml").read_text(encoding="utf-8")
    return tomllib.loads(raw)


@cache
def ui_entries() -> dict[str, Any]:
    raw = resources.files("sdbatch").joinpath("ui.toml").read_text(encoding="utf-8")
    return tomllib.loads(raw)


def codes() -> list[str]:
    return sorted(code for code in entries() if not code.startswith("_"))


def label(kind: str, key: str) -> str:
    """People's word for a status, file status, severity or colour (``label("status", "eligible")``)."""
    return str(entries()["_labels"][kind].get(key, key))


def default_severity(code: str) -> str:
    return str(entries()[code]["severity"])


def audience(code: str) -> str:
    """Who may read a finding of this code: ``city`` (the city's review and e-mail, and the
    department's outputs) or ``department`` (the department's list and results.json only)."""
    entry = entries().get(code) or {}
    return str(entry.get("audience", "city"))


def lookup(key: str) -> Any:
    """The raw ui.toml entry at a dotted key (a string, a list or a table). KeyError if absent."""
    node: Any = ui_entries()
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(f"ui.toml has no entry '{key}'")
        node = node[part]
    return node


def text(key: str, /, **params: Any) -> str:
    """The sentence or word at ``key`` in ui.toml, filled with ``params`` (``{name}`` slots).

    A slot without a parameter renders empty rather than failing at a user's desk; the test
    suite checks every key used in code exists.
    """
    template = lookup(key)
    if not isinstance(template, str):
        raise KeyError(f"ui.toml entry '{key}' is not text")
    if not params:
        return template
    return template.format_map(_Blank({k: _show(v) for k, v in params.items()}))


def words(key: str) -> tuple[str, ...]:
    """A list of words at ``key`` in ui.toml (e.g. the words that mark a total row)."""
    value = lookup(key)
    if not isinstance(value, list):
        raise KeyError(f"ui.toml entry '{key}' is not a list")
    return tuple(str(v) for v in value)


def join(items: Any) -> str:
    """Items listed as a Chinese sentence lists them (顿号: 甲、乙、丙)."""
    return str(lookup("punct.list")).join(str(i) for i in items)


def pair(label: str, value: Any) -> str:
    """``label：value`` as a note line writes it."""
    return text("punct.pair", label=label, value=value)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return lookup("values.yes") if value else lookup("values.no")
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if value is None:
        return lookup("values.empty")
    return str(value)


def render(finding: Finding, overlay: Mapping[str, Mapping[str, str]] | None = None) -> Text:
    """The finding's title, message and fix in Chinese.  ``overlay`` (a program's ``[messages]``
    table) may replace any of the three for a code, e.g. a park round's own wording."""
    entry = entries().get(finding.code)
    if entry is None:  # a code outside the catalogue is a programming error; stay readable
        return Text(finding.code, finding.code, "")
    if overlay and finding.code in overlay:
        entry = {**entry, **overlay[finding.code]}
    params = _Blank({k: _show(v) for k, v in finding.params.items()})
    params.setdefault("clause", finding.clause or "")
    if finding.original is not None and "original" not in finding.params:
        params["original"] = _show(finding.original)
    return Text(
        title=entry["title"].format_map(params),
        message=entry["message"].format_map(params).strip(),
        fix=entry.get("fix", "").format_map(params).strip(),
    )
