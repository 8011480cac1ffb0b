"""The streaming results.json writer (issue 16) writes what ``json.dumps(indent=2)`` wrote.

The parts are encoded by orjson, which writes a float's exponent without a sign or a leading zero
(``1e-7`` where the standard library writes ``1e-07``): the same number.  Texts are compared with
each number written as the standard library writes it (:func:`_same_text`), byte for byte otherwise."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from sdbatch.writers import json_out


def _reference(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False)


_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def _python_numbers(text: str) -> str:
    """``text`` with every number written as Python writes a float (applied alike to both texts
    compared, digits inside names included, so only the spelling of numbers is set aside)."""
    return _NUMBER.sub(lambda m: repr(float(m[0])) if any(c in m[0] for c in ".eE") else m[0], text)


def _same_text(ours: str, reference: str) -> bool:
    return _python_numbers(ours) == _python_numbers(reference)


def test_exponents_are_the_only_spelling_set_aside() -> None:
    """The comparison is not blind: another layout, digit or value still differs."""
    assert _same_text(json_out.dumps([1e-7, 1e16]), _reference([1e-7, 1e16]))
    assert json_out.dumps([1e-7]) != _reference([1e-7])  # what _same_text sets aside
    assert not _same_text(json_out.dumps([1e-7]), _reference([1e-8]))
    assert not _same_text(json_out.dumps({"a": 1}), json.dumps({"a": 1}, ensure_ascii=False))
    assert not _same_text(json_out.dumps(["济南"]), _reference(["济南 "]))


def _random_value(rng: random.Random, depth: int) -> Any:
    kinds = ["str", "int", "float", "none", "bool", "big"] + (["list", "dict", "tuple", "empty"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return "".join(rng.choice(["a", "济南", "\"", "\\", "\n", "\t", "\x01", "\u2028", "é", " ", "/"])
                       for _ in range(rng.randint(0, 6)))
    if kind == "int":
        return rng.randint(-10**6, 10**6)
    if kind == "big":
        return rng.choice([10**30, -(2**70), 1e16, 1e-7, -0.0, 0.1 + 0.2, 123456789.125, 1.5e300])
    if kind == "float":
        return rng.uniform(-1e4, 1e4)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "empty":
        return rng.choice([[], {}, (), ""])
    items = [_random_value(rng, depth + 1) for _ in range(rng.randint(1, 4))]
    if kind == "list":
        return items
    if kind == "tuple":
        return tuple(items)
    keys = [rng.choice(["id", "名称", "a\"b", 3, 2.5, True, None, "x" * rng.randint(0, 3)]) for _ in items]
    return dict(zip(keys, items, strict=True))


@pytest.mark.parametrize("seed", range(40))
def test_dumps_is_json_dumps(seed: int) -> None:
    value = _random_value(random.Random(seed), 0)
    assert _same_text(json_out.dumps(value), _reference(value))
    assert json.loads(json_out.dumps(value)) == json.loads(_reference(value))


@pytest.mark.parametrize("seed", range(40))
def test_a_document_written_a_member_at_a_time_is_json_dumps(seed: int, tmp_path: Path) -> None:
    """write_json (run.json) writes large dicts and lists member by member: the same bytes."""
    rng = random.Random(seed)
    value = {"ledger": {"history": {"cluster": {"applications": {
        f"cluster/济南市/第{n}号": _random_value(rng, 2) for n in range(rng.randint(0, 30))}}}},
        "inputs": [_random_value(rng, 1) for _ in range(rng.randint(0, 5))], "other": _random_value(rng, 0)}
    path = tmp_path / "run.json"
    json_out.write_json(path, value)
    assert _same_text(path.read_text(encoding="utf-8"), _reference(value) + "\n")


@pytest.mark.parametrize("level", [1, 2, 3])
def test_a_part_nests_as_it_would_in_the_whole(level: int) -> None:
    part = {"a": [1, {"b": None}], "c": {}}
    doc: Any = part
    for _ in range(level):
        doc = [doc]
    whole = _reference(doc)
    assert json_out.dumps(part, level) in whole


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {"x": float("-inf")}, [dt.date(2024, 5, 1)],
                                 {"s": "\udcb2\udcbb"}, {1: {2, 3}}])
def test_what_strict_json_cannot_hold_is_made_strict(bad: Any, tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    json_out.write_json(path, {"v": bad})
    raw = path.read_text(encoding="utf-8")

    def refuse(name: str) -> Any:
        raise AssertionError(name)

    json.loads(raw, parse_constant=refuse)
    assert _same_text(raw, _reference(json_out.strict({"v": bad})) + "\n")
    assert not list(tmp_path.glob("*.tmp"))


def test_results_are_written_as_the_whole_document_was(tmp_path: Path) -> None:
    from sdbatch.model import Application, Finding, RunResult, Source

    apps = [Application(id=f"p/济南市/{i}", program="p", city="济南市", name=f"集群{i}", industry=None,
                        city_order=i, values={"x": i * 1.5, "d": dt.date(2024, 1, i + 1), "bad": float("nan")},
                        source=Source("f.xlsx", "表", i + 3, None),
                        findings=[Finding("late-submission", "warning", params={"received": "x", "deadline": "y"})])
            for i in range(3)]
    for empty in (False, True):
        result = RunResult(program="p", rules_version="1", run_id="r", started="s", finished=None,
                           applications=[] if empty else apps, files=[])
        path = tmp_path / "results.json"
        json_out.write_results(path, result)
        expected = _reference(json_out.strict(result.to_dict())) + "\n"
        assert _same_text(path.read_text(encoding="utf-8"), expected)


def test_a_long_list_is_written_in_parts_as_the_whole_was(tmp_path: Path) -> None:
    """A file of 1,500 applications: its record's list of ids is written member by member (issue
    16: one string of 100,000 ids took tens of MB), the same bytes as the whole document."""
    from sdbatch.model import Application, FileRecord, RunResult, Source

    n = json_out.LONG_LIST + 500
    apps = [Application(id=f"p/济南市/集群{i}", program="p", city="济南市", name=f"集群{i}", industry=None,
                        city_order=i, values={"x": i}, source=Source("f.xlsx", "表", i + 3, None)) for i in range(n)]
    record = FileRecord(file="f.xlsx", path="/in/f.xlsx", sha256="0" * 64, size=1, mtime=0.0, city="济南市",
                        program="p", applications=apps)
    result = RunResult(program="p", rules_version="1", run_id="r", started="s", finished=None,
                       applications=apps, files=[record])
    path = tmp_path / "results.json"
    json_out.write_results(path, result)
    assert _same_text(path.read_text(encoding="utf-8"), _reference(json_out.strict(result.to_dict())) + "\n")
    parts = list(json_out._doc_parts(record.to_dict(), 2))
    assert len(parts) > n and b"".join(parts) == json_out.encode_part(record.to_dict(), 2)
    plain = {"ids": [f"第{i}号" for i in range(n)], "few": list(range(5))}
    json_out.write_json(tmp_path / "run.json", plain)
    assert _same_text((tmp_path / "run.json").read_text(encoding="utf-8"), _reference(plain) + "\n")


@pytest.mark.parametrize("seed", range(20))
def test_members_read_from_the_ends_of_a_document_are_its_members(seed: int, tmp_path: Path) -> None:
    """run.json's options and address book are read from the file's two ends (issue 16: the
    history between them is 50 MB of objects at 100,000 rows): the same values as a whole read,
    or None when a member is not within the ends (the caller then reads the whole file)."""
    rng = random.Random(seed)
    doc = {"options": _random_value(rng, 1), "ledger": {f"第{n}号": _random_value(rng, 2) for n in range(200)},
           "note": "a\n  \"address_book\": fake", "address_book": _random_value(rng, 1)}
    path = tmp_path / "run.json"
    json_out.write_json(path, doc)
    size = path.stat().st_size
    whole = json.loads(path.read_text(encoding="utf-8"))
    wanted = {"options": whole["options"], "address_book": whole["address_book"]}
    assert json_out.read_members(path, ("options", "address_book")) == wanted  # the file fits one window
    small = json_out.read_members(path, ("options", "address_book"), window=max(size // 3, 64))
    assert small is None or small == wanted
    assert json_out.read_members(path, ("options", "nothing")) is None
    assert json_out.read_members(path, ("ledger",), window=64) is None  # longer than what was read
