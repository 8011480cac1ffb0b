"""Docs that come from code (STYLE §9): up to date, every finding code and every command documented."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from sdbatch.catalogue import codes
from sdbatch.cli import main
from sdbatch.rules import bundled, load

ROOT = Path(__file__).resolve().parent.parent


def _load_gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "tools" / "gen_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_docs = _load_gen_docs()


def test_docs_are_up_to_date() -> None:
    stale = [str(p.relative_to(ROOT)) for p in gen_docs.stale()]
    assert not stale, f"out of date: {stale}; run `make docs`"


def test_every_finding_code_is_documented() -> None:
    text = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    missing = [code for code in codes() if f"| `{code}` |" not in text]
    assert not missing, f"undocumented finding codes: {missing}; run `make docs`"


def test_every_condition_is_documented() -> None:
    text = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    for name, path in bundled().items():
        rules = load(path)
        assert f"## {name}:" in text
        for c in rules.conditions:
            assert f"`{c.id}`" in text and c.text in text, (name, c.id)


def test_every_command_is_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    paths = list(gen_docs.command_paths(main))
    assert ("rules", "show") in paths and ("template",) in paths  # the walk reaches subcommands
    missing = [" ".join(p) for p in paths if f"## {' '.join(('sdbatch', *p))}\n" not in text]
    assert not missing, f"undocumented commands: {missing}; run `make docs`"


def test_check_mode_reports_stale_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "findings.md"
    stale.write_text("old\n", encoding="utf-8")
    monkeypatch.setattr(gen_docs, "ROOT", tmp_path)
    monkeypatch.setattr(gen_docs, "FINDINGS", stale)
    monkeypatch.setattr(gen_docs, "CLI", tmp_path / "cli.md")
    assert gen_docs.main(["--check"]) == 1
    assert gen_docs.main([]) == 0
    assert gen_docs.main(["--check"]) == 0
    assert "`below-threshold`" in stale.read_text(encoding="utf-8")


HELP_PROBE = """
import sys
from sdbatch.cli import main
for args in (["--help"], ["run", "--help"], ["rules", "show", "--help"], ["template", "--help"]):
    code = main(args, prog_name="sdbatch", standalone_mode=False)
    assert code in (0, None), code
heavy = sorted(m for m in ("pandas", "openpyxl", "numpy") if m in sys.modules)
print("HEAVY:", ",".join(heavy))
"""


def test_help_does_not_import_heavy_modules() -> None:
    result = subprocess.run([sys.executable, "-c", HELP_PROBE], capture_output=True, text=True, cwd=ROOT,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "用法：sdbatch" in result.stdout  # click speaks Chinese (issue 14)
    assert result.stdout.strip().splitlines()[-1] == "HEAVY:", result.stdout.splitlines()[-1]
