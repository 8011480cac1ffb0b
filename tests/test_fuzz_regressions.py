"""Every input the fuzzer (``make fuzz``, ``tools/fuzz.py``) found goes through the full run again.

``tests/data/fuzz/`` holds each failing input, minimised (``tools/fuzz.py --shrink``); its README
says where each came from.  The run is the nightly one (``run_batch``: reading, decisions, the
review workbooks, the lists, the mail drafts with the demo's address book) and nothing in it may
crash: no exception, no file rejected as ``processing-failed``, no output reported failed, a
results.json that is strict JSON and holds to the contract, every rejection said in Chinese.

An input whose crash lies in a module being rewritten elsewhere is marked ``xfail(strict=True)``
with the module named (``XFAIL``): the mark fails the suite as soon as the crash is fixed, so that
it is removed then.
"""

from __future__ import annotations

import gc
import json
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest

from sdbatch.batch import RunOptions, evaluate, run_batch
from tests.contract import breaches

ROOT = Path(__file__).resolve().parents[1]
FUZZ = ROOT / "tests" / "data" / "fuzz"
ADDRESS_BOOK = ROOT / "config" / "address_book.toml"
NOW = "2024-06-27T10:00:00"
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ -][A-Za-z]{2,}){2,}")  # three English words in a row

# file name -> "<module>: <one line>" for crashes in modules another branch is rewriting
XFAIL: dict[str, str] = {}
# file name -> (status, error code, applications) where the fix also decides what the file gives
EXPECTED: dict[str, tuple[str, str | None, int]] = {
    "csv-lines-ended-by-cr.csv": ("processed", None, 1),  # once rejected with the csv module's English words
    "workbook-sheet-declared-three-times.xlsx": ("rejected", "file-unreadable", 0),  # once read three times
    "xls-cut-short.xls": ("rejected", "file-unreadable", 0),
    "xlsx-sheet-xml-cut.xlsx": ("rejected", "file-unreadable", 0),
    "xlsx-cell-in-row-zero.xlsx": ("rejected", "file-unreadable", 0),  # once put in the row above it, or crashed
    "xlsx-cell-style-xf-missing.xlsx": ("processed", None, 3),  # openpyxl fails on its styles; values read
    "xlsx-shared-strings-count-huge.xlsx": ("rejected", "file-unreadable", 0),
    "xlsx-cell-column-past-xfd.xlsx": ("rejected", "file-too-large", 0),
    "xls-calamine-asks-for-terabytes.xls": ("processed", None, 3),  # xlrd reads it; calamine never in-process
    "xlsx-member-without-a-name.xlsx": ("rejected", "file-unreadable", 0),  # once an IndexError (processing-failed)
    "xlsx-one-far-sheet-named-fifty-times.xlsx": ("rejected", "file-unreadable", 0),
    "xlsx-column-width-nan.xlsx": ("processed", None, 2),  # once the city's review not written
}
# (sample under a GBK-byte name, samples beside it under their own names) whose run fails in a
# module another branch is rewriting
GBK_XFAIL: dict[tuple[str, tuple[str, ...]], str] = {}
# (sample under a GBK-byte name, samples beside it): a score sheet whose name reached the mail body
# undecoded (UnicodeEncodeError in the drafts and the list, fixed in programs/park_sheets.py)
GBK_BESIDE: list[tuple[str, tuple[str, ...]]] = [("园区_专家评分表_专家丙.xlsx", ("园区_淄博市_园区汇总表.xlsx",))]


def _cases() -> list[Any]:
    cases = []
    for path in sorted(FUZZ.iterdir()):
        if path.name == "README.md" or path.name.startswith(".") or not path.is_file():
            continue  # slow/: inputs that cost time, not crashes (make fuzz-replay times them)
        marks = [pytest.mark.xfail(strict=True, reason=XFAIL[path.name])] if path.name in XFAIL else []
        cases.append(pytest.param(path, marks=marks, id=path.name))
    return cases


def _gbk_cases() -> list[Any]:
    """One sample of each format alone, and the known failures (GBK_XFAIL)."""
    chosen: dict[str, str] = {}
    for path in sorted((ROOT / "samples" / "inbox").iterdir()):
        chosen.setdefault(path.suffix.lower(), path.name)
    cases = [pytest.param(name, (), id=f"{suffix}-alone") for suffix, name in sorted(chosen.items())]
    cases += [pytest.param(name, beside, id=f"{Path(name).suffix}-beside-{len(beside)}") for name, beside in GBK_BESIDE]
    for (name, beside), reason in GBK_XFAIL.items():
        cases.append(pytest.param(name, beside, marks=[pytest.mark.xfail(strict=True, reason=reason)],
                                  id=f"{Path(name).suffix}-beside-{len(beside)}"))
    return cases


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"results.json holds {name}: not strict JSON")

    return json.loads(text, parse_constant=refuse)


def test_every_saved_input_is_listed() -> None:
    """The README names every saved input and every xfail names a saved input."""
    readme = (FUZZ / "README.md").read_text(encoding="utf-8")
    names = [p.name for p in FUZZ.rglob("*") if p.is_file() and p.name != "README.md"]
    assert names, "no saved fuzz input"
    assert [n for n in names if n not in readme] == []
    assert [n for n in XFAIL if n not in names] == []


@pytest.mark.parametrize("path", _cases())
def test_fuzz_input_runs_without_a_crash(path: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(path, inbox / path.name)
    doc = _run_clean(inbox, tmp_path)
    if path.name in EXPECTED:
        (record,) = doc["files"]
        assert (record["status"], record["error_code"], len(record["applications"])) == EXPECTED[path.name], \
            record["error"]


@pytest.mark.parametrize("suffix", [".xlsx", ".xls", ".ods"])
def test_a_workbook_of_more_sheets_than_the_limit_is_refused_before_loading(
        suffix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every sheet costs a load, a table search and a copy in the review whatever it holds: past
    MAX_SHEETS the file is refused with the count (the fuzzer's 201 declared sheets took 35 s)."""
    from sdbatch import settings
    from tests import builders

    sheets = [builders.Sheet(f"表{n}", [["序号", "集群名称"], [n, f"示例{n}"]]) for n in range(4)]
    path = builders.write(tmp_path / f"济南市数字产业集群申报信息汇总表{suffix}", sheets)
    monkeypatch.setattr(settings, "MAX_SHEETS", 3)
    record = evaluate(tmp_path, RunOptions(out_dir=tmp_path.parent / "out", mail_mode="none")).files[0]
    assert (record.file, record.status, record.error_code) == (path.name, "rejected", "file-too-large")
    assert "4" in record.error and "3" in record.error
    monkeypatch.setattr(settings, "MAX_SHEETS", 4)
    record = evaluate(tmp_path, RunOptions(out_dir=tmp_path.parent / "out", mail_mode="none")).files[0]
    assert record.error_code != "file-too-large"


@pytest.mark.parametrize(("name", "beside"), _gbk_cases())
def test_a_name_in_gbk_bytes_runs_without_a_crash(name: str, beside: tuple[str, ...], tmp_path: Path) -> None:
    """The fuzzer's odd names: a sample of every format whose name is GBK bytes (a zip made on
    Chinese Windows) is read and named readably in every output."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    samples = ROOT / "samples" / "inbox"
    shutil.copyfile(samples / name, os.path.join(os.fsencode(inbox), name.encode("gbk")))
    for other in beside:
        shutil.copyfile(samples / other, inbox / other)
    doc = _run_clean(inbox, tmp_path)
    assert sorted(f["file"] for f in doc["files"]) == sorted([name, *beside])
    # read as under its own name
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copyfile(samples / name, plain / name)
    expected = evaluate(plain, RunOptions(out_dir=tmp_path / "plain-out", now=NOW, mail_mode="none")).files[0]
    got = next(f for f in doc["files"] if f["file"] == name)
    assert (got["status"], got["error_code"], len(got["applications"])) == \
        (expected.status, expected.error_code, len(expected.applications))


def _run_clean(inbox: Path, tmp_path: Path) -> Any:
    options = RunOptions(out_dir=tmp_path / "out", now=NOW, run_id="fuzz", quiet=True,
                         address_book=ADDRESS_BOOK, mail_mode="all")
    outcome = run_batch(inbox, options)
    assert outcome.exit_code in (0, 1), outcome.message
    assert outcome.run_dir is not None
    doc = _strict((outcome.run_dir / "results.json").read_text(encoding="utf-8"))
    assert breaches(doc) == []
    info = _strict((outcome.run_dir / "run.json").read_text(encoding="utf-8"))
    assert info["output_failures"] == []
    for f in doc["files"]:
        assert f["error_code"] != "processing-failed", f["error"]
        reason = re.sub(r"“[^”]*”", "", f["error"] or "")
        assert not ENGLISH.search(reason), f["error"]
    log = (outcome.run_dir / "run.log").read_text(encoding="utf-8")
    assert "Traceback" not in log
    return doc


@pytest.mark.parametrize(("name", "readable"), [("xlsx-sheet-xml-cut.xlsx", False), ("xls-cut-short.xls", False),
                                               ("xlsx-cell-style-xf-missing.xlsx", True)])
def test_a_damaged_workbook_leaves_no_file_open_and_prints_nothing(name: str, readable: bool,
                                                                   capfd: pytest.CaptureFixture[str]) -> None:
    """openpyxl left the package of a workbook it failed to load open until the garbage collector
    found it; the collector's ResourceWarning then fell into whatever ran at that moment, and a
    module being imported (olefile, which walks its own globals) broke on it: a later .xls of the
    batch failed as processing-failed (seed 3, input 7486).  xlrd wrote its English notes on a
    short file to stdout, where staff read the run's summary, and openpyxl prints "0 is out of
    range" for a style that styles.xml lacks (seed 4, input 8715); that workbook's values are now
    read by python-calamine once openpyxl has failed on it."""
    from sdbatch import reading
    from sdbatch.model import FileRejected

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        if readable:
            assert "formats-not-read" in [n.code for n in reading.read_workbook(FUZZ / name).notes]
        else:
            with pytest.raises(FileRejected):
                reading.read_workbook(FUZZ / name)
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    shown = capfd.readouterr()
    assert shown.out == "" and "panicked" not in shown.err and "backtrace" not in shown.err  # calamine's Rust


def test_a_csv_looked_at_as_an_enterprise_list_is_closed(tmp_path: Path) -> None:
    """Every CSV of a run is first looked at as an enterprise list (its first MiB); that file stayed
    open until the garbage collector found it (make fuzz seed 11: 33 inputs in 200)."""
    from sdbatch.evidence.sheets import _CsvSheet

    path = tmp_path / "济南市汇总表.csv"
    path.write_text("序号,集群名称\n1,济南甲产业集群\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        head = _CsvSheet(path, "济南市汇总表").head()
        gc.collect()
    assert head.rows[1] == ["1", "济南甲产业集群"]
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


@pytest.mark.parametrize(("saved", "code"), [("xlsx-shared-strings-count-huge.xlsx", "file-unreadable"),
                                             ("xlsx-cell-column-past-xfd.xlsx", "file-too-large"),
                                             ("xlsx-one-far-sheet-named-fifty-times.xlsx", "file-unreadable")])
def test_what_python_calamine_would_allocate_for_is_refused_before_it(tmp_path: Path, saved: str, code: str) -> None:
    """python-calamine reserves room for what a package declares before reading it: the declared
    uniqueCount of its shared strings (make fuzz seed 12, input 1045), a grid up to a cell past XFD
    (ZZZZ99999, seed 21, input 48660: four letters the extent scans did not see).  Under an
    address-space limit (and on a machine that does not overcommit) the process was aborted, the
    whole night with it.  Run under a 2 GB cap as the fuzzer runs.  The name makes the file look
    like an enterprise list or a score sheet, so that every reader looks at it."""
    import resource
    import subprocess
    import sys

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(FUZZ / saved, inbox / "青岛市数字产业集群申报信息汇总表.xlsx")
    cap = 2 << 30

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    done = subprocess.run([sys.executable, "-m", "sdbatch.cli", "run", str(inbox), "--out", str(tmp_path / "out"),
                           "--run-id", "cap", "--now", NOW, "-q"], capture_output=True, text=True, timeout=300,
                          preexec_fn=limit, cwd=ROOT)
    assert done.returncode == 1, done.stderr
    doc = _strict((tmp_path / "out" / "cap" / "results.json").read_text(encoding="utf-8"))
    assert [(f["status"], f["error_code"]) for f in doc["files"]] == [("rejected", code)]


def test_python_calamine_aborting_on_an_xls_costs_a_child_process_only(capfd: pytest.CaptureFixture[str]) -> None:
    """A bit-flipped .xls (make fuzz seed 21, input 55793) makes python-calamine ask for 4 TB and
    abort the process, whatever the address-space limit: the whole night was lost while the
    enterprise-list reader tried it.  xlrd reads it; the calamine fallback for an .xls xlrd cannot
    open runs in a child, which the abort ends, and the file is rejected as unreadable."""
    from sdbatch.model import FileRejected
    from sdbatch.reading import calamine

    with pytest.raises(FileRejected) as caught:
        calamine.read_apart(FUZZ / "xls-calamine-asks-for-terabytes.xls")
    assert caught.value.code == "file-unreadable"
    shown = capfd.readouterr()
    assert "memory allocation" not in shown.err and "backtrace" not in shown.err


@pytest.mark.parametrize("cell", ["（" * 20000 + "园区", "营业收入（亿元" + "（" * 5000, "（单位：亿元）" + "(" * 5000 + "合计"])
def test_text_past_the_last_closing_bracket_is_read_as_before(cell: str) -> None:
    """The bracket expressions stop at a cell's last closing bracket (make fuzz seed 21: a cell of
    30,000 unclosed brackets cost 16 s); what they find is the same as reading the whole text."""
    import re

    from sdbatch.text import BRACKET_CHARS, CLOSE_BRACKETS, OPEN_BRACKETS, header_key, squash, unit_of

    whole = re.sub(rf"[{re.escape(OPEN_BRACKETS)}][^{re.escape(CLOSE_BRACKETS)}]*[{re.escape(CLOSE_BRACKETS)}]", "",
                   squash(cell))
    assert header_key(cell) == re.sub(rf"[{re.escape(BRACKET_CHARS)}]", "", whole).replace(" ", "")
    assert unit_of(cell) == ("亿元" if "亿元）" in cell else None)
