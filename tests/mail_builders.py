"""Builders for the intake tests (issue 18): e-mails, Outlook .msg files, archives -- including
hostile ones -- written by the tests themselves, and a real IMAP server on 127.0.0.1.

- :func:`eml`: an RFC 5322 message (stdlib ``email``) with attachments;
- :func:`outlook_msg`: an Outlook .msg, laid out as MS-OXMSG says (property streams, transport
  headers, attachment storages) and written as an OLE compound file by ``extract-msg``'s own
  ``OleWriter`` (no library writes whole .msg files);
- :func:`zip_with_names`: a zip whose member names are stored as legacy GBK bytes (Chinese Windows'
  "send to compressed folder") or as flagged UTF-8;
- :func:`rar5`: a RAR 5 archive of *stored* members, built byte by byte (no tool creates RAR
  files on this machine); ``method`` > 0 declares compressed data (which needs unrar to read);
- :func:`imap_server`: pymap's in-memory backend in a subprocess, STARTTLS with a certificate from
  trustme's CA, loaded with IMAP APPEND.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

CHINA = dt.timezone(dt.timedelta(hours=8))
XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# ----------------------------------------------------------------------------- e-mails
def eml(sender: str, subject: str, date: dt.datetime | None, attachments: list[tuple[str, bytes]], *,
        message_id: str | None = None, references: str | None = None, to: str = "szjjc@gxt.shandong.example",
        body: str = "附件为我市申报信息汇总表，请审核。") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    if date is not None:
        msg["Date"] = format_datetime(date)
    if message_id:
        msg["Message-ID"] = message_id
    if references:
        msg["References"] = references
        msg["In-Reply-To"] = references.split()[-1]
    msg.set_content(body)
    for name, data in attachments:
        lower = name.lower()
        if lower.endswith(".zip"):
            kind = ("application", "zip")
        elif lower.endswith((".xlsx", ".xlsm")):
            kind = XLSX
        else:
            kind = ("application", "octet-stream")
        msg.add_attachment(data, maintype=kind[0], subtype=kind[1], filename=name)
    return bytes(msg)


def _utf16(value: str) -> bytes:
    return value.encode("utf-16-le")


def _filetime(moment: dt.datetime) -> int:
    return int((moment - dt.datetime(1601, 1, 1, tzinfo=dt.UTC)).total_seconds() * 10**7)


def outlook_msg(path: Path, sender: str, subject: str, date: dt.datetime | None,
                attachments: list[tuple[str, bytes]], *, message_id: str | None = None,
                forwarded: Sequence[tuple[str, list[tuple[str, bytes]]]] = (),
                linked: Sequence[tuple[str, int]] = ()) -> Path:
    """An Outlook .msg of a received message (with its transport headers), fictional content.
    ``forwarded``: Outlook items attached to it (mails forwarded "as an attachment"), each its
    subject and its own attachments.  ``linked``: attachments without their file, each its name
    and attach method (7: a link to a file kept online; 2: a reference to a file path)."""
    from extract_msg.ole_writer import OleWriter

    writer = OleWriter()
    headers = f"From: {sender}\r\nSubject: {subject}\r\n"
    if message_id:
        headers += f"Message-ID: {message_id}\r\n"
    if date is not None:
        headers += f"Date: {format_datetime(date)}\r\n"
    strings = {0x001A: "IPM.Note", 0x0037: subject, 0x0C1F: sender, 0x1000: "附件为我市申报信息汇总表。",
               0x007D: headers + "\r\n"}
    if message_id:
        strings[0x1035] = message_id
    extra = struct.pack("<IIQ", 0x00390040, 6, _filetime(date)) if date is not None else b""  # PR_CLIENT_SUBMIT_TIME
    _msg_entries(writer, "", strings, extra, attachments, forwarded, linked)
    writer.addEntry("__nameid_version1.0", storage=True)
    for stream in ("00020102", "00030102", "00040102"):
        writer.addEntry(f"__nameid_version1.0/__substg1.0_{stream}", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer.write(str(path))
    return path


def _msg_entries(writer: Any, prefix: str, strings: dict[int, str], extra: bytes,
                 attachments: list[tuple[str, bytes]], forwarded: Sequence[tuple[str, list[tuple[str, bytes]]]],
                 linked: Sequence[tuple[str, int]] = ()) -> None:
    """One message's streams under ``prefix`` (the root, or an attachment's embedded storage,
    whose property stream has the shorter header of an embedded message)."""
    entries = b""
    for tag, value in strings.items():
        writer.addEntry(f"{prefix}__substg1.0_{tag:04X}001F", _utf16(value))
        entries += struct.pack("<IIII", (tag << 16) | 0x001F, 6, len(_utf16(value)) + 2, 0)
    n = len(attachments) + len(forwarded) + len(linked)
    head = b"\0" * 8 + struct.pack("<IIII", 0, n, 0, n) + (b"" if prefix else b"\0" * 8)
    writer.addEntry(f"{prefix}__properties_version1.0", head + entries + extra)
    for i, (name, data) in enumerate(attachments):
        folder = f"{prefix}__attach_version1.0_#{i:08X}"
        writer.addEntry(folder, storage=True)
        writer.addEntry(f"{folder}/__substg1.0_37010102", data)
        writer.addEntry(f"{folder}/__substg1.0_3707001F", _utf16(name))
        props = (b"\0" * 8 + struct.pack("<IIII", 0x37010102, 6, len(data), 0)
                 + struct.pack("<IIII", 0x3707001F, 6, len(_utf16(name)) + 2, 0)
                 + struct.pack("<IIQ", 0x37050003, 6, 1))  # PR_ATTACH_METHOD = by value
        writer.addEntry(f"{folder}/__properties_version1.0", props)
    for i, (subject, inner) in enumerate(forwarded, start=len(attachments)):
        folder = f"{prefix}__attach_version1.0_#{i:08X}"
        writer.addEntry(folder, storage=True)
        props = (b"\0" * 8 + struct.pack("<IIQ", 0x37050003, 6, 5)  # PR_ATTACH_METHOD = embedded message
                 + struct.pack("<IIII", 0x3701000D, 6, 0, 0))
        writer.addEntry(f"{folder}/__properties_version1.0", props)
        writer.addEntry(f"{folder}/__substg1.0_3701000D", storage=True)
        _msg_entries(writer, f"{folder}/__substg1.0_3701000D/",
                     {0x001A: "IPM.Note", 0x0037: subject, 0x1000: "见附件"}, b"", inner, [])
    for i, (name, method) in enumerate(linked, start=len(attachments) + len(forwarded)):
        folder = f"{prefix}__attach_version1.0_#{i:08X}"
        writer.addEntry(folder, storage=True)
        writer.addEntry(f"{folder}/__substg1.0_3707001F", _utf16(name))
        props = (b"\0" * 8 + struct.pack("<IIII", 0x3707001F, 6, len(_utf16(name)) + 2, 0)
                 + struct.pack("<IIQ", 0x37050003, 6, method))  # PR_ATTACH_METHOD, no data stream
        writer.addEntry(f"{folder}/__properties_version1.0", props)


# ----------------------------------------------------------------------------- zip
def zip_with_names(path: Path, members: list[tuple[str, bytes]], *, encoding: str = "gbk",
                   compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A zip whose names are stored as ``encoding`` bytes without the UTF-8 flag (``encoding="utf-8"``
    stores them flagged, as zipfile does).  Legacy names are written as ASCII placeholders of the
    same length and patched in the local headers and the central directory."""
    placeholders = {}
    with zipfile.ZipFile(path, "w", compression) as zf:
        for i, (name, data) in enumerate(members):
            if encoding == "utf-8":
                zf.writestr(name, data)
                continue
            raw = name.encode(encoding)
            holder = (f"~{i:03d}" + "x" * len(raw))[: len(raw)]
            assert len(holder) == len(raw), "names of at least 4 bytes"
            placeholders[holder.encode("ascii")] = raw
            zf.writestr(holder, data)
    blob = path.read_bytes()
    for holder, raw in placeholders.items():
        assert blob.count(holder) == 2
        blob = blob.replace(holder, raw)
    path.write_bytes(blob)
    return path


def flag_encrypted(path: Path) -> Path:
    """Set the "encrypted" bit of every member (local headers and central directory), as a
    password-protected zip declares it."""
    blob = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = blob.find(signature)
        while at >= 0:
            flags = struct.unpack_from("<H", blob, at + offset)[0]
            struct.pack_into("<H", blob, at + offset, flags | 0x1)
            at = blob.find(signature, at + 4)
    path.write_bytes(bytes(blob))
    return path


def zip_bomb(path: Path, size: int = 64 * 1024 * 1024) -> Path:
    """One member of ``size`` zero bytes, deflated (ratio about 1000): never decompressed."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\0" * (1 << 20)
    deflated = b"".join(compressor.compress(chunk) for _ in range(size // len(chunk))) + compressor.flush()
    crc = 0
    for _ in range(size // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    name = "汇总表.xlsx".encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x800, 8, 0, 0x21, crc, len(deflated), size, len(name), 0)
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x800, 8, 0, 0x21, crc, len(deflated), size,
                          len(name), 0, 0, 0, 0, 0, 0)
    body = local + name + deflated
    directory = central + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(directory), len(body), 0)
    path.write_bytes(body + directory + end)
    return path


def zip_symlink(path: Path, name: str, target: str) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo(name)
        info.external_attr = (0o120777 << 16)
        info.create_system = 3
        zf.writestr(info, target)
    return path


# ----------------------------------------------------------------------------- rar 5
def _vint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _block(kind: int, flags: int, fields: bytes, data_size: int | None = None) -> bytes:
    body = _vint(kind) + _vint(flags | (0x02 if data_size is not None else 0))
    if data_size is not None:
        body += _vint(data_size)
    body += fields
    header = _vint(len(body)) + body
    return struct.pack("<I", zlib.crc32(header)) + header


def rar5(path: Path, members: list[tuple[str, bytes]], *, method: int = 0) -> Path:
    """A RAR 5 archive of the members, stored (``method`` 0) or declaring compressed data."""
    out = b"Rar!\x1a\x07\x01\x00" + _block(1, 0, _vint(0))
    for name, data in members:
        raw = name.encode("utf-8")
        fields = (_vint(0x0004)  # file flags: CRC32 present
                  + _vint(len(data)) + _vint(0x20)  # unpacked size, attributes
                  + struct.pack("<I", zlib.crc32(data))
                  + _vint(method << 7) + _vint(0)  # compression info, host OS Windows
                  + _vint(len(raw)) + raw)
        out += _block(2, 0, fields, data_size=len(data)) + data
    out += _block(5, 0, _vint(0))
    path.write_bytes(out)
    return path


# ----------------------------------------------------------------------------- IMAP
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ImapServer:
    port: int
    user: str
    password: str
    ca_file: Path

    def mailbox(self) -> object:
        import ssl

        from imap_tools import MailBoxStartTls

        context = ssl.create_default_context(cafile=str(self.ca_file))
        return MailBoxStartTls("127.0.0.1", self.port, ssl_context=context).login(self.user, self.password)

    def append(self, raw: bytes, arrived: dt.datetime, folder: str = "INBOX") -> None:
        box = self.mailbox()
        try:
            box.append(raw, folder, dt=arrived)  # type: ignore[attr-defined]
        finally:
            box.logout()  # type: ignore[attr-defined]


@contextlib.contextmanager
def imap_server(folder: Path, user: str = "szjjc@gxt.shandong.example", password: str = "test-only") -> Iterator[ImapServer]:
    """pymap (in-memory backend) on 127.0.0.1 with STARTTLS, for the length of the block."""
    import trustme

    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    port = free_port()
    pymap = Path(sys.executable).parent / "pymap"  # the console script of the test extras (pyproject.toml)
    if not pymap.exists():
        import shutil

        pymap = Path(shutil.which("pymap") or pymap)
    process = subprocess.Popen(
        [str(pymap), "--host", "127.0.0.1", "--port", str(port), "--cert", str(folder / "cert.pem"),
         "--key", str(folder / "key.pem"), "dict", "--demo-user", user, "--demo-password", password],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("pymap did not start") from None
                time.sleep(0.1)
        yield ImapServer(port, user, password, folder / "ca.pem")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
