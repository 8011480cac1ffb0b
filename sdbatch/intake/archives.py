"""Archives in the inbox: ``.zip`` (GBK and UTF-8 member names), ``.7z`` (``py7zr``) and ``.rar``
(``rarfile``), opened under the preflight's limits (:mod:`sdbatch.reading.limits`).

    listing = open_archive(path, dest, wanted, budget)   # -> Listing, or FileRejected (Chinese reason)

Before anything is decompressed, from what the archive declares: its size, the member count, each
member's compression ratio and the uncompressed total (shared with the containers it sits in:
``budget``), no member name outside the archive (absolute, ``..``, a drive letter), no link, no
password.  Only the members ``wanted`` says (spreadsheets, nested containers) are extracted into
``dest``, each read no further than its declared size.  ``.rar`` needs an external tool
(``unrar``, ``unar``, ``bsdtar`` or ``7z``) for compressed members: without one the archive is
rejected with the advice to send a zip instead (stored members are read without it).
"""

from __future__ import annotations

import shutil
import stat
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sdbatch import settings
from sdbatch.catalogue import join, text
from sdbatch.model import FileRejected
from sdbatch.reading import limits
from sdbatch.reading.sniff import reject
from sdbatch.text import display_name

SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
RAR_MAGIC = b"Rar!\x1a\x07"
_CHUNK = 1 << 20
_UNICODE_PATH_EXTRA = 0x7075  # Info-ZIP Unicode Path Extra Field: the UTF-8 name beside a legacy one


@dataclass
class Member:
    """One file of an archive. ``name``: its path inside the archive as people read it."""

    name: str
    size: int
    path: Path | None = None  # where it was extracted (wanted members only)
    error: FileRejected | None = None  # a wanted member that could not be extracted


@dataclass
class Listing:
    kind: str  # zip, 7z, rar
    members: list[Member] = field(default_factory=list)
    total: int = 0  # declared uncompressed bytes of every member


def archive_kind(path: Path) -> str:
    """``zip``, ``7z`` or ``rar`` by the first bytes; anything else is rejected."""
    with Path(path).open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(SEVEN_ZIP_MAGIC):
        return "7z"
    if head.startswith(RAR_MAGIC):
        return "rar"
    if not head:
        raise FileRejected("file-empty", file=display_name(Path(path).name))
    raise reject("archive-unreadable", path, text("intake.archive.not_an_archive"))


def open_archive(path: Path, dest: Path, wanted: Callable[[str], bool], budget: int) -> Listing:
    """List ``path`` under the limits and extract the wanted members into ``dest``."""
    path = Path(path)
    size = path.stat().st_size
    if size > settings.MAX_FILE_BYTES:
        raise reject("file-too-large", path, text(
            "reading.file_too_large", size=f"{size / 1024 / 1024:.0f}",
            limit=f"{settings.MAX_FILE_BYTES / 1024 / 1024:.0f}"))
    kind = archive_kind(path)
    opener = {"zip": _open_zip, "7z": _open_7z, "rar": _open_rar}[kind]
    listing = opener(path, size, dest, wanted, budget)
    listing.kind = kind
    return listing


def _check_name(path: Path, name: str) -> None:
    problem = limits.member_path_problem(name)
    if problem:
        raise reject("archive-unsafe", path, text(f"intake.archive.{problem}", member=display_name(name)))


def _target(dest: Path, number: int, name: str) -> Path:
    from sdbatch.intake.messages import safe_name

    folder = dest / f"{number:04d}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / safe_name(name.replace("\\", "/").rsplit("/", 1)[-1], number)


def _copy_bounded(source: IO[bytes], target: Path, declared: int) -> int:
    """Copy at most ``declared`` bytes; more than declared is a lying archive."""
    written = 0
    with target.open("wb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > declared:
                raise ValueError("member larger than declared")
            out.write(chunk)
    return written


def _member_error(path: Path, member: str) -> FileRejected:
    return reject("file-unreadable", path, text("intake.archive.member_damaged", member=display_name(member)))


# ----------------------------------------------------------------------------- zip
def zip_member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as its author wrote it: UTF-8 when flagged (or in the Unicode Path extra
    field), else the legacy bytes -- GBK from Chinese Windows -- read as UTF-8 if they are, else
    GB18030 (``zipfile`` decodes them as cp437)."""
    if info.flag_bits & 0x800:
        return info.filename
    unicode_name = _unicode_path(info.extra)
    if unicode_name:
        return unicode_name
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("gb18030", "replace")


def _unicode_path(extra: bytes) -> str | None:
    i = 0
    while i + 4 <= len(extra):
        tag, length = struct.unpack("<HH", extra[i:i + 4])
        body = extra[i + 4:i + 4 + length]
        if tag == _UNICODE_PATH_EXTRA and len(body) > 5 and body[0] == 1:
            try:
                return body[5:].decode("utf-8")
            except UnicodeDecodeError:
                return None
        i += 4 + length
    return None


def _too_large(path: Path, member: Member) -> FileRejected | None:
    """A member bigger than a workbook may be: refused alone, before a byte of it is written."""
    if member.size <= settings.MAX_FILE_BYTES:
        return None
    return reject("file-too-large", path, text("intake.archive.member_too_large", member=member.name,
                                               limit=f"{settings.MAX_FILE_BYTES / 1024 / 1024:.0f}"))


def _open_zip(path: Path, size: int, dest: Path, wanted: Callable[[str], bool], budget: int) -> Listing:
    count, cd_size = limits.zip_directory(path, size)
    if count > settings.MAX_ZIP_MEMBERS or cd_size > settings.MAX_ZIP_DIRECTORY_BYTES:
        raise reject("archive-bomb", path, text("reading.too_many_members", count=count))
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error, NotImplementedError, RuntimeError):
        raise reject("archive-unreadable", path, text("intake.archive.damaged")) from None
    with zf:
        if any(not i.filename for i in zf.infolist()):  # zeroed bytes in the central directory
            raise reject("archive-unreadable", path, text("intake.archive.damaged"))
        infos = [i for i in zf.infolist() if not i.is_dir()]
        names = []
        for info in infos:
            name = zip_member_name(info)
            _check_name(path, name)
            if info.flag_bits & 0x1:
                raise FileRejected("archive-encrypted", file=display_name(path.name))
            if stat.S_ISLNK(info.external_attr >> 16):
                raise reject("archive-unsafe", path, text("intake.archive.member_link", member=display_name(name)))
            names.append(display_name(name))  # shown without line breaks or reversing marks
        unbounded = limits.unbounded_member(infos)
        if unbounded is not None:
            raise reject("archive-unreadable", path, text("intake.archive.method", member=display_name(
                unbounded[0]), method=unbounded[1]))
        total = limits.check_archive_members(path, [(i.file_size, i.compress_size) for i in infos], budget=budget)
        listing = Listing("zip", total=total)
        for number, (info, name) in enumerate(zip(infos, names, strict=True), start=1):
            member = Member(name, info.file_size)
            listing.members.append(member)
            if not wanted(name):
                continue
            member.error = _too_large(path, member)
            if member.error is not None:
                continue
            target = _target(dest, number, name)
            try:
                with zf.open(info) as source:
                    _copy_bounded(source, target, info.file_size)
                member.path = target
            except RuntimeError as exc:
                if "encrypted" in str(exc):
                    raise FileRejected("archive-encrypted", file=display_name(path.name)) from None
                member.error = _member_error(path, name)
            except Exception:  # noqa: BLE001 - zlib/CRC errors: this member only
                member.error = _member_error(path, name)
        return listing


# ----------------------------------------------------------------------------- 7z
# 7z coders whose output py7zr bounds as it extracts (LZMA, LZMA2, bzip2, stored, and the filters
# in front of them); its zstd and deflate decoders ignore the bound: a 128 KB archive declaring
# 500 KB took 12 GB of memory.  7-Zip's default is LZMA2.
SEVEN_ZIP_METHODS_BOUNDED = frozenset({"LZMA2", "LZMA", "BZip2", "COPY", "delta", "BCJ", "ARM", "ARMT", "IA64",
                                       "PPC", "SPARC"})

def _open_7z(path: Path, size: int, dest: Path, wanted: Callable[[str], bool], budget: int) -> Listing:
    import py7zr
    from py7zr.exceptions import PasswordRequired

    _check_7z_header(path)
    try:
        archive = py7zr.SevenZipFile(path, mode="r")
    except PasswordRequired:
        raise FileRejected("archive-encrypted", file=display_name(path.name)) from None
    except Exception:  # noqa: BLE001 - any failure of the library: a damaged archive
        raise reject("archive-unreadable", path, text("intake.archive.damaged")) from None
    with archive:
        try:
            encrypted = archive.needs_password()
            infos = archive.list()
        except Exception:  # noqa: BLE001
            raise reject("archive-unreadable", path, text("intake.archive.damaged")) from None
        if encrypted:
            raise FileRejected("archive-encrypted", file=display_name(path.name))
        try:
            methods = set(archive.archiveinfo().method_names)
        except Exception:  # noqa: BLE001 - a method py7zr does not know
            raise reject("archive-unreadable", path, text("intake.archive.damaged")) from None
        unbounded = sorted(methods - SEVEN_ZIP_METHODS_BOUNDED)
        if unbounded:
            raise reject("archive-unreadable", path, text("intake.archive.method_whole", method=join(unbounded)))
        files = []
        for info in infos:
            _check_name(path, str(info.filename))
            name = display_name(str(info.filename))
            if info.is_symlink:
                raise reject("archive-unsafe", path, text("intake.archive.member_link", member=display_name(name)))
            if info.is_directory:
                continue
            files.append((info, name))
        sizes = [(int(i.uncompressed or 0), int(i.compressed) if i.compressed else None) for i, _ in files]
        total = limits.check_archive_members(path, sizes, packed=size, budget=budget)
        listing = Listing("7z", total=total)
        targets = []
        for info, name in files:
            member = Member(name, int(info.uncompressed or 0))
            listing.members.append(member)
            if wanted(name):
                member.error = _too_large(path, member)
                if member.error is None:
                    targets.append((member, str(info.filename)))
        if not targets:
            return listing
        scratch = dest / "7z"
        failed: set[str] = set()
        if not _extract_7z(archive, scratch, [t for _, t in targets]):
            # py7zr extracts in one call and fails as a whole for one member it will not write (a
            # name such as "C:x.xlsx", a damaged block): the members are then taken one by one,
            # so that one bad member does not cost the city its good workbook beside it
            one_by_one = len(targets) <= settings.MAX_SEPARATE_EXTRACTIONS
            failed = {t for _, t in targets if not one_by_one or not _extract_7z(archive, scratch, [t])}
        for number, (member, original) in enumerate(targets, start=1):
            found = scratch / original
            if original in failed or not found.is_file() or found.is_symlink() or found.stat().st_size > member.size:
                member.error = _member_error(path, member.name)
                continue
            target = _target(dest, number, member.name)
            shutil.move(str(found), target)
            member.path = target
        shutil.rmtree(scratch, ignore_errors=True)
        return listing


def _check_7z_header(path: Path) -> None:
    """The 7z header's size and file count, before py7zr builds its listing.

    py7zr parses the whole header (decompressing it first: 7-Zip compresses it by default) and
    builds an object per entry before anything can be counted; a 12 KB archive declaring seven
    million entries took 57 s and 5 GB.  Here the header's size (as stored, and as declared
    once decompressed) is held to ``settings.MAX_7Z_HEADER_BYTES``, and the number of entries
    and of folders (compressed blocks) to ``settings.MAX_ZIP_MEMBERS``, read with py7zr's own
    parsers up to those counts only.
    """
    import io

    from py7zr import archiveinfo
    from py7zr.archiveinfo import PROPERTY
    from py7zr.exceptions import PasswordRequired

    class _Count(archiveinfo.Header):  # the header up to its number of folders and files, no list
        entries = 0

        def _extract_header_info(self, fp: Any) -> None:
            pid = fp.read(1)
            if pid == PROPERTY.MAIN_STREAMS_INFO:
                streams = fp.tell()
                if fp.read(1) == PROPERTY.PACK_INFO:
                    archiveinfo.PackInfo.retrieve(fp)
                else:
                    fp.seek(-1, 1)
                if fp.read(1) == PROPERTY.UNPACK_INFO and fp.read(1) == PROPERTY.FOLDER:
                    self.entries = archiveinfo.read_uint64(fp)  # a folder holds one file at least
                    if self.entries > settings.MAX_ZIP_MEMBERS:
                        return
                fp.seek(streams)
                archiveinfo.StreamsInfo.retrieve(fp)
                pid = fp.read(1)
            if pid == PROPERTY.FILES_INFO:
                self.entries = archiveinfo.read_uint64(fp)

    limit = settings.MAX_7Z_HEADER_BYTES
    try:
        with path.open("rb") as fh:
            signature = archiveinfo.SignatureHeader.retrieve(fh)
            after = fh.tell()
            start = after + signature.nextheaderofs
            end = fh.seek(0, 2)
            if signature.nextheadersize > limit or not after <= start <= end - signature.nextheadersize:
                raise _TooLarge
            fh.seek(start)
            raw = fh.read(signature.nextheadersize)
            if raw[:1] == PROPERTY.ENCODED_HEADER:
                streams = archiveinfo.HeaderStreamsInfo.retrieve(io.BytesIO(raw[1:]))
                folders = streams.unpackinfo.folders if streams.unpackinfo else []
                if sum(max(folder.unpacksizes or [0]) for folder in folders) > limit:
                    raise _TooLarge
            header = _Count.retrieve(fh, io.BytesIO(raw), after)  # type: ignore[arg-type]
    except _TooLarge:
        raise reject("archive-bomb", path, text("intake.archive.header_too_large",
                                                limit=f"{limit / 1024 / 1024:.0f}")) from None
    except PasswordRequired:  # an encrypted header (its size checked above): py7zr says so in turn
        return
    except Exception:  # noqa: BLE001 - what py7zr's parsers refuse: a damaged archive
        raise reject("archive-unreadable", path, text("intake.archive.damaged")) from None
    if header.entries > settings.MAX_ZIP_MEMBERS:
        raise reject("archive-bomb", path, text("reading.too_many_members", count=header.entries))


class _TooLarge(Exception):
    """A 7z header past ``settings.MAX_7Z_HEADER_BYTES``."""


def _extract_7z(archive: Any, scratch: Path, targets: list[str]) -> bool:
    """Extract ``targets`` of an open 7z into ``scratch``; whether it worked."""
    try:
        archive.reset()
        archive.extract(path=scratch, targets=targets)
    except Exception:  # noqa: BLE001 - a damaged block, a name py7zr will not write
        return False
    return True


# ----------------------------------------------------------------------------- rar
def _open_rar(path: Path, size: int, dest: Path, wanted: Callable[[str], bool], budget: int) -> Listing:
    import rarfile

    try:
        archive = rarfile.RarFile(str(path))
    except rarfile.PasswordRequired:
        raise FileRejected("archive-encrypted", file=display_name(path.name)) from None
    except Exception:  # noqa: BLE001
        raise reject("archive-unreadable", path, text("intake.archive.damaged")) from None
    with archive:
        if archive.needs_password():
            raise FileRejected("archive-encrypted", file=display_name(path.name))
        files = []
        for info in archive.infolist():
            _check_name(path, str(info.filename))
            name = display_name(str(info.filename))
            if info.is_symlink() or getattr(info, "file_redir", None):
                raise reject("archive-unsafe", path, text("intake.archive.member_link", member=display_name(name)))
            if info.is_dir():
                continue
            if info.needs_password():
                raise FileRejected("archive-encrypted", file=display_name(path.name))
            files.append((info, name))
        sizes = [(int(i.file_size or 0), int(i.compress_size) if i.compress_size is not None else None)
                 for i, _ in files]
        total = limits.check_archive_members(path, sizes, packed=size, budget=budget)
        listing = Listing("rar", total=total)
        for number, (info, name) in enumerate(files, start=1):
            member = Member(name, int(info.file_size or 0))
            listing.members.append(member)
            if not wanted(name):
                continue
            member.error = _too_large(path, member)
            if member.error is not None:
                continue
            if info.compress_type != rarfile.RAR_M0 and not tool_available():  # rarfile would leave a
                raise FileRejected("archive-tool-missing", file=display_name(path.name))  # copy in the temp folder
            target = _target(dest, number, name)
            try:
                with archive.open(info) as source:
                    _copy_bounded(source, target, member.size)
                member.path = target
            except rarfile.RarCannotExec:
                raise FileRejected("archive-tool-missing", file=display_name(path.name)) from None
            except Exception:  # noqa: BLE001 - CRC errors, a tool's failure: this member only
                member.error = _member_error(path, name)
        return listing


def tool_available() -> bool:
    """Whether rarfile finds a tool for compressed .rar members on this machine."""
    import rarfile

    try:
        rarfile.tool_setup()
    except rarfile.RarCannotExec:
        return False
    return True


