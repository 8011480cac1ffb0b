"""Builders for the tests across rounds (issue 19): a later round's rules file, city inboxes of each
round with their received times, the run of a round on a shared ledger, and ``sdbatch decide``.

A later round is the bundled rules file copied with its ``[program].name`` (and version, deadline)
changed, as the department makes next year's round; ``[history].family`` stays, so the rounds share
their history.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

from sdbatch.batch import RunOptions, run_batch
from sdbatch.cli import main
from sdbatch.rules import bundled
from tests.contract import check_contract
from tests.decision_builders import CHINA, set_mtime

RUNNER = CliRunner()


def round_rules(folder: Path, base: str, name: str, deadline: dt.date | None = None) -> Path:
    """``base`` (a bundled round) as the rules file of round ``name``."""
    text = bundled()[base].read_text(encoding="utf-8")
    assert text.count(f'name = "{base}"') == 1
    text = text.replace(f'name = "{base}"', f'name = "{name}"').replace('version = "2024.1"', f'version = "{name}.1"')
    if deadline is not None:
        assert text.count('date = "2024-06-28"') == 1
        text = text.replace('date = "2024-06-28"', f'date = "{deadline.isoformat()}"')
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=CHINA)


def run_round(tmp: Path, label: str, inbox: Path, ledger: Path, now: str, *, rules: Path | None = None,
              program: str | None = None, **options: Any) -> dict[str, Any]:
    """Run one round's inbox on the shared ledger; returns its results.json (held to the contract),
    with the run folder under ``"_run_dir"``."""
    outcome = run_batch(inbox, RunOptions(out_dir=tmp / f"out-{label}", ledger_path=ledger, now=now, run_id=label,
                                          mail_mode="all", quiet=True, rules_files=(rules,) if rules else (),
                                          programs=(program,) if program else (), **options))
    assert outcome.run_dir is not None, outcome.message
    doc = check_contract(outcome.run_dir / "results.json")
    doc["_run_dir"] = outcome.run_dir
    return doc


def decide(ledger: Path, *args: str) -> str:
    """``sdbatch decide …`` on the shared ledger; returns what it printed (exit code 0 asserted)."""
    result = RUNNER.invoke(main, ["decide", *args, "--ledger", str(ledger)])
    assert result.exit_code == 0, result.output
    return result.output


def uid_of(output: str) -> str:
    """The entry's number in what ``sdbatch decide`` printed (``已登记：[20250701…-abc123] …``)."""
    return output.split("[", 1)[1].split("]", 1)[0]


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in doc["applications"]}


def codes(app: dict[str, Any]) -> list[str]:
    return [f["code"] for f in app["findings"]]


def finding(app: dict[str, Any], code: str) -> dict[str, Any]:
    found = [f for f in app["findings"] if f["code"] == code]
    assert len(found) == 1, (code, codes(app))
    return found[0]


def sheet_rows(path: Path, sheet: str) -> list[list[Any]]:
    wb = load_workbook(path, read_only=True)
    try:
        return [list(r) for r in wb[sheet].iter_rows(values_only=True)]
    finally:
        wb.close()


def sheet_names(path: Path) -> list[str]:
    wb = load_workbook(path, read_only=True)
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def texts_of(path: Path) -> str:
    """Every cell value and comment of a workbook, joined (to look for what must not be there)."""
    wb = load_workbook(path)
    parts = []
    for ws in wb.worksheets:
        for line in ws.iter_rows():
            for cell in line:
                if cell.value is not None:
                    parts.append(str(cell.value))
                if cell.comment is not None:
                    parts.append(cell.comment.text)
    return "\n".join(parts)


def park_summary(path: Path, rows: list[dict[str, Any]], headers: dict[str, str], received: dt.datetime) -> Path:
    """A city's park summary with the columns ``headers`` names (field id -> header)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "汇总表"
    ws.append(["省级数字经济园区申报汇总表"])
    ws.append(["序号", *headers.values()])
    for i, row in enumerate(rows, 1):
        ws.append([i, *[row.get(k) for k in headers]])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    set_mtime(path, received)
    return path


def results_text(doc: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in doc.items() if k != "_run_dir"}, ensure_ascii=False)
