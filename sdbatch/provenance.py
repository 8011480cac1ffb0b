"""What sdbatch wrote, recognised so that a run never reads it back as a submission (issue 14).

Every workbook sdbatch writes for people (a city's review, the department's list) carries a
custom document property (``docProps/custom.xml``, shown by Excel under 文件 → 属性 → 自定义)
named :data:`PROPERTY`; a run folder holds ``run.json`` naming sdbatch as its generator; the
ledger is an SQLite file.  The inbox scan skips the run's own output folder and ledger outright
and lists anything else sdbatch wrote as ignored, with the reason.

The blank template (``sdbatch template``) carries no mark: cities fill it in and send it back.

Writers mark a workbook with one call::

    provenance.mark_openpyxl(wb, "review", result.run_id)       # openpyxl Workbook
    provenance.custom_part(kind, run_id)                        # the part itself (hand-built packages)
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

PROPERTY = "sdbatch-output"
GENERATOR = "sdbatch"  # run.json "generator"
CUSTOM_PART = "docProps/custom.xml"
CUSTOM_PART_MAX_BYTES = 256 * 1024
RUN_JSON = "run.json"
RESULTS_JSON = "results.json"
SQLITE_MAGIC = b"SQLite format 3\x00"
ZIP_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm")


def mark_value(kind: str, run_id: str) -> str:
    return f"{GENERATOR}|{kind}|{run_id}"


def mark_openpyxl(wb: Any, kind: str, run_id: str) -> None:
    from openpyxl.packaging.custom import StringProperty

    wb.custom_doc_props.append(StringProperty(name=PROPERTY, value=mark_value(kind, run_id)))


def custom_part(kind: str, run_id: str) -> bytes:
    """``docProps/custom.xml`` holding the mark (content type
    ``application/vnd.openxmlformats-officedocument.custom-properties+xml``, related from
    ``_rels/.rels`` by ``http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties``)."""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" '
        f'name="{PROPERTY}"><vt:lpwstr>{escape(mark_value(kind, run_id))}</vt:lpwstr></property></Properties>'
    ).encode()


def core_part(title: str, description: str) -> bytes:
    """``docProps/core.xml`` of a hand-built package: its title and description (文件 → 属性)."""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:title>{escape(title)}</dc:title><dc:description>{escape(description)}</dc:description>"
        "</cp:coreProperties>"
    ).encode()


def workbook_mark(path: str | os.PathLike[str]) -> str | None:
    """The mark of a workbook sdbatch wrote (``sdbatch|review|<run id>``), else None.  Reads at
    most the zip's directory and one small part; never raises."""
    if not str(path).lower().endswith(ZIP_SUFFIXES) or not _small_directory(path):
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.NameToInfo.get(CUSTOM_PART)
            if info is None or info.file_size > CUSTOM_PART_MAX_BYTES:
                return None
            data = zf.read(info)
    except Exception:  # noqa: BLE001 - not a readable zip: the reading stage will say why
        return None
    if PROPERTY.encode() not in data:
        return None
    from defusedxml import ElementTree

    try:
        root = ElementTree.fromstring(data)
    except Exception:  # noqa: BLE001
        return None
    for prop in root:
        if prop.get("name") == PROPERTY:
            value = "".join(prop.itertext()).strip()
            return value if value.startswith(GENERATOR + "|") else None
    return None


def _small_directory(path: str | os.PathLike[str]) -> bool:
    """The zip's central directory is within the reading limit (read by hand, before zipfile
    builds one object per entry)."""
    from sdbatch import settings

    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            fh.seek(max(0, size - 22 - 65535))
            tail = fh.read()
    except OSError:
        return False
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return False
    (cd_size,) = struct.unpack("<I", tail[at + 12 : at + 16])
    return bool(cd_size <= settings.MAX_ZIP_DIRECTORY_BYTES)


def run_folder_id(folder: str | os.PathLike[str], max_bytes: int = 1024 * 1024) -> str | None:
    """The run id when ``folder`` is a run folder sdbatch published (its run.json says so)."""
    path = Path(folder) / RUN_JSON
    try:
        if not (Path(folder) / RESULTS_JSON).is_file() or path.stat().st_size > max_bytes:
            return None
        info = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    versions = info.get("versions")
    if info.get("generator") == GENERATOR or (isinstance(versions, dict) and GENERATOR in versions):
        run_id = info.get("run_id")
        return str(run_id) if run_id else Path(folder).name
    return None


def is_sqlite(path: str | os.PathLike[str]) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False
