"""Amounts whose unit is unstated or implausible (SPEC §2.1: 元/万元/亿元 -> 亿元, say so)."""

from __future__ import annotations

from pathlib import Path

from tests.decision_builders import app_named, city_file, decide, row, triples


def test_amount_far_too_large_for_亿元_is_queried(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    # 865400 written under a header with no unit: read as 亿元 (the rules' unit), but queried.
    city_file(inbox, "东营市", [row(name="东营测试产业集群", revenue_total=865400)],
              units={"revenue_total": ""})
    app = app_named(decide(inbox), "东营测试产业集群")
    assert (3, "revenue_total", "implausible-value") in triples(app)
    assert app.status == "needs_review"


def test_yi_without_yuan_is_亿元(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "东营市", [row(name="东营测试产业集群", revenue_total="52.3亿")])
    app = app_named(decide(inbox), "东营测试产业集群")
    assert app.values["revenue_total"] == 52.3
    assert not [f for f in app.findings if f.code == "value-converted" and f.field == "revenue_total"]
