"""OpenDocument spreadsheets (.ods, LibreOffice / WPS) with python-calamine.

Preflight has already refused repeated rows/columns that expand to more than the limits
(``limits._check_ods_grid``), so calamine's dense layout stays bounded.  Time values (which
calamine hands over as ISO text, ``PT36H15M00S``) are read as durations.
"""

from __future__ import annotations

from pathlib import Path

from sdbatch.model import Finding, RawSheet
from sdbatch.reading import calamine


def read(path: Path) -> tuple[list[RawSheet], list[Finding]]:
    """The reader of ``ods`` files."""
    return calamine.read(path, ods=True)
