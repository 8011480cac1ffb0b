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


# ------------------------------------------------------------------------------ issue 14 Build 3: the loop
def _essence(results_json: Path) -> dict[str, object]:
    doc = json.loads(results_json.read_text(encoding="utf-8"))
    return {k: v for k, v in doc.items() if k != "run_id"}


def test_an_output_folder_inside_the_inbox_is_never_read_back(tmp_path: Path) -> None:
    """``cd inbox; sdbatch run .`` every night: the second run reads what the cities sent, not the
    first run's reviews, list, results or ledger — and the leftovers of a killed run go."""
    inbox = tmp_path / "inbox"
    make_inbox(inbox, n_cities=3)
    first = subprocess.run([*SDBATCH, "run", ".", "--run-id", "one", "--now", "2024-06-27T10:00:00", "-q"],
                           cwd=inbox, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert (inbox / "output" / "one" / "济南市_审核意见.xlsx").exists()
    # a killed run's leftovers, a copy of a review and an old run folder saved into the inbox by hand
    (inbox / "output" / ".tmp-killed").mkdir()
    (inbox / "output" / ".tmp-killed" / "results.json").write_text("{")
    unchanged = subprocess.run([*SDBATCH, "run", "."], cwd=inbox, capture_output=True, text=True, timeout=120)
    assert unchanged.returncode == 0 and "无新增或变更文件" in unchanged.stdout, unchanged.stdout + unchanged.stderr
    assert not (inbox / "output" / ".tmp-killed").exists()  # removed by the next run
    second = subprocess.run([*SDBATCH, "run", ".", "--force", "--run-id", "two", "--now", "2024-06-27T10:00:00", "-q"],
                            cwd=inbox, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert _essence(inbox / "output" / "one" / "results.json") == _essence(inbox / "output" / "two" / "results.json")

    import shutil

    shutil.copy(inbox / "output" / "one" / "济南市_审核意见.xlsx", inbox / "济南市_审核意见.xlsx")
    shutil.copytree(inbox / "output" / "one", inbox / "旧的运行结果")
    third = run_batch(inbox, options(inbox / "output", force=True, run_id="three", now="2024-06-27T10:00:00"))
    assert third.result is not None and third.exit_code == 0
    files = {f.file: f for f in third.result.files}
    assert files["济南市_审核意见.xlsx"].status == "ignored"
    assert [f.code for f in files["济南市_审核意见.xlsx"].findings] == ["sdbatch-output-ignored"]
    assert files["旧的运行结果"].status == "ignored"
    assert not [f for f in files if f.startswith("output")]
    assert sorted(a.name for a in third.result.applications) == sorted(
        json.loads((inbox / "output" / "one" / "results.json").read_text(encoding="utf-8"))["applications"][i]["name"]
        for i in range(6))


def test_status_says_a_rejected_city_was_returned(tmp_path: Path) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    make_inbox(inbox, n_cities=1)
    (inbox / "聊城市数字产业集群申报信息汇总表.xlsx").write_bytes(b"PK\x03\x04" + bytes(200))
    assert run_batch(inbox, options(out)).exit_code == 1
    shown = cli("status", "--out", str(out))
    assert "聊城市  已退回" in shown.stdout and "济南市  已报送" in shown.stdout and "菏泽市  未报送" in shown.stdout


# ------------------------------------------------------------------------------ issue 14 Build 2: China time
def test_run_log_and_lock_are_in_china_time_whatever_the_server_zone(tmp_path: Path) -> None:
    import datetime as dt
    import re
    from zoneinfo import ZoneInfo

    inbox, out = tmp_path / "inbox", tmp_path / "out"
    make_inbox(inbox, n_cities=1)
    env = {**os.environ, "TZ": "America/Los_Angeles"}  # far from China, on either side of midnight
    done = subprocess.run([*SDBATCH, "run", str(inbox), "--out", str(out), "--run-id", "tz", "-q"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    log = (out / "tz" / "run.log").read_text(encoding="utf-8")
    assert "北京时间" in log.splitlines()[0]
    stamps = re.findall(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ", log, flags=re.M)
    assert stamps
    china_now = dt.datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
    for stamp in stamps:
        assert abs((dt.datetime.fromisoformat(stamp) - china_now).total_seconds()) < 600, (stamp, china_now)
    info = json.loads((out / "tz" / "run.json").read_text(encoding="utf-8"))
    assert info["started"].endswith("+08:00") and info["time_zone"] == "Asia/Shanghai"

    probe = subprocess.run([sys.executable, "-c", (
        "import json; from pathlib import Path; from sdbatch.lock import RunLock, read_lock_info\n"
        f"p = Path({str(tmp_path / 'x.lock')!r})\n"
        "with RunLock(p): print(json.dumps(read_lock_info(p)))\n")], capture_output=True, text=True, env=env, timeout=60)
    assert json.loads(probe.stdout)["started"].endswith("+08:00"), probe.stdout
