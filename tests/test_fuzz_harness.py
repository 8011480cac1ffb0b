"""The fuzzing harness itself (``tools/fuzz.py``): inputs made from the seed alone, odd inbox
entries made as they claim, and what counts as an exception counted."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import stat
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fuzz() -> Any:
    spec = importlib.util.spec_from_file_location("fuzz_tool", ROOT / "tools" / "fuzz.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_tool"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def seeds(fuzz: Any) -> Any:
    return fuzz.Seeds()


def test_an_input_is_made_from_the_seed_and_its_index_alone(fuzz: Any, seeds: Any) -> None:
    fresh = fuzz.Seeds()  # the builders' seeds written again: the same bytes
    assert fresh.files == seeds.files
    first = [fuzz.make_input("7", i, seeds) for i in range(30)]
    again = [fuzz.make_input("7", i, fresh) for i in range(30)]
    assert [(x.name, x.kind, x.data, x.target, x.how) for x in first] == \
        [(x.name, x.kind, x.data, x.target, x.how) for x in again]
    other = [fuzz.make_input("8", i, seeds) for i in range(30)]
    assert sum(a.data != b.data for a, b in zip(first, other, strict=True)) > 20


def test_every_family_of_input_is_made(fuzz: Any, seeds: Any) -> None:
    hows = Counter()
    for i in range(250):
        item = fuzz.make_input("families", i, seeds)
        steps = " ".join(item.how)
        for family in ("bit-flips", "byte-run", "truncate", "zip:xl/worksheets", "zip:xl/styles.xml",
                       "zip:xl/sharedStrings.xml", "zip:xl/workbook.xml", "table:openpyxl", "table:xlsxwriter",
                       "table:xlwt", "table:odf", "table:csv", "gbk-name", "long-name", "fifo", "socket",
                       "symlink:", "dir:", "empty", "renamed:"):
            if family in steps or item.kind == family:
                hows[family] += 1
    assert [f for f in ("bit-flips", "byte-run", "truncate", "zip:xl/worksheets", "zip:xl/styles.xml",
                        "table:openpyxl", "table:xlsxwriter", "table:xlwt", "table:odf", "table:csv", "gbk-name",
                        "symlink:", "renamed:") if not hows[f]] == []


def test_odd_entries_are_made_as_they_claim(fuzz: Any, seeds: Any, tmp_path: Path) -> None:
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    kinds: dict[str, Any] = {}
    for i in range(400):  # the odd-entry family alone (make_input picks it for about one input in twelve)
        item = fuzz.odd_entry(random.Random(f"odd:{i}"), i, seeds, "济南市")
        key = item.kind + (":" + item.target if item.kind in ("symlink", "dir") else "")
        if item.kind != "file" and key not in kinds:
            kinds[key] = item
            fuzz.materialise(item, inbox, outside)
    for key, item in kinds.items():
        path = os.path.join(os.fsencode(inbox), fuzz.entry_name(item))
        mode = os.lstat(path).st_mode
        expect = {"fifo": stat.S_ISFIFO, "socket": lambda m: stat.S_ISSOCK(m) or stat.S_ISFIFO(m),
                  "symlink": stat.S_ISLNK, "dir": stat.S_ISDIR, "empty": stat.S_ISREG}[item.kind]
        assert expect(mode), key
    assert {"fifo", "symlink:loop", "symlink:outside", "dir:workbook", "empty"} <= set(kinds)


def test_an_entry_name_fits_the_file_system(fuzz: Any) -> None:
    item = fuzz.FuzzInput(12, ("名" * 200 + ".xlsx").encode())
    name = fuzz.entry_name(item)
    assert len(name) <= 255 and name.startswith(b"000012-") and name.endswith(b".xlsx")
    assert fuzz.index_of(os.fsdecode(name)) == 12


def _child(fuzz: Any, rc: int = 1, stderr: str = "") -> Any:
    return fuzz.Child(rc=rc, stdout="", stderr=stderr, wall=1.0, cpu=1.0, maxrss_kb=1, timed_out=False)


def _run_dir(tmp_path: Path, files: list[dict[str, Any]], results: str | None = None,
             failures: list[dict[str, Any]] | None = None) -> Path:
    run_dir = tmp_path / "out" / "fuzz"
    run_dir.mkdir(parents=True)
    doc = {"program": "cluster_2024", "rules_version": "2024.1", "run_id": "fuzz", "applications": [],
           "files": files}
    (run_dir / "results.json").write_text(results or json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    (run_dir / "run.json").write_text(json.dumps({"output_failures": failures or []}), encoding="utf-8")
    (run_dir / "run.log").write_text("", encoding="utf-8")
    return tmp_path / "out"


def test_what_counts_as_an_exception(fuzz: Any, tmp_path: Path) -> None:
    failed = {"file": "000007-x.xlsx", "sha256": "0" * 64, "size": 1, "city": None, "status": "rejected",
              "error": "处理文件“000007-x.xlsx”时出错（程序内部错误（TypeError））", "error_code": "processing-failed"}
    out = _run_dir(tmp_path / "a", [failed], failures=[{"output": "review", "city": None, "reason": "x"}])
    kinds = {(p.kind, p.index) for p in fuzz.analyse(_child(fuzz), out, [7, 8])}
    assert ("processing-failed", 7) in kinds and ("output-failed", None) in kinds

    out = _run_dir(tmp_path / "b", [], results='{"files": [], "x": NaN}')
    assert {p.kind for p in fuzz.analyse(_child(fuzz), out, [1])} == {"results-not-strict-json"}

    out = _run_dir(tmp_path / "c", [])
    problems = fuzz.analyse(_child(fuzz, rc=2, stderr="Traceback (most recent call last):\n  File \"/x/sdbatch/a.py\", "
                                  "line 3, in f\nKeyError: 'k'\n"), out, [5])
    assert {p.kind for p in problems} >= {"exit-2", "traceback"}
    assert all(p.index == 5 for p in problems)
    assert "KeyError" in next(p.detail for p in problems if p.kind == "traceback")

    english = dict(failed, error="文件“000009-y.csv”无法打开（new-line character seen in unquoted field）",
                   error_code="file-unreadable", file="000009-y.csv")
    out = _run_dir(tmp_path / "d", [english])
    assert ("reason-in-english", 9) in {(p.kind, p.index) for p in fuzz.analyse(_child(fuzz), out, [9])}

    out = _run_dir(tmp_path / "e", [])
    timed = fuzz.Child(rc=-9, stdout="", stderr="", wall=99.0, cpu=0.1, maxrss_kb=1, timed_out=True)
    assert [p.kind for p in fuzz.analyse(timed, out, [3])] == ["timeout"]


def test_an_input_changed_by_the_run_is_seen(fuzz: Any, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"x")
    os.symlink("a.csv", tmp_path / "link.csv")
    before = fuzz.fingerprints(tmp_path)
    assert set(before) == {b"a.csv"}
    (tmp_path / "a.csv").write_bytes(b"y")
    assert fuzz.fingerprints(tmp_path) != before
