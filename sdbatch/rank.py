"""Stage 6 — composite score and ranks (province-wide and within each industry).

The method and weights are in the rules file's ``[score]`` table::

    score = 100 × Σ weight × min(value / ref, cap) / (cap × Σ weight)

A missing value counts 0.  Only applications with status eligible or needs_review are
ranked.  Ties are broken deterministically: higher score, then the ``tie_break`` fields
(higher first), then the cities in the jurisdiction's order, then 推荐排序, then the name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sdbatch.model import Application
from sdbatch.rules import Rules

RANKED = ("eligible", "needs_review")


def composite_score(values: Mapping[str, Any], rules: Rules) -> float | None:
    spec = rules.score
    indicators = spec.get("indicators") or []
    if not indicators:
        return None
    cap = float(spec.get("cap", 1))
    total_weight = sum(float(i["weight"]) for i in indicators)
    acc = 0.0
    for ind in indicators:
        value = values.get(ind["field"])
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            acc += float(ind["weight"]) * min(value / float(ind["ref"]), cap)
    return round(100 * acc / (cap * total_weight), 2)


def sort_key(app: Application, rules: Rules) -> tuple[Any, ...]:
    ties = tuple(-(app.values.get(f) or 0) if isinstance(app.values.get(f), (int, float)) else 0
                 for f in rules.score.get("tie_break", ()))
    return (-(app.score or 0), *ties, rules.jurisdiction.position(app.city),
            app.city_order if app.city_order is not None else 10**6, app.name or "", app.source.row or 0)


def score_and_rank(apps: list[Application], rules: Rules) -> None:
    for app in apps:
        app.score = composite_score(app.values, rules) if app.status in RANKED else None
    ranked = sorted((a for a in apps if a.status in RANKED), key=lambda a: sort_key(a, rules))
    for position, app in enumerate(ranked, start=1):
        app.rank = position
    by_industry: dict[str, list[Application]] = defaultdict(list)
    for app in ranked:
        by_industry[app.industry or ""].append(app)
    for group in by_industry.values():
        for position, app in enumerate(group, start=1):
            app.industry_rank = position
