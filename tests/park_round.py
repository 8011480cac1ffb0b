"""A park round whose score sheets state the points per park type, written as real workbooks.

Four experts write their sheets each their own way (as four people would), all stating what each
indicator is out of, per park type (数字产业化园区 and 产业数字化园区 differ; each type sums to 100):

- 张明: parks as rows, one sheet per type (the sheet's name says the type), a 分值 row under the codes;
- 王芳: the transpose, one sheet per type (the title says the type), a 分值 column with — where an
  indicator does not apply, the group names merged down the first column, signed 专家签名：王芳;
- 李强: parks as rows, one sheet for both types, two 分值 rows labelled with their type, group names
  merged over the codes, a 园区类型 column;
- 赵丽: the transpose, one sheet for both types, 标准分 merged over one column per type (the types in
  the row below), each park's type under its name.  Her 标准分 has typos: 数字产业化 L4P1 and L4P4
  swapped (the column still sums to 100) and 产业数字化 L1P4 = 3 instead of 2 (the column sums to 101).

Traps: 李强 gives 40 for 青岛数字园乙's L6P1 (out of 4), 王芳 scores L2P10 (数字产业化 only) for
济南产数园甲, 张明 and 王芳 disagree widely on 青岛产数园乙's L3P1.  Every expected figure is
written out in :data:`EXPECTED` from the design below, by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook

from tests.decision_builders import make_uscc

DIGITAL, INDUSTRIAL = "数字产业化园区", "产业数字化园区"
EXPERTS = ("张明", "王芳", "李强", "赵丽")
GROUP_NAMES = {"L1": "支撑能力", "L2": "集聚水平", "L3": "产业数字化水平", "L4": "创新能力", "L5": "发展潜力",
               "L6": "建设成效"}

CODES = ([f"L1P{i}" for i in range(1, 10)] + [f"L2P{i}" for i in (*range(1, 13), 14)]
         + [f"L3P{i}" for i in range(1, 13)] + [f"L4P{i}" for i in range(1, 12)]
         + [f"L5P{i}" for i in range(1, 8)] + [f"L6P{i}" for i in range(1, 7)])


def _digital() -> dict[str, float]:
    """L1 10, L2 30, L4 25, L5 15, L6 20 (no L3): 100."""
    out: dict[str, float] = {}
    for code in CODES:
        group, n = code[:2], int(code[3:])
        if group == "L3":
            continue
        out[code] = {"L1": 2 if n == 1 else 1, "L2": 3 if n <= 4 else 2, "L4": 3 if n <= 3 else 2,
                     "L5": 3 if n == 1 else 2, "L6": 4 if n <= 2 else 3}[group]
    return out


def _industrial() -> dict[str, float]:
    """L1 10, L2 20 (no L2P10/L2P11), L3 24, L4 22, L5 12, L6 12: 100."""
    out: dict[str, float] = {}
    for code in CODES:
        group, n = code[:2], int(code[3:])
        if code in ("L2P10", "L2P11"):
            continue
        out[code] = {"L1": 2 if n == 4 else 1, "L2": 1 if n in (12, 14) else 2, "L3": 2, "L4": 2,
                     "L5": 1 if n in (6, 7) else 2, "L6": 2}[group]
    return out


POINTS = {DIGITAL: _digital(), INDUSTRIAL: _industrial()}
assert sum(POINTS[DIGITAL].values()) == 100 and len(POINTS[DIGITAL]) == 46
assert sum(POINTS[INDUSTRIAL].values()) == 100 and len(POINTS[INDUSTRIAL]) == 56
# 赵丽's typos
TYPO = {DIGITAL: {**POINTS[DIGITAL], "L4P1": 2, "L4P4": 3}, INDUSTRIAL: {**POINTS[INDUSTRIAL], "L1P4": 3}}

# park -> (city, type, share of each group's points every expert gives)
PARKS: dict[str, tuple[str, str, dict[str, float]]] = {
    "济南数字园甲": ("济南市", DIGITAL, {"L1": 0.5, "L2": 1, "L4": 1, "L5": 1, "L6": 1}),
    "青岛数字园乙": ("青岛市", DIGITAL, {"L1": 1, "L2": 0.75, "L4": 0.75, "L5": 0.5, "L6": 0.5}),
    "济南产数园甲": ("济南市", INDUSTRIAL, {"L1": 1, "L2": 1, "L3": 0.75, "L4": 1, "L5": 1, "L6": 0.5}),
    "青岛产数园乙": ("青岛市", INDUSTRIAL, {"L1": 0.5, "L2": 0.5, "L3": 0.5, "L4": 0.5, "L5": 0.5, "L6": 0.5}),
}

# Worked out by hand from the design above (the points table sums to 100 per type):
#  济南数字园甲 0.5×10 + 30 + 25 + 15 + 20 = 95, four aspects at 100 %           -> 示范型, 200
#  青岛数字园乙 10 + 22.5 + 18.75 + 7.5 + 10 = 68.75, plus 李强's 40 on L6P1 capped
#               to 4 (mean of 2, 2, 4, 2 = 2.5 instead of 2): 69.25; 聚集水平 and
#               创新能力 at 75 %                                                   -> 入库型, none
#  济南产数园甲 10 + 20 + 18 + 22 + 12 + 6 = 88; 建设成效 at 50 %: three aspects      -> 成长型, 150
#  青岛产数园乙 50 (张明 0 and 王芳 2 on L3P1 average to the others' 1)              -> not recognised
EXPECTED = {
    "济南数字园甲": (95.0, "示范型", 200, 4),
    "青岛数字园乙": (69.25, "入库型", None, 2),
    "济南产数园甲": (88.0, "成长型", 150, 3),
    "青岛产数园乙": (50.0, None, None, 0),
}


def given(park: str, code: str, expert: str) -> float | None:
    """What ``expert`` gives ``park`` on ``code`` (None: not scored)."""
    _, ptype, share = PARKS[park]
    if park == "济南产数园甲" and code == "L2P10" and expert == "王芳":
        return 2  # not applicable to 产业数字化园区: reported, not counted
    if code not in POINTS[ptype]:
        return None
    if park == "青岛数字园乙" and code == "L6P1" and expert == "李强":
        return 40  # above the maximum 4: capped
    if park == "青岛产数园乙" and code == "L3P1" and expert in ("张明", "王芳"):
        return {"张明": 0, "王芳": 2}[expert]
    return POINTS[ptype][code] * share[code[:2]]


def _of(ptype: str) -> list[str]:
    return [p for p, (_, t, _) in PARKS.items() if t == ptype]


# ---------------------------------------------------------------------------------------- the four writers
def zhang(path: Path, stated: bool = True) -> None:
    """Parks as rows, a sheet per type named after it, a 分值 row under the codes."""
    wb = Workbook()
    wb.remove(wb.active)
    for ptype in (DIGITAL, INDUSTRIAL):
        ws = wb.create_sheet(ptype)
        codes = list(POINTS[ptype])
        ws.append([f"山东省省级数字经济园区评分表（{ptype}）"])
        ws.append(["评审专家：张明        评审日期：2024年9月12日"])
        ws.append(["序号", "园区名称", *codes, "合计"])
        if stated:
            ws.append([None, "分值", *[POINTS[ptype][c] for c in codes], 100])
        for i, park in enumerate(_of(ptype), 1):
            pts = [given(park, c, "张明") for c in codes]
            ws.append([i, park, *pts, sum(p or 0 for p in pts)])
    wb.save(path)


def wang(path: Path, stated: bool = True) -> None:
    """Indicators as rows, a sheet per type (the title says it), a 分值 column, — where not applicable."""
    wb = Workbook()
    wb.remove(wb.active)
    for ptype, sheet in ((DIGITAL, "数字产业化"), (INDUSTRIAL, "产业数字化")):
        ws = wb.create_sheet(sheet)
        parks = _of(ptype)
        ws.append([f"省级数字经济园区专家复核评分表—{ptype}"])
        ws.append(["专家签名：王芳"])
        ws.append(["一级指标", "指标编号", "指标名称", *(["分值"] if stated else []), *parks])
        start = 4
        for r, code in enumerate(CODES, start):
            first = r == start or CODES[r - start - 1][:2] != code[:2]
            points = [POINTS[ptype].get(code, "—")] if stated else []
            ws.append([GROUP_NAMES[code[:2]] if first else None, code, f"指标{code}", *points,
                       *[given(p, code, "王芳") for p in parks]])
        for group in GROUP_NAMES:  # the group name merged down its rows
            rows = [r for r, c in enumerate(CODES, start) if c.startswith(group)]
            ws.merge_cells(start_row=rows[0], end_row=rows[-1], start_column=1, end_column=1)
    wb.save(path)


def li(path: Path, stated: bool = True) -> None:
    """Parks as rows of one sheet for both types; two 分值 rows labelled with their type."""
    wb = Workbook()
    ws = wb.active
    ws.title = "评分"
    ws.append(["2024年省级数字经济园区认定专家评分汇总（专家：李强）"])
    ws.merge_cells(start_row=1, end_row=1, start_column=1, end_column=4 + len(CODES))
    groups: list[Any] = []
    for i, code in enumerate(CODES):
        groups.append(GROUP_NAMES[code[:2]] if i == 0 or CODES[i - 1][:2] != code[:2] else None)
    ws.append(["序号", "园区名称", "所在市", "园区类型", *groups])
    ws.append([None, None, None, None, *CODES])
    for col in range(1, 5):
        ws.merge_cells(start_row=2, end_row=3, start_column=col, end_column=col)
    if stated:
        for ptype in (DIGITAL, INDUSTRIAL):
            ws.append([None, f"分值（{ptype}）", None, None, *[POINTS[ptype].get(c, "/") for c in CODES]])
    for i, (park, (city, ptype, _)) in enumerate(sorted(PARKS.items()), 1):
        ws.append([i, park, city, ptype, *[given(park, c, "李强") for c in CODES]])
    wb.save(path)


def zhao(path: Path, stated: bool = True) -> None:
    """Indicators as rows of one sheet; 标准分 merged over one column per type, types below; each
    park's type under its name."""
    wb = Workbook()
    ws = wb.active
    ws.title = "专家打分"
    parks = list(PARKS)
    ws.append(["省级数字经济园区（试点）认定评审打分表"])
    ws.append(["评审专家：赵丽"])
    ws.append(["指标编号", "指标名称", *(["标准分", None] if stated else []), *parks])
    ws.append([None, None, *([DIGITAL, INDUSTRIAL] if stated else []), *[PARKS[p][1] for p in parks]])
    if stated:
        ws.merge_cells("C3:D3")
    for col in (1, 2):
        ws.merge_cells(start_row=3, end_row=4, start_column=col, end_column=col)
    for code in CODES:
        points = [TYPO[DIGITAL].get(code), TYPO[INDUSTRIAL].get(code)] if stated else []
        ws.append([code, f"指标{code}", *points, *[given(p, code, "赵丽") for p in parks]])
    ws.append(["合计", None, *([100, 100] if stated else [])])
    wb.save(path)


WRITERS = {"张明": zhang, "王芳": wang, "李强": li, "赵丽": zhao}
FILES = {"张明": "专家评分表_张明.xlsx", "王芳": "专家评分表_王芳.xlsx", "李强": "专家评分表_李强.xlsx",
         "赵丽": "专家评分表_赵丽.xlsx"}


def write_experts(folder: Path, stated: bool = True, experts: tuple[str, ...] = EXPERTS) -> list[Path]:
    out = []
    for expert in experts:
        path = folder / FILES[expert]
        WRITERS[expert](path, stated)
        out.append(path)
    return out


# ---------------------------------------------------------------------------------------- city summaries
SUMMARY_HEADERS = ["序号", "园区名称", "所在市", "园区类型", "运营管理机构", "统一社会信用代码", "光纤宽带或5G全覆盖",
                   "园区企业总数（家）", "上云企业数（家）", "使用省内云资源的企业数（家）", "数字产业相关企业数（家）",
                   "纳入统计范围的数字经济企业数（家）", "上年新增纳统企业数（家）", "龙头骨干企业数（家）",
                   "产业链上下游相关企业数（家）", "省部级及以上试点示范项目数（项）", "市级试点示范项目数（项）",
                   "高新技术企业主营业务收入（亿元）", "主导产业主营业务收入（亿元）", "省级以上研发机构数（个）",
                   "近三年主持或参与省部级以上项目数（个）", "近三年科技奖励及知识产权总数（项）",
                   "上年度研发投入总额（亿元）", "上年度销售收入总额（亿元）", "是否申请特色功能放宽", "是否符合“绿色门槛”"]


def write_summaries(folder: Path) -> list[Path]:
    """One summary per city; every park meets 第五条 (eligible)."""
    out = []
    for n, city in enumerate(("济南市", "青岛市")):
        wb = Workbook()
        ws = wb.active
        ws.title = "汇总表"
        ws.append([f"{city}省级数字经济园区申报汇总表"])
        ws.append(SUMMARY_HEADERS)
        for i, (park, (_, ptype, _)) in enumerate(((p, v) for p, v in PARKS.items() if v[0] == city), 1):
            digital = ptype == DIGITAL
            ws.append([i, park, city, ptype, f"{park}运营管理有限公司", make_uscc(100 * n + i), "是", 100, 80, 60,
                       60 if digital else "/", 20 if digital else "/", 3 if digital else "/",
                       "/" if digital else 3, "/" if digital else 30, 6, 2, 20, 100, 2, 8, 60,
                       6 if digital else 4, 100, "否", "是"])
        path = folder / f"园区_{city}_申报汇总表.xlsx"
        wb.save(path)
        out.append(path)
    return out
