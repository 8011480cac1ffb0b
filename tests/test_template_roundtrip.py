"""Round trip (issue 6): a template filled in as a city would passes `sdbatch run` as eligible; one
with a failing value gets the expected finding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
import pytest
from stdnum.cn import uscc

from sdbatch.rules import load
from sdbatch.template import DATA_SHEET, FIRST_DATA_ROW, HEADER_ROW, header_text, write_templates

batch = pytest.importorskip("sdbatch.batch")


def _uscc(first17: str) -> str:
    return first17 + uscc.calc_check_digit(first17)


# Comfortably above every threshold of cluster_2024 (三(二)(三)(四)); hard conditions met.
GOOD_ROWS: list[dict[str, Any]] = [
    {
        "city_order": 1, "city": "济南市", "name": "济南市高端软件产业集群",
        "applicant": "济南市软件产业发展促进会", "applicant_uscc": _uscc("51370100MJD123456"),
        "industry": "高端软件", "revenue_total": 320.5, "leading_firms": 85, "leader_firms": 6,
        "backbone_firms": 24, "national_platforms": 3, "provincial_platforms": 12, "ip_total": 4200,
        "rd_expense": 18.6, "sales_revenue": 300.0, "rd_ratio": 6.2, "legal_person": "是", "bad_credit": "无",
        "major_incident": "否", "contact": "王明", "phone": "13953112345", "email": "wangming@jnsoft.cn",
        "remarks": "",
    },
    {
        "city_order": 2, "city": "济南市", "name": "济南市先进计算产业集群",
        "applicant": "济南市算力产业联盟", "applicant_uscc": _uscc("51370100MJD654321"),
        "industry": "先进计算", "revenue_total": 150.0, "leading_firms": 40, "leader_firms": 2,
        "backbone_firms": 9, "national_platforms": 1, "provincial_platforms": 5, "ip_total": 1800,
        "rd_expense": 7.5, "sales_revenue": 140.0, "rd_ratio": 5.36, "legal_person": "是", "bad_credit": "无",
        "major_incident": "否", "contact": "李华", "phone": "0531-88776655", "email": "lihua@jncompute.cn",
        "remarks": "",
    },
]


def fill(template: Path, target: Path, rows: list[dict[str, Any]]) -> Path:
    """Fill the blank template with openpyxl, column by column from its header (as a city would)."""
    rules = load("cluster_2024")
    wb = openpyxl.load_workbook(template)
    ws = wb[DATA_SHEET]
    ws["A1"] = "济南市"
    ws["B2"] = "济南市工业和信息化局"
    by_header = {header_text(f): f.id for f in rules.fields.values()}
    columns = {by_header[c.value]: c.column for c in ws[HEADER_ROW + 1] if c.value in by_header}
    for i, row in enumerate(rows):
        for fid, value in row.items():
            if value != "":
                ws.cell(row=FIRST_DATA_ROW + 1 + i, column=columns[fid], value=value)
    target.parent.mkdir(parents=True, exist_ok=True)
    wb.save(target)
    return target


@pytest.fixture(scope="module")
def blank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    (path,) = write_templates("cluster_2024", tmp_path_factory.mktemp("blank"))
    return path


def _run(inbox: Path, out: Path) -> Any:
    outcome = batch.run_batch(inbox, batch.RunOptions(out_dir=out, mail_mode="none"))
    assert outcome.result is not None, outcome.message
    return outcome


def test_filled_template_is_eligible(blank: Path, tmp_path: Path) -> None:
    fill(blank, tmp_path / "inbox" / "济南市数字产业集群申报信息汇总表.xlsx", GOOD_ROWS)
    outcome = _run(tmp_path / "inbox", tmp_path / "out")
    assert outcome.exit_code == 0, outcome.summary()
    apps = outcome.result.applications
    assert [a.name for a in apps] == [r["name"] for r in GOOD_ROWS]
    for app in apps:
        assert app.city == "济南市"
        errors = [(f.code, f.field) for f in app.findings if f.severity == "error"]
        assert app.status == "eligible", (app.name, errors)
    assert [a.city_order for a in apps] == [1, 2]
    # The template reads cleanly: no warning but the deadline (the file's date is today's).
    noisy = {f.code for f in outcome.result.files[0].findings if f.severity != "info"}
    noisy |= {f.code for a in apps for f in a.findings if f.severity != "info"}
    assert noisy <= {"late-submission"}, noisy


def test_failing_value_gets_the_finding(blank: Path, tmp_path: Path) -> None:
    bad = dict(GOOD_ROWS[0], revenue_total=10, industry="高端软件")  # 高端软件 is not relaxable
    fill(blank, tmp_path / "inbox" / "济南市数字产业集群申报信息汇总表.xlsx", [bad])
    outcome = _run(tmp_path / "inbox", tmp_path / "out")
    (app,) = outcome.result.applications
    assert app.status == "ineligible"
    assert ("below-threshold", "revenue_total") in {(f.code, f.field) for f in app.findings}
