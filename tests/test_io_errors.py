"""Issue 15 Build 5: every I/O error has a reason — a Chinese sentence with the path, exit 2,
nothing half-published — wherever it happens.

A full disk (ENOSPC) is injected at each write site of a run (the output folder, the lock, the
staging folder, run.log, each writer, results.json, the flush and the rename of the folder; the
ledger's own sites are in ``test_ledger_faults.py``), then for real: the output folder on a tiny
tmpfs of many sizes, and on read-only media (Linux user namespaces; skipped where unavailable).
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sdbatch import atomic, batch, errors, lock, logsetup, writers
from sdbatch.cli import main
from tests.decision_builders import city_file, row

NOW = "2024-06-27T10:00:00"
FULL = "磁盘空间已满"


def enospc(filename: str | None = None) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename)


def make_inbox(inbox: Path) -> None:
    for city in ("济南市", "青岛市"):
        city_file(inbox, city, [row(city_order=i + 1, name=f"{city}第{i + 1}号磁盘测试集群") for i in range(2)])


def run_dirs(out: Path) -> list[str]:
    if not out.exists():
        return []
    return sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


def complete_runs(out: Path) -> list[str]:
    db = out / "ledger.sqlite3"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        rows = [r[0] for r in conn.execute("SELECT id FROM runs WHERE complete = 1 ORDER BY id")]
    conn.close()
    return rows


# ------------------------------------------------------------------------------ the sites
def _mkdir_fails(monkeypatch: pytest.MonkeyPatch, match: Callable[[Path], bool]) -> None:
    real = pathlib.Path.mkdir

    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if match(self):
            raise enospc(str(self))
        real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)


def site_out_dir(mp: pytest.MonkeyPatch, out: Path) -> None:
    shutil.rmtree(out)
    _mkdir_fails(mp, lambda p: p == out)


def site_lock(mp: pytest.MonkeyPatch, out: Path) -> None:
    real = os.write

    def write(fd: int, data: Any) -> int:
        if bytes(data[:7]) == b'{"pid":':  # the lock's JSON
            raise enospc()
        return real(fd, data)

    mp.setattr(lock.os, "write", write)


def site_staging(mp: pytest.MonkeyPatch, out: Path) -> None:
    _mkdir_fails(mp, lambda p: p.name.startswith(atomic.TMP_PREFIX))


def site_run_log(mp: pytest.MonkeyPatch, out: Path) -> None:
    def emit(self: logsetup.RunLogHandler, record: Any) -> None:
        try:
            raise enospc()
        except OSError:
            self.handleError(record)

    mp.setattr(logsetup.RunLogHandler, "emit", emit)


def _writer_fails(name: str, exc: Callable[[], BaseException]) -> Callable[[pytest.MonkeyPatch, Path], None]:
    def site(mp: pytest.MonkeyPatch, out: Path) -> None:
        def fail(*_a: Any, **_k: Any) -> Any:
            raise exc()

        mp.setattr(writers, name, fail)

    return site


def _xlsxwriter_full() -> BaseException:
    from xlsxwriter.exceptions import FileCreateError

    return FileCreateError(enospc("推荐名单.xlsx"))


def site_results_json(mp: pytest.MonkeyPatch, out: Path) -> None:
    def write_json(path: Path, data: Any) -> None:
        raise enospc()  # a write() on a full disk names no file

    mp.setattr(batch, "write_json", write_json)


def site_flush(mp: pytest.MonkeyPatch, out: Path) -> None:
    def fsync_tree(root: Path) -> None:
        raise enospc(str(root))

    mp.setattr(atomic, "fsync_tree", fsync_tree)


def site_rename(mp: pytest.MonkeyPatch, out: Path) -> None:
    def publish_dir(tmp: Path, final: Path, **_k: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp), None, str(final))

    mp.setattr(atomic, "publish_dir", publish_dir)


SITES: dict[str, Callable[[pytest.MonkeyPatch, Path], None]] = {
    "output-folder": site_out_dir,
    "lock": site_lock,
    "staging-folder": site_staging,
    "run.log": site_run_log,
    "review-writer": _writer_fails("write_city_reviews", lambda: enospc("济南市_审核意见.xlsx")),
    "list-writer": _writer_fails("write_ranked_list", _xlsxwriter_full),
    "mail-writer": _writer_fails("write_mail_drafts", lambda: enospc("mail/济南市.eml")),
    "results.json": site_results_json,
    "flush": site_flush,
    "rename": site_rename,
}


@pytest.mark.parametrize("site", list(SITES))
def test_a_full_disk_at_each_write_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, site: str) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    make_inbox(inbox)
    first = CliRunner().invoke(main, ["run", str(inbox), "--out", str(out), "--now", NOW, "--mail", "all"])
    assert first.exit_code == 0, first.output
    before, recorded = run_dirs(out), complete_runs(out)

    SITES[site](monkeypatch, out)
    result = CliRunner().invoke(main, ["run", str(inbox), "--out", str(out), "--force", "--mail", "all"])
    monkeypatch.undo()
    assert result.exit_code == 2, result.output
    assert FULL in result.output and "错误：" in result.output, result.output
    assert "No space" not in result.output and "程序内部错误" not in result.output and "（）" not in result.output
    assert re.search(FULL + r"：\S+", result.output), result.output  # with its place
    if site != "output-folder":
        assert run_dirs(out) == before, "half published"
        assert complete_runs(out) == recorded
        assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]

    again = CliRunner().invoke(main, ["run", str(inbox), "--out", str(out), "--force", "--mail", "all"])
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize("err, says", [
    (errno.EACCES, "没有访问权限"), (errno.EROFS, "只读"), (errno.ENOENT, "找不到"), (errno.EIO, "磁盘读写错误"),
    (errno.EDQUOT, "配额"), (errno.ENOTSUP, "系统错误 ENOTSUP"),
])
def test_each_kind_of_io_error_has_a_chinese_reason(err: int, says: str) -> None:
    from xlsxwriter.exceptions import FileCreateError

    raw = OSError(err, os.strerror(err), "/data/output/x.xlsx")
    for exc in (raw, FileCreateError(raw)):
        message = errors.user_message(exc)
        assert says in message and "/data/output/x.xlsx" in message, message
        assert os.strerror(err) not in message


def test_an_unwritable_output_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    make_inbox(inbox)
    real = pathlib.Path.mkdir

    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if self == out:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    result = CliRunner().invoke(main, ["run", str(inbox), "--out", str(out)])
    assert result.exit_code == 2 and "没有访问权限" in result.output and str(out) in result.output, result.output


def test_a_missing_inbox_and_an_output_folder_that_is_the_inbox(tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["run", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "收件箱目录不存在" in missing.output
    (tmp_path / "inbox").mkdir()
    same = CliRunner().invoke(main, ["run", str(tmp_path / "inbox"), "--out", str(tmp_path / "inbox")])
    assert same.exit_code == 2 and "输出目录就是收件箱" in same.output, same.output


# ------------------------------------------------------------------------------ for real: tmpfs
def _userns_mount_works() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || "
                            "mount -t tmpfs -o size=64k tmpfs /tmp"], capture_output=True, timeout=30)
    return probe.returncode == 0


needs_tmpfs = pytest.mark.skipif(not _userns_mount_works(), reason="no user namespaces to mount a tmpfs in")

DRIVER = textwrap.dedent("""
    import json, os, sqlite3, subprocess, sys
    inbox, root, sizes = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    cli = [sys.executable, "-m", "sdbatch.cli", "run", inbox, "--mail", "all", "--now", "2024-06-27T10:00:00"]
    report = []
    for size in sizes:
        out = os.path.join(root, "out-" + size)
        os.makedirs(out)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", out], check=True)
        first = subprocess.run(cli + ["--out", out], capture_output=True, text=True, timeout=300)
        listing = sorted(os.listdir(out))
        subprocess.run(["mount", "-o", "remount,size=8m", out], check=True)
        again = subprocess.run(cli + ["--out", out], capture_output=True, text=True, timeout=300)
        with sqlite3.connect(os.path.join(out, "ledger.sqlite3")) as conn:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        report.append({"size": size, "rc": first.returncode, "err": first.stderr, "listing": listing,
                       "again_rc": again.returncode, "again_err": again.stderr, "integrity": integrity,
                       "after": sorted(os.listdir(out))})
    print(json.dumps(report))
""")


@needs_tmpfs
def test_a_real_full_disk_at_every_size(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    make_inbox(inbox)
    sizes = ["8k", "32k", "64k", "96k", "128k", "192k", "220k", "240k", "2m"]  # the ledger, the folder, the record
    done = subprocess.run(["unshare", "-rm", sys.executable, "-c", DRIVER, str(inbox), str(tmp_path), ",".join(sizes)],
                          capture_output=True, text=True, timeout=1200, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    outcomes = []
    for case in report:
        outcomes.append((case["size"], case["rc"]))
        assert case["rc"] in (0, 2), case
        if case["rc"] == 2:
            assert FULL in case["err"] and "Traceback" not in case["err"], case
            assert "程序内部错误" not in case["err"] and "No space" not in case["err"], case
            published = [n for n in case["listing"] if not n.startswith(".") and "ledger" not in n]
            assert published == [], case  # nothing half-published
        assert case["again_rc"] == 0, case  # space freed: the next run completes
        assert case["integrity"] == "ok", case
        assert not [n for n in case["after"] if n.startswith(".tmp-")], case
    print("\nfull-disk sweep (size, exit code):", outcomes)
    assert any(rc == 2 for _, rc in outcomes) and outcomes[-1][1] == 0


@needs_tmpfs
def test_read_only_media(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    make_inbox(inbox)
    out, ledger_dir = tmp_path / "out", tmp_path / "ledger"
    out.mkdir()
    ledger_dir.mkdir()
    cli = f"{sys.executable} -m sdbatch.cli run {inbox} --mail none"
    script = textwrap.dedent(f"""
        set -u
        mount -t tmpfs -o size=4m tmpfs {out}
        mount -t tmpfs -o size=4m tmpfs {ledger_dir}
        {cli} --out {out} --ledger {ledger_dir}/ledger.sqlite3 -q; echo "first=$?"
        mount -o remount,ro {ledger_dir}
        {cli} --out {out} --ledger {ledger_dir}/ledger.sqlite3 --force 2>&1; echo "ledger_ro=$?"
        mount -o remount,ro {out}
        {cli} --out {out} --ledger {ledger_dir}/ledger.sqlite3 --force 2>&1; echo "out_ro=$?"
    """)
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})
    said = done.stdout
    assert "first=0" in said, said + done.stderr
    ledger_part = said.split("first=0", 1)[1].split("ledger_ro=", 1)
    assert ledger_part[1].startswith("2"), said
    assert "只读" in ledger_part[0] and "已损坏" not in ledger_part[0] and "recover" not in ledger_part[0], said
    out_part = said.split("ledger_ro=2", 1)[1].split("out_ro=", 1)
    assert out_part[1].startswith("2") and "只读" in out_part[0] and "Traceback" not in said, said
