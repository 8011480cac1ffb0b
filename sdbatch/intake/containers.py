"""The batch's hook after the inbox scan (issue 18 Build 2): containers become their members.

    records = expand(records, ledger=ledger_path)

For every record of the scan, in order:

- a file ``sdbatch fetch`` put in the inbox gets the provenance of its message from the ledger
  (:func:`sdbatch.intake.store.fetched_origins`): it was received at the message's date;
- a saved message (``.eml``/``.msg``) or an archive (``.zip``/``.7z``/``.rar``) is opened under
  the limits (:mod:`.archives`, :mod:`.messages`); the container stays in the list as *ignored*
  with a finding naming what it held, or *rejected* with the reason; each spreadsheet in it (and
  each container, opened in turn up to :data:`settings.MAX_NESTING_DEPTH`) follows it as a record
  of its own, named ``<container>/<member>``, read from a private temporary copy, carrying its
  :class:`~sdbatch.model.Provenance` (the chain of containers) and received at the date of the
  innermost message (a member of an archive inherits its container's time);
- files under the folder ``sdbatch fetch`` keeps original messages in (it holds
  :data:`settings.MAILBOX_ARCHIVE_MARKER`) are never submissions: they are dropped.

Every container and everything nested in it share one budget of
:data:`settings.MAX_UNCOMPRESSED_BYTES`.  Temporary copies are removed when their record is
garbage-collected, or at exit.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from sdbatch import settings
from sdbatch.catalogue import join, text
from sdbatch.intake import archives, messages
from sdbatch.intake.origin import china_iso
from sdbatch.model import FileRecord, FileRejected, Finding, OriginStep, Provenance, Source

log = logging.getLogger("sdbatch")


def container_kind(name: str) -> str | None:
    """``message`` or ``archive`` by the name's suffix, else None."""
    lower = name.lower()
    if lower.endswith(settings.MESSAGE_SUFFIXES):
        return "message"
    if lower.endswith(settings.ARCHIVE_SUFFIXES):
        return "archive"
    return None


def wanted(name: str) -> bool:
    """The members taken out of a container: spreadsheets and containers."""
    lower = name.lower()
    base = lower.replace("\\", "/").rsplit("/", 1)[-1]
    if base.startswith(("~$", ".")) or "__macosx/" in lower:
        return False
    return lower.endswith(settings.SPREADSHEET_SUFFIXES) or container_kind(lower) is not None


@dataclass
class _Budget:
    left: int  # bytes all containers of one inbox item may still unpack
    # members they may still list: 100 zips of 2,000 members each in a 4 MB zip made 200,000 records
    members: int = field(default_factory=lambda: settings.MAX_ZIP_MEMBERS)


def expand(records: list[FileRecord], *, ledger: Path | None = None) -> list[FileRecord]:
    """The scan's records with every container's members after it (see the module docstring)."""
    from sdbatch.intake.store import fetched_origins

    kept = [r for r in records if not _in_mailbox_archive(r)]
    fetched = fetched_origins(ledger, {r.file: r.sha256 for r in kept if r.status == "processed" and r.sha256})
    out: list[FileRecord] = []
    for record in kept:
        out.append(record)
        origin = fetched.get(record.file)
        if origin is not None and record.origin is None:
            step = origin.steps[0]
            record.origin = Provenance((OriginStep(step.kind, step.container, step.member, step.message),),
                                       origin.received)
            _note_message_date(record, step)
        if record.status == "processed" and container_kind(record.file):
            out.extend(_open(record, 1, _Budget(settings.MAX_UNCOMPRESSED_BYTES)))
    return out


def _in_mailbox_archive(record: FileRecord) -> bool:
    folder = Path(record.path).parent
    for _ in range(record.file.count("/") + 1):
        if (folder / settings.MAILBOX_ARCHIVE_MARKER).exists():
            return True
        folder = folder.parent
    return False


def _workspace(owner: FileRecord) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="sdbatch-intake-"))
    weakref.finalize(owner, shutil.rmtree, str(folder), True)
    return folder


def _reject(record: FileRecord, exc: FileRejected) -> None:
    record.status = "rejected"
    record.error_code = exc.code
    record.error_params = {**exc.params, "file": record.file.rsplit("/", 1)[-1]}
    if record.city is None:  # so that the city is told why (as the batch does for a file it cannot read)
        from sdbatch.jurisdiction import city_of_file_name

        record.city = city_of_file_name(record.file)


def _open(container: FileRecord, depth: int, budget: _Budget) -> list[FileRecord]:
    """The members of ``container`` as records (``container`` itself marked ignored or rejected)."""
    if depth > settings.MAX_NESTING_DEPTH:
        _reject(container, FileRejected("archive-too-deep", file="", limit=settings.MAX_NESTING_DEPTH))
        return []
    kind = container_kind(container.file)
    dest = _workspace(container)
    try:
        if kind == "message":
            members, step_for, received = _open_message(container, dest, budget)
        else:
            members, step_for, received = _open_archive(container, dest, budget)
    except FileRejected as exc:
        _reject(container, exc)
        return []
    except Exception:  # noqa: BLE001 - whatever one city's message or archive does costs it alone, never the batch
        log.debug(text("batch.log.details"), exc_info=True)
        if kind == "message":
            _reject(container, FileRejected("message-unreadable", file="", detail=text("intake.message.malformed")))
        else:
            _reject(container, FileRejected("archive-unreadable", file="", detail=text("intake.archive.damaged")))
        return []
    names = [name for name, _path, _size, _err in members]
    budget.members -= len(names)
    if budget.members < 0:
        _reject(container, FileRejected("archive-bomb", file="", detail=text(
            "reading.too_many_members", count=settings.MAX_ZIP_MEMBERS - budget.members)))
        return []
    taken = [m for m in members if wanted(m[0])]
    container.status = "ignored"
    shown = names[: settings.MAX_LISTED_MEMBERS]
    params = {"file": container.file, "kind": text(f"intake.kinds.{kind}"), "count": len(names),
              "members": join(shown) + (text("intake.and_more", count=len(names)) if len(names) > len(shown) else ""),
              "taken": len(taken), "names": names}
    code = "container-opened" if taken else "container-without-spreadsheet"
    container.findings.append(Finding(code, "info" if taken else "warning", params=params,
                                      source=Source(container.file)))
    out: list[FileRecord] = []
    base_steps = container.origin.steps if container.origin else ()
    for name, path, size, error in taken:
        child_name = f"{container.file}/{name}"
        origin = Provenance(base_steps + (step_for(name),), received)
        if path is None:
            child = FileRecord(file=child_name, path=str(dest / "missing"), sha256=_text_hash(child_name), size=size,
                               mtime=container.mtime, origin=origin)
            _reject(child, error or FileRejected("file-unreadable", file=""))
            out.append(child)
            continue
        sha = _sha256(path)
        child = FileRecord(file=child_name, path=str(path), sha256=sha, size=path.stat().st_size,
                           mtime=container.mtime, origin=origin)
        _note_message_date(child, origin.steps[-1])
        out.append(child)
        if container_kind(name):
            out.extend(_open(child, depth + 1, budget))
    return out


Members = list[tuple[str, Path | None, int, FileRejected | None]]  # name, extracted copy, size, why not read
Opened = tuple[Members, Callable[[str], OriginStep], float]  # members, each one's step, when received


def _open_message(container: FileRecord, dest: Path, budget: _Budget) -> Opened:
    parsed = messages.read_message(Path(container.path))
    total = sum(len(a.data) for a in parsed.attachments)
    if total > budget.left:
        raise FileRejected("archive-bomb", file="", detail=text(
            "reading.uncompressed_too_large", size=f"{total / 1024 / 1024:.0f}",
            limit=f"{budget.left / 1024 / 1024:.0f}"))
    budget.left -= total
    received = parsed.moment.timestamp() if parsed.moment else None
    info = parsed.info
    if received is None:  # no Date: the saved message's own time, and a finding says so
        info = replace(info, date_source="file")
    members: Members = []
    used: set[str] = set()
    for number, att in enumerate(parsed.attachments, start=1):
        name = _unique(att.name, used)
        path = None
        if wanted(name) and att.data:
            folder = dest / f"{number:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_bytes(att.data)
        error = att.error or (None if att.data else FileRejected("file-empty", file=name))
        members.append((name, path, len(att.data), error))

    def step_for(name: str) -> OriginStep:
        return OriginStep("message", container.file, name, info)

    return members, step_for, received if received is not None else container.received_at


def _open_archive(container: FileRecord, dest: Path, budget: _Budget) -> Opened:
    listing = archives.open_archive(Path(container.path), dest, wanted, budget.left)
    budget.left -= listing.total
    members: Members = [(m.name, m.path, m.size, m.error) for m in listing.members]

    def step_for(name: str) -> OriginStep:
        return OriginStep("archive", container.file, name)

    return members, step_for, container.received_at


def _note_message_date(record: FileRecord, step: OriginStep) -> None:
    """Findings on how sure the received time is: a message without a Date (the file's time or
    the server's arrival was used), or a Date far from the server's arrival."""
    info = step.message
    if info is None:
        return
    if info.date_source in ("file", "server", "none"):
        used = record.received_at if record.origin is None or record.origin.received is None else record.origin.received
        record.findings.append(Finding("message-date-missing", "warning", params={
            "file": record.file, "used": _shown(used), "source": text(f"intake.date_sources.{info.date_source}")},
            source=Source(record.file)))
    elif info.server_date and info.date:
        from sdbatch.intake.origin import parse_iso

        sent, arrived = parse_iso(info.date), parse_iso(info.server_date)
        if sent and arrived and abs((arrived - sent).total_seconds()) > settings.MESSAGE_DATE_TOLERANCE_S:
            record.findings.append(Finding("message-date-disputed", "warning", params={
                "file": record.file, "date": _shown(sent.timestamp()), "arrived": _shown(arrived.timestamp())},
                source=Source(record.file)))


def _shown(timestamp: float | None) -> str:
    from sdbatch.intake.origin import shown_time

    return shown_time(china_iso(timestamp)) if timestamp is not None else ""


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    stem, dot, ext = name.rpartition(".")
    while candidate.lower() in used:
        n += 1
        candidate = f"{stem} ({n}).{ext}" if dot else f"{name} ({n})"
    used.add(candidate.lower())
    return candidate


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _text_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


