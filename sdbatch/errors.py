"""Every failure a person sees is one Chinese sentence with its place and what to do (issue 15).

- :func:`os_error_in` finds the operating-system error behind an exception, also when a library
  wrapped it (xlsxwriter's ``FileCreateError``, ``zipfile``, logging, ``shutil``);
- :func:`io_message` says an ``OSError`` in Chinese: the reason by ``errno`` (disk full, read-only,
  permission, vanished…), the path, and the advice (``[errors.errno]`` in ui.toml);
- :class:`IOFailure` is an I/O failure outside the inbox (output folder, lock, run.log): the run
  stops with exit 2 and publishes nothing; :func:`writing` turns ``OSError`` inside a block into it,
  naming the block's folder when the error itself names no file (``write()`` on a full disk);
- :func:`user_message` is the last resort of the CLI for anything else.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sdbatch.catalogue import lookup, text

# errno -> key of [errors.errno] in ui.toml (reason and advice); the rest say their errno name
_ERRNO_KEYS = {
    errno.ENOSPC: "no_space",
    errno.EDQUOT: "quota",
    errno.EROFS: "read_only",
    errno.EACCES: "permission",
    errno.EPERM: "permission",
    errno.ENOENT: "missing",
    errno.ENOTDIR: "not_a_folder",
    errno.EISDIR: "is_a_folder",
    errno.EIO: "device",
    errno.ELOOP: "loop",
    errno.ENAMETOOLONG: "name_too_long",
    errno.EMFILE: "too_many_open",
    errno.ENFILE: "too_many_open",
    errno.EBUSY: "busy",
    errno.EFBIG: "file_too_big",
    errno.ESTALE: "stale",
    errno.ENOLCK: "no_locks",
    errno.EEXIST: "exists",
    errno.ENOTEMPTY: "not_empty",
    errno.EXDEV: "cross_device",
    errno.ENXIO: "no_device",
    errno.ETIMEDOUT: "timed_out",
}
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
# OSErrors that concern the machine or the output place as a whole, never one inbox file or one
# city's outputs: they stop the run (exit 2) instead of being put on one item.
RUN_STOPPERS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EMFILE, errno.ENFILE,
                          errno.ESTALE})


class IOFailure(Exception):
    """Reading or writing outside the inbox failed: one Chinese sentence, exit 2, nothing published."""

    def __init__(self, message: str, cause: OSError | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause


def causes(exc: BaseException, most: int = 10) -> list[BaseException]:
    """``exc`` and what it was raised from or during, outermost first (``most`` at the most): a
    library wraps the error that matters (openpyxl wraps the XML parser's in a ValueError)."""
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and len(chain) < most:
        chain.append(link)
        link = link.__cause__ or link.__context__
    return chain


def os_error_in(exc: BaseException | None) -> OSError | None:
    """The OSError an exception is, wraps (``args[0]``), or was raised from or during."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno is not None:
            return exc
        inner = next((a for a in getattr(exc, "args", ()) if isinstance(a, OSError)), None)
        if inner is not None and inner.errno is not None:
            return inner
        exc = exc.__cause__ or exc.__context__
    return None


def library_failure(exc: BaseException) -> bool:
    """An exception that is one file's failure: any ``Exception``, and a panic of a native
    library's Rust code (python-calamine), which Python raises as a ``BaseException``."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def stops_the_run(exc: BaseException) -> bool:
    """True for a full disk, read-only media, a device error…: not one item's fault."""
    err = os_error_in(exc)
    return err is not None and err.errno in RUN_STOPPERS


def reason(err: OSError) -> str:
    """Why, in Chinese, without the path: ``磁盘空间已满``."""
    key = _ERRNO_KEYS.get(err.errno or 0)
    if key is None:
        name = errno.errorcode.get(err.errno or 0, str(err.errno))
        return text("errors.errno_other", name=name)
    return text(f"errors.errno.{key}.reason")


def advice(err: OSError) -> str:
    key = _ERRNO_KEYS.get(err.errno or 0)
    entry = lookup(f"errors.errno.{key}") if key else {}
    return str(entry.get("advice", "")) if isinstance(entry, dict) else ""


def shown_path(path: Any) -> str:
    """A path as people read it (bytes of another encoding made readable)."""
    from sdbatch.text import display_name

    if path is None:
        return ""
    if isinstance(path, bytes):
        import os

        path = os.fsdecode(path)
    return display_name(str(path))


def io_message(err: OSError, path: Any = None) -> str:
    """``磁盘空间已满：/data/output/.tmp-x/results.json。请清理磁盘空间……``"""
    where = shown_path(getattr(err, "filename", None) or path)
    other = getattr(err, "filename2", None)
    if other:
        where = text("errors.two_paths", first=where, second=shown_path(other))
    message = text("errors.io", reason=reason(err), path=where) if where else text("errors.io_nowhere",
                                                                                     reason=reason(err))
    tip = advice(err)
    return f"{message}{tip}"


@contextlib.contextmanager
def writing(place: Path) -> Iterator[None]:
    """Turn an OSError raised inside the block (even wrapped by a library) into :class:`IOFailure`
    naming the file, else ``place``."""
    try:
        yield
    except Exception as exc:
        if type(exc).__module__.startswith("sdbatch"):
            raise  # already said (a ledger's state, a refused run, an IOFailure)
        err = os_error_in(exc)
        if err is None:
            raise
        raise IOFailure(io_message(err, place), err) from exc


def user_message(exc: BaseException) -> str:
    """The sentence for an exception nothing else explained."""
    if isinstance(exc, IOFailure):
        return exc.message
    err = os_error_in(exc)
    if err is not None:
        return io_message(err)
    if isinstance(exc, MemoryError):
        return text("errors.memory")
    return text("errors.internal", name=type(exc).__name__)


def short_reason(exc: BaseException) -> str:
    """A few words for one item's failure (a file, a city's workbook): the I/O reason, else the
    kind of error, for the department to pass to the maintainers."""
    err = os_error_in(exc)
    if err is not None:
        return reason(err)
    if isinstance(exc, MemoryError):
        return text("errors.memory_short")
    return text("errors.internal_short", name=type(exc).__name__)


class Refused(Exception):
    """The run cannot be done as asked (an option, the output folder): one Chinese sentence, exit 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
