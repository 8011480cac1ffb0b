"""Logging of a run: ``run.log`` in the run folder and stderr; a progress bar on terminals (issue 5).

    log = setup_logging(None, quiet, verbose)         # stderr only, before the run folder exists
    attach_run_log(log, tmp_run_dir)                  # once .tmp-<run-id>/ exists
    for f in progress(files, len(files), "审核文件", options.progress): ...
    detach_run_log(log)                               # before publish_dir (Windows cannot rename
                                                      # a folder holding an open file)

stderr: errors only with ``quiet``, debug with ``verbose``, otherwise info.
run.log: info, or debug with ``verbose`` (``quiet`` only silences the terminal).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

LOGGER_NAME = "sdbatch"
RUN_LOG = "run.log"
LEVEL_NAMES = {logging.DEBUG: "调试", logging.INFO: "信息", logging.WARNING: "警告",
               logging.ERROR: "错误", logging.CRITICAL: "严重"}
_MARK = "_sdbatch_handler"  # handlers we own carry this attribute: kind ("stderr" / "file")

T = TypeVar("T")


class ChineseFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.level_zh = LEVEL_NAMES.get(record.levelno, record.levelname)
        return super().format(record)


def _owned(logger: logging.Logger, kind: str) -> list[logging.Handler]:
    return [h for h in logger.handlers if getattr(h, _MARK, None) == kind]


def setup_logging(run_dir: Path | None, quiet: bool = False, verbose: bool = False) -> logging.Logger:
    """Configure the ``sdbatch`` logger (idempotent: earlier handlers of ours are replaced)."""
    logger = logging.getLogger(LOGGER_NAME)
    for h in _owned(logger, "stderr") + _owned(logger, "file"):
        logger.removeHandler(h)
        h.close()
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    stream = logging.StreamHandler(sys.stderr)
    stream.setLevel(logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO)
    stream.setFormatter(ChineseFormatter("%(level_zh)s：%(message)s"))
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
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG if getattr(logger, "_sdbatch_verbose", False) else logging.INFO)
    handler.setFormatter(ChineseFormatter("%(asctime)s %(level_zh)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    setattr(handler, _MARK, "file")
    logger.addHandler(handler)
    return path


def detach_run_log(logger: logging.Logger) -> None:
    """Flush and close ``run.log`` (call before renaming the run folder)."""
    for h in _owned(logger, "file"):
        logger.removeHandler(h)
        h.close()


def progress(iterable: Iterable[T], total: int | None, label: str, enabled: bool) -> Iterator[T]:
    """Iterate with a click progress bar on stderr when ``enabled``, plainly otherwise.

    The CLI enables it when stderr is a terminal and not ``--quiet``: cron logs stay clean.
    """
    if not enabled:
        yield from iterable
        return
    import click

    with click.progressbar(iterable, length=total, label=label, file=sys.stderr,
                           show_pos=True, show_eta=False) as bar:
        yield from bar
