"""results.json and run.json, written streaming (issue 16).

``results.json`` is written application by application: no document of the whole run is built in
memory (at 100,000 rows it held gigabytes of dicts), and each part is encoded by :func:`dumps`,
which gives exactly the bytes of ``json.dumps(value, ensure_ascii=False, indent=2,
allow_nan=False)`` without the standard library's pure-Python generator encoder (the one used
whenever ``indent`` is given).  Strict JSON: a part holding NaN, Infinity, a name that is not valid
UTF-8 or an object JSON cannot hold is written as :func:`strict` makes it (null, the name decoded,
the object's text), as before.  The file is written beside its place and renamed over it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Iterable, Iterator, Mapping
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, Any

from sdbatch.model import Application, FileRecord, RunResult, _jsonable, rendering_memo
from sdbatch.text import display_name
from sdbatch.writers._common import Mapped

INDENT = "  "
LONG_LIST = 1000  # members of a list of plain values past which it is written in parts
_ENCODE_ERRORS = (ValueError, TypeError, UnicodeEncodeError)
_float_repr = float.__repr__
_int_repr = int.__repr__
_INF = float("inf")


# ----------------------------------------------------------------------------- the encoder
def dumps(value: Any, level: int = 0) -> str:
    """``json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False)``, byte for byte, as if
    ``value`` stood ``level`` levels deep in a larger document (its inner lines indented so)."""
    out: list[str] = []
    _encode(value, level, out)
    return "".join(out)


def _scalar(o: Any) -> str | None:
    """The text of a JSON scalar, or None for a container (or an object JSON cannot hold)."""
    if isinstance(o, str):
        return encode_basestring(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return _int_repr(o)
    if isinstance(o, float):
        if o != o or o == _INF or o == -_INF:
            raise ValueError("Out of range float values are not JSON compliant: " + repr(o))
        return _float_repr(o)
    return None


def _key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, float):
        if k != k or k == _INF or k == -_INF:
            raise ValueError("Out of range float values are not JSON compliant: " + repr(k))
        return _float_repr(k)
    if k is True:
        return "true"
    if k is False:
        return "false"
    if k is None:
        return "null"
    if isinstance(k, int):
        return _int_repr(k)
    raise TypeError(f"keys must be str, int, float, bool or None, not {k.__class__.__name__}")


_NEWLINES = ["\n" + INDENT * n for n in range(64)]


def _newline(level: int) -> str:
    return _NEWLINES[level] if level < len(_NEWLINES) else "\n" + INDENT * level


def _encode(o: Any, level: int, out: list[str]) -> None:
    """Append the text of ``o`` to ``out``.  The common scalars are written inline, one append
    per member (a function call per value is most of the cost of a large document)."""
    enc = encode_basestring
    if isinstance(o, dict):
        if not o:
            out.append("{}")
            return
        inner = _newline(level + 1)
        sep = "{" + inner
        comma = "," + inner
        for k, v in o.items():
            head = sep + enc(k if type(k) is str else _key(k)) + ": "
            sep = comma
            kind = type(v)
            if kind is str:
                out.append(head + enc(v))
            elif v is None:
                out.append(head + "null")
            elif kind is int:
                out.append(head + _int_repr(v))
            elif kind is bool:
                out.append(head + ("true" if v else "false"))
            else:
                text = _scalar(v)
                if text is not None:
                    out.append(head + text)
                else:
                    out.append(head)
                    _encode(v, level + 1, out)
        out.append(_newline(level) + "}")
        return
    if isinstance(o, (list, tuple)):
        if not o:
            out.append("[]")
            return
        inner = _newline(level + 1)
        sep = "[" + inner
        comma = "," + inner
        for v in o:
            kind = type(v)
            if kind is str:
                out.append(sep + enc(v))
            elif v is None:
                out.append(sep + "null")
            elif kind is int:
                out.append(sep + _int_repr(v))
            else:
                text = _scalar(v)
                if text is not None:
                    out.append(sep + text)
                else:
                    out.append(sep)
                    _encode(v, level + 1, out)
            sep = comma
        out.append(_newline(level) + "]")
        return
    leaf = _scalar(o)
    if leaf is None:
        if isinstance(o, Mapping):  # a mapping made as it is read (run.json's history facts): as a dict
            _encode(dict(o.items()), level, out)
            return
        raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")
    out.append(leaf)


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
        return dumps(value, level).encode("utf-8")
    except _ENCODE_ERRORS:
        return dumps(strict(value), level).encode("utf-8")


# ----------------------------------------------------------------------------- the files
def write_json(path: Path, data: Any) -> None:
    """Strict JSON in UTF-8 (see :func:`encode_part`), renamed into place, written a member at a
    time (:func:`_doc_parts`): run.json holds an entry per application (issue 16)."""
    _write_atomic(path, itertools.chain(_doc_parts(data, 0), [b"\n"]))


def _doc_parts(value: Any, level: int) -> Iterator[bytes]:
    """``encode_part(value, level)`` in parts: a dict or list holding dicts or lists, or a long list
    (a file's applications), is written a member at a time, so a large one is never one string;
    any other value is one part.  The bytes are the same, except that a member that cannot be
    written as it is is made strict alone (not the whole document)."""
    if isinstance(value, Mapping) and value and all(type(k) is str for k in value) and \
            any(isinstance(v, (Mapping, list, tuple)) and v for v in value.values()):
        inner = _newline(level + 1).encode()
        sep = b"{" + inner
        for k, v in value.items():
            yield sep + encode_part(k) + b": "
            yield from _doc_parts(v, level + 1)
            sep = b"," + inner
        yield _newline(level).encode() + b"}"
    elif isinstance(value, (list, tuple)) and (len(value) > LONG_LIST or any(
            isinstance(v, (Mapping, list, tuple)) and v for v in value)):
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
    yield from _list_parts((a.to_dict() for a in result.applications), 1)
    yield b",\n" + INDENT.encode() + b'"files": '
    # a file's record in parts: the list of its applications' ids is as long as the sheet
    yield from _list_parts((f.to_dict() for f in result.files), 1, whole=False)
    programs = {name: _jsonable(report.to_dict()) for name, report in result.reports.items()}
    yield b",\n" + INDENT.encode() + b'"programs": ' + encode_part(programs, 1)
    yield b"\n}\n"


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
