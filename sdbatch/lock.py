"""One run at a time per output folder (SPEC §7, issue 5): ``<out_dir>/.sdbatch.lock``.

The lock is an operating-system lock on the lock file (``fcntl.flock`` on Linux/macOS,
``msvcrt.locking`` on Windows).  Times in it are China time (``sdbatch.clock``).  The system drops it when the holder dies, even by kill -9, so a
lock left by a dead process is taken over without guessing.  The file also holds JSON
``{pid, host, started}`` so that a refused run can say who holds it.

Where the file system cannot lock (some network shares: the call fails with ENOLCK/EOPNOTSUPP)
the lock falls back to creating the file with ``O_CREAT | O_EXCL``; such a lock is stale when its
pid is not alive on this host, or when the file cannot be read and is older than
:data:`STALE_LOCK_MINUTES`.  Takers create and remove that file in turns (``.sdbatch.lock.turn``,
also O_EXCL), so that two of them never both hold it.

    with RunLock(out_dir / LOCK_NAME):
        ...            # raises LockHeld (exit 2) when another run holds it
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOCK_NAME = ".sdbatch.lock"
# Fallback mode only: a lock file that cannot be read (a writer died between creating and
# writing it) is considered abandoned after this many minutes.
STALE_LOCK_MINUTES = 10
# Fallback mode: takers create or remove the lock file in turns (RunLock._turn), each waiting this
# long at most for another's turn; a turn file older than this many seconds was abandoned.
TURN_SUFFIX = ".turn"
TURN_WAIT_S = 5.0
TURN_ABANDONED_S = 30.0
_WINDOWS_LOCK_OFFSET = 1 << 20  # msvcrt locks a byte far past the JSON, which stays readable


class LockHeld(Exception):
    """Another live run holds the lock. ``message`` is the Chinese sentence for the user."""

    def __init__(self, pid: int | None, started: str | None, host: str | None = None,
                 path: Path | None = None) -> None:
        from sdbatch.catalogue import text

        self.pid, self.started, self.host, self.path = pid, started, host, path
        who = text("lock.process", pid=pid) if pid else text("lock.another_process")
        if host and host != socket.gethostname():
            who += text("lock.host", host=host)
        since = text("lock.since", started=started) if started else ""
        where = text("lock.where", path=path) if path else ""
        self.message = text("lock.held", who=who, since=since, where=where)
        super().__init__(self.message)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_lock_info(path: Path) -> dict[str, Any] | None:
    """The JSON in a lock file, or None when missing or unreadable."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(4096)
        info = json.loads(raw.decode("utf-8"))
        return info if isinstance(info, dict) else None
    except (OSError, ValueError):
        return None


class RunLock:
    """Context manager holding ``path`` for the duration of a run; released on exit and on errors.

    ``mode``: "auto" (OS lock, falling back to "excl" where unsupported) or "excl" (force the
    fallback; for tests).  After entering, ``taken_over`` holds the JSON of a previous holder
    that died without releasing (or None).
    """

    def __init__(self, path: Path, stale_after_minutes: float = STALE_LOCK_MINUTES, mode: str = "auto") -> None:
        self.path = Path(path)
        self.stale_after = stale_after_minutes * 60
        self.mode = mode
        self.taken_over: dict[str, Any] | None = None
        self._fd: int | None = None
        self._token = uuid.uuid4().hex
        self._used_mode: str | None = None

    def _info(self) -> bytes:
        from sdbatch import clock

        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": clock.now().isoformat(timespec="seconds"), "token": self._token}
        return json.dumps(info, ensure_ascii=False).encode("utf-8")

    def _held(self, info: dict[str, Any] | None) -> LockHeld:
        info = info or {}
        return LockHeld(info.get("pid"), info.get("started"), info.get("host"), self.path)

    # ----------------------------------------------------------------- OS lock
    def _acquire_os(self) -> bool:
        """True when locked; False when this file system cannot lock (use the fallback)."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if not _try_os_lock(fd):
                    raise self._held(read_lock_info(self.path))
            except LockHeld:
                os.close(fd)
                raise
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                    return False
                raise
            # The previous holder may have unlinked the file between our open and lock:
            # then we locked an orphan inode; start again on the file now at the path.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            previous = _read_fd(fd)
            if previous and previous.get("pid"):
                self.taken_over = previous  # left by a process that died holding it
            try:
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                os.write(fd, self._info())
                os.fsync(fd)
            except BaseException:  # a full disk: give the lock back rather than keep it held
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
                os.close(fd)
                raise
            self._fd = fd
            return True

    # ----------------------------------------------------------------- O_EXCL fallback
    def _acquire_excl(self) -> None:
        """Create the lock file, or take over a stale one.  Creating and removing happen in one
        taker's turn at a time (:meth:`_turn`): a taker that found a stale lock could otherwise
        remove a fresh one another taker made in between, and two runs would both hold it."""
        with self._turn():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                info = read_lock_info(self.path)
                if not self._is_stale(info):
                    raise self._held(info) from None
                try:
                    os.unlink(self.path)
                    self.taken_over = info or {}
                except FileNotFoundError:
                    pass  # its holder released it meanwhile
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, self._info())
                os.fsync(fd)
            except BaseException:  # a lock file nobody holds must not stay behind
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
                raise
            finally:
                os.close(fd)

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """One taker at a time: ``<lock>.turn`` created with O_EXCL, removed after.  A taker's turn
        lasts milliseconds; one waits up to :data:`TURN_WAIT_S` for another's, and a turn file
        older than :data:`TURN_ABANDONED_S` was left by a taker that died in its turn."""
        turn = self.path.with_name(self.path.name + TURN_SUFFIX)
        deadline = time.monotonic() + TURN_WAIT_S
        while True:
            try:
                os.close(os.open(turn, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                break
            except FileExistsError:
                try:
                    abandoned = time.time() - os.stat(turn).st_mtime > TURN_ABANDONED_S
                except FileNotFoundError:
                    continue  # its taker is done: try again at once
                if abandoned:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(turn)
                    continue
                if time.monotonic() > deadline:
                    raise self._held(read_lock_info(self.path)) from None
                time.sleep(0.005)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.unlink(turn)

    def _is_stale(self, info: dict[str, Any] | None) -> bool:
        if info is None:
            try:
                age = time.time() - os.stat(self.path).st_mtime
            except FileNotFoundError:
                return True
            return age > self.stale_after
        if info.get("host") != socket.gethostname():
            return False  # cannot tell whether a process on another machine is alive
        pid = info.get("pid")
        return not (isinstance(pid, int) and _pid_alive(pid))

    # ----------------------------------------------------------------- context manager
    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.mode != "excl" and self._acquire_os():
            self._used_mode = "os"
        else:
            self._acquire_excl()
            self._used_mode = "excl"
        return self

    def release(self) -> None:
        if self._used_mode == "os" and self._fd is not None:
            # Unlink while still locked, so nobody can lock this inode and then find it gone.
            try:
                os.unlink(self.path)
            except OSError:  # Windows cannot remove an open file: it stays, unlocked
                try:
                    os.ftruncate(self._fd, 0)
                except OSError:
                    pass
            os.close(self._fd)  # closing drops the OS lock
            self._fd = None
        elif self._used_mode == "excl":
            if (read_lock_info(self.path) or {}).get("token") == self._token:
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
        self._used_mode = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _try_os_lock(fd: int) -> bool:
    """Non-blocking exclusive lock: True when taken, False when another process holds it."""
    if os.name == "nt":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except PermissionError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EDEADLK):
                return False
            raise
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_fd(fd: int) -> dict[str, Any] | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 4096)
        info = json.loads(raw.decode("utf-8"))
        return info if isinstance(info, dict) else None
    except (OSError, ValueError):
        return None
