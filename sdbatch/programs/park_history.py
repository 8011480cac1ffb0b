"""The parks' part of the history across rounds: an upgrade application's tier against the tier held
(第十六条).

The shared stage (:mod:`sdbatch.history.stage`) has recognised the application as an upgrade
(``app.history.upgrade``: the tier the park holds); once the park's tier is assigned (第九条) this
settles it: a tier above the one held is an upgrade (``upgrade-reached``); anything else keeps the
park at the tier it holds — no new recognition, no subsidy — (``upgrade-not-reached``).  The tiers'
order is ``[history.upgrade].order`` of the rules file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sdbatch.catalogue import text
from sdbatch.model import Application, Finding, Source
from sdbatch.rules import Rules


def settle_upgrades(apps: Sequence[Application], rules: Rules, outcome_of: Callable[[Application], Any]) -> None:
    cfg = rules.history
    upgrade = getattr(cfg, "upgrade", None)
    if upgrade is None:
        return
    order = list(upgrade.order)
    name_field = rules.role("name")
    for app in apps:
        block = app.history.upgrade if app.history is not None else None
        if not block or block.get("from") not in order:
            continue
        outcome = outcome_of(app)
        held, reached = block["from"], outcome.tier
        block["to"] = reached
        where = Source(app.source.file, app.source.sheet, app.source.row, app.cells.get(name_field or ""))
        params = {"held": held, "reached": reached or text("history.words.none")}
        if reached in order and order.index(reached) > order.index(held):
            app.findings.append(Finding("upgrade-reached", "info", clause=upgrade.clause, params=params, source=where))
            continue
        app.findings.append(Finding("upgrade-not-reached", "warning", clause=upgrade.clause, params=params,
                                    source=where))
        outcome.tier = None
        outcome.subsidy = None
