"""Crash-safe writes (issue 5): atomic files, run folders published by rename, leftovers cleaned."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sdbatch.atomic import (
    TMP_PREFIX,
    atomic_write_bytes,
    atomic_write_text,
    clean_stale_tmp,
    publish_dir,
    staging_dir,
    tmp_dir_for,
)
from sdbatch.logsetup import RUN_LOG, attach_run_log, detach_run_log, progress, setup_logging


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "results.json"
    atomic_write_text(target, "旧")
    atomic_write_bytes(target, "新".encode())
    assert target.read_text(encoding="utf-8") == "新"
    assert sorted(p.name for p in target.parent.iterdir()) == ["results.json"]


def test_atomic_write_failure_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "run.json"
    atomic_write_text(target, "old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_publish_dir_renames_complete_folder(tmp_path: Path) -> None:
    tmp = tmp_dir_for(tmp_path, "20240628-2200")
    assert tmp.name == TMP_PREFIX + "20240628-2200"
    (tmp / "mail").mkdir(parents=True)
    (tmp / "results.json").write_text("{}")
    (tmp / "mail" / "济南市.eml").write_text("x")
    final = tmp_path / "20240628-2200"
    publish_dir(tmp, final)
    assert not tmp.exists()
    assert (final / "mail" / "济南市.eml").read_text() == "x"
    with pytest.raises(FileExistsError):
        publish_dir(tmp_path, final)


def test_staging_dir_publishes_on_success_and_removes_on_error(tmp_path: Path) -> None:
    with staging_dir(tmp_path, "r1") as tmp:
        (tmp / "results.json").write_text("{}")
        assert not (tmp_path / "r1").exists()
    assert (tmp_path / "r1" / "results.json").exists()
    with pytest.raises(ValueError), staging_dir(tmp_path, "r2") as tmp:
        (tmp / "half.json").write_text("{")
        raise ValueError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r1"]


def test_killed_writer_leaves_previous_run_and_cleanup_removes_leftovers(tmp_path: Path) -> None:
    out = tmp_path / "output"
    with staging_dir(out, "r1") as tmp:
        (tmp / "results.json").write_text('{"run_id": "r1"}')
    # a second run is killed (SIGKILL) while writing its folder and a single file
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from sdbatch.atomic import staging_dir\n"
        "out = Path(sys.argv[1])\n"
        "with staging_dir(out, 'r2') as tmp:\n"
        "    (tmp / 'results.json').write_text('{')\n"
        "    (out / '.ledger.json.abc.sdbatch-tmp').write_text('partial')\n"
        "    print('WRITING', flush=True)\n"
        "    time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(out)], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert proc.stdout is not None and proc.stdout.readline().strip() == "WRITING"
    proc.kill()
    proc.wait()
    assert not (out / "r2").exists()  # nothing under the real run id
    assert (out / "r1" / "results.json").read_text() == '{"run_id": "r1"}'
    removed = clean_stale_tmp(out)
    assert sorted(p.name for p in removed) == sorted([".tmp-r2", ".ledger.json.abc.sdbatch-tmp"])
    assert sorted(p.name for p in out.iterdir()) == ["r1"]
    with staging_dir(out, "r2") as tmp:  # the next run completes normally
        (tmp / "results.json").write_text("{}")
    assert (out / "r2" / "results.json").exists()


def test_clean_stale_tmp_on_missing_folder(tmp_path: Path) -> None:
    assert clean_stale_tmp(tmp_path / "nope") == []


# ------------------------------------------------------------------------------ logging helpers
def test_logging_to_run_folder_and_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = setup_logging(None, quiet=False, verbose=False)
    run_dir = tmp_path / ".tmp-r1"
    attach_run_log(log, run_dir)
    log.debug("调试细节")
    log.info("开始审核 3 个文件")
    log.error("文件被退回")
    detach_run_log(log)
    text = (run_dir / RUN_LOG).read_text(encoding="utf-8")
    assert "信息 开始审核 3 个文件" in text and "错误 文件被退回" in text and "调试细节" not in text
    err = capsys.readouterr().err
    assert "信息：开始审核 3 个文件" in err and "调试细节" not in err

    log = setup_logging(tmp_path / "quiet", quiet=True, verbose=False)
    log.info("不显示")
    log.error("要显示")
    detach_run_log(log)
    err = capsys.readouterr().err
    assert "不显示" not in err and "要显示" in err
    assert "不显示" in (tmp_path / "quiet" / RUN_LOG).read_text(encoding="utf-8")  # the log keeps it

    log = setup_logging(tmp_path / "verbose", quiet=False, verbose=True)
    log.debug("细节")
    detach_run_log(log)
    assert "细节" in capsys.readouterr().err
    assert "调试 细节" in (tmp_path / "verbose" / RUN_LOG).read_text(encoding="utf-8")
    ours = [h for h in logging.getLogger("sdbatch").handlers if getattr(h, "_sdbatch_handler", None)]
    assert [h._sdbatch_handler for h in ours] == ["stderr"]  # type: ignore[attr-defined]  # run.log closed


def test_progress_plain_and_with_bar(capsys: pytest.CaptureFixture[str]) -> None:
    assert list(progress(iter([1, 2, 3]), 3, "审核文件", enabled=False)) == [1, 2, 3]
    assert capsys.readouterr().err == ""
    assert list(progress([1, 2, 3], 3, "审核文件", enabled=True)) == [1, 2, 3]
