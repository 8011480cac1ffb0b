"""Times and one-line descriptions of where a file came from (issue 18).

Every time here is China time (Asia/Shanghai, UTC+8 without daylight saving): a message's Date
header is converted to it; a Date without a zone (``-0000`` or none) is taken as China time.
"""

from __future__ import annotations

import datetime as dt
import re
from email.utils import parsedate_to_datetime

from sdbatch import clock
from sdbatch.catalogue import text
from sdbatch.model import OriginStep, Provenance

CHINA = clock.zone()  # settings.TIME_ZONE (Asia/Shanghai)
_MESSAGE_ID = re.compile(r"<[!-;=?-~]{1,250}>")  # printable ASCII, no < > or spaces inside
_MAX_REFERENCES = 20


def china_iso(timestamp: float) -> str:
    """Epoch seconds as ISO 8601 in China time, to the second."""
    return dt.datetime.fromtimestamp(timestamp, tz=CHINA).isoformat(timespec="seconds")


def shown_time(iso: str | None) -> str:
    """``2024-06-27 15:30`` (China time) for people; empty when unknown."""
    moment = parse_iso(iso)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def parse_iso(iso: str | None) -> dt.datetime | None:
    return clock.read_stamp(iso)


def parse_date_header(value: object) -> dt.datetime | None:
    """A Date header as an aware China-time datetime; None when absent or unreadable.  A date
    without a zone is the sender's local time, which for the cities is China time."""
    if value is None:
        return None
    raw = str(value).strip()
    if not raw:
        return None
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA)
    try:
        return moment.astimezone(CHINA)
    except (OverflowError, ValueError):
        return None


def clean_message_id(value: object) -> str | None:
    """A Message-ID as ``<local@domain>``, or None when the header holds no well-formed one.  It
    comes from the sender: it goes into a reply's headers only in this checked form."""
    if value is None:
        return None
    found = _MESSAGE_ID.search(str(value))
    return found.group(0) if found else None


def message_ids(value: object) -> tuple[str, ...]:
    """Every well-formed Message-ID in a References / In-Reply-To header, in order, the last
    ``_MAX_REFERENCES`` kept."""
    if value is None:
        return ()
    found = _MESSAGE_ID.findall(str(value))
    return tuple(dict.fromkeys(found))[-_MAX_REFERENCES:]


def one_line(value: object, limit: int = 200) -> str:
    """Header text as one line of readable text (no control characters), cut at ``limit``."""
    if value is None:
        return ""
    flat = re.sub(r"[\x00-\x1f\x7f]+", " ", str(value))
    flat = re.sub(r"\s+", " ", flat).strip()
    return flat[:limit]


def step_text(step: OriginStep) -> str:
    if step.kind == "message":
        info = step.message
        return text("intake.provenance.message",
                    subject=(info.subject if info and info.subject else text("intake.provenance.no_subject")),
                    sender=(info.sender if info and info.sender else text("intake.provenance.no_sender")),
                    date=(shown_time(info.date) if info and info.date else text("intake.provenance.no_date")),
                    container=step.container, member=step.member)
    return text("intake.provenance.archive", container=step.container, member=step.member)


def display(origin: Provenance) -> str:
    """One line: each container of the chain, outermost first."""
    return text("intake.provenance.separator").join(step_text(s) for s in origin.steps)
