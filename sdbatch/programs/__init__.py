"""Program rounds: one rules file each (``*.toml``), plus, only where unavoidable, a small
module named after the program's ``kind`` with hooks the shared stages call:

- ``claim_file(raw, rules) -> data | None``: read a file that holds no summary table
  (e.g. expert score sheets);
- ``check_application(app, rules) -> list[Finding]``: checks of the program's own;
- ``decide(apps, rules, claimed, options) -> dict``: scoring/tiers/ranks instead of the
  generic composite score; the dict is added to results.json.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def hooks_for(kind: str) -> ModuleType | None:
    if not kind.isidentifier():
        return None
    try:
        return importlib.import_module(f"sdbatch.programs.{kind}")
    except ModuleNotFoundError as exc:
        if exc.name == f"sdbatch.programs.{kind}":
            return None
        raise
