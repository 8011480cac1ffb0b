"""Issue 5 end to end: no-change runs, what changed, mail only for changed cities, the lock,
kill -9 at several points, and two runs started together — through the real `sdbatch run`."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest

from sdbatch.batch import RunOptions, run_batch
from tests.decision_builders import check_contract, city_file, row

SDBATCH = [sys.executable, "-m", "sdbatch.cli"]
CITIES = ["济南市", "青岛市", "淄博市", "枣庄市", "东营市", "烟台市", "潍坊市", "济宁市"]


def make_inbox(inbox: Path, n_cities: int = 3, rows_per_city: int = 2) -> None:
    for city in CITIES[:n_cities]:
        city_file(inbox, city, [row(city_order=i + 1, name=f"{city}第{i + 1}号软件产业集群")
                                for i in range(rows_per_city)])


def run_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


def options(out: Path, **kw: object) -> RunOptions:
    return RunOptions(out_dir=out, quiet=True, **kw)  # type: ignore[arg-type]


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SDBATCH, *args], capture_output=True, text=True, timeout=timeout, check=False)


def test_second_run_with_nothing_new_writes_nothing(tmp_path: Path) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    make_inbox(inbox)
    first = run_batch(inbox, options(out))
    assert first.exit_code == 0 and first.run_dir is not None
    second = cli("run", str(inbox), "--out", str(out))
    assert second.returncode == 0
    assert "无新增或变更文件" in second.stdout
    assert run_dirs(out) == [first.run_dir]
    forced = run_batch(inbox, options(out, force=True))
    assert forced.run_dir is not None and len(run_dirs(out)) == 2


def test_a_changed_file_is_noticed_and_reported(tmp_path: Path) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    make_inbox(inbox)
    run_batch(inbox, options(out, mail_mode="all"))
    # 青岛 corrects one value: its revenue falls below 50 亿元 (三(二)) -> 不符合条件.
    city_file(inbox, "青岛市", [row(city_order=1, name="青岛市第1号软件产业集群", revenue_total=40),
                                row(city_order=2, name="青岛市第2号软件产业集群")])
    second = run_batch(inbox, options(out))
    assert second.run_dir is not None and second.result is not None
    check_contract(second.run_dir / "results.json")
    changes = openpyxl.load_workbook(second.run_dir / "推荐名单.xlsx")["变更情况"]
    rows = [[c for c in r] for r in changes.iter_rows(values_only=True)]
    flat = [" ".join(str(c) for c in r if c is not None) for r in rows[1:]]
    assert any("青岛市第1号软件产业集群" in line and "不符合条件" in line for line in flat), flat
    assert not any("济南市" in line for line in flat), flat
    # Mail drafts only for the city whose outcome changed.
    assert sorted(p.name for p in (second.run_dir / "mail").glob("*.eml")) == ["青岛市.eml"]


def test_removed_file_counts_as_a_change(tmp_path: Path) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    make_inbox(inbox)
    run_batch(inbox, options(out))
    next(inbox.glob("淄博市*")).unlink()
    again = run_batch(inbox, options(out))
    assert again.result is not None, "a removed file must trigger a new run"


def test_second_run_while_one_holds_the_lock_exits_2(tmp_path: Path) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    make_inbox(inbox, n_cities=1)
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from sdbatch.lock import RunLock, LOCK_NAME\n"
        f"with RunLock(Path({str(out)!r}) / LOCK_NAME):\n"
        "    print('held', flush=True); time.sleep(30)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        blocked = cli("run", str(inbox), "--out", str(out))
        assert blocked.returncode == 2
        assert "另一次审核正在运行" in blocked.stderr
        assert "Traceback" not in blocked.stderr
    finally:
        holder.kill()
        holder.wait()
    # The holder died without releasing: the next run takes the lock over.
    after = cli("run", str(inbox), "--out", str(out))
    assert after.returncode == 0, after.stderr


def _integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


@pytest.mark.parametrize("delay", [0.05, 0.4, 0.9, 1.6])
def test_kill_9_at_any_moment_leaves_everything_usable(tmp_path: Path, delay: float) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    make_inbox(inbox, n_cities=8, rows_per_city=3)
    first = run_batch(inbox, options(out))
    assert first.run_dir is not None
    before = (first.run_dir / "results.json").read_bytes()
    inputs = {p.name: p.read_bytes() for p in inbox.iterdir()}
    proc = subprocess.Popen([*SDBATCH, "run", str(inbox), "--out", str(out), "--force", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # The previous run, the inbox and the ledger are intact.
    assert (first.run_dir / "results.json").read_bytes() == before
    assert {p.name: p.read_bytes() for p in inbox.iterdir()} == inputs
    assert _integrity(out / "ledger.sqlite3") == "ok"
    for folder in run_dirs(out):  # every published folder is complete
        json.loads((folder / "results.json").read_text(encoding="utf-8"))
        assert (folder / "run.json").exists()
    # The next run completes normally and cleans what the killed one left.
    nxt = cli("run", str(inbox), "--out", str(out), "--force")
    assert nxt.returncode == 0, nxt.stderr
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]
    check_contract(run_dirs(out)[-1] / "results.json")


def test_two_runs_started_together(tmp_path: Path) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    make_inbox(inbox, n_cities=4)
    procs = [subprocess.Popen([*SDBATCH, "run", str(inbox), "--out", str(out), "--quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    codes = [p.wait(timeout=120) for p in procs]
    # One runs; the other either found the lock taken (2) or, starting after, nothing new (0).
    assert sorted(codes) in ([0, 0], [0, 2]), codes
    assert len(run_dirs(out)) == 1
    assert _integrity(out / "ledger.sqlite3") == "ok"
    check_contract(run_dirs(out)[0] / "results.json")


def test_status_shows_runs_and_cities(tmp_path: Path) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    make_inbox(inbox, n_cities=2)
    run_batch(inbox, options(out))
    shown = cli("status", "--out", str(out))
    assert shown.returncode == 0
    assert "已报送" in shown.stdout and "未报送" in shown.stdout
