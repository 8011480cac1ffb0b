"""Issue 15 Build 4: the ledger's state told truthfully, through the real ``sdbatch run``.

Each state has its own Chinese message and advice and exits 2 with nothing published: locked by
another process, read-only, full, damaged (a foreign header, a flipped bit in a value, a zeroed
page, a truncated file, a dropped table or column).  Only damage suggests ``sdbatch ledger
recover``, which backs the file up and rebuilds the ledger from the published run folders.  A run
killed between publishing its folder and recording it is recorded by the next command; two output
folders sharing one ledger get distinct run ids and compare only with their own runs.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from sdbatch import ledger as ledger_mod
from sdbatch import settings
from sdbatch.batch import RunOptions, run_batch
from sdbatch.cli import main
from sdbatch.ledger import Ledger
from tests.decision_builders import city_file, row

NOW = "2024-06-27T10:00:00"
RECOVER = "sdbatch ledger recover"


def make_inbox(inbox: Path, cities: tuple[str, ...] = ("济南市", "青岛市", "淄博市")) -> None:
    for city in cities:
        city_file(inbox, city, [row(city_order=i + 1, name=f"{city}第{i + 1}号台账测试集群") for i in range(2)])


def run_dirs(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    """An inbox, its output folder after one complete run, and the ledger (no -wal left)."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    make_inbox(inbox)
    first = run_batch(inbox, RunOptions(out_dir=out, quiet=True, mail_mode="none", now=NOW))
    assert first.exit_code == 0
    ledger = out / "ledger.sqlite3"
    assert not Path(f"{ledger}-wal").exists() or Path(f"{ledger}-wal").stat().st_size == 0
    return inbox, out, ledger


def assert_refused(result: Any, out: Path, before: list[str], *, says: str, recover: bool) -> None:
    assert result.exit_code == 2, result.output
    assert says in result.output, result.output
    assert (RECOVER in result.output) is recover, result.output
    assert "Traceback" not in result.output and "程序内部错误" not in result.output
    assert run_dirs(out) == before  # nothing published
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]


# ------------------------------------------------------------------------------ locked
def test_locked_by_another_process(setup: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, out, ledger = setup
    before = run_dirs(out)
    monkeypatch.setattr(settings, "LEDGER_BUSY_TIMEOUT_S", 0.5)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(ledger)!r}, isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE'); print('held', flush=True); time.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = cli("run", str(inbox), "--out", str(out), "--force", "--mail", "none")
    finally:
        holder.kill()
        holder.wait()
    assert_refused(result, out, before, says="正被另一个程序占用", recover=False)
    assert "0.5 秒" in result.output and "不要删除" in result.output
    again = cli("run", str(inbox), "--out", str(out), "--force", "--mail", "none")  # released: runs
    assert again.exit_code == 0, again.output


# ------------------------------------------------------------------------------ read-only
def _read_only_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite as it opens a ledger on read-only media: every write refused (SQLITE_READONLY)."""
    real = sqlite3.connect

    def connect(database: str, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        return real(f"file:{database}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(ledger_mod.sqlite3, "connect", connect)


def test_read_only_ledger(setup: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, out, _ = setup
    before = run_dirs(out)
    _read_only_connect(monkeypatch)
    result = cli("run", str(inbox), "--out", str(out), "--force", "--mail", "none")
    assert_refused(result, out, before, says="只读", recover=False)
    assert "--ledger" in result.output


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes through chmod")
def test_read_only_ledger_file_by_permissions(setup: tuple[Path, Path, Path]) -> None:
    inbox, out, ledger = setup
    before = run_dirs(out)
    ledger.chmod(0o444)
    try:
        result = cli("run", str(inbox), "--out", str(out), "--force", "--mail", "none")
    finally:
        ledger.chmod(0o644)
    assert_refused(result, out, before, says="只读", recover=False)


# ------------------------------------------------------------------------------ disk full
def _full_after(monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """The ledger's disk fills up just before ``Ledger.<method>`` writes: SQLite's own SQLITE_FULL
    (``max_page_count`` at the pages the file has)."""
    real = getattr(Ledger, method)

    def full(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        self.conn.execute(f"PRAGMA max_page_count = {pages}")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Ledger, method, full)


@pytest.mark.parametrize("method", ["reserve_run", "record_docs"])
def test_disk_full_at_each_ledger_write(setup: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch,
                                        method: str) -> None:
    inbox, out, ledger = setup
    before = run_dirs(out)
    _full_after(monkeypatch, method)
    city_file(inbox, "烟台市", [row(name="烟台满盘集群")])  # plenty to record
    result = cli("run", str(inbox), "--out", str(out), "--mail", "none")
    assert_refused(result, out, before, says="磁盘空间已满，无法写入台账", recover=False)
    monkeypatch.undo()
    with Ledger.open(ledger, out_dir=out) as led:
        assert [r["id"] for r in led.last_runs(9) if r["complete"]] == before  # the record stands as it was
    again = cli("run", str(inbox), "--out", str(out), "--mail", "none")
    assert again.exit_code == 0, again.output
    assert len(run_dirs(out)) == len(before) + 1


def test_disk_full_when_the_ledger_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    make_inbox(inbox, ("济南市",))
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real(*args, **kwargs)
        conn.execute("PRAGMA max_page_count = 1")
        return conn

    monkeypatch.setattr(ledger_mod.sqlite3, "connect", connect)
    result = cli("run", str(inbox), "--out", str(out), "--mail", "none")
    assert_refused(result, out, [], says="磁盘空间已满", recover=False)


# ------------------------------------------------------------------------------ damaged
def _flip_in_value(path: Path) -> None:
    data = bytearray(path.read_bytes())
    at = data.find("产业集群发展促进会".encode())  # an applicant, held in an outcome's values only
    assert at > 0
    data[at + 3] ^= 0x01  # one bit of a value: SQLite keeps no checksum; the run's digest does
    path.write_bytes(bytes(data))


def _flip_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[3] ^= 0x20
    path.write_bytes(bytes(data))


def _zero_page(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page * 2: page * 3] = bytes(page)  # page 3: part of a table
    path.write_bytes(bytes(data))


def _truncate(share: float) -> Callable[[Path], None]:
    def cut(path: Path) -> None:
        os.truncate(path, int(path.stat().st_size * share))

    return cut


def _drop(statement: str) -> Callable[[Path], None]:
    def drop(path: Path) -> None:
        with sqlite3.connect(path) as conn:
            conn.execute(statement)
        conn.close()

    return drop


DAMAGE = {
    "flipped-bit-in-a-value": (_flip_in_value, "校验值不符"),
    "flipped-bit-in-the-header": (_flip_header, "文件头不是 SQLite"),
    "zeroed-page": (_zero_page, ""),
    "truncated-to-1%": (_truncate(0.01), "截断"),
    "truncated-to-99%": (_truncate(0.99), "截断"),
    "dropped-table": (_drop("DROP TABLE outcomes"), "缺少数据表 outcomes"),
    "dropped-column": (_drop("ALTER TABLE runs DROP COLUMN digest"), "缺少列 digest"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_is_said_and_recovery_rebuilds(setup: tuple[Path, Path, Path], damage: str) -> None:
    inbox, out, ledger = setup
    before = run_dirs(out)
    harm, detail = DAMAGE[damage]
    harm(ledger)
    result = cli("run", str(inbox), "--out", str(out), "--force", "--mail", "none")
    assert_refused(result, out, before, says="已损坏", recover=True)
    assert detail in result.output, result.output

    checked = cli("ledger", "check", "--out", str(out))
    assert checked.exit_code == 1 and "已损坏" in checked.output, checked.output

    recovered = cli("ledger", "recover", "--out", str(out))
    assert recovered.exit_code == 0, recovered.output
    backups = [p for p in out.iterdir() if ".damaged-" in p.name]
    assert backups and "改名备份" in recovered.output and before[0] in recovered.output
    assert cli("ledger", "check", "--out", str(out)).exit_code == 0
    # rebuilt from the folder's results.json/run.json: the next run knows nothing changed
    nothing_new = cli("run", str(inbox), "--out", str(out), "--mail", "none")
    assert nothing_new.exit_code == 0 and "无新增或变更文件" in nothing_new.output, nothing_new.output
    shown = cli("status", "--out", str(out))
    assert before[0] in shown.output and "济南市  已报送" in shown.output


def test_recover_leaves_a_sound_ledger_alone(setup: tuple[Path, Path, Path]) -> None:
    _, out, _ = setup
    result = cli("ledger", "recover", "--out", str(out))
    assert result.exit_code == 2 and "完好" in result.output and "--force" in result.output
    assert not [p for p in out.iterdir() if ".damaged-" in p.name]
    assert cli("ledger", "check", "--out", str(out)).exit_code == 0


def test_check_of_a_missing_ledger(tmp_path: Path) -> None:
    result = cli("ledger", "check", "--out", str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and "不存在" in result.output


def test_newer_schema_is_not_called_damage(setup: tuple[Path, Path, Path]) -> None:
    inbox, out, ledger = setup
    with sqlite3.connect(ledger) as conn:
        conn.execute(f"PRAGMA user_version = {ledger_mod.SCHEMA_VERSION + 5}")
    conn.close()
    result = cli("run", str(inbox), "--out", str(out), "--force", "--mail", "none")
    assert_refused(result, out, run_dirs(out), says="升级", recover=False)


# ------------------------------------------------------------------------------ publish and record agree
def test_a_run_killed_between_publishing_and_recording_is_recorded_next(tmp_path: Path) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    make_inbox(inbox)
    killer = (
        "import os, sys\n"
        "from sdbatch import atomic\n"
        "real = atomic.Staging.publish\n"
        "def publish(self):\n"
        "    real(self)\n"
        "    os._exit(9)  # killed after the rename, before the ledger's commit\n"
        "atomic.Staging.publish = publish\n"
        "from sdbatch.cli import main\n"
        "sys.exit(main())\n")
    proc = subprocess.run([sys.executable, "-c", killer, "run", str(inbox), "--out", str(out), "--run-id", "k1",
                           "--mail", "none", "--now", NOW], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    assert run_dirs(out) == ["k1"]
    with sqlite3.connect(out / "ledger.sqlite3") as conn:
        assert conn.execute("SELECT complete FROM runs WHERE id = 'k1'").fetchone() == (0,)
    conn.close()
    shown = cli("status", "--out", str(out))  # status records what was published
    assert "k1" in shown.output and "退出码 0" in shown.output and "未完成" not in shown.output, shown.output
    nothing_new = cli("run", str(inbox), "--out", str(out), "--mail", "none")
    assert "无新增或变更文件" in nothing_new.output, nothing_new.output


def test_a_failed_commit_unpublishes_the_folder(setup: tuple[Path, Path, Path],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The rename happened, then the ledger's commit failed (the WAL could not grow): the folder
    goes back, exit 2, and the ledger holds what it held."""
    inbox, out, ledger = setup
    before = run_dirs(out)

    class FullAtCommit:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self._conn = conn

        def execute(self, sql: str, *args: Any) -> Any:
            if sql == "COMMIT":
                raise sqlite3.OperationalError("database or disk is full")
            return self._conn.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._conn, name)

    real = Ledger.record_docs

    def record_docs(self: Ledger, *args: Any, **kwargs: Any) -> None:
        conn, self.conn = self.conn, FullAtCommit(self.conn)  # type: ignore[assignment]
        try:
            real(self, *args, **kwargs)
        finally:
            self.conn = conn

    monkeypatch.setattr(Ledger, "record_docs", record_docs)
    result = cli("run", str(inbox), "--out", str(out), "--force", "--mail", "none")
    assert_refused(result, out, before, says="磁盘空间已满，无法写入台账", recover=False)
    monkeypatch.undo()
    with Ledger.open(ledger, out_dir=out) as led:
        assert [r["id"] for r in led.last_runs(9) if r["complete"]] == before


# ------------------------------------------------------------------------------ one ledger, two folders
def test_two_output_folders_sharing_one_ledger_in_the_same_second(tmp_path: Path) -> None:
    inbox_a, inbox_b = tmp_path / "a", tmp_path / "b"
    make_inbox(inbox_a, ("济南市", "青岛市"))
    make_inbox(inbox_b, ("烟台市",))
    shared = tmp_path / "shared" / "ledger.sqlite3"
    out_a, out_b = tmp_path / "out-a", tmp_path / "out-b"

    def go(inbox: Path, out: Path, **kw: Any) -> Any:
        return run_batch(inbox, RunOptions(out_dir=out, ledger_path=shared, quiet=True, mail_mode="none",
                                           now=NOW, **kw))

    first_a, first_b = go(inbox_a, out_a), go(inbox_b, out_b)
    assert first_a.run_dir is not None and first_b.run_dir is not None
    assert first_a.run_dir.name != first_b.run_dir.name  # same second, distinct ids
    for outcome in (first_a, first_b):
        results = json.loads((outcome.run_dir / "results.json").read_text(encoding="utf-8"))
        assert results["run_id"] == outcome.run_dir.name
    # each folder compares with its own last run
    assert go(inbox_a, out_a).result is None and go(inbox_b, out_b).result is None
    forced = go(inbox_a, out_a, force=True)
    assert forced.run_dir is not None
    changes = openpyxl.load_workbook(forced.run_dir / "推荐名单.xlsx")["变更情况"]
    kinds = [r[0] for r in changes.iter_rows(min_row=2, values_only=True) if r[0]]
    assert "撤回" not in kinds and "新增" not in kinds, kinds
    with Ledger.open(shared) as led:
        assert len([r for r in led.last_runs(10) if r["complete"]]) == 3


def test_an_explicit_run_id_already_used_is_refused(setup: tuple[Path, Path, Path]) -> None:
    inbox, out, _ = setup
    used = run_dirs(out)[0]
    shutil.rmtree(out / used)  # even when its folder is gone, the ledger remembers the id
    result = cli("run", str(inbox), "--out", str(out), "--force", "--run-id", used, "--mail", "none")
    assert result.exit_code == 2 and "已被使用" in result.output, result.output


def test_a_failed_run_is_shown_with_its_reason(setup: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, out, _ = setup
    from sdbatch import batch

    def full(*_args: Any, **_kw: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(batch, "write_json", full)
    assert cli("run", str(inbox), "--out", str(out), "--force", "--mail", "none").exit_code == 2
    monkeypatch.undo()
    shown = cli("status", "--out", str(out))
    assert "未完成（退出码 2：磁盘空间已满" in shown.output, shown.output


def test_recover_refuses_a_ledger_that_is_not_damaged(setup: tuple[Path, Path, Path]) -> None:
    _, out, ledger = setup
    with sqlite3.connect(ledger) as conn:
        conn.execute(f"PRAGMA user_version = {ledger_mod.SCHEMA_VERSION + 1}")
    conn.close()
    result = cli("ledger", "recover", "--out", str(out))
    assert result.exit_code == 2 and "没有损坏" in result.output and "升级" in result.output, result.output
    assert not [p for p in out.iterdir() if ".damaged-" in p.name]
