"""A third program, defined only in the tests (``tests/award_program.py`` + ``tests/data/award_2025.toml``),
runs end to end — review, list, mail, results.json — without touching any shared module (issue 11)."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import openpyxl
from stdnum.cn import uscc

from sdbatch.batch import RunOptions, run_batch
from sdbatch.rules import load
from tests.contract import check_contract

RULES = Path(__file__).parent / "data" / "award_2025.toml"
BOOK = '[cities."济南市"]\nto = ["jn@example.cn"]\n[cities."青岛市"]\nto = ["qd@example.cn"]\n'


def code(n: int) -> str:
    body = f"91370100MA{n:07d}"
    return body + uscc.calc_check_digit(body)


def write(path: Path, city: str, rows: list[tuple[str, str, str, object]]) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([f"{city}数字经济优质企业奖励申报表"])
    ws.append(["序号", "企业名称", "所在市", "统一社会信用代码", "申报类别", "上年度营业收入（万元）"])
    for i, (name, uscc_code, category, revenue) in enumerate(rows, start=1):
        ws.append([i, name, city, uscc_code, category, revenue])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def test_award_program_runs_end_to_end(tmp_path: Path) -> None:
    rules = load(RULES)
    assert type(rules.section).__name__ == "AwardSection"
    inbox = tmp_path / "inbox"
    write(inbox / "济南市企业奖励申报表.xlsx", "济南市", [
        ("济南甲数字科技有限公司", code(1), "专精特新", 5200),
        ("济南乙软件有限公司", code(2), "小巨人", "1,500"),  # below 2000万元: ineligible
    ])
    write(inbox / "青岛市企业奖励申报表.xlsx", "青岛市", [("青岛丙智能装备有限公司", code(3), "小巨人", 8800)])
    book = tmp_path / "book.toml"
    book.write_text(BOOK, encoding="utf-8")
    outcome = run_batch(inbox, RunOptions(out_dir=tmp_path / "out", rules_files=(RULES,), run_id="award",
                                          now="2025-05-01T10:00:00", mail_mode="all", quiet=True,
                                          address_book=book))
    assert outcome.run_dir is not None and outcome.exit_code == 0, outcome.message
    run_dir = outcome.run_dir

    doc = check_contract(run_dir / "results.json")
    apps = {a["name"]: a for a in doc["applications"]}
    assert apps["济南甲数字科技有限公司"]["status"] == "eligible"
    assert apps["济南甲数字科技有限公司"]["outcome"] == {"kind": "award", "amount": 30}
    assert apps["济南乙软件有限公司"]["status"] == "ineligible"
    assert apps["济南乙软件有限公司"]["outcome"] == {"kind": "award", "amount": None}
    assert apps["青岛丙智能装备有限公司"]["outcome"]["amount"] == 50
    assert apps["济南甲数字科技有限公司"]["values"]["revenue"] == 5200
    assert doc["programs"]["award_2025"]["award_total"] == 80

    review = openpyxl.load_workbook(run_dir / "济南市_审核意见.xlsx")
    summary = next(ws for ws in review.worksheets if ws.title.startswith("审核结论"))
    headers = [c.value for c in summary[1]]
    assert "奖励金额（万元）" in headers
    by_name = {r[headers.index("企业名称")]: r for r in summary.iter_rows(min_row=2, values_only=True)}
    assert by_name["济南甲数字科技有限公司"][headers.index("奖励金额（万元）")] == 30

    listing = openpyxl.load_workbook(run_dir / "奖励名单.xlsx")
    rank_headers = [c.value for c in listing["排名"][1]]
    assert "奖励金额（万元）" in rank_headers
    city_headers = [c.value for c in listing["各市汇总"][1]]
    assert any(h and h.startswith("奖励金额") for h in city_headers)

    mail = email.message_from_bytes((run_dir / "mail" / "济南市.eml").read_bytes(), policy=policy.default)
    body = mail.get_body(("plain",)).get_content()
    assert "奖励金额（万元）：30" in body and "奖励说明" in body
