"""One message catalogue: finding code -> Chinese message and what to do (STYLE §4).

Every reader of findings (workbook comments, 问题清单, e-mail bodies, results.json) renders
through :func:`render`, so the wording is the same everywhere.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from sdbatch.model import Finding


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


def codes() -> list[str]:
    return sorted(code for code in entries() if not code.startswith("_"))


def label(kind: str, key: str) -> str:
    """People's word for a status, file status, severity or colour (``label("status", "eligible")``)."""
    return str(entries()["_labels"][kind].get(key, key))


def default_severity(code: str) -> str:
    return str(entries()[code]["severity"])


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if value is None:
        return "（空）"
    return str(value)


def render(finding: Finding) -> Text:
    entry = entries().get(finding.code)
    if entry is None:  # a code outside the catalogue is a programming error; stay readable
        return Text(finding.code, finding.code, "")
    params = _Blank({k: _show(v) for k, v in finding.params.items()})
    params.setdefault("clause", finding.clause or "")
    if finding.original is not None and "original" not in finding.params:
        params["original"] = _show(finding.original)
    return Text(
        title=entry["title"].format_map(params),
        message=entry["message"].format_map(params).strip(),
        fix=entry.get("fix", "").format_map(params).strip(),
    )
