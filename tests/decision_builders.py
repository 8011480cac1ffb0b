"""Small builders for the decision tests: city workbooks written with openpyxl into tmp_path.

Headers are the canonical labels of ``cluster_2024.toml`` (amounts with ``（亿元）``, the ratio
with ``（%）``); ``row(**overrides)`` is an eligible 高端软件 cluster with every threshold
comfortably met.  ``decide(inbox)`` runs :func:`sdbatch.batch.evaluate` and checks the
results.json it would write against the contract (``tests/contract.py``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import openpyxl
from stdnum.cn import uscc

from sdbatch import rules as rules_mod
from sdbatch.batch import RunOptions, evaluate
from sdbatch.model import Application, RunResult
from tests.contract import check_contract

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_RULES = ROOT / "sdbatch" / "programs" / "cluster_2024.toml"
CHINA = dt.timezone(dt.timedelta(hours=8))
ON_TIME = dt.datetime(2024, 6, 20, 10, 0, tzinfo=CHINA)
NOW = "2024-06-27T10:00:00"

# Column order of the workbooks (field ids of cluster_2024.toml).
COLUMNS = ("city_order", "city", "name", "applicant", "applicant_uscc", "industry", "revenue_total",
           "leading_firms", "leader_firms", "backbone_firms", "national_platforms", "provincial_platforms",
           "ip_total", "rd_expense", "sales_revenue", "rd_ratio", "legal_person", "bad_credit", "major_incident",
           "contact", "phone", "email")

_serial = itertools.count(1)
_RULES = rules_mod.load(BUNDLED_RULES)


def header_label(field_id: str, units: dict[str, str] | None = None) -> str:
    f = _RULES.fields[field_id]
    if f.type == "amount":
        return f"{f.label}（{(units or {}).get(field_id, '亿元')}）"
    if f.type == "ratio":
        return f"{f.label}（%）"
    return f.label


def make_uscc(n: int) -> str:
    """A valid 统一社会信用代码 (check digit by python-stdnum), distinct for each ``n``."""
    body = f"91370100MA{n:07d}"
    return body + uscc.calc_check_digit(body)


def row(**overrides: Any) -> dict[str, Any]:
    """One eligible cluster (高端软件, 济南市); keyword arguments replace field values."""
    n = next(_serial)
    base: dict[str, Any] = {
        "city_order": 1, "city": "济南市", "name": f"测试{n:03d}号高端软件产业集群",
        "applicant": f"测试{n:03d}号产业集群发展促进会", "applicant_uscc": make_uscc(n), "industry": "高端软件",
        "revenue_total": 120.0, "leading_firms": 40, "leader_firms": 3, "backbone_firms": 8,
        "national_platforms": 2, "provincial_platforms": 5, "ip_total": 2000, "rd_expense": 4.0,
        "sales_revenue": 100.0, "rd_ratio": 4.0, "legal_person": "是", "bad_credit": "无", "major_incident": "否",
        "contact": "张明", "phone": "0531-86123456", "email": "zhangming@example.com",
    }
    base.update(overrides)
    return base


def write_workbook(path: Path, rows: Iterable[dict[str, Any]], *, columns: Iterable[str] = COLUMNS,
                   drop: Iterable[str] = (), mtime: dt.datetime | None = ON_TIME,
                   units: dict[str, str] | None = None) -> Path:
    """One city summary workbook: a title row, the header row, one row per cluster (row 3 on).

    ``units`` gives another unit for an amount column's header (e.g. ``{"revenue_total": "万元"}``).
    """
    cols = [c for c in columns if c not in set(drop)]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总表"
    ws.append(["数字产业集群申报信息汇总表"])
    ws.append([header_label(c, units) for c in cols])
    for r in rows:
        ws.append([r.get(c) for c in cols])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    if mtime is not None:
        set_mtime(path, mtime)
    return path


def set_mtime(path: Path, when: dt.datetime) -> None:
    stamp = when.timestamp()
    os.utime(path, (stamp, stamp))


def city_file(inbox: Path, city: str, rows: Iterable[dict[str, Any]], *, name: str | None = None,
              **kwargs: Any) -> Path:
    """The workbook of ``city``: every row's 所在市 is set to ``city``."""
    rows = [{**r, "city": city} for r in rows]
    return write_workbook(inbox / (name or f"{city}数字产业集群申报信息汇总表.xlsx"), rows, **kwargs)


def decide(inbox: Path, **options: Any) -> RunResult:
    """evaluate() the inbox (nothing written to output/) and hold its results.json to the contract."""
    opts = RunOptions(out_dir=inbox.parent / "out", now=NOW, run_id="test", mail_mode="none", **options)
    result = evaluate(inbox, opts, run_id="test")
    target = inbox.parent / f"{inbox.name}-results.json"
    target.write_text(json.dumps(result.to_dict(), ensure_ascii=False), encoding="utf-8")
    check_contract(target)
    return result


def app_named(result: RunResult, name: str) -> Application:
    found = [a for a in result.applications if a.name == name]
    assert len(found) == 1, f"{name}: {len(found)} applications in {[a.name for a in result.applications]}"
    return found[0]


def triples(app: Application) -> set[tuple[int | None, str | None, str]]:
    """The findings of ``app`` as (row, field, code)."""
    return {(f.source.row if f.source else None, f.field, f.code) for f in app.findings}


def codes(app: Application) -> set[str]:
    return {f.code for f in app.findings}


def file_named(result: RunResult, name: str) -> Any:
    found = [f for f in result.files if f.file == name]
    assert len(found) == 1, f"{name} not among {[f.file for f in result.files]}"
    return found[0]
