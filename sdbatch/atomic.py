"""Crash safety for outputs (SPEC §5 "complete or not at all", issue 5).

A run writes its folder as ``<out_dir>/.tmp-<run-id>/`` and renames it to ``<out_dir>/<run-id>/``
at the very end (:func:`publish_dir`), so a run killed at any moment leaves no half folder under a
real run id; the next run (holding the lock) removes the leftovers (:func:`clean_stale_tmp`).
Single files outside a run folder are replaced atomically (:func:`atomic_write_bytes`).

    with staging_dir(out_dir, run_id) as tmp:       # .tmp-<run-id>/, removed on error
        ...  write into tmp ...
    # here <out_dir>/<run-id>/ exists, complete and flushed to disk
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

TMP_PREFIX = ".tmp-"  # run folders being written
TMP_FILE_SUFFIX = ".sdbatch-tmp"  # single files being written by atomic_write_*


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (new names, renames) to disk. A no-op where unsupported (Windows)."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_FILE_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


def fsync_tree(root: Path) -> None:
    """fsync every file and folder under ``root`` (deepest first), then ``root`` itself."""
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(folder))


def tmp_dir_for(out_dir: Path, run_id: str) -> Path:
    return Path(out_dir) / f"{TMP_PREFIX}{run_id}"


def publish_dir(tmp_dir: Path, final_dir: Path, *, flushed: bool = False) -> None:
    """Flush ``tmp_dir`` to disk (unless ``flushed``) and rename it to ``final_dir`` (which must not exist).

    On Windows every file inside must be closed first (including the run.log handler:
    ``logsetup.detach_run_log``), or the rename fails.
    """
    tmp_dir, final_dir = Path(tmp_dir), Path(final_dir)
    if final_dir.exists():
        raise _exists(final_dir)
    if not flushed:
        fsync_tree(tmp_dir)
    os.rename(tmp_dir, final_dir)
    fsync_dir(final_dir.parent)


def clean_stale_tmp(out_dir: Path) -> list[Path]:
    """Remove what killed runs left in ``out_dir``: ``.tmp-*`` folders and atomic-write temp files.

    Call it only while holding the run lock: without it, it would delete a live run's folder.
    Returns what was removed.
    """
    out_dir = Path(out_dir)
    removed: list[Path] = []
    if not out_dir.is_dir():
        return removed
    for entry in out_dir.iterdir():
        if entry.name.startswith(TMP_PREFIX) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
        elif entry.name.endswith(TMP_FILE_SUFFIX) and entry.is_file():
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
            removed.append(entry)
    return removed


@contextlib.contextmanager
def staging_dir(out_dir: Path, run_id: str) -> Iterator[Path]:
    """Yield a fresh ``.tmp-<run-id>`` folder; publish it as ``<run-id>`` on success, remove it on error."""
    staging = Staging(out_dir, run_id)
    try:
        yield staging.tmp
    except BaseException:
        staging.discard()
        raise
    staging.publish()


def _exists(path: Path) -> FileExistsError:
    return FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))


class Staging:
    """A run folder being written: ``.tmp-<run-id>/`` until :meth:`publish` renames it.

    :meth:`unpublish` renames it back (the ledger could not record the run: nothing stays
    published that the ledger does not know); :meth:`discard` removes it.
    """

    def __init__(self, out_dir: Path, run_id: str) -> None:
        self.tmp = tmp_dir_for(out_dir, run_id)
        self.final = Path(out_dir) / run_id
        if self.final.exists():
            raise _exists(self.final)
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        self.published = False
        self.flushed = False

    def flush(self) -> None:
        """Everything written so far on disk (before the ledger's transaction: it stays short)."""
        fsync_tree(self.tmp)
        self.flushed = True

    def publish(self) -> None:
        publish_dir(self.tmp, self.final, flushed=self.flushed)
        self.published = True

    def unpublish(self) -> None:
        if self.published:
            os.rename(self.final, self.tmp)
            self.published = False

    def discard(self) -> None:
        if not self.published:
            shutil.rmtree(self.tmp, ignore_errors=True)
