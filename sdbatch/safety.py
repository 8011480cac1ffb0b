"""Checks made before a file is opened (limits before work, issue 8).

``preflight`` looks at a file's name, size and first bytes and either returns the kind of
reader to use or raises :class:`FileRejected` with a code from the catalogue.
"""

from __future__ import annotations

from pathlib import Path

from sdbatch import settings
from sdbatch.model import FileRejected


def preflight(path: Path) -> str:
    """Return the reader kind for ``path`` (xlsx, xlsm, xls, ods, csv) or raise FileRejected."""
    name = path.name
    if name.startswith("~$") or name.startswith(".~lock"):
        raise FileRejected("lock-file", file=name)
    size = path.stat().st_size
    if size == 0:
        raise FileRejected("file-empty", file=name)
    if size > settings.MAX_FILE_BYTES:
        raise FileRejected("file-too-large", file=name, detail=f"{size // 1024 // 1024} MB")
    suffix = path.suffix.lower()
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK\x03\x04"):
        if suffix == ".ods":
            return "ods"
        return "xlsm" if suffix == ".xlsm" else "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if suffix in (".csv", ".txt"):
        return "csv"
    raise FileRejected("not-a-spreadsheet", file=name, detail="文件内容不是 Excel/WPS/CSV 表格")
