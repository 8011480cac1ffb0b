"""Every third-party module the package imports is declared in pyproject.toml, and every declared
runtime dependency is imported somewhere (issue 11: "dependencies match the imports")."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower().replace("_", "-") for d in project["dependencies"]}


def _imported_top_modules() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "sdbatch").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "sdbatch"}


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    mapping = packages_distributions()
    return {m: {d.lower().replace("_", "-") for d in mapping.get(m, [])} for m in modules}


def test_every_import_is_declared() -> None:
    declared = _declared()
    missing = {m: dists for m, dists in _distributions(_imported_top_modules()).items() if not dists & declared}
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_every_dependency_is_imported() -> None:
    used = set().union(*_distributions(_imported_top_modules()).values())
    unused = _declared() - used
    assert not unused, f"declared in pyproject.toml but never imported by sdbatch: {sorted(unused)}"
