"""Regenerate the park samples: fictional 省级数字经济园区 summary workbooks and score sheets.

    python tools/make_park_samples.py samples/inbox     # writes 园区_*.xlsx + samples/PARKS.md

Everything is invented (parks, organisations, people, numbers).  Three cities send their
summary tables (济南 with declared ratios, 青岛 in 万元 with ratios left to be derived and
full-width digits, 淄博 with ratios only); three experts score every park (专家甲、专家乙 as one
sheet each in one file, parks as rows; 专家丙 in a file of its own, parks as columns) and
济南 sends its preliminary score (市级初审, parks as columns).  Only files whose names start
with ``园区_`` are touched.  ``samples/PARKS.md`` (expected outcomes) is written from the same
data, so the two cannot drift.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from stdnum.cn import uscc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sdbatch.programs import park  # noqa: E402
from sdbatch.rules import load  # noqa: E402

DIGITAL, INDUSTRIAL = "数字产业化园区", "产业数字化园区"
FIXED = dt.datetime(2024, 6, 20, 9, 0, 0)
MTIME = FIXED.timestamp()


def code(n: int) -> str:
    """A valid fictional 统一社会信用代码 (check digit computed)."""
    base = f"12370100MB{n:07d}"[:17]
    return base + uscc.calc_check_digit(base)


# ------------------------------------------------------------------------------ the parks
# profile: points per indicator group (0–10, default 10 points each); experts 甲/丙 add/subtract
# `spread` on L1 and L4 so that the mean is the profile.  Expected outcome written to PARKS.md.
BASE_DIGITAL = dict(full_coverage="是", firms_total=120, cloud_firms=90, local_cloud_firms=70, digital_firms=80,
                    stat_firms=15, new_stat_firms=2, prov_demo=6, city_demo=4, hitech_revenue=30,
                    main_revenue=100, rd_institutions=3, projects=8, ip_total=60, rd_expense=6,
                    sales_revenue=100, relax_request="否", green_threshold="是")
BASE_INDUSTRIAL = dict(full_coverage="是", firms_total=120, cloud_firms=90, local_cloud_firms=70, leader_firms=3,
                       chain_firms=30, prov_demo=4, city_demo=2, hitech_revenue=30, main_revenue=100,
                       rd_institutions=3, projects=8, ip_total=60, rd_expense=3.5, sales_revenue=100,
                       relax_request="否", green_threshold="是")

PARKS: list[dict[str, Any]] = [
    dict(city="济南市", name="齐鲁数字软件园", type=DIGITAL, values={},
         profile=dict(L1=9.3, L2=9.3, L4=9.3, L5=9.3, L6=9.3), spread=0.4, city_plus=0.3,
         expect="符合条件；93.00分，四方面优异 → 示范型，奖补上限200万元"),
    dict(city="济南市", name="泉城智能制造数字化园区", type=INDUSTRIAL, values=dict(green_threshold="否"),
         profile=dict(L1=8, L2=8, L3=8, L4=8, L5=8, L6=8), spread=0.4, city_plus=0.3,
         expect="符合条件；80.00分 → 成长型，但不符合绿色门槛：不予奖补（no-green-threshold）"),
    dict(city="济南市", name="济南高新区数字经济园区", type=DIGITAL,
         values=dict(firms_total=40, cloud_firms=30, local_cloud_firms=20, digital_firms=22, stat_firms=12),
         profile=dict(L1=7.8, L2=7.8, L4=7.8, L5=7.8, L6=7.8), spread=0.4, city_plus=1.5,
         expect="需专家研判：数字产业相关企业22家<25家（第五条(二) 原则上）；名称疑似整体打包（第五条(五) 提示）；"
                "78.00分 → 成长型（暂定），上限150万元；市级初审93分，相差超过10分（city-score-gap）"),
    dict(city="青岛市", name="青岛海洋数字产业园", type=DIGITAL, values=dict(rd_expense=4.2),
         profile=dict(L1=8.5, L2=8.5, L4=8.5, L5=8.5, L6=8.5), spread=0.4,
         expect="不符合条件：研发投入占比4.2%<5%（第五条(四)），未申请放宽；85.00分但不予认定（tier-withheld）"),
    dict(city="青岛市", name="青岛工业互联网赋能园区", type=INDUSTRIAL, values=dict(leader_firms=1, relax_request="是"),
         profile=dict(L1=5, L2=8, L3=5, L4=8, L5=5, L6=5), spread=0.4,
         expect="需专家研判：龙头骨干企业1家<2家，申请第五条(五)特色功能放宽；61.79分，两方面优异 → 入库型（暂定），无奖补"),
    dict(city="青岛市", name="青岛智慧物流园区", type=INDUSTRIAL, values=dict(cloud_firms=72, local_cloud_firms=50),
         profile=dict(L1=8.3, L2=8.3, L3=8.3, L4=8.3, L5=8.3, L6=8.3), spread=0.4,
         expect="符合条件（上云比例恰为60%，边界通过）；83.00分 → 成长型，上限150万元"),
    dict(city="淄博市", name="淄博数字经济产业园", type=DIGITAL, values={},
         profile=dict(L1=5.8, L2=5.8, L4=5.8, L5=5.8, L6=5.8), spread=0.4, disagree="L5P1",
         expect="符合条件；58.00分，低于60分不予认定；L5P1专家评分分歧（expert-disagreement）；专家丙给不适用的L3P1打分"
                "（indicator-not-applicable）"),
    dict(city="淄博市", name="淄博新材料产业数字化园区", type=INDUSTRIAL, values=dict(prov_demo=2, city_demo=7),
         profile=dict(L1=9.6, L2=9.6, L3=9.6, L4=9.6, L5=9.6, L6=6), spread=0.4,
         expect="符合条件（省部级示范2项不足，但市级7项≥6项）；92.14分达到示范型分数线，但建设成效（辐射带动能力）"
                "未达优异，只有三方面 → 成长型（tier-aspects-short），上限150万元"),
]

COLUMNS = [  # (header as a city would write it, field, how to write the value)
    ("序号", "seq"), ("园区名称", "name"), ("所在市", "city"), ("园区类型", "type"), ("运营管理机构", "operator"),
    ("统一社会信用代码", "operator_uscc"), ("光纤宽带或5G全覆盖", "full_coverage"), ("园区企业总数（家）", "firms_total"),
    ("上云企业数（家）", "cloud_firms"), ("使用省内云资源的企业数（家）", "local_cloud_firms"),
    ("数字产业相关企业数（家）", "digital_firms"), ("纳入统计范围的数字经济企业数（家）", "stat_firms"),
    ("上年新增纳统企业数（家）", "new_stat_firms"), ("龙头骨干企业数（家）", "leader_firms"),
    ("产业链上下游相关企业数（家）", "chain_firms"), ("省部级及以上试点示范项目数（项）", "prov_demo"),
    ("市级试点示范项目数（项）", "city_demo"), ("高新技术企业主营业务收入（亿元）", "hitech_revenue"),
    ("主导产业主营业务收入（亿元）", "main_revenue"), ("省级以上研发机构数（个）", "rd_institutions"),
    ("近三年主持或参与省部级以上项目数（个）", "projects"), ("近三年科技奖励及知识产权总数（项）", "ip_total"),
    ("上年度研发投入总额（亿元）", "rd_expense"), ("上年度销售收入总额（亿元）", "sales_revenue"),
    ("是否申请特色功能放宽", "relax_request"), ("是否符合“绿色门槛”", "green_threshold"), ("联系人", "contact"),
    ("联系电话", "phone"), ("备注", "remarks"),
]
ONLY = {"digital_firms": DIGITAL, "stat_firms": DIGITAL, "new_stat_firms": DIGITAL,
        "leader_firms": INDUSTRIAL, "chain_firms": INDUSTRIAL}


def values_of(i: int, p: dict[str, Any]) -> dict[str, Any]:
    base = dict(BASE_DIGITAL if p["type"] == DIGITAL else BASE_INDUSTRIAL)
    base.update(p["values"])
    base.update(seq=i, name=p["name"], city=p["city"], type=p["type"], operator=f"{p['name']}运营管理有限公司",
                operator_uscc=code(1000 + i), contact=["王明", "李华", "张强", "刘洋"][i % 4],
                phone=f"0531-8{i:03d}6688", remarks="")
    return base


def cell(key: str, value: Any, ptype: str) -> Any:
    if key in ONLY and ONLY[key] != ptype:
        return "/"
    return value


# ------------------------------------------------------------------------------ writing
def save(wb: Workbook, path: Path) -> None:
    wb.properties.created = wb.properties.modified = FIXED
    wb.properties.creator = "sdbatch samples"
    wb.save(path)
    os.utime(path, (MTIME, MTIME))


def summary_jinan(path: Path, parks: list[tuple[int, dict[str, Any]]]) -> None:
    """济南: title row, declared ratios beside the counts (cross-checked), amounts in 亿元."""
    wb = Workbook()
    ws = wb.active
    ws.title = "园区汇总表"
    cols = COLUMNS[:9] + [("企业上云比例（%）", "cloud_ratio")] + COLUMNS[9:]
    ws.append(["济南市省级数字经济园区申报汇总表"])
    ws.append([h for h, _ in cols])
    for i, p in parks:
        v = values_of(i, p)
        v["cloud_ratio"] = round(100 * v["cloud_firms"] / v["firms_total"], 1)
        ws.append([cell(k, v.get(k), p["type"]) for _, k in cols])
    ws.append([])
    ws.append(["填表说明：比例按百分数填写；不适用的指标填“/”。"])
    _style(ws, len(cols))
    save(wb, path)


def summary_qingdao(path: Path, parks: list[tuple[int, dict[str, Any]]]) -> None:
    """青岛: amounts in 万元, no ratio columns (derived), full-width digits in the counts."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    cols = [(h.replace("（亿元）", "（万元）"), k) for h, k in COLUMNS]
    ws.append(["青岛市工业和信息化局 省级数字经济园区推荐汇总表"])
    ws.append([h for h, _ in cols])
    for i, p in parks:
        v = values_of(i, p)
        row = []
        for _, k in cols:
            value = cell(k, v.get(k), p["type"])
            if k in ("hitech_revenue", "main_revenue", "rd_expense", "sales_revenue") and isinstance(value, (int, float)):
                value = round(value * 10000, 2)
            elif k in ("firms_total", "cloud_firms") and isinstance(value, int):
                value = str(value).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
            row.append(value)
        ws.append(row)
    ws.append(["合计", None, None, None, None, None, None, sum(values_of(i, p)["firms_total"] for i, p in parks)])
    _style(ws, len(cols))
    save(wb, path)


def summary_zibo(path: Path, parks: list[tuple[int, dict[str, Any]]]) -> None:
    """淄博: ratios only (上云比例 as 65%, 省内云 as 0.78, 数字产业占比), no cloud counts."""
    wb = Workbook()
    ws = wb.active
    ws.title = "汇总"
    drop = {"cloud_firms", "local_cloud_firms"}
    cols = [c for c in COLUMNS if c[1] not in drop]
    at = [k for _, k in cols].index("firms_total") + 1
    cols[at:at] = [("企业上云比例", "cloud_ratio"), ("使用省内云资源企业占比", "local_cloud_ratio"),
                   ("数字产业相关企业占比（%）", "digital_ratio")]
    ws.append(["淄博市数字经济园区申报信息汇总表"])
    ws.append([h for h, _ in cols])
    for i, p in parks:
        v = values_of(i, p)
        v["cloud_ratio"] = f"{round(100 * v['cloud_firms'] / v['firms_total'])}%"
        v["local_cloud_ratio"] = round(v["local_cloud_firms"] / v["cloud_firms"], 2)
        v["digital_ratio"] = round(100 * v["digital_firms"] / v["firms_total"], 1) if p["type"] == DIGITAL else "/"
        ws.append([cell(k, v.get(k), p["type"]) for _, k in cols])
    _style(ws, len(cols))
    save(wb, path)


def _style(ws: Any, ncols: int) -> None:
    ws["A1"].font = Font(bold=True, size=14)
    for c in range(1, ncols + 1):
        ws.cell(2, c).font = Font(bold=True)
        ws.cell(2, c).alignment = Alignment(wrap_text=True)


def expert_points(p: dict[str, Any], st: park.Settings, who: str) -> dict[str, Any]:
    """Points of one expert (甲 +spread, 乙 the profile, 丙 −spread on L1 and L4)."""
    sign = {"甲": 1, "乙": 0, "丙": -1}[who]
    out: dict[str, Any] = {}
    for ind in st.applicable(p["type"]):
        value = p["profile"][ind.group]
        if ind.group in ("L1", "L4"):
            value += sign * p["spread"]
        if p.get("disagree") == ind.code:
            value += sign * 4
        out[ind.code] = round(min(max(value, 0), ind.max), 2)
    return out


def expert_rows_sheet(ws: Any, who: str, st: park.Settings) -> None:
    codes = list(st.indicators)
    ws.append([f"省级数字经济园区专家复核评分表    评审专家：专家{who}"])
    # No 所在市/园区类型 columns: with them the sheet also reads as a summary table (see PARKS.md).
    ws.append(["序号", "园区名称", *codes, "L2P13", "合计"])
    for i, p in enumerate(PARKS, 1):
        pts = expert_points(p, st, who)
        ws.append([i, p["name"], *[pts.get(c, "/") for c in codes], None,
                   round(sum(pts.values()), 2)])
    ws["A1"].font = Font(bold=True, size=14)


def experts_by_sheet(path: Path, st: park.Settings) -> None:
    wb = Workbook()
    wb.remove(wb.active)
    for who in ("甲", "乙"):
        expert_rows_sheet(wb.create_sheet(f"专家{who}"), who, st)
    save(wb, path)


def expert_transposed(path: Path, st: park.Settings) -> None:
    """专家丙: indicators as rows, parks as columns; gives points to L3P1 for a 数字产业化 park."""
    wb = Workbook()
    ws = wb.active
    ws.title = "评分"
    ws.append(["专家复核评分表（评审专家：专家丙）"])
    ws.append(["类型", "指标编号", "指标名称", *[p["name"] for p in PARKS]])
    points = [expert_points(p, st, "丙") for p in PARKS]
    for ind in st.indicators.values():
        row: list[Any] = [st.groups.get(ind.group), ind.code, ind.name]
        for p, pts in zip(PARKS, points, strict=True):
            if ind.code == "L3P1" and p["name"] == "淄博数字经济产业园":
                row.append(5)  # not applicable to 数字产业化园区: reported, not counted
            else:
                row.append(pts.get(ind.code, "/"))
        ws.append(row)
    save(wb, path)


def city_preliminary(path: Path, st: park.Settings) -> None:
    """济南's own preliminary score (第六条), parks as columns."""
    wb = Workbook()
    ws = wb.active
    ws.title = "市级初审评分"
    mine = [p for p in PARKS if p["city"] == "济南市"]
    ws.append(["济南市省级数字经济园区市级初审评分表"])
    ws.append(["指标编号", "指标名称", *[p["name"] for p in mine]])
    for ind in st.indicators.values():
        row: list[Any] = [ind.code, ind.name]
        for p in mine:
            if p["type"] in ind.types:
                row.append(round(min(p["profile"][ind.group] + p.get("city_plus", 0), ind.max), 2))
            else:
                row.append("/")
        ws.append(row)
    save(wb, path)


# ------------------------------------------------------------------------------ expected outcomes
def expected_scores(st: park.Settings) -> dict[str, float]:
    out = {}
    for p in PARKS:
        inds = st.applicable(p["type"])
        mean = {ind.code: sum(expert_points(p, st, w)[ind.code] for w in "甲乙丙") / 3 for ind in inds}
        out[p["name"]] = round(100 * sum(mean.values()) / sum(i.max for i in inds), st.decimals)
    return out


def parks_md(st: park.Settings, budget: float) -> str:
    scores = expected_scores(st)
    lines = [
        "# 园区样例（省级数字经济园区）",
        "",
        "由 `tools/make_park_samples.py` 生成（连同本文件），数据均为虚构。运行：",
        "",
        "    sdbatch run samples/inbox --budget 500",
        "",
        "## 文件",
        "",
        "| 文件 | 内容 |",
        "|---|---|",
        "| `园区_济南市_数字经济园区申报汇总表.xlsx` | 济南市汇总表：标题行，填写了上云比例（与企业数交叉核对），金额为亿元 |",
        "| `园区_青岛市_园区推荐汇总表.xlsx` | 青岛市汇总表：金额为万元（换算为亿元），未填比例（由数量、金额推算），全角数字，合计行 |",
        "| `园区_淄博市_园区汇总表.xlsx` | 淄博市汇总表：只填比例（65%、0.78 两种写法），不填上云企业数 |",
        "| `园区_专家评分表_专家甲乙.xlsx` | 专家甲、专家乙评分，每位专家一个工作表，园区为行、指标编号为列；含一列 L2P13（评分标准无此编号，unknown-indicator） |",
        "| `园区_专家评分表_专家丙.xlsx` | 专家丙评分，转置：指标为行、园区为列；给数字产业化园区的 L3P1 打了分（indicator-not-applicable） |",
        "| `园区_济南市_市级初审评分.xlsx` | 济南市市级初审评分（第六条），园区为列；只在没有专家评分时使用，差距超过10分时提示 |",
        "",
        "评分规则（`sdbatch/programs/park_2024.toml`）：3位专家取平均（不少于5位时各指标逐项去掉最高、最低分；改为去掉总分最高、最低的专家：规则文件 trim_by = \"total\"）；"
        "“表现优异”= 该方面得分率不低于75%；辐射带动能力对应 L6 建设成效。",
        "",
        "## 指标分值从哪里来",
        "",
        "《评分标准》只列指标和适用类型（√），没有规定分值。每种类型园区的每项指标，分值依次取自（`[park.scoring]`）：",
        "",
        "1. 规则文件 `[park.standard]` 中该指标的 `max`（一个数，或按园区类型各一个数）；评分表列明的分值与之不一致时，"
        "在认定名单中列出该评分表（points-differ-from-rules），按规则文件计分；",
        "2. 规则文件未规定时，本轮评分表列明的分值：评分表中标为“分值”“满分”“标准分”的行（园区为行）或列（园区为列），"
        "标签、表头或工作表名称写明园区类型的，只用于该类型（如“分值（数字产业化园区）”、“标准分”下分列两种类型、"
        "名为“产业数字化”的工作表）。**各评分表不一致时，采用多数专家评分表列明的分值**（市级初审评分表只在没有专家评分表"
        "列明该指标分值时参与）；票数相同时取较高的分值（`points_tie`，不会把任一评分表满分以内的评分截低）。"
        "与采用分值不一致的评分表在认定名单“评分表读取”“评分问题”中列出，写明采用的分值和几张评分表如此列明"
        "（points-sheets-disagree）；分值缺项、合计不是100分、为不适用的指标列分值、无法识别的，同样列出；",
        "3. 两者都没有时，才按默认每项10分计、总分按该类型适用指标的满分之和折算为百分制，"
        "认定名单、各市审核意见和邮件都注明“使用默认分值”。",
        "",
        "本样例的评分表和规则文件都没有列明分值，因此使用默认分值。列明分值的评分表（四种写法、一张与其他不一致）"
        "见 `tests/park_round.py`。",
        "",
        "## 各市收到什么",
        "",
        "各市的审核意见和邮件只包含本市的审核结论、需要本市更正的问题，以及省厅发布的认定结果"
        "（`[park.release] results = true` 时：认定档次——需专家研判的为暂定——或“未达到认定分数线，不予认定”、奖补上限；"
        "`false` 时写“认定结果经审定后另行通知”）。专家姓名、各专家的评分和总分、评分分歧、评分表的文件和单元格、"
        "指标分值的来源、资金分配意见，只出现在认定名单（“专家评分”“评分问题”“评分表读取”“指标分值”“资金分配意见”）"
        "和 results.json 中。",
        "",
        "## 预期结果",
        "",
        "| 城市 | 园区 | 类型 | 预期得分 | 预期 |",
        "|---|---|---|---|---|",
    ]
    for p in PARKS:
        lines.append(f"| {p['city']} | {p['name']} | {p['type']} | {scores[p['name']]:.2f} | {p['expect']} |")
    ceilings = [(p["name"], c) for p, c in ((p, _ceiling(p, scores, st)) for p in PARKS) if c]
    ranked = sorted(ceilings, key=lambda nc: -scores[nc[0]])
    proposals = park.allocate([c for _, c in ranked], budget)
    lines += [
        "",
        f"## 资金分配意见（`--budget {budget:g}`）",
        "",
        f"奖补上限合计 {sum(c for _, c in ranked):g} 万元，超过预算 {budget:g} 万元，按规则文件中的方法分配：",
        "",
        f"> {st.method_text}",
        "",
        "| 园区 | 上限（万元） | 拟安排（万元） |",
        "|---|---|---|",
    ]
    lines += [f"| {n} | {c:g} | {a} |" for (n, c), a in zip(ranked, proposals, strict=True)]
    lines += ["", f"合计 {sum(proposals)} 万元 ≤ 预算 {budget:g} 万元。", ""]
    return "\n".join(lines)


def _ceiling(p: dict[str, Any], scores: dict[str, float], st: park.Settings) -> float:
    """Ceilings of the parks expected to get one (eligible or needs_review, tier with aspects, 绿色门槛)."""
    table = {"齐鲁数字软件园": 200, "济南高新区数字经济园区": 150, "青岛智慧物流园区": 150, "淄博新材料产业数字化园区": 150}
    return table.get(p["name"], 0)


# ------------------------------------------------------------------------------ main
SAMPLES = {
    "园区_济南市_数字经济园区申报汇总表.xlsx": lambda path, st: summary_jinan(path, _of("济南市")),
    "园区_青岛市_园区推荐汇总表.xlsx": lambda path, st: summary_qingdao(path, _of("青岛市")),
    "园区_淄博市_园区汇总表.xlsx": lambda path, st: summary_zibo(path, _of("淄博市")),
    "园区_专家评分表_专家甲乙.xlsx": experts_by_sheet,
    "园区_专家评分表_专家丙.xlsx": expert_transposed,
    "园区_济南市_市级初审评分.xlsx": city_preliminary,
}


def _of(city: str) -> list[tuple[int, dict[str, Any]]]:
    return [(i, p) for i, p in enumerate(PARKS, 1) if p["city"] == city]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "samples" / "inbox"), type=Path)
    parser.add_argument("--doc", type=Path, default=ROOT / "samples" / "PARKS.md")
    parser.add_argument("--budget", type=float, default=500)
    args = parser.parse_args(argv)
    st = park.settings_of(load("park_2024"))
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("园区_*"):
        old.unlink()
    for name, write in SAMPLES.items():
        write(args.out / name, st)
    args.doc.write_text(parks_md(st, args.budget), encoding="utf-8")
    print(f"已生成 {len(SAMPLES)} 个园区样例文件到 {args.out}，预期结果见 {args.doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
