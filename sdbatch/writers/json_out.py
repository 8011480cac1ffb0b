"""results.json and run.json, written streaming (issue 16).

``results.json`` is written application by application: no document of the whole run is built in
memory (at 100,000 rows it held gigabytes of dicts).  Each part is encoded by orjson (a compiled
encoder: the standard library's is pure Python whenever ``indent`` is given) in the layout of
``json.dumps(value, ensure_ascii=False, indent=2)``, indented as deep as it stands in the whole.
Strict JSON: a part holding NaN or Infinity has null there; a part orjson does not take (an
integer past 64 bits, a key that is not text) is written by the standard library; a part holding
a name that is not valid UTF-8 or an object JSON cannot hold is written as :func:`strict` makes it
(the name decoded, the object's text).  The file is written beside its place and renamed over it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, Any

import orjson

from sdbatch.model import Application, FileRecord, RunResult, _jsonable, rendering_memo
from sdbatch.text import detached, display_name
from sdbatch.writers._common import Mapped

INDENT = "  "
LONG_LIST = 1000  # members of a list of plain values past which it is written in parts
# dates, dataclasses: to default(), which refuses them: the part is then made strict, as json.dumps's was
_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_ORJSON_BUFFER = 4096  # what orjson's output holds at least
_ENCODE_ERRORS = (ValueError, TypeError, UnicodeEncodeError)  # orjson.JSONEncodeError is a TypeError


# ----------------------------------------------------------------------------- the encoder
def _newline(level: int) -> str:
    return "\n" + INDENT * level


_INDENTED = [_newline(n).encode() for n in range(64)]


def _default(o: Any) -> Any:
    """What orjson asks about: a mapping made as it is read (run.json's history facts) as a dict, a
    float of a subclass (numpy's) as a float; anything else is refused (the part is made strict)."""
    if isinstance(o, Mapping):
        return dict(o.items())
    if isinstance(o, float):
        return float(o)
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def _encoded(value: Any, level: int) -> bytes:
    """``value`` in UTF-8 in the layout of ``json.dumps(indent=2)``, as if it stood ``level`` levels
    deep: each line break is followed by the indent of its level (a line break inside a text is
    written escaped, so every one is the layout's).

    orjson's output holds at least its first buffer (4 KB) however short its text, and parts are
    held until the file's next write (1 MB of text): a long list of short parts is returned as
    objects of their own size (issue 16: +36 MB for the ids of a file of 10,000 rows)."""
    kind = type(value)
    if kind is str:  # a scalar alone (a long list's member)
        return encode_basestring(value).encode("utf-8")
    if kind is int or value is None or kind is bool:
        return b"null" if value is None else (b"true" if value is True else b"false" if value is False
                                              else int.__repr__(value).encode())
    try:
        text = orjson.dumps(value, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError:  # a key that is not text, an integer past 64 bits, a broken name
        text = json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False, default=_default).encode("utf-8")
    if level:
        indented = text.replace(b"\n", _INDENTED[level] if level < len(_INDENTED) else _newline(level).encode())
        if indented is not text:
            return indented  # a new object of its own size
    return text if len(text) >= _ORJSON_BUFFER else bytes(memoryview(text))


def dumps(value: Any, level: int = 0) -> str:
    """The text of :func:`encode_part` (strict JSON, the layout of ``json.dumps(indent=2)``)."""
    return encode_part(value, level).decode("utf-8")


def strict(value: Any) -> Any:
    """``value`` as strict JSON can hold it: NaN and Infinity as null, names that are not valid
    UTF-8 decoded (:func:`sdbatch.text.display_name`), dates as ISO text, any other object as its
    text."""
    if isinstance(value, str):
        return display_name(value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, Mapping):
        return {strict(str(k)): strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [strict(v) for v in value]
    if isinstance(value, (dt.date, dt.time, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return display_name(str(value))


def encode_part(value: Any, level: int = 0) -> bytes:
    """One part of a document in UTF-8, made strict when it cannot be written as it is."""
    try:
        return _encoded(value, level)
    except _ENCODE_ERRORS:
        return _encoded(strict(value), level)


# ----------------------------------------------------------------------------- the files
def write_json(path: Path, data: Any) -> None:
    """Strict JSON in UTF-8 (see :func:`encode_part`), renamed into place, written a member at a
    time (:func:`_doc_parts`): run.json holds an entry per application (issue 16)."""
    _write_atomic(path, itertools.chain(_doc_parts(data, 0), [b"\n"]))


def _doc_parts(value: Any, level: int) -> Iterator[bytes]:
    """``encode_part(value, level)`` in parts: a dict holding dicts or lists, a list holding texts,
    dicts or lists (a file's applications: their ids are written by the standard library's
    encoder, which keeps no UTF-8 form inside them), or a long list, is written a member at a time,
    so a large one is never one string; any other value is one part.  The bytes are the same,
    except that a member that cannot be written as it is is made strict alone (not the whole
    document)."""
    if isinstance(value, Mapping) and value and all(type(k) is str for k in value) and \
            any(isinstance(v, (Mapping, list, tuple)) and v for v in value.values()):
        inner = _newline(level + 1).encode()
        sep = b"{" + inner
        for k, v in value.items():
            yield sep + encode_part(k) + b": "
            yield from _doc_parts(v, level + 1)
            sep = b"," + inner
        yield _newline(level).encode() + b"}"
    elif isinstance(value, (list, tuple)) and value and (any(isinstance(v, (Mapping, list, tuple, str)) for v in value)
                                                       or len(value) > LONG_LIST):
        inner = _newline(level + 1).encode()
        sep = b"[" + inner
        for v in value:
            yield sep
            yield from _doc_parts(v, level + 1)
            sep = b"," + inner
        yield _newline(level).encode() + b"]"
    else:
        yield encode_part(value, level)


def write_results(path: Path, result: RunResult) -> None:
    """``results.json``: the same bytes as ``write_json(path, result.to_dict())``, one
    application (and one file record) at a time."""
    with rendering_memo():
        _write_atomic(path, _results_parts(result))


def _results_parts(result: RunResult) -> Iterator[bytes]:
    head = {"program": result.program, "rules_version": result.rules_version, "run_id": result.run_id}
    yield b"{"
    sep = b"\n" + INDENT.encode()
    for key, value in head.items():
        yield sep + encode_part(key) + b": " + encode_part(value, 1)
        sep = b",\n" + INDENT.encode()
    yield sep + b'"applications": '
    yield from _list_parts((_own_texts_detached(a.to_dict()) for a in result.applications), 1)
    yield b",\n" + INDENT.encode() + b'"files": '
    # a file's record in parts: the list of its applications' ids is as long as the sheet
    yield from _list_parts((f.to_dict() for f in result.files), 1, whole=False)
    programs = {name: _jsonable(report.to_dict()) for name, report in result.reports.items()}
    yield b",\n" + INDENT.encode() + b'"programs": ' + encode_part(programs, 1)
    yield b"\n}\n"


def _own_texts_detached(entry: dict[str, Any]) -> dict[str, Any]:
    """An application's entry with copies of the texts the application holds for the run (its id,
    name and values; the ids of a file's record are written by the standard library's encoder,
    :func:`_doc_parts`): orjson keeps the UTF-8 form of a text it writes inside the text object."""
    entry["id"], entry["name"] = detached(entry["id"]), detached(entry["name"])
    for block in (entry["values"], entry["unknown_columns"]):
        for key, value in block.items():
            if type(value) is str and not value.isascii():
                block[key] = detached(value)
    return entry


def _list_parts(items: Iterable[Any], level: int, *, whole: bool = True) -> Iterator[bytes]:
    """A list made item by item; each item one part (``whole``), or in parts (:func:`_doc_parts`)."""
    inner = ("\n" + INDENT * (level + 1)).encode()
    sep = b"[" + inner
    empty = True
    for item in items:
        empty = False
        if whole:
            yield sep + encode_part(item, level + 1)
        else:
            yield sep
            yield from _doc_parts(item, level + 1)
        sep = b"," + inner
    yield b"[]" if empty else ("\n" + INDENT * level + "]").encode()


def _write_atomic(path: Path, parts: Iterable[bytes]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            _write_parts(fh, parts)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write_parts(fh: IO[bytes], parts: Iterable[bytes]) -> None:
    buffer: list[bytes] = []
    size = 0
    for part in parts:
        buffer.append(part)
        size += len(part)
        if size >= 1 << 20:
            fh.write(b"".join(buffer))
            buffer, size = [], 0
    fh.write(b"".join(buffer))


# ----------------------------------------------------------------------------- reading back
READ_WINDOW = 1 << 18  # bytes read at each end of a document by read_members


def read_members(path: Path, keys: Iterable[str], window: int = READ_WINDOW) -> dict[str, Any] | None:
    """Top-level members ``keys`` of a document :func:`write_json` wrote, read from its first and
    last ``window`` bytes only: run.json holds an entry per application between them (issue 16).
    A top-level member starts a line indented once (a newline inside a text is written escaped).
    None when a key is not found there, or its value reaches past what was read: the caller then
    reads the whole document."""
    import json

    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(window)
        tail = b""
        if size > window:
            fh.seek(max(size - window, window))
            tail = fh.read(window)
    decoder = json.JSONDecoder()
    out: dict[str, Any] = {}
    for key in keys:
        marker = ("\n" + INDENT + encode_basestring(key) + ": ").encode("utf-8")
        for chunk in (head, tail):
            at = chunk.find(marker)
            if at < 0:
                continue
            try:  # a character cut at the window's end is replaced, and ends no value that is whole
                out[key], _ = decoder.raw_decode(chunk[at + len(marker):].decode("utf-8", "replace"))
            except ValueError:
                return None
            break
        else:
            return None
    return out


# ----------------------------------------------------------------------------- the ledger's view
def ledger_view(result: RunResult) -> dict[str, Any]:
    """What the ledger reads of results.json (``sdbatch.ledger.run_record``): the same keys and
    values, without the rendered findings of every application (the bulk of the document).  Each
    application's entry is made when the ledger reads it, so they are never all held (issue 16)."""
    return {"program": result.program, "rules_version": result.rules_version, "run_id": result.run_id,
            "applications": Mapped(result.applications, _ledger_app),
            "files": [_ledger_file(f) for f in result.files]}


def _ledger_app(app: Application) -> dict[str, Any]:
    out = {"id": app.id, "program": app.program, "city": app.city, "name": app.name, "industry": app.industry,
           "city_order": app.city_order, "status": app.status, "score": app.score, "rank": app.rank,
           "values": {k: _jsonable(v) for k, v in app.values.items()}, "source": app.source.to_dict()}
    if app.outcome is not None:
        keys = getattr(app.outcome, "contract_keys", ())
        if keys:
            block = _jsonable(app.outcome.to_dict())
            for key in keys:
                out[key] = block.get(key)
    return out


def _ledger_file(record: FileRecord) -> dict[str, Any]:
    return {"file": record.file, "sha256": record.sha256, "size": record.size, "city": record.city,
            "program": record.program, "status": record.status, "error": record.error,
            "error_code": record.error_code, "sheet": record.sheet, "late": record.late,
            "applications": [a.id for a in record.applications]}
