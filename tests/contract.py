"""The results.json contract (SPEC §5), checked inside the repository: the JSON Schema shipped in
``docs/results.schema.json`` (generated from ``sdbatch/results_schema.py``) plus the rules a schema
cannot say (a rank only for eligible / needs_review, a finding behind every status but eligible, a
reason for every rejected file, canonical cities, strict JSON)."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "docs" / "results.schema.json"


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _reject_constant(name: str) -> Any:
    raise AssertionError(f"results.json holds {name}: not strict JSON")


def breaches(doc: dict[str, Any], cities: set[str] | None = None) -> list[str]:
    out = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator().iter_errors(doc)]
    for i, a in enumerate(doc.get("applications", [])):
        where = f"applications[{i}] ({a.get('city')} {a.get('name')})"
        if a.get("rank") is not None and a.get("status") not in ("eligible", "needs_review"):
            out.append(f"{where}: ranked although status is {a.get('status')}")
        if a.get("status") != "eligible" and not a.get("findings"):
            out.append(f"{where}: status {a.get('status')} but no finding says why")
        if cities is not None and a.get("city") is not None and a["city"] not in cities:
            out.append(f"{where}: city {a['city']!r} is not a canonical city")
    for i, f in enumerate(doc.get("files", [])):
        if f.get("status") == "rejected" and not (f.get("error") or "").strip():
            out.append(f"files[{i}]: rejected without an error message")
    return out


def check_contract(results_json: Path) -> dict[str, Any]:
    """Load a results.json strictly (no NaN/Infinity) and assert it holds the contract."""
    from sdbatch.jurisdiction import default

    doc = json.loads(results_json.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    found = breaches(doc, set(default().cities))
    assert not found, f"{results_json} breaks the results.json contract:\n" + "\n".join(found[:30])
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in _numbers(doc))
    return doc


def _numbers(node: Any) -> Any:
    if isinstance(node, dict):
        for v in node.values():
            yield from _numbers(v)
    elif isinstance(node, list):
        for v in node:
            yield from _numbers(v)
    elif isinstance(node, float):
        yield node
