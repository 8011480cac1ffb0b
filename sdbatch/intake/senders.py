"""The sender as evidence of the city (issue 18 Build 3).

    attribute_senders(records, book_path)      # after reading, before resubmissions and lateness

A file that came by mail (its provenance names a message) from an address of the address book
(a city's ``to``/``cc``, or its ``senders``) is that city's: a workbook that names no city at all
(no city column, 填报单位, title, file or sheet name) is attributed to the sender's city (finding
``city-from-sender``); one that names another city keeps the city it names, and staff are told
(``sender-city-mismatch``).  A sender the book does not know is a finding for staff
(``sender-unknown``).  Without an address book nothing is attributed and nothing is said.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sdbatch.address_book import AddressBook, AddressBookInvalid, address_of, load_address_book
from sdbatch.catalogue import join
from sdbatch.model import FileRecord, Finding, Source


def sender_index(book: AddressBook) -> dict[str, str]:
    """Lower-case address -> city, from every address the book lists for a city."""
    index: dict[str, str] = {}
    for city, entry in book.cities.items():
        for key in ("to", "cc", "senders"):
            for value in entry.get(key, []):
                address = address_of(value).lower()
                if address:
                    index.setdefault(address, city)
    return index


def attribute_senders(records: list[FileRecord], book_path: Path | None,
                      programs: Mapping[str, Any] | None = None) -> None:
    """Attribute files to their sender's city, and say what staff should know (see the module).
    ``programs``: program name -> Rules (the field of each program's city role)."""
    if not any(r.origin is not None and r.origin.message is not None for r in records):
        return
    try:
        book = load_address_book(book_path)
    except AddressBookInvalid:
        return  # a run drafting mail refuses a broken book before any work; here it says nothing
    if not book.exists:
        return
    index = sender_index(book)
    for record in records:
        info = record.origin.message if record.origin is not None else None
        if info is None or record.status in ("ignored", "duplicate"):
            continue
        source = Source(record.file)
        city = index.get(info.sender or "")
        if city is None:
            record.findings.append(Finding("sender-unknown", "warning", params={
                "file": record.file, "sender": info.sender or "", "book": book.path}, source=source))
            continue
        rules = (programs or {}).get(record.program or "")
        _attribute(record, city, info.sender or "", source, rules.role("city") if rules is not None else None)


def _attribute(record: FileRecord, city: str, sender: str, source: Source, field: str | None) -> None:
    stated = {a.city for a in record.applications if a.city}
    if record.city is None and not stated:
        record.city = city
        for app in record.applications:
            app.city = city
            if field:
                app.values[field] = city
            app.findings.append(Finding("city-from-sender", "info", field=field, params={
                "sender": sender, "city": city}, source=app.source))
        record.findings.append(Finding("city-from-sender", "info", params={"sender": sender, "city": city},
                                       source=source))
        return
    named: list[str] = sorted(stated) or ([record.city] if record.city else [])
    if city not in named or record.city != city:
        record.findings.append(Finding("sender-city-mismatch", "warning", params={
            "sender": sender, "sender_city": city, "city": join(named)}, source=source))
