"""Issue 15 Build 1, end to end: one good city file beside every kind of bad inbox entry.

The inbox holds a FIFO, a socket, a character device (where the system lets us make one), a
symbolic-link loop, a dangling link, a link out of the inbox, a link into it (to a file and to a
folder), a file and a folder nobody may read (when not running as root), a CSV whose name is GBK
bytes, a CSV with a control character in its header, a workbook with a duration cell — plus the
good cities.  ``sdbatch run`` goes in a child process with a timeout (a FIFO once blocked the
night forever) and its peak memory measured; the good cities are published and every bad item
is ignored or rejected with its reason.  The same paths under root (where chmod protects nothing)
are covered in process by making the listing and the hashing fail.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from sdbatch import inbox as inbox_mod
from sdbatch.batch import RunOptions, evaluate
from sdbatch.catalogue import render
from sdbatch.model import Finding
from tests.decision_builders import COLUMNS, city_file, header_label, row

ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0
GOOD = "济南市数字产业集群申报信息汇总表.xlsx"
GBK_NAME = "淄博市数字产业集群申报信息汇总表.csv"
CONTROL = "青岛市数字产业集群申报信息汇总表.csv"
DURATION = "枣庄市数字产业集群申报信息汇总表.xlsx"
UNREADABLE_FILE = "东营市数字产业集群申报信息汇总表.xlsx"
UNREADABLE_DIR = "烟台来件"


def write_csv(path: Path | bytes, city: str, name: str, *, header_suffix: str = "") -> None:
    data = row(city=city, name=name, city_order=1)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([header_label(c) + (header_suffix if c == "name" else "") for c in COLUMNS])
        writer.writerow([data.get(c) for c in COLUMNS])


def build_inbox(root: Path) -> dict[str, tuple[str, str | None]]:
    """The inbox; returns file -> (expected status, expected finding or error code)."""
    inbox = root / "inbox"
    expected: dict[str, tuple[str, str | None]] = {}
    city_file(inbox, "济南市", [row(name="济南隔离测试集群")])  # and a link to it: see the test

    os.mkfifo(inbox / "管道.csv")
    expected["管道.csv"] = ("ignored", "special-file-ignored")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(inbox / "套接字.csv"))
    sock.close()
    expected["套接字.csv"] = ("ignored", "special-file-ignored")
    try:
        os.mknod(inbox / "设备.xlsx", 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
        expected["设备.xlsx"] = ("ignored", "special-file-ignored")
    except (PermissionError, OSError):
        pass  # no CAP_MKNOD here: the FIFO and the socket stand for the special files

    os.symlink("循环", inbox / "循环")
    expected["循环"] = ("ignored", "symlink-broken")
    os.symlink("不存在.xlsx", inbox / "断开的链接.xlsx")
    expected["断开的链接.xlsx"] = ("ignored", "symlink-broken")
    outside = root / "outside.csv"
    write_csv(outside, "滨州市", "外部链接集群")
    os.symlink(outside, inbox / "外部.csv")
    expected["外部.csv"] = ("ignored", "symlink-ignored")
    os.symlink(GOOD, inbox / "链接到济南.xlsx")  # read once: the same bytes are a duplicate
    (inbox / "子目录").mkdir()
    os.symlink("子目录", inbox / "文件夹链接")
    expected["文件夹链接"] = ("ignored", "symlink-folder")

    city_file(inbox, "东营市", [row(name="东营权限测试集群")], name=UNREADABLE_FILE)
    city_file(inbox / UNREADABLE_DIR, "烟台市", [row(name="烟台权限测试集群")])
    if ROOT_USER:  # chmod keeps nothing from root: both are simply read
        expected[UNREADABLE_FILE] = ("processed", None)
        expected[f"{UNREADABLE_DIR}/烟台市数字产业集群申报信息汇总表.xlsx"] = ("processed", None)
    else:
        expected[UNREADABLE_FILE] = ("rejected", "file-inaccessible")
        expected[UNREADABLE_DIR] = ("rejected", "folder-inaccessible")
    (inbox / UNREADABLE_FILE).chmod(0)
    (inbox / UNREADABLE_DIR).chmod(0)

    write_csv(os.path.join(os.fsencode(inbox), GBK_NAME.encode("gb18030")), "淄博市", "淄博编码隔离集群")
    expected[GBK_NAME] = ("processed", None)
    write_csv(inbox / CONTROL, "青岛市", "青岛控制字符集群", header_suffix="\x07\x1b")
    expected[CONTROL] = ("processed", None)

    path = city_file(inbox, "枣庄市", [row(name="枣庄时长集群")], name=DURATION, mtime=None)
    wb = openpyxl.load_workbook(path)
    cell = wb.active.cell(row=3, column=COLUMNS.index("contact") + 1)
    cell.value = dt.timedelta(hours=30, minutes=5, seconds=7)
    cell.number_format = "[h]:mm:ss"
    wb.save(path)
    expected[DURATION] = ("processed", None)
    return expected


def run_child(inbox: Path, out: Path, timeout: float = 180) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """``sdbatch run`` in a grandchild: (process, seconds, peak RSS in bytes).  A hang fails the
    test at ``timeout`` instead of blocking the suite."""
    probe = (
        "import resource, subprocess, sys, json\n"
        f"p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout={timeout})\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
        "print(json.dumps({'rc': p.returncode, 'out': p.stdout, 'err': p.stderr, 'peak': peak}))\n"
    )
    cli = [sys.executable, "-m", "sdbatch.cli", "run", str(inbox), "--out", str(out), "--run-id", "iso",
           "--now", "2024-06-20T10:00:00"]
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe, *cli], capture_output=True, text=True, timeout=timeout + 30)
    seconds = time.perf_counter() - t0
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    return subprocess.CompletedProcess(cli, report["rc"], report["out"], report["err"]), seconds, int(report["peak"])


@pytest.fixture(scope="module")
def isolated_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("iso")
    expected = build_inbox(root)
    try:
        proc, seconds, peak = run_child(root / "inbox", root / "out")
    finally:
        (root / "inbox" / UNREADABLE_FILE).chmod(0o644)
        (root / "inbox" / UNREADABLE_DIR).chmod(0o755)
    print(f"\nisolation inbox: {len(expected)} entries, {seconds:.1f} s, peak RSS {peak / 2**20:.0f} MB")
    run_dir = root / "out" / "iso"
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8")) if run_dir.exists() else {}
    return {"root": root, "expected": expected, "proc": proc, "peak": peak, "run_dir": run_dir, "results": results}


def test_the_night_goes_on(isolated_run: dict[str, Any]) -> None:
    proc = isolated_run["proc"]
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    rejected = any(status == "rejected" for status, _ in isolated_run["expected"].values())
    assert proc.returncode == (1 if rejected else 0), (proc.stdout[-2000:], proc.stderr[-2000:])
    assert isolated_run["run_dir"].is_dir(), "nothing was published"
    assert isolated_run["peak"] < 1 << 30


def test_each_entry_with_its_reason(isolated_run: dict[str, Any]) -> None:
    files = {f["file"]: f for f in isolated_run["results"]["files"]}
    for name, (status, code) in isolated_run["expected"].items():
        assert name in files, (name, sorted(files))
        record = files[name]
        assert record["status"] == status, (name, record)
        if status == "rejected":
            assert record["error_code"] == code and record["error"], (name, record)
            assert "没有访问权限" in record["error"], record["error"]
        elif code is not None:
            found = [f for f in record["findings"] if f["code"] == code]
            assert found and found[0]["message"], (name, record["findings"])
    # the link into the inbox and its target: the same bytes, read once
    pair = {files[GOOD]["status"], files["链接到济南.xlsx"]["status"]}
    assert pair == {"processed", "duplicate"}, pair


def test_the_good_cities_are_published(isolated_run: dict[str, Any]) -> None:
    results, run_dir = isolated_run["results"], isolated_run["run_dir"]
    names = {a["name"] for a in results["applications"]}
    assert {"济南隔离测试集群", "淄博编码隔离集群", "青岛控制字符集群", "枣庄时长集群"} <= names, names
    assert "外部链接集群" not in names  # never read through the link out of the inbox
    for city in ("济南市", "淄博市", "青岛市", "枣庄市"):
        assert (run_dir / f"{city}_审核意见.xlsx").exists(), city
    # the GBK name reads as Chinese everywhere a person looks
    log = (run_dir / "run.log").read_text(encoding="utf-8")
    assert "\\udc" not in log and "\\x" not in log
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert GBK_NAME in {i["file"] for i in info["inputs"]}


def test_special_files_are_listed_in_the_ledger_too(isolated_run: dict[str, Any]) -> None:
    import sqlite3

    with sqlite3.connect(isolated_run["root"] / "out" / "ledger.sqlite3") as conn:
        rows = dict(conn.execute("SELECT name, status FROM run_files WHERE run_id = 'iso'").fetchall())
    assert rows["管道.csv"] == "ignored" and rows[GBK_NAME] == "processed"


# ------------------------------------------------------------------ the same paths, made to fail
def test_unlistable_folder_and_unreadable_file_are_rejected_with_the_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whoever runs the suite (root reads everything): the listing and the hashing fail as they
    would on a folder and a file without permission."""
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name="济南权限集群")])
    city_file(inbox, "东营市", [row(name="东营权限集群")], name=UNREADABLE_FILE)
    city_file(inbox / UNREADABLE_DIR, "烟台市", [row(name="烟台权限集群")])
    real_scandir, real_hash = os.scandir, inbox_mod.sha256_regular

    def scandir(path: Any) -> Any:
        if os.fspath(path).endswith(UNREADABLE_DIR):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_scandir(path)

    def sha256_regular(path: Any) -> tuple[str, int]:
        if os.fspath(path).endswith(UNREADABLE_FILE):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_hash(path)

    monkeypatch.setattr(inbox_mod.os, "scandir", scandir)
    monkeypatch.setattr(inbox_mod, "sha256_regular", sha256_regular)
    result = evaluate(inbox, RunOptions(out_dir=tmp_path / "out"))
    files = {f.file: f for f in result.files}
    assert files[UNREADABLE_DIR].status == "rejected" and files[UNREADABLE_DIR].error_code == "folder-inaccessible"
    assert files[UNREADABLE_FILE].status == "rejected" and files[UNREADABLE_FILE].error_code == "file-inaccessible"
    assert files[UNREADABLE_FILE].city == "东营市"  # the city is told why
    assert "没有访问权限" in (files[UNREADABLE_DIR].error or "")
    assert [a.name for a in result.applications] == ["济南权限集群"]


def test_a_file_swapped_for_a_fifo_after_listing_is_never_read(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name="济南替换集群")])
    entries = inbox_mod.walk(inbox)
    target = Path(entries[0].path)
    target.unlink()
    os.mkfifo(target)  # opening it for reading would block forever
    [record] = inbox_mod.records(entries)
    assert record.status == "ignored"
    assert [f.code for f in record.findings] == ["special-file-ignored"]


def test_a_file_that_breaks_a_stage_is_rejected_and_the_rest_go_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sdbatch import normalise

    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name="济南正常集群")])
    city_file(inbox, "青岛市", [row(name="青岛出错集群")])
    real = normalise.build_applications

    def build(table: Any, rules: Any, file: str, city: Any) -> Any:
        if file.startswith("青岛"):
            raise TypeError("unexpected value")
        return real(table, rules, file, city)

    monkeypatch.setattr(normalise, "build_applications", build)
    result = evaluate(inbox, RunOptions(out_dir=tmp_path / "out"))
    bad = next(f for f in result.files if f.file.startswith("青岛"))
    assert bad.status == "rejected" and bad.error_code == "processing-failed"
    assert "TypeError" in (bad.error or "") and bad.city == "青岛市"
    assert [a.name for a in result.applications] == ["济南正常集群"]


def test_checks_failing_on_one_file_reject_that_file_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sdbatch import checks

    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name="济南检查集群")])
    city_file(inbox, "青岛市", [row(name="青岛检查出错集群")])
    real = checks.check_application

    def check(app: Any, rules: Any) -> Any:
        if app.city == "青岛市":
            raise KeyError("x")
        return real(app, rules)

    monkeypatch.setattr(checks, "check_application", check)
    result = evaluate(inbox, RunOptions(out_dir=tmp_path / "out"))
    assert {f.file.split("数")[0]: f.status for f in result.files} == {"济南市": "processed", "青岛市": "rejected"}
    assert [a.name for a in result.applications] == ["济南检查集群"]


def test_every_new_code_renders_in_chinese() -> None:
    params = {"file": "x.csv", "kind": "命名管道（FIFO）", "reason": "没有访问权限", "target": "子目录",
              "what": "审核意见", "run_id": "r1"}
    for code in ("special-file-ignored", "symlink-broken", "symlink-folder", "symlink-ignored",
                 "file-inaccessible", "folder-inaccessible", "sdbatch-output-ignored", "processing-failed"):
        message = render(Finding(code, "info", params=params)).message
        assert message != code and "{" not in message, (code, message)
