"""Strict TOML tables validated with pydantic, and their problems said in Chinese with their place.

The configuration files people edit by hand (a round's rules file, a jurisdiction file) are read
with :mod:`tomllib` and validated by pydantic models derived from :class:`Strict`: unknown keys are
errors, a wrong type is an error (never coerced: ``"50"`` is not a number, ``1`` is not ``true``),
NaN and infinity are refused, and defaults live in the models.

Every problem becomes a :class:`Problem` — where (a ``loc`` path into the file) and what (a key of
``[rules_check.errors]`` or ``[rules_check.refs]`` in ``sdbatch/ui.toml`` and its parameters) — and
:func:`describe` renders it as people read a TOML file::

    [fields.revenue_total]: 未知的键“aliasez”，是否应为“aliases”？
    [[conditions]] 第3条（legal-person）.value: 应为 true 或 false（写的是 "是"）
    [park].tiers 第2项.name: 名称“成长型”重复
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError
from pydantic_core import PydanticCustomError

from sdbatch.catalogue import join, lookup, text

Loc = tuple[str | int, ...]


class Strict(BaseModel):
    """A table of a hand-edited TOML file: unknown keys, wrong types, NaN and infinity are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True,
                              use_attribute_docstrings=True)


# ----------------------------------------------------------------------------- field types
def _finite_scalar(value: Any) -> Any:
    """A value a condition compares with: true/false, a finite number or a text."""
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("finite_number", "finite number")
    if isinstance(value, (bool, int, float, str)):
        return value
    raise PydanticCustomError("scalar_type", "scalar")


def _date(value: Any) -> Any:
    """``2024-06-28`` written as a TOML date or as text."""
    if isinstance(value, dt.datetime):
        raise PydanticCustomError("date_text", "date")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("date_text", "date")


#: non-empty text (names, ids, clauses, wording)
Text = Annotated[str, StringConstraints(min_length=1)]
#: true/false, a finite number or a text (a condition's ``value``)
Scalar = Annotated[Any, BeforeValidator(_finite_scalar)]
#: a calendar date (TOML date or ISO text)
Date = Annotated[dt.date, BeforeValidator(_date)]


# ----------------------------------------------------------------------------- problems
@dataclass(frozen=True)
class Problem:
    """One problem of a file: where (``loc``) and what (a ui.toml key under ``rules_check``)."""

    loc: Loc
    key: str  # e.g. "errors.missing", "refs.unknown_field"
    params: dict[str, Any] = field(default_factory=dict)
    #: the message applies to the table holding the last key (a missing or unknown key)
    at_parent: bool = False


class FileInvalid(Exception):
    """Problems of one configuration file, already rendered in Chinese."""

    def __init__(self, problems: list[str], path: str = "") -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.path = path


def problems_of(exc: ValidationError, root: Mapping[str, Any], prefix: Loc = ()) -> list[Problem]:
    """pydantic's errors as :class:`Problem` objects (``root``: the schema at the top of ``loc``)."""
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        kind = str(err["type"])
        params: dict[str, Any] = {"input": show(err.get("input"))}
        params.update({k: v if isinstance(v, (str, int, float)) else show(v) for k, v in (err.get("ctx") or {}).items()})
        full = prefix + loc
        expected = schema_at(root, loc)
        if kind == "missing":
            key = str(loc[-1]) if loc else ""
            special = f"errors.missing_{key}"
            out.append(Problem(full, special if _exists(special) else "errors.missing", {"key": key},
                               at_parent=True))
            continue
        if kind == "extra_forbidden":
            key = str(loc[-1]) if loc else ""
            known = sorted(keys_at(root, loc[:-1]))
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            tables = all(is_table(a) or is_list_of_models(a) for a in root.values())
            where = "errors.unknown_table" if len(full) == 1 and tables else "errors.unknown_key"
            hint = (text("rules_check.errors.suggest", suggest=close[0]) if close
                    else text("rules_check.errors.known", known=", ".join(known)) if known else "")
            out.append(Problem(full, where, {"key": key, "hint": hint}, at_parent=True))
            continue
        if kind == "literal_error":
            choices = literal_choices(expected)
            params["expected"] = join(f"“{c}”" for c in choices) if choices else params.get("expected", "")
        if kind == "list_type" and is_list_of_models(expected):
            kind = "list_of_tables"
            params["path"] = ".".join(str(p) for p in full)
        if kind in ("tuple_type", "set_type"):
            kind = "list_type"
        if kind in ("model_type", "dict_type", "model_attributes_type"):
            kind = "table_type"
        key = f"errors.{kind}"
        out.append(Problem(full, key if _exists(key) else "errors.other", params))
    return out


def _exists(key: str) -> bool:
    try:
        lookup(f"rules_check.{key}")
    except KeyError:
        return False
    return True


def syntax_message(exc: Exception) -> str:
    """A TOML syntax error in Chinese: where (line and column) and, for the usual mistakes, what."""
    detail = str(exc)
    where = re.search(r"\(at line (\d+), column (\d+)\)", detail)
    what = re.sub(r"\s*\(at (?:line \d+, column \d+|end of document)\)\s*$", "", detail)
    known: dict[str, str] = dict(lookup("rules_check.toml_errors"))
    said = next((v for k, v in known.items() if what.startswith(k)), what)
    place = (text("rules_check.toml_at", line=where.group(1), column=where.group(2)) if where
             else text("rules_check.toml_end"))
    return text("rules_check.syntax", place=place, detail=said)


def render(problem: Problem, raw: Mapping[str, Any], root: Mapping[str, Any]) -> str:
    """``place: message`` in Chinese."""
    loc = problem.loc[:-1] if problem.at_parent else problem.loc
    message = text(f"rules_check.{problem.key}", **problem.params)
    return text("rules_check.line", place=describe(loc, raw, root), message=message)


def render_all(problems: Iterable[Problem], raw: Mapping[str, Any], root: Mapping[str, Any]) -> list[str]:
    seen: dict[str, None] = {}
    for problem in problems:
        seen.setdefault(render(problem, raw, root), None)
    return list(seen)


# ----------------------------------------------------------------------------- places
def describe(loc: Loc, raw: Any, root: Mapping[str, Any]) -> str:
    """A place in the file as its author wrote it: ``[fields.revenue_total]``, ``[quota].cities``,
    ``[[conditions]] 第3条（legal-person）.value``, ``[score].indicators 第7项.field``."""
    if not loc:
        return text("rules_check.place.root")
    tables: list[str] = []
    array: str | None = None
    suffix = ""
    in_tables = True
    node: Any = raw
    schema: Any = root
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            if array is not None and not suffix:
                ident = item.get("id") if isinstance(item, dict) else None
                suffix = (text("rules_check.place.entry_with_id", n=part + 1, id=ident) if isinstance(ident, str)
                          else text("rules_check.place.entry", n=part + 1))
            else:
                suffix += text("rules_check.place.item", n=part + 1)
            node, schema, in_tables = item, _item(schema), False
            continue
        child = _child(schema, part)
        value = node.get(part) if isinstance(node, dict) else None
        if in_tables and is_table(child):
            tables.append(part)
        elif in_tables and not tables and is_list_of_models(child):
            array = part
            in_tables = False
        else:
            suffix += f".{part}"
            in_tables = False
        node, schema = value, child
    head = f"[[{array}]]" if array is not None else f"[{'.'.join(tables)}]" if tables else ""
    if not head:
        return suffix.lstrip(".") or text("rules_check.place.root")
    return head + suffix


def strip_annotation(annotation: Any) -> Any:
    """Annotated[X, …] -> X; X | None -> X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def is_model(annotation: Any) -> bool:
    annotation = strip_annotation(annotation)
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def is_table(annotation: Any) -> bool:
    """A model, or a mapping of models (``[fields.<id>]``): written as TOML tables."""
    annotation = strip_annotation(annotation)
    if is_model(annotation) or isinstance(annotation, Mapping) or annotation is dict:
        return True
    if typing.get_origin(annotation) in (dict, Mapping):
        args = typing.get_args(annotation)
        return len(args) == 2 and is_model(args[1])
    return False


def is_list_of_models(annotation: Any) -> bool:
    annotation = strip_annotation(annotation)
    if typing.get_origin(annotation) in (list, tuple, Sequence):
        args = typing.get_args(annotation)
        return bool(args) and is_model(args[0])
    return False


def _child(schema: Any, key: str) -> Any:
    if isinstance(schema, Mapping):  # the root: table name -> annotation
        return schema.get(key)
    schema = strip_annotation(schema)
    if is_model(schema):
        info = schema.model_fields.get(key)
        return info.annotation if info is not None else None
    if typing.get_origin(schema) in (dict, Mapping):
        args = typing.get_args(schema)
        return args[1] if len(args) == 2 else None
    return None


def _item(schema: Any) -> Any:
    schema = strip_annotation(schema)
    if typing.get_origin(schema) in (list, tuple, Sequence):
        args = typing.get_args(schema)
        return args[0] if args else None
    return None


def schema_at(root: Mapping[str, Any], loc: Loc) -> Any:
    schema: Any = root
    for part in loc:
        schema = _item(schema) if isinstance(part, int) else _child(schema, part)
        if schema is None:
            return None
    return schema


def keys_at(root: Mapping[str, Any], loc: Loc) -> list[str]:
    """The keys a table at ``loc`` may hold (for 'unknown key' hints)."""
    schema = schema_at(root, loc) if loc else root
    if isinstance(schema, Mapping):
        return [str(k) for k in schema]
    schema = strip_annotation(schema)
    if is_model(schema):
        return list(schema.model_fields)
    return []


def literal_choices(annotation: Any) -> list[str]:
    annotation = strip_annotation(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return [str(a) for a in typing.get_args(annotation)]
    return []


# ----------------------------------------------------------------------------- values
def show(value: Any) -> str:
    """A value as it is written in TOML (``"是"``, ``true``, ``nan``, ``[1, 2]``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {show(v)}" for k, v in value.items()) + "}"
    if value is None:
        return ""
    return str(value)


def root_of(model: type[BaseModel], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The schema of a whole file: its top-level tables (and e.g. a program's own section)."""
    out: dict[str, Any] = {name: info.annotation for name, info in model.model_fields.items()}
    out.update(extra or {})
    return out
