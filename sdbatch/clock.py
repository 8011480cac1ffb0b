"""China time for every time a person reads (SPEC §7; zone named once in ``settings.TIME_ZONE``).

    clock.now()                 # aware datetime in Asia/Shanghai
    clock.from_timestamp(ts)    # a file's mtime, a log record's time
    clock.stamp(ts)             # "2024-06-28 22:30:05" as run.log shows it
    clock.parse("2024-06-28T22:30:00")   # a naive time given by a person is China time
    clock.read_stamp(iso)       # a stored stamp in China time, None when absent or not a time
"""

from __future__ import annotations

import datetime as dt
from functools import cache

from sdbatch import settings


@cache
def zone() -> dt.tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(settings.TIME_ZONE)
    except Exception:  # noqa: BLE001 - no zone data on this system (Windows without tzdata)
        return dt.timezone(dt.timedelta(hours=settings.TIME_ZONE_FALLBACK_HOURS), settings.TIME_ZONE)


def now() -> dt.datetime:
    return dt.datetime.now(tz=zone())


def from_timestamp(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=zone())


def stamp(ts: float | None = None) -> str:
    """A moment as people read it in logs and messages (China time, to the second)."""
    moment = now() if ts is None else from_timestamp(ts)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def parse(text: str) -> dt.datetime:
    """An ISO time; without a zone it is China time."""
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone())


def read_stamp(iso: str | None) -> dt.datetime | None:
    """A stamp read back (results.json, the ledger, a message's date) in China time; a naive one is
    China time already; None when there is none or it is not a time."""
    if not iso:
        return None
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    return moment.astimezone(zone()) if moment.tzinfo else moment.replace(tzinfo=zone())
