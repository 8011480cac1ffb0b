"""Every sentence a person reads comes from the catalogue (catalogue.toml, ui.toml), a rules file
or a template — never from a string literal in Python code (issue 11).

A string constant holding a CJK character outside a docstring counts.  ``ALLOWED`` lists what
each module may still hold, with the reason; the counts may only go down.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from sdbatch import catalogue

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sdbatch"
CJK = re.compile(r"[\u3400-\u9fff\uff01-\uff5e\u3000-\u303f]")

# module (relative to sdbatch/) -> (literals still allowed, why).  Counts only go down.
ALLOWED: dict[str, tuple[int, str]] = {
    "results_schema.py": (8, "JSON Schema descriptions for developers quote canonical Chinese values"),
}


def chinese_literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings and CJK.search(node.value)]


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_chinese_sentences_in_code(path: Path) -> None:
    rel = path.relative_to(PACKAGE).as_posix()
    found = chinese_literals(path)
    allowed, why = ALLOWED.get(rel, (0, ""))
    shown = "\n".join(f"  {rel}:{line}: {value[:40]!r}" for line, value in found[:20])
    assert len(found) <= allowed, (
        f"{rel} holds {len(found)} Chinese literal(s), {allowed} allowed ({why or 'none'}): move them to "
        f"sdbatch/ui.toml (catalogue.text) or catalogue.toml:\n{shown}")


def test_allowances_are_not_stale() -> None:
    """An allowance above what a module holds is lowered, so the count only goes down."""
    stale = {}
    for rel, (allowed, _) in ALLOWED.items():
        path = PACKAGE / rel
        count = len(chinese_literals(path)) if path.exists() else 0
        if count < allowed:
            stale[rel] = (allowed, count)
    assert not stale, f"lower these allowances in ALLOWED (allowed, now): {stale}"


_KEY_CALL = re.compile(r"""\b(?:text|words|lookup)\(\s*["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""")


def test_every_ui_key_used_in_code_exists() -> None:
    missing = []
    for path in _modules():
        for key in _KEY_CALL.findall(path.read_text(encoding="utf-8")):
            try:
                catalogue.lookup(key)
            except KeyError:
                missing.append(f"{path.relative_to(PACKAGE)}: {key}")
    assert not missing, "ui.toml lacks:\n" + "\n".join(missing)
