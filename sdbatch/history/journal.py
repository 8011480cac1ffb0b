"""The decisions journal: a plain file beside the ledger that holds every decision staff recorded.

``<ledger>.decisions.jsonl`` (e.g. ``output/ledger.sqlite3.decisions.jsonl``), one JSON object per
line, appended and flushed to disk *before* the ledger's row is written.  A damaged ledger loses
nothing staff recorded: ``sdbatch ledger recover`` rebuilds the runs from the run folders and the
decisions from this file, and every run and ``sdbatch decide`` bring the two into agreement
(:meth:`sdbatch.ledger.Ledger.sync_decisions`).  Each line carries its checksum (``digest``); a line
that does not parse or whose checksum is wrong (a write cut off by a crash, an edit by hand) is
reported and left out, never rewritten.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sdbatch import settings
from sdbatch.history.model import Decision, digest_of


def journal_path(ledger_path: Path | str) -> Path:
    return Path(f"{ledger_path}{settings.DECISIONS_JOURNAL_SUFFIX}")


@dataclass
class Journal:
    entries: list[Decision] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)  # 1-based numbers of lines left out


def read(path: Path) -> Journal:
    """Every sound entry of the journal (none when the file does not exist)."""
    out = Journal()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return out
    seen: set[str] = set()
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line.decode("utf-8"))
            if not isinstance(data, dict) or data.get("digest") != digest_of(data):
                raise ValueError("digest")
            entry = Decision.from_dict(data)
        except (ValueError, UnicodeDecodeError):
            out.bad_lines.append(number)
            continue
        if entry.uid not in seen:
            seen.add(entry.uid)
            out.entries.append(entry)
    return out


def append(path: Path, entries: Iterable[Decision]) -> None:
    """Append entries, each on its own line with its checksum, and flush them to disk."""
    lines = []
    for entry in entries:
        data = entry.to_dict()
        data["digest"] = digest_of(data)
        lines.append(json.dumps(data, ensure_ascii=False, sort_keys=True))
    if not lines:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    body = ("\n".join(lines) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:  # a line cut off by a crash must not swallow the next entry
            with open(path, "rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    body = b"\n" + body
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
