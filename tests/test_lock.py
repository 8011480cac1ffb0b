"""The run lock (issue 5): one run at a time, dead holders taken over, exactly one winner in a race."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sdbatch.lock import LOCK_NAME, STALE_LOCK_MINUTES, LockHeld, RunLock, read_lock_info

pytestmark = pytest.mark.skipif(os.name == "nt", reason="uses SIGKILL and POSIX pids")

CHILD = r"""
import os, pathlib, sys, time
from sdbatch.lock import LockHeld, RunLock
path, mode, go, hold = sys.argv[1:5]
RACERS = 3
if go != "-":
    pathlib.Path(f"{go}.ready-{os.getpid()}").touch()  # started and imported: ready to race
while go != "-" and not pathlib.Path(go).exists():
    time.sleep(0.002)
try:
    with RunLock(pathlib.Path(path), mode=mode):
        print("WIN", flush=True)
        # hold it while the other racers try (however slowly a loaded machine schedules them)
        deadline = time.monotonic() + float(hold)
        while time.monotonic() < deadline and (go == "-" or len(list(pathlib.Path(go).parent.glob(
                pathlib.Path(go).name + ".tried-*"))) < RACERS - 1):
            time.sleep(0.01)
except LockHeld as exc:
    print("HELD", exc.pid, flush=True)
    if go != "-":
        pathlib.Path(f"{go}.tried-{os.getpid()}").touch()
"""
MODES = ["auto", "excl"]


def spawn(path: Path, mode: str, go: str = "-", hold: float = 30.0) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path), mode, go, str(hold)],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("mode", MODES)
def test_acquire_release_and_reacquire(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "out" / LOCK_NAME
    with RunLock(path, mode=mode) as lock:
        info = read_lock_info(path)
        assert info and info["pid"] == os.getpid() and info["host"] == socket.gethostname()
        assert lock.taken_over is None
    assert not path.exists()
    with RunLock(path, mode=mode):
        pass


@pytest.mark.parametrize("mode", MODES)
def test_released_on_exception(tmp_path: Path, mode: str) -> None:
    path = tmp_path / LOCK_NAME
    with pytest.raises(RuntimeError), RunLock(path, mode=mode):
        raise RuntimeError("boom")
    with RunLock(path, mode=mode):
        pass


@pytest.mark.parametrize("mode", MODES)
def test_live_holder_refuses_then_dead_holder_is_taken_over(tmp_path: Path, mode: str) -> None:
    path = tmp_path / LOCK_NAME
    child = spawn(path, mode)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "WIN"
        with pytest.raises(LockHeld) as caught:
            RunLock(path, mode=mode).acquire()
        assert caught.value.pid == child.pid
        assert caught.value.started
        assert f"进程 {child.pid}" in caught.value.message and "另一次审核正在运行" in caught.value.message
    finally:
        child.kill()  # SIGKILL: no clean-up, the lock file stays behind
        child.wait()
    assert path.exists()
    with RunLock(path, mode=mode) as lock:
        assert lock.taken_over is not None and lock.taken_over["pid"] == child.pid
        assert read_lock_info(path)["pid"] == os.getpid()  # type: ignore[index]


def test_fallback_unreadable_lock_file_waits_until_old(tmp_path: Path) -> None:
    path = tmp_path / LOCK_NAME
    path.write_bytes(b"")  # a writer died between creating and writing
    with pytest.raises(LockHeld) as caught:
        RunLock(path, mode="excl").acquire()
    assert caught.value.pid is None and "另一个进程" in caught.value.message
    old = time.time() - (STALE_LOCK_MINUTES + 1) * 60
    os.utime(path, (old, old))
    with RunLock(path, mode="excl") as lock:
        assert lock.taken_over == {}


def test_fallback_dead_pid_is_stale_but_other_host_is_not(tmp_path: Path) -> None:
    path = tmp_path / LOCK_NAME
    path.write_text(json.dumps({"pid": dead_pid(), "host": socket.gethostname(), "started": "x"}))
    with RunLock(path, mode="excl"):
        pass
    path.write_text(json.dumps({"pid": dead_pid(), "host": "another-server", "started": "2024-06-28T22:00:00"}))
    with pytest.raises(LockHeld) as caught:
        RunLock(path, mode="excl").acquire()
    assert "another-server" in caught.value.message


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stale_first", [False, True])
def test_two_processes_racing_exactly_one_wins(tmp_path: Path, mode: str, stale_first: bool) -> None:
    path = tmp_path / LOCK_NAME
    if stale_first:  # both racers find a lock left by a dead process
        path.write_text(json.dumps({"pid": dead_pid(), "host": socket.gethostname(), "started": "x"}))
    go = tmp_path / "go"
    racers = [spawn(path, mode, str(go), hold=30) for _ in range(3)]  # the winner holds until the others tried
    deadline = time.monotonic() + 30
    while len(list(tmp_path.glob("go.ready-*"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)  # all three started (however loaded the machine), then the race
    go.touch()
    outputs = [p.communicate(timeout=30)[0].split() for p in racers]
    wins = [o for o in outputs if o and o[0] == "WIN"]
    held = [o for o in outputs if o and o[0] == "HELD"]
    assert len(wins) == 1 and len(held) == 2, outputs
    with RunLock(path, mode=mode):  # and the winner released it
        pass


def test_fallback_takers_wait_their_turn_and_an_abandoned_turn_is_cleared(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Creating or removing the fallback lock happens in one taker's turn at a time: while another
    taker's turn lasts, a stale lock is left alone and, past the wait, the run is refused; a turn
    left by a taker that died in it is cleared and the stale lock taken over."""
    import sdbatch.lock as lock_mod

    path = tmp_path / LOCK_NAME
    stale = {"pid": dead_pid(), "host": socket.gethostname(), "started": "x"}
    path.write_text(json.dumps(stale))
    turn = tmp_path / (LOCK_NAME + lock_mod.TURN_SUFFIX)
    turn.touch()  # another taker is in its turn
    monkeypatch.setattr(lock_mod, "TURN_WAIT_S", 0.2)
    with pytest.raises(LockHeld):
        RunLock(path, mode="excl").acquire()
    assert read_lock_info(path) == stale and turn.exists()  # nothing touched outside a turn
    old = time.time() - lock_mod.TURN_ABANDONED_S - 5
    os.utime(turn, (old, old))  # its taker died in its turn
    with RunLock(path, mode="excl") as lock:
        assert lock.taken_over == stale and read_lock_info(path)["pid"] == os.getpid()  # type: ignore[index]
    assert not turn.exists() and not path.exists()


def test_fallback_a_stale_lock_replaced_meanwhile_is_not_removed(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The race that let two runs hold the fallback lock: a taker reads a stale lock, another
    takes it over and makes a fresh one, then the first removes what it read as stale.  In turns,
    the second taker cannot act until the first's turn is over, so the first finds the lock as it
    read it; here the second is made to try in the middle of the first's turn and is refused."""
    import sdbatch.lock as lock_mod

    path = tmp_path / LOCK_NAME
    path.write_text(json.dumps({"pid": dead_pid(), "host": socket.gethostname(), "started": "x"}))
    monkeypatch.setattr(lock_mod, "TURN_WAIT_S", 0.2)
    first, second = RunLock(path, mode="excl"), RunLock(path, mode="excl")
    real_read = lock_mod.read_lock_info
    refused: list[LockHeld] = []
    raced: list[bool] = []

    def read_then_race(p: Path) -> dict | None:
        info = real_read(p)
        if p == path and not raced:  # the first taker has just read the stale lock
            raced.append(True)
            with pytest.raises(LockHeld) as caught:
                second.acquire()
            refused.append(caught.value)
        return info

    monkeypatch.setattr(lock_mod, "read_lock_info", read_then_race)
    with first:
        assert refused and read_lock_info(path)["token"] == first._token  # type: ignore[index]
    assert not path.exists()
