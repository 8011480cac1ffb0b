"""What the ledger keeps of each application for the history across rounds, and where it comes from.

A run writes, in its ``run.json`` (the ``ledger`` block, read only by the ledger), one entry per
application of every program with a ``[history]`` table (:func:`ledger_facts`)::

    "history": {"park_2024": {"family": "park", "title": "…",
                              "applications": {"<app id>": {"applicant_id": "9137…", "applicant_name": "…",
                                                            "tier": "成长型", "subsidy": 150}}}}

The ledger records them with the run (:func:`rows_from_docs`, table ``round_outcomes``), from the
documents the run publishes, so that ``sdbatch ledger recover`` rebuilds them from the run folders.
Runs made before this block existed (sdbatch 0.1, ledger schemas 1–3) are read through their
results.json — or, when their folder is gone, through the ledger's own ``outcomes`` — with the
roles of their bundled rules file (:func:`derive_rows`); their tier is then known only from a folder.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sdbatch.history.model import valid_id
from sdbatch.model import PairsView
from sdbatch.text import detached


def ledger_facts(result: Any) -> dict[str, Any]:
    """The ``history`` entry of run.json's ``ledger`` block for a decided run (RunResult)."""
    out: dict[str, Any] = {}
    for name, rules in result.programs.items():
        cfg = getattr(rules, "history", None)
        if cfg is None:
            continue
        apps = [app for app in result.applications if app.program == name]
        out[name] = {"family": cfg.family, "title": cfg.title, "applications": _Facts(apps, rules)}
    return out


class _Facts(Mapping[str, Any]):
    """Application id -> what the ledger keeps of it, made when read: run.json writes the entries
    one by one and the ledger looks each up as it records the run, so they are never all held (a
    dict of four per application, some 30 MB at 100,000 rows, issue 16)."""

    def __init__(self, apps: list[Any], rules: Any) -> None:
        from sdbatch.programs import program_for

        self._apps = apps
        self._program = program_for(rules)
        self._fields = (rules.role("applicant_id"), rules.role("applicant"))
        self._by_id: dict[str, Any] | None = None

    def _facts(self, app: Any) -> dict[str, Any]:
        id_field, name_field = self._fields
        facts = self._program.history_facts(app)
        # a copy of the applicant's name: the encoders of run.json and the ledger keep a text's
        # UTF-8 form inside it, and the application's own text lives as long as the run
        return {"applicant_id": valid_id(app.values.get(id_field)) if id_field else None,
                "applicant_name": detached(_text(app.values.get(name_field))) if name_field else None,
                "tier": facts.get("tier"), "subsidy": facts.get("subsidy")}

    def _index(self) -> dict[str, Any]:
        if self._by_id is None:  # the ids, and their applications (the last of an id, as a dict keeps)
            self._by_id = {a.id: a for a in self._apps}
        return self._by_id

    def __getitem__(self, app_id: str) -> dict[str, Any]:
        return self._facts(self._index()[app_id])

    def __iter__(self) -> Iterator[str]:
        return iter(self._index())

    def __len__(self) -> int:
        return len(self._index())

    def items(self) -> ItemsView[str, Any]:
        return PairsView(self)

    def pairs(self) -> Iterator[tuple[str, Any]]:
        return ((app_id, self._facts(app)) for app_id, app in self._index().items())

def rows_from_docs(results: Mapping[str, Any], info: Mapping[str, Any],
                   mtimes: Mapping[Any, Any] | None = None) -> Iterator[dict[str, Any]]:
    """``round_outcomes`` rows of a run from its results.json and run.json (``mtimes``: file ->
    modification time known otherwise, for run.json files that do not carry them), one at a time
    as the ledger inserts them (a run of 100,000 applications never holds them all, issue 16)."""
    ledger = info.get("ledger") if isinstance(info.get("ledger"), Mapping) else {}
    block = ledger.get("history") if isinstance(ledger, Mapping) else None
    mtimes = {**(mtimes or {}), **{i.get("file"): i.get("mtime") for i in info.get("inputs", [])
                                   if isinstance(i, Mapping) and i.get("mtime") is not None}}
    apps = (a for a in results.get("applications", []) if isinstance(a, Mapping))
    if not isinstance(block, Mapping):
        rules_files = {p.get("name"): p.get("rules_file") for p in info.get("programs", []) if isinstance(p, Mapping)}
        yield from derive_rows(apps, mtimes, rules_files)
        return
    for app in apps:
        program = str(app.get("program") or "")
        spec = block.get(program)
        if not isinstance(spec, Mapping):
            continue
        facts = (spec.get("applications") or {}).get(app.get("id")) or {}
        yield _row(app, program, str(spec.get("family") or program), facts, mtimes)


def derive_rows(apps: Iterable[Mapping[str, Any]], mtimes: Mapping[Any, Any],
                rules_files: Mapping[Any, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Rows of a run recorded before run.json carried the history block: each application's
    program (its id starts with it) is looked up among the bundled rules (or the rules file the run
    names) for its ``[history]`` family and the roles of its applicant."""
    cache: dict[str, Any] = {}
    for app in apps:
        app_id = str(app.get("id") or "")
        program = str(app.get("program") or app_id.split("/", 1)[0])
        if program not in cache:
            cache[program] = _rules_named(program, (rules_files or {}).get(program))
        rules = cache[program]
        cfg = getattr(rules, "history", None) if rules is not None else None
        if cfg is None:
            continue
        values: Mapping[str, Any] = app["values"] if isinstance(app.get("values"), Mapping) else {}
        id_field, name_field = rules.role("applicant_id"), rules.role("applicant")
        facts = {"applicant_id": valid_id(values.get(id_field)) if id_field else None,
                 "applicant_name": _text(values.get(name_field)) if name_field else None,
                 "tier": app.get("tier"), "subsidy": app.get("subsidy")}
        yield _row(app, program, cfg.family, facts, mtimes)


def _row(app: Mapping[str, Any], program: str, family: str, facts: Mapping[str, Any],
         mtimes: Mapping[Any, Any]) -> dict[str, Any]:
    source: Mapping[str, Any] = app["source"] if isinstance(app.get("source"), Mapping) else {}
    subsidy = facts.get("subsidy")
    return {"app_id": app.get("id"), "program": program, "family": family,
            "applicant_id": facts.get("applicant_id"), "applicant_name": facts.get("applicant_name"),
            "name": app.get("name"), "city": app.get("city"), "status": app.get("status"),
            "tier": facts.get("tier") if isinstance(facts.get("tier"), str) else None,
            "subsidy": float(subsidy) if isinstance(subsidy, (int, float)) and not isinstance(subsidy, bool) else None,
            "received": received_date(mtimes.get(source.get("file")))}


def received_date(mtime: Any) -> str | None:
    """A file's modification time (the time it was received) as a China date."""
    from sdbatch import clock

    if isinstance(mtime, bool) or not isinstance(mtime, (int, float)):
        return None
    try:
        return clock.from_timestamp(float(mtime)).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def _rules_named(program: str, path: Any) -> Any:
    from sdbatch import rules as rules_mod
    from sdbatch.model import RulesInvalid

    candidates: list[str | Path] = []
    if isinstance(path, str) and path and Path(path).is_file():
        candidates.append(Path(path))
    if program in rules_mod.bundled():
        candidates.append(program)
    for candidate in candidates:
        try:
            loaded = rules_mod.load(candidate)
        except (RulesInvalid, OSError):
            continue
        if loaded.name == program:
            return loaded
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None

