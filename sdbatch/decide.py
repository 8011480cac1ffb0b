"""Stage 5 — decisions over applications: status, quota, duplicates (SPEC §2.2).

Status precedence, first that applies: over_quota > ineligible > incomplete > needs_review
> eligible.  A status is always derived from the findings' effects, so that every status
other than eligible has a finding that says why.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from functools import cache

from sdbatch.model import STATUSES, Application, Finding, Source
from sdbatch.rules import Rules
from sdbatch.text import CLOSE_BRACKETS, OPEN_BRACKETS, split_at_last_close, squash, vocabulary


def status_from_findings(app: Application) -> str:
    effects = {f.effect for f in app.findings if f.effect}
    for status in STATUSES:
        if status in effects:
            return status
    return "eligible"


def apply_quota(apps: list[Application], rules: Rules, file_ranks: Mapping[int, int] | None = None) -> None:
    """Mark applications beyond the city's quota, counted in the city's own 推荐排序 (四(二)).
    ``file_ranks``: id of an application -> the place of its file in the run (rows of an earlier
    file come first); without it, row order alone.

    Order: valid 推荐排序 ascending; repeated numbers and missing ones are reported and fall
    back to row order (missing ones after the numbered ones).  No 推荐排序 column: row order.
    """
    if rules.quota_default is None and not rules.quota_cities:
        return
    order_field = rules.role("order")
    ranks = file_ranks or {}
    by_city: dict[str, list[Application]] = defaultdict(list)
    for app in apps:
        if app.city:
            by_city[app.city].append(app)
    for city, group in by_city.items():
        has_order_column = any((order_field or "") in a.cells for a in group)
        counts: dict[int, int] = defaultdict(int)
        for a in group:
            if a.city_order is not None:
                counts[a.city_order] += 1

        def key(a: Application) -> tuple[int, int, int]:
            row_key = (ranks.get(id(a), 0), a.source.row or 0)
            if a.city_order is None:
                return (1, *row_key)
            return (0, a.city_order, row_key[0] * 1_000_000 + row_key[1])

        ordered = sorted(group, key=key)
        quota = rules.quota_for(city)
        for position, a in enumerate(ordered, start=1):
            a.quota_position = position
            src = Source(a.source.file, a.source.sheet, a.source.row, a.cells.get(order_field or ""))
            if not has_order_column:
                a.findings.append(Finding("no-city-order", "warning", field=order_field, clause=rules.quota_clause,
                                          params={"position": position}, source=src))
            elif a.city_order is None:
                a.findings.append(Finding("missing-city-order", "warning", field=order_field,
                                          clause=rules.quota_clause, params={"position": position}, source=src,
                                          original=a.originals.get(order_field or "")))
            elif counts[a.city_order] > 1:
                a.findings.append(Finding("duplicate-city-order", "warning", field=order_field,
                                          clause=rules.quota_clause, params={"order": a.city_order, "position": position},
                                          source=src, original=a.originals.get(order_field or "")))
            if quota is not None and position > quota:
                a.findings.append(Finding("over-quota", "error", field=order_field, clause=rules.quota_clause,
                                          params={"city": city, "quota": quota, "position": position},
                                          source=src, effect="over_quota"))


_NAMES = vocabulary()["names"]
_BRACKETED = re.compile(rf"[{re.escape(OPEN_BRACKETS)}].*?[{re.escape(CLOSE_BRACKETS)}]")
_NAME_PUNCTUATION = re.compile(rf"[\s{re.escape(_NAMES['punctuation'])}]")


@cache
def _province_prefixes() -> tuple[str, ...]:
    """山东省, 山东: the default jurisdiction's province, with and without its ending."""
    from sdbatch.jurisdiction import default

    province = squash(default().province)
    short = next((province[: -len(e)] for e in _NAMES["province_endings"] if province.endswith(e)), province)
    return tuple(dict.fromkeys((province, short)))


def name_key(name: str | None, city: str | None = None) -> str:
    """An application's name reduced for duplicate detection: no spaces, brackets or province prefix."""
    closed, rest = split_at_last_close(squash(name or ""))  # linear in a long cell of unclosed brackets
    text = _NAME_PUNCTUATION.sub("", _BRACKETED.sub("", closed) + rest)
    for prefix in _province_prefixes():
        if text.startswith(prefix):
            text = text[len(prefix):]
    # The city stays in the key: 威海智能终端产业集群 and 日照智能终端产业集群 are two applications.
    return text


def mark_duplicates(apps: list[Application], rules: Rules) -> None:
    """The same application twice in a file, and the same one submitted by two cities (applications,
    not rows: the rows of one record are one application).  Linear in applications and findings."""
    name_field = rules.role("name")
    keyed = {id(app): name_key(app.name) for app in apps if app.name}
    by_file: dict[tuple[str, str], list[Application]] = defaultdict(list)
    for app in apps:
        if app.name:
            by_file[(app.source.file, keyed[id(app)])].append(app)
    for group in by_file.values():
        for later in group[1:]:
            later.findings.append(Finding("duplicate-in-file", "warning", field=name_field,
                                          params={"other_row": group[0].source.row},
                                          source=Source(later.source.file, later.source.sheet, later.source.row,
                                                        later.cells.get(name_field or ""))))
    # (kind, key) -> applications; kind "code" shows the code itself, "name" each application's name
    keys: dict[tuple[str, str], list[Application]] = defaultdict(list)
    code_fields = [f.id for f in rules.fields.values() if f.type == "uscc"]  # the applicant's credit code
    for app in apps:
        if app.name:
            keys[("name", keyed[id(app)])].append(app)
        for fid in code_fields:
            if app.values.get(fid):
                keys[("code", str(app.values[fid]))].append(app)
    flagged: set[tuple[str, str | None]] = set()
    for (kind, key), group in keys.items():
        first_of_city: dict[str, Application] = {}
        for a in group:
            if a.city:
                first_of_city.setdefault(a.city, a)
        if len(first_of_city) < 2:
            continue
        for app in group:
            source = None
            # One finding per other city (at most 15), whatever the number of rows: never quadratic.
            for other in first_of_city.values():
                if other.city == app.city or (app.id, other.city) in flagged:
                    continue
                flagged.add((app.id, other.city))
                source = source or Source(app.source.file, app.source.sheet, app.source.row,
                                          app.cells.get(name_field or ""))
                app.findings.append(Finding(
                    "cross-city-duplicate", "warning", field=name_field, params={
                        "key": key if kind == "code" else app.name, "entity": rules.entity,
                        "other_city": other.city, "other_file": other.source.file},
                    source=source, effect="needs_review"))
