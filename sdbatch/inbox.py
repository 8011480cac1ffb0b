"""The inbox, listed safely: every entry inside its own boundary (issue 15 Build 1, issue 14 Build 3).

    entries = walk(inbox, exclude=[out_dir, ledger])   # lstat only: never opens a file
    snapshot(entries)                                   # what the no-change check compares
    records(entries)                                    # FileRecords, regular files hashed

What each kind of entry becomes:

- a regular file: a record to read (hidden ones ``.x`` ignored, with the reason);
- a folder: walked (hidden folders such as ``.git`` and ``.tmp-…`` are not submissions); one that
  cannot be listed is a rejected record with the reason, and the walk goes on;
- a FIFO, socket or device: ignored with the reason, never opened (opening a FIFO blocks);
- a symbolic link: resolved once.  A link to a regular file inside the inbox is read as that
  file (its duplicate is then found by content); a link to a folder is not walked (its files are
  read where they are); loops, dangling links and links out of the inbox are ignored with the
  reason;
- the run's own output folder and ledger (``exclude``) are skipped without a word; anything
  else sdbatch wrote (a run folder copied in, another ledger) is ignored with the reason.

Names in any byte encoding (GBK from a zip made on Windows) are kept as the operating system
gives them in ``path`` (to open the file) and made readable in ``rel`` (``text.display_name``)
for every output.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdbatch import errors, provenance, settings
from sdbatch.catalogue import text
from sdbatch.model import FileRecord, Finding, Source
from sdbatch.text import display_name

HASH_CHUNK = 1 << 20
LEDGER_SUFFIXES = ("", "-wal", "-shm", "-journal")  # SQLite's companions of a database file


@dataclass(frozen=True, order=True)
class FileSnap:
    """What a cheap look at the inbox sees of one entry. ``relpath`` uses ``/`` on every system."""

    relpath: str
    size: int
    mtime_ns: int


@dataclass
class Entry:
    """One inbox entry as listed. ``kind`` "file" is to be read; any other kind is a record as it
    stands (``status`` ignored or rejected, a finding ``code`` and its ``params``)."""

    rel: str
    path: str
    kind: str = "file"
    size: int = 0
    mtime: float = 0.0
    mtime_ns: int = 0
    hidden: bool = False
    status: str = "processed"
    code: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


class Exclusions:
    """Paths the walk skips silently (the run's output folder, its ledger and companions)."""

    def __init__(self, paths: Iterable[Path | str | None] = ()) -> None:
        self.ids: set[tuple[int, int]] = set()
        self.real: set[str] = set()
        for p in paths:
            if p is None:
                continue
            self.real.add(os.path.realpath(p))
            try:
                st = os.stat(p)
            except OSError:
                continue
            self.ids.add((st.st_dev, st.st_ino))

    @classmethod
    def for_run(cls, out_dir: Path | None, ledger: Path | None) -> Exclusions:
        paths: list[Path | str | None] = [out_dir]
        if ledger is not None:
            paths += [f"{ledger}{suffix}" for suffix in (*LEDGER_SUFFIXES, settings.DECISIONS_JOURNAL_SUFFIX)]
        return cls(paths)

    def around(self, root: str) -> Exclusions:
        """The exclusions without those that hold ``root`` itself: an output folder the inbox lies
        in (``--out work`` for ``work/inbox``) would otherwise skip every file the city sent."""
        inside = [r for r in self.real if not (root == r or root.startswith(r.rstrip(os.sep) + os.sep))]
        return self if len(inside) == len(self.real) else Exclusions(inside)

    def holds(self, real_path: str, st: os.stat_result | None = None) -> bool:
        if st is not None and (st.st_dev, st.st_ino) in self.ids:
            return True
        if real_path in self.real:
            return True
        return any(real_path.startswith(r.rstrip(os.sep) + os.sep) for r in self.real)


# ------------------------------------------------------------------------------- walking
def walk(inbox: Path, exclude: Exclusions | None = None) -> list[Entry]:
    """Every entry under ``inbox``, sorted by ``rel``; stat calls only.

    Raises OSError when the inbox itself cannot be listed (the run cannot be done).
    """
    root = os.path.realpath(inbox)
    exclude = (exclude or Exclusions()).around(root)
    out: list[Entry] = []
    seen_dirs: set[tuple[int, int]] = set()
    stack: list[tuple[str, str]] = [(os.fspath(inbox), "")]
    first = True
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as listing:
                items = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            if first:
                raise
            out.append(_problem(display_name(prefix.rstrip("/")), folder, "rejected", "folder-inaccessible", exc))
            continue
        first = False
        real_folder = os.path.realpath(folder)
        for item in items:
            raw_rel = prefix + item.name
            rel = display_name(raw_rel)
            try:
                st = item.stat(follow_symlinks=False)
            except FileNotFoundError:  # removed while we looked: it is not there
                continue
            except OSError as exc:
                out.append(_problem(rel, item.path, "rejected", "file-inaccessible", exc))
                continue
            if exclude.holds(os.path.join(real_folder, item.name), st):
                continue
            hidden = item.name.startswith(".")
            mode = st.st_mode
            if stat.S_ISLNK(mode):
                out.append(_link(item.path, rel, root, exclude))
            elif stat.S_ISDIR(mode):
                key = (st.st_dev, st.st_ino)
                if hidden or key in seen_dirs:
                    continue
                seen_dirs.add(key)
                run_id = provenance.run_folder_id(item.path)
                if run_id is not None:
                    out.append(_own_output(rel, item.path, "run_folder", run_id))
                    continue
                stack.append((item.path, raw_rel + "/"))
            elif stat.S_ISREG(mode):
                if _is_ledger(item):
                    out.append(_own_output(rel, item.path, "ledger", ""))
                    continue
                out.append(Entry(rel, item.path, "file", st.st_size, st.st_mtime, st.st_mtime_ns,
                                 hidden=hidden and not item.name.startswith(".~lock")))
            else:
                out.append(_special(rel, item.path, mode, st))
    out.sort(key=lambda e: e.rel)
    return out


def _problem(rel: str, path: str, status: str, code: str, exc: OSError) -> Entry:
    return Entry(rel, path, "error", status=status, code=code,
                 params={"file": rel, "reason": errors.reason(exc)})


def _own_output(rel: str, path: str, what: str, run_id: str) -> Entry:
    return Entry(rel, path, "own-output", status="ignored", code="sdbatch-output-ignored",
                 params={"file": rel, "what": text(f"inbox.own.{what}"), "run_id": run_id or text("inbox.unknown_run")})


def _special(rel: str, path: str, mode: int, st: os.stat_result) -> Entry:
    if stat.S_ISFIFO(mode):
        kind = "fifo"
    elif stat.S_ISSOCK(mode):
        kind = "socket"
    elif stat.S_ISCHR(mode):
        kind = "char_device"
    elif stat.S_ISBLK(mode):
        kind = "block_device"
    else:
        kind = "other"
    return Entry(rel, path, "special", mtime=st.st_mtime, mtime_ns=st.st_mtime_ns, status="ignored",
                 code="special-file-ignored", params={"file": rel, "kind": text(f"inbox.special.{kind}")})


def _is_ledger(item: os.DirEntry[str]) -> bool:
    """A ledger (``*.sqlite3``, SQLite inside) or one of its companions (``-wal``, ``-shm``…)."""
    name = item.name.lower()
    base = next((name[: -len(s)] for s in LEDGER_SUFFIXES[1:] if name.endswith(s)), name)
    return base.endswith(".sqlite3") and (base != name or provenance.is_sqlite(item.path))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _link(path: str, rel: str, root: str, exclude: Exclusions) -> Entry:
    """A symbolic link, resolved once and only within the inbox."""
    try:
        target = os.path.realpath(path, strict=True)
    except OSError as exc:  # a loop (ELOOP) or a link to nothing (ENOENT)
        return Entry(rel, path, "link", status="ignored", code="symlink-broken",
                     params={"file": rel, "reason": errors.reason(exc)})
    if not _inside(target, root):
        return Entry(rel, path, "link", status="ignored", code="symlink-ignored", params={"file": rel})
    try:
        st = os.stat(target)
    except OSError as exc:
        return _problem(rel, path, "rejected", "file-inaccessible", exc)
    if exclude.holds(target, st):
        return _own_output(rel, path, "out_dir", "")
    shown_target = display_name(os.path.relpath(target, root).replace(os.sep, "/"))
    if stat.S_ISDIR(st.st_mode):
        return Entry(rel, path, "link", status="ignored", code="symlink-folder",
                     params={"file": rel, "target": shown_target})
    if not stat.S_ISREG(st.st_mode):
        return _special(rel, target, st.st_mode, st)
    return Entry(rel, target, "file", st.st_size, st.st_mtime, st.st_mtime_ns,
                 hidden=os.path.basename(path).startswith("."))


# ------------------------------------------------------------------------------- views
def snapshot(entries: Sequence[Entry], skip_prefixes: Sequence[str] = settings.IGNORED_PREFIXES) -> list[FileSnap]:
    """What the no-change check compares: every entry's name, size and time, less lock and
    hidden files (their coming and going is no reason to run again)."""
    out = []
    for e in entries:
        name = e.rel.rsplit("/", 1)[-1]
        if name.startswith(tuple(skip_prefixes)):
            continue
        out.append(FileSnap(e.rel, e.size, e.mtime_ns))
    out.sort()
    return out


def records(entries: Sequence[Entry]) -> list[FileRecord]:
    """One FileRecord per entry: regular files hashed (each in its own boundary), the rest as listed."""
    out = []
    for e in entries:
        if e.kind == "file":
            out.append(_file_record(e))
            continue
        record = FileRecord(file=e.rel, path=e.path, sha256=_text_hash(f"{e.kind}\0{e.rel}"), size=e.size,
                            mtime=e.mtime, status=e.status)
        if e.status == "rejected":
            record.error_code, record.error_params = e.code, dict(e.params)
        else:
            record.findings.append(Finding(e.code or "ignored-file", "info", params=dict(e.params),
                                           source=Source(e.rel)))
        out.append(record)
    return sorted(out, key=lambda r: r.file)


def _file_record(e: Entry) -> FileRecord:
    record = FileRecord(file=e.rel, path=e.path, sha256="", size=e.size, mtime=e.mtime)
    if e.hidden:
        record.sha256 = _text_hash(f"hidden\0{e.rel}")
        record.status = "ignored"
        record.findings.append(Finding("hidden-file-ignored", "info", params={"file": e.rel}, source=Source(e.rel)))
        return record
    try:
        record.sha256, size = sha256_regular(e.path)
        record.size = size
    except NotRegular as exc:
        record.sha256 = _text_hash(f"special\0{e.rel}")
        record.status = "ignored"
        record.findings.append(Finding("special-file-ignored", "info", params={
            "file": e.rel, "kind": text(f"inbox.special.{exc.kind}")}, source=Source(e.rel)))
    except OSError as exc:
        record.sha256 = _text_hash(f"error\0{e.rel}")
        record.status = "rejected"
        record.error_code, record.error_params = "file-inaccessible", {"file": e.rel, "reason": errors.reason(exc)}
    return record


class NotRegular(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def sha256_regular(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(sha256, size) of a regular file.  Opened without blocking and checked after opening, so
    that a file swapped for a FIFO or a device between listing and reading is never read."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular("fifo" if stat.S_ISFIFO(st.st_mode) else "other")
        digest = hashlib.sha256()
        size = 0
        while True:
            try:
                chunk = os.read(fd, HASH_CHUNK)
            except BlockingIOError:  # pragma: no cover - regular files never block
                raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN), str(path)) from None
            if not chunk:
                break
            size += len(chunk)
            digest.update(chunk)
        return digest.hexdigest(), size
    finally:
        os.close(fd)


def _text_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()
