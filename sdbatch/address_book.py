"""The cities' address book (``config/address_book.toml``), checked like a rules file.

The book is read before a run does any work (:func:`check_for_run`): a book that cannot be used
stops ``sdbatch run`` with exit 2 and one Chinese sentence naming the file and every problem with
its place, before anything is drafted.  What is checked:

- **Encoding.** UTF-8 with or without a BOM; UTF-16 with a BOM (Windows Notepad's "Unicode");
  otherwise GB18030 (a superset of GBK/GB2312, what Chinese Windows editors save).  A book that
  was not plain UTF-8 is read and the drafts say which encoding was used (a warning).
- **Shape and types** (pydantic, strict): unknown keys are refused with a suggestion
  (``form`` -> ``from``); ``cities = "all"``, ``to = 5``, ``reply_days = "5"`` are refused, never
  coerced; ``to``/``cc`` are a list of addresses (one address may be written as a string).
- **Cities**: each ``[cities."…"]`` must name a city of the jurisdiction
  (:func:`sdbatch.rules.cities` for now, read in :func:`known_cities` only), e.g. ``济南`` is
  refused with the hint ``济南市``.
- **Addresses**: one address per string, ``name <local@domain.tld>`` or ``local@domain.tld``,
  no line breaks (an address never adds a header).

A city without an entry is not a problem: its draft is written without recipients and the run
says so (finding ``mail-no-recipient``).  A missing book is a warning when it is the default one,
and an error when the user named it (``--address-book``).

The book's content decides the drafts, so its digest is part of the run's fingerprint
(``batch.fingerprint``) and each run records a digest per city (:meth:`AddressBook.record`, in
``run.json``): the next run redrafts the cities whose recipients changed
(:func:`cities_to_redraft`), e.g. a city that was missing and has now been added.
"""

from __future__ import annotations

import codecs
import difflib
import hashlib
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import getaddresses
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from sdbatch import settings
from sdbatch.catalogue import join, text

DEFAULT_REPLY_DAYS = 5
MAX_REPLY_DAYS = 365
MAX_BOOK_BYTES = 1024 * 1024  # an address book is a few KB; anything bigger is the wrong file
_ADDRESS_FORBIDDEN = set(" \t\r\n<>()[],;:\\\"")


class AddressBookInvalid(ValueError):
    """An address book that cannot be used; ``message`` is the Chinese text for the user."""

    def __init__(self, path: Path | str, problems: list[str], encoding: str = "") -> None:
        self.path = str(path)
        self.problems = problems
        self.encoding = encoding
        lines = "\n".join(text("address_book.problem_line", problem=p) for p in problems)
        read_as = text("address_book.read_as", encoding=encoding_name(encoding)) if encoding not in ("", "utf8") else ""
        self.message = text("address_book.invalid", path=self.path, read_as=read_as, problems=lines)
        super().__init__(self.message)


# ----------------------------------------------------------------------------- addresses
def address_problem(value: str) -> str | None:
    """None when ``value`` is one well-formed address (``name <a@b.cn>`` or ``a@b.cn``); else the
    ui.toml key (under ``address_book.errors``) saying what is wrong."""
    if any(ch in value for ch in "\r\n"):
        return "address_line_break"
    pairs = [p for p in getaddresses([value]) if p[1]]
    if len(pairs) > 1:
        return "address_several"
    if len(pairs) != 1:
        return "address_format"
    addr = pairs[0][1]
    local, at, domain = addr.rpartition("@")
    labels = domain.split(".")
    if not addr.isascii():  # a full-width ＠ or a Chinese mailbox name: SMTP without SMTPUTF8 cannot send it
        return "address_not_ascii"
    if (not at or not local or "@" in local or len(labels) < 2 or not all(labels)
            or any(ch in _ADDRESS_FORBIDDEN for ch in addr)):
        return "address_format"
    return None


def valid_address(value: str) -> bool:
    return address_problem(value) is None


def address_of(value: str) -> str:
    """``审核组 <a@b.cn>`` -> ``a@b.cn``."""
    pairs = [p for p in getaddresses([value]) if p[1]]
    return pairs[0][1] if pairs else ""


# ----------------------------------------------------------------------------- the schema
def _one_or_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Addresses = Annotated[list[str], BeforeValidator(_one_or_list)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CityEntry(_Strict):
    to: Annotated[Addresses, Field(min_length=1)]
    cc: Addresses = []
    senders: Addresses = []  # other addresses the city sends from (issue 18: the sender as evidence)


class BookFile(_Strict):
    sender: str | None = Field(None, alias="from")
    reply_days: int = Field(DEFAULT_REPLY_DAYS, ge=0, le=MAX_REPLY_DAYS)
    cities: dict[str, CityEntry] = {}


_KEYS: dict[tuple[str, ...], list[str]] = {(): ["from", "reply_days", "cities"], ("cities", "*"): ["to", "cc", "senders"]}


# ----------------------------------------------------------------------------- the book
@dataclass
class AddressBook:
    """A checked address book.  ``problems``: warnings the drafts carry (a missing default book,
    an encoding other than UTF-8); a book with errors is never built (:class:`AddressBookInvalid`)."""

    sender: str | None
    reply_days: int
    cities: dict[str, dict[str, list[str]]]
    path: str
    problems: list[str] = field(default_factory=list)
    encoding: str = "utf8"  # see decode()
    exists: bool = True

    def recipients(self, city: str) -> tuple[list[str], list[str]]:
        entry = self.cities.get(city) or {}
        return list(entry.get("to", [])), list(entry.get("cc", []))

    def _content(self) -> dict[str, Any]:
        return {"from": self.sender, "reply_days": self.reply_days,
                "cities": {c: self.cities[c] for c in sorted(self.cities)}, "exists": self.exists}

    @property
    def digest(self) -> str:
        """sha256 of the book's content (not its bytes: a comment or the encoding changes nothing)."""
        return _sha256(self._content())

    def city_digest(self, city: str) -> str:
        """What decides one city's draft: the sender, the reply period and the city's recipients."""
        to, cc = self.recipients(city)
        return _sha256({"from": self.sender, "reply_days": self.reply_days, "to": to, "cc": cc})

    def record(self, cities: Iterable[str] | None = None) -> dict[str, Any]:
        """What a run records of the book (``run.json`` ``address_book``)."""
        names = list(cities) if cities is not None else known_cities()
        return {"path": self.path, "encoding": self.encoding, "sha256": self.digest,
                "cities": {c: self.city_digest(c) for c in names}}


def _sha256(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


def known_cities() -> list[str]:
    """The cities an address book may name (the one place that asks; the jurisdiction's list)."""
    from sdbatch.jurisdiction import jurisdiction_of

    return list(jurisdiction_of(None).cities)  # a book serves every round of the department


def default_path() -> Path:
    return Path(settings.ADDRESS_BOOK)


def decode(raw: bytes) -> tuple[str, str]:
    """The book's text and the encoding it was read with (``utf8``, ``utf8_bom``, ``utf16``,
    ``gb18030``: keys of ``[address_book.encodings]`` in ui.toml, the names people read)."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8):].decode("utf-8"), "utf8_bom"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "utf16"
    try:
        return raw.decode("utf-8"), "utf8"
    except UnicodeDecodeError:
        return raw.decode("gb18030"), "gb18030"


def encoding_name(code: str) -> str:
    return text(f"address_book.encodings.{code}") if code else ""


def load_address_book(path: Path | None = None, *, required: bool = False,
                      cities: Iterable[str] | None = None) -> AddressBook:
    """Read and check the book at ``path`` (default: :data:`settings.ADDRESS_BOOK`).

    Raises :class:`AddressBookInvalid` for a book that cannot be used, and for a missing one when
    ``required``; a missing book otherwise gives an empty book with a warning in ``problems``.
    ``cities``: the names allowed (default :func:`known_cities`).
    """
    path = Path(path) if path is not None else default_path()
    try:
        size = path.stat().st_size
        if size > MAX_BOOK_BYTES:
            raise AddressBookInvalid(path, [text("address_book.too_big", size=size, limit=MAX_BOOK_BYTES)])
        raw = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise AddressBookInvalid(path, [text("address_book.missing")]) from None
        return AddressBook(None, DEFAULT_REPLY_DAYS, {}, str(path), [text("address_book.missing_note")],
                           exists=False)
    except IsADirectoryError:
        raise AddressBookInvalid(path, [text("address_book.is_folder")]) from None
    except OSError as exc:
        raise AddressBookInvalid(path, [text("address_book.unreadable", detail=exc.strerror or exc)]) from None
    try:
        content, encoding = decode(raw)
    except UnicodeDecodeError:
        raise AddressBookInvalid(path, [text("address_book.encoding")]) from None
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise AddressBookInvalid(path, [_syntax_problem(exc)], encoding) from None
    problems = _problems(data, list(cities) if cities is not None else known_cities())
    if problems:
        raise AddressBookInvalid(path, problems, encoding)
    parsed = BookFile.model_validate(data)
    book = AddressBook(
        sender=parsed.sender.strip() if parsed.sender else None,
        reply_days=parsed.reply_days,
        cities={city: {"to": [a.strip() for a in e.to], "cc": [a.strip() for a in e.cc],
                       **({"senders": [a.strip() for a in e.senders]} if e.senders else {})}
                for city, e in parsed.cities.items()},
        path=str(path), encoding=encoding,
    )
    if encoding not in ("utf8", "utf8_bom"):
        book.problems.append(text("address_book.encoding_note", encoding=encoding_name(encoding)))
    return book


def check_for_run(path: Path, named: bool, mail_mode: str) -> AddressBook | None:
    """The book a run will draft with, checked before any work; None when no mail is drafted.
    ``named``: the user gave ``--address-book`` (a missing file is then an error)."""
    if mail_mode == "none":
        return None
    return load_address_book(path, required=named)


def cities_to_redraft(book: AddressBook | None, previous_run: Mapping[str, Any] | None) -> set[str]:
    """Cities whose draft the book changes since the previous complete run (its ``run.json``).

    A run drafts the cities whose files or results changed; a city whose recipients, sender or
    reply period changed since the previous run is drafted again too (e.g. one that was missing
    from the book).  A previous run that drafted mail without recording its book (an older
    version) gets every city redrafted; no previous run, or no mail now: nothing extra.
    """
    if book is None or not previous_run:
        return set()
    options = previous_run.get("options") or {}
    record = previous_run.get("address_book")
    if not isinstance(record, Mapping):
        return set() if options.get("mail") == "none" else set(known_cities())
    before = record.get("cities") or {}
    return {c for c in known_cities() if before.get(c) != book.city_digest(c)}


# ----------------------------------------------------------------------------- problems
# tomllib's messages (English) -> keys of [address_book.toml_errors]; others are shown as they are
_TOML_ERRORS = {
    "Cannot declare": "declared_twice", "Cannot overwrite a value": "declared_twice",
    "Duplicate inline table key": "declared_twice", "Expected '=' after a key": "expected_equals",
    "Expected ']'": "expected_bracket", "Unclosed array": "unclosed_array",
    "Unclosed inline table": "unclosed_inline_table", "Unterminated string": "unterminated_string",
    "Invalid value": "invalid_value", "Invalid statement": "invalid_statement",
    "Invalid initial character for a key part": "invalid_key", "Illegal character": "illegal_character",
    "Found invalid character": "illegal_character",
}


def _syntax_problem(exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    detail, _, where = message.rpartition(" (at ")
    if not detail:
        detail, where = message, ""
    said = next((text(f"address_book.toml_errors.{key}") for prefix, key in _TOML_ERRORS.items()
                 if detail.startswith(prefix)), detail)
    if where.startswith("line "):
        parts = where.rstrip(")").replace(",", "").split()
        line = parts[1] if len(parts) > 1 else "?"
        column = parts[3] if len(parts) > 3 else "?"
        return text("address_book.syntax_at", line=line, column=column, detail=said)
    return text("address_book.syntax", detail=said)


def _problems(data: dict[str, Any], cities: list[str]) -> list[str]:
    out: list[str] = []
    try:
        BookFile.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            out.append(_render_error(err, data))
    entries = data.get("cities")
    if isinstance(entries, dict):
        for name, entry in entries.items():
            if name not in cities:
                out.append(_line(("cities", name), text("address_book.errors.unknown_city", city=name,
                                                        hint=_city_hint(name, cities))))
            if isinstance(entry, dict):
                for key in ("to", "cc", "senders"):
                    values = _one_or_list(entry.get(key))
                    for i, value in enumerate(values if isinstance(values, list) else []):
                        if isinstance(value, str) and (why := address_problem(value)):
                            loc = ("cities", name, key, i) if isinstance(entry.get(key), list) else ("cities", name, key)
                            out.append(_line(loc, text(f"address_book.errors.{why}", input=_show(value))))
    sender = data.get("from")
    if isinstance(sender, str) and (why := address_problem(sender)):
        out.append(_line(("from",), text(f"address_book.errors.{why}", input=_show(sender))))
    return list(dict.fromkeys(out))


def _render_error(err: Mapping[str, Any], data: dict[str, Any]) -> str:
    loc = tuple(err["loc"])
    kind = str(err["type"])
    params: dict[str, Any] = {"input": _show(err.get("input")), **(err.get("ctx") or {})}
    if kind == "missing":
        return _line(loc[:-1], text("address_book.errors.missing", key=loc[-1]))
    if kind == "extra_forbidden":
        key = str(loc[-1])
        known = _KEYS.get(tuple("*" if i else p for i, p in enumerate(loc[:-1])), [])
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
        hint = (text("address_book.errors.suggest", suggest=close[0]) if close
                else text("address_book.errors.known", known=join(known)) if known else "")
        return _line(loc[:-1], text("address_book.errors.unknown_key", key=key, hint=hint))
    if loc == ("cities",) and kind in ("dict_type", "model_type"):
        kind = "cities_type"
    elif len(loc) == 2 and loc[0] == "cities" and kind in ("dict_type", "model_type"):
        kind = "city_type"
    elif len(loc) == 3 and loc[0] == "cities" and kind == "list_type":
        kind = "addresses_type"
    elif kind == "too_short" and len(loc) == 3 and loc[-1] == "to":
        kind = "to_empty"
    key = f"address_book.errors.{kind}"
    try:
        message = text(key, **params)
    except KeyError:
        message = text("address_book.errors.other", **params)
    return _line(loc, message)


def _line(loc: tuple[Any, ...], message: str) -> str:
    return text("address_book.line", place=_place(loc), message=message)


def _place(loc: tuple[Any, ...]) -> str:
    """A place as the book's author wrote it: ``from``, ``[cities."济南市"].to 第2项``."""
    if not loc:
        return text("address_book.place_root")
    if loc[0] != "cities" or len(loc) == 1:
        return ".".join(str(p) for p in loc)
    head = f'[cities."{loc[1]}"]'
    rest = ""
    for part in loc[2:]:
        rest += text("address_book.place_item", n=part + 1) if isinstance(part, int) else f".{part}"
    return head + rest


def _city_hint(name: str, cities: list[str]) -> str:
    stripped = name.strip()
    # "青岛" or " 青岛市": the city whose name starts with it (at most the suffix missing)
    near = [c for c in cities if c != name and c.startswith(stripped) and len(c) - len(stripped) <= 1] if stripped else []
    if len(near) == 1:
        return text("address_book.errors.suggest", suggest=near[0])
    close = difflib.get_close_matches(stripped, cities, n=1, cutoff=0.5)
    if close:
        return text("address_book.errors.suggest", suggest=close[0])
    return text("address_book.errors.known", known=join(cities))


def _show(value: Any) -> str:
    """A value as written in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_show(v)}" for k, v in value.items()) + "}"
    return str(value)
