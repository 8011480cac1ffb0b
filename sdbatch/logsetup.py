"""Logging of a run: ``run.log`` in the run folder and stderr; a progress bar on terminals (issue 5).

    log = setup_logging(None, quiet, verbose)         # stderr only, before the run folder exists
    attach_run_log(log, tmp_run_dir)                  # once .tmp-<run-id>/ exists
    for f in progress(files, len(files), "审核文件", options.progress): ...
    detach_run_log(log)                               # before publish_dir (Windows cannot rename
                                                      # a folder holding an open file)

stderr: errors only with ``quiet``, debug with ``verbose``, otherwise info.
run.log: info, or debug with ``verbose`` (``quiet`` only silences the terminal); its times are
China time (``sdbatch.clock``), said once in its first line.  A failure to write run.log (a full
disk) is kept by the handler and raised by :func:`detach_run_log`, so that a run whose log is
incomplete is not published as if it were whole.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

LOGGER_NAME = "sdbatch"
RUN_LOG = "run.log"
LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}
_MARK = "_sdbatch_handler"  # handlers we own carry this attribute: kind ("stderr" / "file")

T = TypeVar("T")


def level_name(levelno: int) -> str:
    from sdbatch.catalogue import text

    key = LEVELS.get(levelno)
    return text(f"logsetup.level.{key}") if key else logging.getLevelName(levelno)


class ChineseFormatter(logging.Formatter):
    """Levels in Chinese, times in China time whatever the server's zone."""

    def format(self, record: logging.LogRecord) -> str:
        record.level_zh = level_name(record.levelno)
        return super().format(record)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        from sdbatch import clock

        return clock.from_timestamp(record.created).strftime(datefmt or "%Y-%m-%d %H:%M:%S")


class ScreenFormatter(ChineseFormatter):
    """The terminal's lines: the sentence only; a traceback goes to run.log (and to the screen with --debug)."""

    def __init__(self, fmt: str, tracebacks: bool) -> None:
        super().__init__(fmt)
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if self.tracebacks or not (record.exc_info or record.exc_text or record.stack_info):
            return super().format(record)
        plain = logging.makeLogRecord(record.__dict__)
        plain.exc_info = plain.exc_text = plain.stack_info = None
        return super().format(plain)


class RunLogHandler(logging.FileHandler):
    """run.log; a write that fails is kept (``failure``) instead of being printed and forgotten."""

    failure: BaseException | None = None

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        import sys as _sys

        if self.failure is None:
            self.failure = _sys.exc_info()[1]


def _owned(logger: logging.Logger, kind: str) -> list[logging.Handler]:
    return [h for h in logger.handlers if getattr(h, _MARK, None) == kind]


def setup_logging(
    run_dir: Path | None, quiet: bool = False, verbose: bool = False, debug: bool = False
) -> logging.Logger:
    """Configure the ``sdbatch`` logger (idempotent: earlier handlers of ours are replaced)."""
    logger = logging.getLogger(LOGGER_NAME)
    for h in _owned(logger, "stderr") + _owned(logger, "file"):
        logger.removeHandler(h)
        h.close()
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    stream = logging.StreamHandler(sys.stderr)
    stream.setLevel(logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO)
    from sdbatch.catalogue import text

    stream.setFormatter(ScreenFormatter(text("logsetup.stderr_format"), tracebacks=debug))
    setattr(stream, _MARK, "stderr")
    logger.addHandler(stream)
    logger._sdbatch_verbose = verbose  # type: ignore[attr-defined]
    if run_dir is not None:
        attach_run_log(logger, run_dir)
    return logger


def attach_run_log(logger: logging.Logger, run_dir: Path) -> Path:
    """Start writing ``run_dir/run.log`` (UTF-8). Returns its path."""
    detach_run_log(logger)
    path = Path(run_dir) / RUN_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    from sdbatch import settings
    from sdbatch.catalogue import text

    handler = RunLogHandler(path, encoding="utf-8", errors="backslashreplace")
    handler.setLevel(logging.DEBUG if getattr(logger, "_sdbatch_verbose", False) else logging.INFO)
    handler.setFormatter(ChineseFormatter("%(asctime)s %(level_zh)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    setattr(handler, _MARK, "file")
    handler.stream.write(text("logsetup.time_zone", zone=settings.TIME_ZONE) + "\n")  # type: ignore[union-attr]
    logger.addHandler(handler)
    return path


def detach_run_log(logger: logging.Logger) -> None:
    """Flush and close ``run.log`` (call before renaming the run folder).  Raises the OSError of a
    write that failed (a full disk), once the handler is closed."""
    failure: BaseException | None = None
    for h in _owned(logger, "file"):
        logger.removeHandler(h)
        try:
            h.close()
        except OSError as exc:
            failure = failure or exc
        failure = failure or getattr(h, "failure", None)
    if failure is not None:
        raise failure


def progress(iterable: Iterable[T], total: int | None, label: str, enabled: bool) -> Iterator[T]:
    """Iterate with a click progress bar on stderr when ``enabled``, plainly otherwise.

    The CLI enables it when stderr is a terminal and not ``--quiet``: cron logs stay clean.
    """
    if not enabled:
        yield from iterable
        return
    import click

    with click.progressbar(
        iterable, length=total, label=label, file=sys.stderr, show_pos=True, show_eta=False
    ) as bar:
        yield from bar
