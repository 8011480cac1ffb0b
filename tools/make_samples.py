"""Regenerate the sample inbox: fictional city summary workbooks (集群申报信息汇总表).

    python tools/make_samples.py samples/inbox        # what `make samples` runs

Every workbook is invented (names, organisations, people, numbers) and together the set covers
each quirk family of SPEC §2.1, one or two quirks per file.  `samples/README.md` lists every
file, its quirks and the status expected for each cluster, with the clause; keep both in step.

Output is deterministic: fixed data, fixed document dates, fixed zip timestamps and fixed file
modification times (so the resubmission and deadline logic see the same order on every run).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stdnum.cn import uscc

# ------------------------------------------------------------------------------ cell kinds


@dataclass(frozen=True)
class Pct:
    """A number stored as a fraction in a cell with a percent number format (0.035 → 3.5%)."""

    fraction: float
    num_format: str = "0.0%"


@dataclass(frozen=True)
class Formula:
    """A formula with the value Excel cached for it when it last calculated."""

    formula: str
    cached: float


@dataclass
class SheetSpec:
    name: str
    rows: list[list[Any]]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r0, c0, r1, c1
    title_rows: set[int] = field(default_factory=set)
    header_rows: set[int] = field(default_factory=set)
    note_rows: set[int] = field(default_factory=set)
    hidden_rows: set[int] = field(default_factory=set)
    hidden: bool = False
    widths: list[float] = field(default_factory=list)


DOC_DATE = dt.datetime(2024, 6, 26, 9, 0, 0)  # document properties of every generated workbook
BEIJING = dt.timezone(dt.timedelta(hours=8), "北京时间")  # file times are Beijing time on any machine
ZIP_DATE = (2024, 6, 26, 9, 0, 0)

# ------------------------------------------------------------------------------ credit codes


def _org_check(body: str) -> str:
    """GB 11714 check character of an 8-character organisation code body."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)

    def val(ch: str) -> int:
        return int(ch) if ch.isdigit() else ord(ch) - 55  # A=10 … Z=35

    c = 11 - sum(val(ch) * w for ch, w in zip(body, weights, strict=True)) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def make_uscc(kind: str, division: str, org_body: str) -> str:
    """A valid fictional 统一社会信用代码: kind (e.g. 52 民办非企业, 51 社会团体, 91 企业)."""
    base = kind + division + org_body + _org_check(org_body)
    assert len(base) == 17, base
    code = base + uscc.calc_check_digit(base)
    assert uscc.is_valid(code), code
    return code


def break_uscc(code: str) -> str:
    """The same code with two adjacent digits transposed (a typing error): check digit fails."""
    broken = code[:10] + code[11] + code[10] + code[12:]
    assert broken != code and not uscc.is_valid(broken), broken
    return broken


# ------------------------------------------------------------------------------ the clusters


def cluster(
    order: int,
    city: str,
    name: str,
    applicant: str,
    code: str,
    industry: str,
    revenue: float,
    leading: int,
    leader: int,
    backbone: int,
    national: int,
    provincial: int,
    ip: int | None,
    rd: float,
    sales: float,
    contact: str | None,
    phone: str | None,
    email: str | None,
    *,
    legal: bool = True,
    bad_credit: bool = False,
    incident: bool = False,
    remarks: str | None = None,
) -> dict[str, Any]:
    """One application with canonical values (amounts 亿元, ratio % from the two amounts)."""
    return {
        "city_order": order,
        "city": city,
        "name": name,
        "applicant": applicant,
        "applicant_uscc": code,
        "industry": industry,
        "revenue_total": revenue,
        "leading_firms": leading,
        "leader_firms": leader,
        "backbone_firms": backbone,
        "national_platforms": national,
        "provincial_platforms": provincial,
        "ip_total": ip,
        "rd_expense": rd,
        "sales_revenue": sales,
        "rd_ratio": round(rd / sales * 100, 2),
        "legal_person": legal,
        "bad_credit": bad_credit,
        "major_incident": incident,
        "contact": contact,
        "phone": phone,
        "email": email,
        "remarks": remarks,
    }


# The columns of attachment 2 as most cities print them: (canonical id, header text).
STANDARD_COLUMNS: list[tuple[str, str]] = [
    ("seq", "序号"),
    ("city_order", "推荐排序"),
    ("city", "所在市"),
    ("name", "集群名称"),
    ("applicant", "申报主体（集群管理运营机构/发展促进组织）"),
    ("applicant_uscc", "统一社会信用代码"),
    ("industry", "主导产业（主要申报方向）"),
    ("revenue_total", "集群数字产业相关规上企业年营业收入总额（亿元）"),
    ("leading_firms", "主导产业相关规上企业数量（家）"),
    ("leader_firms", "年营业收入10亿元以上领军企业数量（家）"),
    ("backbone_firms", "营业收入亿元以上骨干企业数量（家）"),
    ("national_platforms", "国家级创新平台数量（个）"),
    ("provincial_platforms", "省级创新平台数量（个）"),
    ("ip_total", "近三年科技奖励及知识产权（专利、软件著作权）总数（项）"),
    ("rd_expense", "规上企业上年度研发投入总额（亿元）"),
    ("sales_revenue", "规上企业上年度销售收入总额（亿元）"),
    ("rd_ratio", "研发投入占销售收入比重（%）"),
    ("legal_person", "是否具有独立法人资格"),
    ("bad_credit", "有无不良信用记录"),
    ("major_incident", "近三年是否发生特别重大、重大生产安全事故或突发环境事件"),
    ("contact", "联系人"),
    ("phone", "联系电话"),
    ("email", "邮箱"),
    ("remarks", "备注"),
]
STD = dict(STANDARD_COLUMNS)

AMOUNTS = ("revenue_total", "rd_expense", "sales_revenue")
COUNTS = ("leading_firms", "leader_firms", "backbone_firms", "national_platforms",
          "provincial_platforms", "ip_total")

NOTES = [
    "填表说明：1.金额单位为亿元，保留两位小数；2.“推荐排序”按本市推荐优先顺序填写，济南市、青岛市最多推荐3个，"
    "其他市最多推荐2个；3.研发投入占比=规上企业上年度研发投入总额/销售收入总额；4.是否类指标填写“是”或“否”。",
]


def default_cell(rec: dict[str, Any], key: str, index: int) -> Any:
    """The value a careful clerk types: 是/否, 有/无, numbers as numbers."""
    if key == "seq":
        return index + 1
    value = rec.get(key)
    if key == "bad_credit":
        return "有" if value else "无"
    if isinstance(value, bool):
        return "是" if value else "否"
    return value


def total_row(label: str, columns: list[str], records: list[dict[str, Any]],
              formula_rows: tuple[int, int] | None = None) -> list[Any]:
    """A 合计/小计 row: sums of amounts and counts (as SUM formulas with cached values when
    ``formula_rows`` gives the 1-based first and last data row)."""
    from xlsxwriter.utility import xl_col_to_name

    row: list[Any] = []
    for c, key in enumerate(columns):
        if c == 0:
            row.append(label)
        elif key in AMOUNTS or key in COUNTS:
            total = round(sum(r[key] for r in records), 2)
            if formula_rows:
                col = xl_col_to_name(c)
                row.append(Formula(f"=SUM({col}{formula_rows[0]}:{col}{formula_rows[1]})", total))
            else:
                row.append(total)
        else:
            row.append(None)
    return row


def table_sheet(
    name: str,
    columns: list[tuple[str, str]],
    records: list[dict[str, Any]],
    *,
    title: str | None = None,
    above: Iterable[str] = (),
    cell: Callable[[dict[str, Any], str, int], Any] = default_cell,
    header: list[list[Any]] | None = None,
    header_merges: Iterable[tuple[int, int, int, int]] = (),
    total: str | None = None,
    total_formulas: bool = False,
    below: Iterable[str] = (),
    blank_after_title: bool = False,
) -> SheetSpec:
    """A summary sheet: title, lines above, header (one or more rows), data, total, notes."""
    n = len(columns)
    sheet = SheetSpec(name=name, rows=[])

    def full_width_line(text: str, kind: set[int]) -> None:
        r = len(sheet.rows)
        sheet.rows.append([text] + [None] * (n - 1))
        sheet.merges.append((r, 0, r, n - 1))
        kind.add(r)

    if title:
        full_width_line(title, sheet.title_rows)
    for line in above:
        full_width_line(line, sheet.note_rows)
    if blank_after_title:
        sheet.rows.append([None] * n)
    first_header = len(sheet.rows)
    for hrow in header or [[h for _, h in columns]]:
        sheet.header_rows.add(len(sheet.rows))
        sheet.rows.append(list(hrow))
    sheet.merges.extend((r0 + first_header, c0, r1 + first_header, c1) for r0, c0, r1, c1 in header_merges)
    first_data = len(sheet.rows)
    keys = [k for k, _ in columns]
    for i, rec in enumerate(records):
        sheet.rows.append([cell(rec, k, i) for k in keys])
    if total:
        span = (first_data + 1, first_data + len(records)) if total_formulas else None
        sheet.rows.append(total_row(total, keys, records, span))
    for line in below:
        full_width_line(line, sheet.note_rows)
    sheet.widths = [_width(h) for _, h in columns]
    return sheet


def _width(header: str) -> float:
    return max(6.0, min(28.0, len(header) * 1.6))


# ------------------------------------------------------------------------------ writers


def write_xlsx(path: Path, sheets: list[SheetSpec], *, active: int | None = None) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
    wb.set_properties({"title": path.stem, "author": "市工业和信息化局", "created": DOC_DATE,
                       "company": ""})
    base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter"}
    f_title = wb.add_format({**base, "bold": True, "font_size": 16, "align": "center",
                             "font_name": "方正小标宋简体"})
    f_note = wb.add_format({**base, "text_wrap": True, "align": "left"})
    f_head = wb.add_format({**base, "bold": True, "border": 1, "text_wrap": True, "align": "center",
                            "bg_color": "#D9E1F2"})
    f_cell = wb.add_format({**base, "border": 1, "text_wrap": True})
    f_num = wb.add_format({**base, "border": 1, "num_format": "0.00"})
    f_int = wb.add_format({**base, "border": 1, "num_format": "0"})
    pct_formats: dict[str, Any] = {}
    for spec in sheets:
        ws = wb.add_worksheet(spec.name)
        if spec.hidden:
            ws.hide()
        for c, w in enumerate(spec.widths):
            ws.set_column(c, c, w)
        merged_cells = {(r0, c0): (r1, c1) for r0, c0, r1, c1 in spec.merges}
        covered = {(r, c) for r0, c0, r1, c1 in spec.merges for r in range(r0, r1 + 1)
                   for c in range(c0, c1 + 1) if (r, c) != (r0, c0)}
        for r, row in enumerate(spec.rows):
            if r in spec.title_rows:
                fmt = f_title
                ws.set_row(r, 30)
            elif r in spec.note_rows:
                fmt = f_note
                ws.set_row(r, 36 if len(str(row[0] or "")) > 60 else None)
            elif r in spec.header_rows:
                fmt = f_head
                ws.set_row(r, 48)
            else:
                fmt = f_cell
            if r in spec.hidden_rows:
                ws.set_row(r, None, None, {"hidden": True})
            for c, value in enumerate(row):
                if (r, c) in covered:
                    continue
                if (r, c) in merged_cells:
                    r1, c1 = merged_cells[(r, c)]
                    ws.merge_range(r, c, r1, c1, "", fmt)
                _write_xlsx_cell(ws, wb, r, c, value, fmt, f_num, f_int, pct_formats,
                                 plain=r in spec.title_rows | spec.note_rows | spec.header_rows)
    if active is not None:
        wb.worksheets()[active].activate()
    wb.close()


def _write_xlsx_cell(ws: Any, wb: Any, r: int, c: int, value: Any, fmt: Any, f_num: Any, f_int: Any,
                     pct_formats: dict[str, Any], *, plain: bool) -> None:
    if value is None:
        ws.write_blank(r, c, None, fmt)
    elif isinstance(value, Pct):
        if value.num_format not in pct_formats:
            pct_formats[value.num_format] = wb.add_format(
                {"font_name": "宋体", "font_size": 10, "border": 1, "num_format": value.num_format})
        ws.write_number(r, c, value.fraction, pct_formats[value.num_format])
    elif isinstance(value, Formula):
        ws.write_formula(r, c, value.formula, f_num, value.cached)
    elif isinstance(value, bool):
        ws.write_string(r, c, "是" if value else "否", fmt)
    elif isinstance(value, int):
        ws.write_number(r, c, value, fmt if plain else f_int)
    elif isinstance(value, float):
        ws.write_number(r, c, value, fmt if plain else f_num)
    else:
        ws.write_string(r, c, str(value), fmt)


def write_xls(path: Path, sheets: list[SheetSpec]) -> None:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    st_title = xlwt.easyxf("font: name 宋体, bold on, height 320; align: horiz center, vert center")
    st_note = xlwt.easyxf("font: name 宋体, height 200; align: wrap on, vert center")
    st_head = xlwt.easyxf("font: name 宋体, bold on, height 200; align: wrap on, horiz center, vert center;"
                          "borders: left thin, right thin, top thin, bottom thin;"
                          "pattern: pattern solid, fore_colour pale_blue")
    st_cell = xlwt.easyxf("font: name 宋体, height 200; align: wrap on, vert center;"
                          "borders: left thin, right thin, top thin, bottom thin")
    for spec in sheets:
        ws = wb.add_sheet(spec.name)
        if spec.hidden:
            ws.visibility = 1
        for c, w in enumerate(spec.widths):
            ws.col(c).width = int(w * 256)
        merged = {(r0, c0): (r1, c1) for r0, c0, r1, c1 in spec.merges}
        covered = {(r, c) for r0, c0, r1, c1 in spec.merges for r in range(r0, r1 + 1)
                   for c in range(c0, c1 + 1) if (r, c) != (r0, c0)}
        for r, row in enumerate(spec.rows):
            style = (st_title if r in spec.title_rows else st_note if r in spec.note_rows
                     else st_head if r in spec.header_rows else st_cell)
            if r in spec.hidden_rows:
                ws.row(r).hidden = True
            for c, value in enumerate(row):
                if (r, c) in covered:
                    continue
                if isinstance(value, (Pct, Formula)):
                    raise ValueError("the .xls sample keeps to plain values")
                out = "" if value is None else value
                if (r, c) in merged:
                    r1, c1 = merged[(r, c)]
                    ws.write_merge(r, r1, c, c1, out, style)
                else:
                    ws.write(r, c, out, style)
    wb.save(str(path))


def write_csv(path: Path, sheet: SheetSpec, encoding: str) -> None:
    """As Excel's 另存为 CSV writes it: merged text in the first cell, CRLF line ends."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    for row in sheet.rows:
        writer.writerow(["" if v is None else _csv_text(v) for v in row])
    path.write_bytes(buf.getvalue().encode(encoding))


def _csv_text(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (Pct, Formula)):
        raise ValueError("CSV keeps values only")
    return str(value)


def write_ods(path: Path, sheets: list[SheetSpec]) -> None:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.style import Style, TableColumnProperties, TextProperties
    from odf.table import CoveredTableCell, Table, TableCell, TableColumn, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    bold = Style(name="Bold", family="paragraph")
    bold.addElement(TextProperties(fontweight="bold"))
    doc.automaticstyles.addElement(bold)
    for spec in sheets:
        table = Table(name=spec.name)
        for c, w in enumerate(spec.widths):
            colstyle = Style(name=f"co{c}", family="table-column")
            colstyle.addElement(TableColumnProperties(columnwidth=f"{w * 0.2:.1f}cm"))
            doc.automaticstyles.addElement(colstyle)
            table.addElement(TableColumn(stylename=colstyle))
        merged = {(r0, c0): (r1, c1) for r0, c0, r1, c1 in spec.merges}
        covered = {(r, c) for r0, c0, r1, c1 in spec.merges for r in range(r0, r1 + 1)
                   for c in range(c0, c1 + 1) if (r, c) != (r0, c0)}
        for r, row in enumerate(spec.rows):
            tr = TableRow()
            for c, value in enumerate(row):
                if (r, c) in covered:
                    tr.addElement(CoveredTableCell())
                    continue
                attrs: dict[str, Any] = {}
                if (r, c) in merged:
                    r1, c1 = merged[(r, c)]
                    attrs = {"numbercolumnsspanned": c1 - c + 1, "numberrowsspanned": r1 - r + 1}
                if value is None:
                    tc = TableCell(**attrs)
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    tc = TableCell(valuetype="float", value=value, **attrs)
                    tc.addElement(P(text=str(value)))
                else:
                    tc = TableCell(valuetype="string", **attrs)
                    p = P(text=str(value))
                    if r in spec.header_rows or r in spec.title_rows:
                        p = P(text=str(value), stylename=bold)
                    tc.addElement(p)
                tr.addElement(tc)
            table.addElement(tr)
        doc.spreadsheet.addElement(table)
    doc.save(str(path))
    _fix_zip(path)


def _fix_zip(path: Path, replace: dict[str, tuple[bytes, bytes]] | None = None) -> None:
    """Rewrite a zip with fixed member timestamps (and optional byte replacements)."""
    with zipfile.ZipFile(path) as zin:
        members = [(info, zin.read(info.filename)) for info in zin.infolist()]
    with zipfile.ZipFile(path, "w") as zout:
        for info, data in members:
            if replace and info.filename in replace:
                old, new = replace[info.filename]
                assert old in data, (info.filename, old)
                data = data.replace(old, new)
            zi = zipfile.ZipInfo(info.filename, ZIP_DATE)
            zi.compress_type = info.compress_type
            zi.external_attr = info.external_attr
            zout.writestr(zi, data)


def make_xlsm(path: Path, sheets: list[SheetSpec]) -> None:
    """A workbook saved as 启用宏的工作簿 (.xlsm) without macros, as Excel writes it."""
    write_xlsx(path, sheets)
    _fix_zip(path, {"[Content_Types].xml": (
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")})


# ------------------------------------------------------------------------------ the samples
# Each builder returns {file name: writer}; writers take the target path.

Writer = Callable[[Path], None]
SAMPLES: dict[str, Writer] = {}
CLUSTERS: dict[str, list[dict[str, Any]]] = {}  # file name -> the clusters it holds (for tests/README)
MTIMES: dict[str, dt.datetime] = {}  # file name -> when the city's e-mail was saved to the inbox


def sample(name: str, received: dt.datetime, clusters: list[dict[str, Any]] | None = None):
    def register(fn: Writer) -> Writer:
        SAMPLES[name] = fn
        MTIMES[name] = received
        CLUSTERS[name] = clusters or []
        return fn

    return register


def _cols(*drop: str, rename: dict[str, str] | None = None) -> list[tuple[str, str]]:
    rename = rename or {}
    return [(k, rename.get(k, h)) for k, h in STANDARD_COLUMNS if k not in drop]


# 1. 济南: clean, title row, units in headers, 合计 row, 填表说明 below; one row from 莱芜.
JINAN = [
    cluster(1, "济南市", "泉城智算产业集群", "济南泉城数字产业发展促进中心",
            make_uscc("52", "370102", "MA3P7K2C"), "先进计算",
            186.4, 42, 3, 11, 2, 7, 2136, 7.45, 172.5,
            "王晓东", "0531-86012345", "qczs_cluster@163.com"),
    cluster(2, "济南市", "齐鲁软件园高端软件产业集群", "济南高新区软件产业促进会",
            make_uscc("51", "370112", "MJ0E3T8A"), "高端软件",
            412.8, 136, 6, 28, 3, 15, 5820, 31.2, 398.0,
            "刘敏", "0531-88876543", "qlsoft_assoc@126.com"),
    cluster(3, "莱芜市", "莱芜新型电子材料产业集群", "济南市莱芜区电子材料产业发展服务中心",
            make_uscc("52", "370116", "MJ1F4U9B"), "新型电子材料",
            63.5, 24, 1, 5, 0, 4, 1124, 2.08, 61.2,
            "陈亮", "0531-76221890", "lwdzcl@163.com", remarks="原莱芜市辖区"),
]


@sample("济南市数字产业集群申报信息汇总表.xlsx", dt.datetime(2024, 6, 26, 15, 12, tzinfo=BEIJING), JINAN)
def jinan(path: Path) -> None:
    sheet = table_sheet(
        "汇总表", STANDARD_COLUMNS, JINAN,
        title="济南市数字产业集群申报信息汇总表",
        above=["填报单位（盖章）：济南市工业和信息化局                    填报日期：2024年6月26日"],
        total="合计",
        below=NOTES + ["联系人：王晓东    联系电话：0531-86012345"],
    )
    write_xlsx(path, [sheet])


# 2. 青岛: two-row merged header, 推荐排序 shuffled (4 for a quota of 3), AI below 50 亿元.
QINGDAO = [
    cluster(2, "青岛市", "青岛崂山虚拟现实产业集群", "青岛崂山虚拟现实产业发展促进会",
            make_uscc("51", "370212", "MJ2G5W0C"), "虚拟现实",
            78.6, 31, 2, 7, 1, 5, 1386, 4.9, 74.2,
            "赵婷", "0532-8588", "lsvr@163.com", remarks="联系电话待补充"),
    cluster(4, "青岛市", "青岛智能家电数字终端产业集群", "青岛市数字终端产业集群促进中心",
            make_uscc("52", "370203", "MJ3H6X1D"), "数字终端",
            520.3, 88, 5, 21, 4, 12, 4310, 18.6, 505.0,
            "孙浩", "0532-66781234", "qdterminal@126.com"),
    cluster(1, "青岛市", "青岛西海岸集成电路产业集群", "青岛西海岸新区集成电路产业促进会",
            make_uscc("51", "370211", "MJ4J7Y2E"), "集成电路",
            96.3, 27, 2, 6, 1, 4, 1542, 8.1, 90.0,
            "李娜", "0532-86907788", "xhaic@163.com"),
    cluster(3, "青岛市", "青岛人工智能产业集群", "青岛市人工智能产业发展促进中心",
            make_uscc("52", "370214", "MJ5K8A3F"), "人工智能",
            42.7, 23, 1, 4, 1, 6, 1210, 3.3, 40.5,
            "周强", "0532-55012399", "qdai_center@126.com"),
]

QD_TOP = ["序号", "推荐排序", "所在市", "集群名称", "申报主体（集群管理运营机构/发展促进组织）", "统一社会信用代码",
          "主导产业（主要申报方向）", "规模效益", None, "产业链条", None, "创新能力", None, None, None, None, None,
          "申报主体资格", None, "近三年是否发生特别重大、重大生产安全事故或突发环境事件", "联系方式", None, None, "备注"]
QD_SUB = [None] * 7 + ["年营业收入总额（亿元）", "主导产业规上企业数（家）", "领军企业（家）", "骨干企业（家）",
                       "国家级创新平台（个）", "省级创新平台（个）", "科技奖励及知识产权总数（项）",
                       "研发投入总额（亿元）", "销售收入总额（亿元）", "研发投入占比（%）",
                       "独立法人资格", "不良信用记录", None, "联系人", "联系电话", "邮箱", None]
QD_MERGES = ([(0, c, 1, c) for c in (0, 1, 2, 3, 4, 5, 6, 19, 23)]
             + [(0, 7, 0, 8), (0, 9, 0, 10), (0, 11, 0, 16), (0, 17, 0, 18), (0, 20, 0, 22)])


@sample("青岛市数字产业集群申报信息汇总表.xlsx", dt.datetime(2024, 6, 27, 10, 40, tzinfo=BEIJING), QINGDAO)
def qingdao(path: Path) -> None:
    sheet = table_sheet("Sheet1", STANDARD_COLUMNS, QINGDAO, title="青岛市数字产业集群申报信息汇总表",
                        header=[QD_TOP, QD_SUB], header_merges=QD_MERGES)
    write_xlsx(path, [sheet])


# 3. 淄博 (.xls): amounts in 万元, numbers stored as text with thousands separators; the city
#    only in the title (the file is named 附件2…).
ZIBO = [
    cluster(1, "淄博市", "淄博新型电子材料产业集群", "淄博高新区新型电子材料产业发展促进会",
            make_uscc("51", "370303", "MJ6L9B4G"), "新型电子材料",
            128.6, 46, 4, 13, 2, 9, 2380, 4.128, 115.2,
            "高峰", "0533-3587201", "zbdzcl@163.com"),
    cluster(2, "淄博市", "淄博功率半导体集成电路产业集群", "淄博市集成电路产业发展促进中心",
            make_uscc("52", "370303", "MJ7M0C5H"), "集成电路",
            32.5, 21, 1, 4, 1, 3, 1152, 1.365, 31.0,
            "韩雪", "13905331122", "zbic_center@126.com"),
]


def _wan_text(value: float) -> str:
    """亿元 → 万元 written as text with thousands separators (`1,286,000`)."""
    return f"{round(value * 10000):,}"


def zibo_cell(rec: dict[str, Any], key: str, i: int) -> Any:
    if key in AMOUNTS:
        return _wan_text(rec[key])
    if key in COUNTS:
        return f"{rec[key]:,}"
    if key == "rd_ratio":
        return f"{rec[key]:.2f}"
    return default_cell(rec, key, i)


@sample("附件2 数字产业集群申报信息汇总表.xls", dt.datetime(2024, 6, 27, 16, 5, tzinfo=BEIJING), ZIBO)
def zibo(path: Path) -> None:
    cols = _cols("city", rename={k: STD[k].replace("（亿元）", "（万元）") for k in AMOUNTS})
    sheet = table_sheet("Sheet1", cols, ZIBO, title="淄博市数字产业集群申报信息汇总表", cell=zibo_cell,
                        below=["填表说明：金额单位为万元。"])
    write_xls(path, [sheet])


# 4. 烟台 (.csv, GBK): 是/否, 有/无, √; city written as 烟台.
YANTAI = [
    cluster(1, "烟台", "烟台空天信息产业集群", "烟台市空天信息产业发展促进会",
            make_uscc("51", "370613", "MJ8N1D6J"), "空天信息",
            58.3, 22, 1, 4, 1, 3, 1047, 2.61, 56.8,
            "杨帆", "0535-6923456", "ytkt@163.com"),
    cluster(2, "烟台", "烟台能源电子产业集群", "烟台经济技术开发区能源电子产业促进中心",
            make_uscc("52", "370671", "MJ9P2E7K"), "能源电子",
            134.2, 17, 3, 9, 1, 6, 1875, 5.4, 128.6,
            "吴刚", "0535-2101888", "ytnydz@126.com", remarks="规上企业17家，另有规下企业32家"),
]


def yantai_cell(rec: dict[str, Any], key: str, i: int) -> Any:
    if key == "legal_person":
        return "√" if rec[key] else ""
    return default_cell(rec, key, i)


@sample("烟台市数字产业集群申报信息汇总表.csv", dt.datetime(2024, 6, 27, 9, 30, tzinfo=BEIJING), YANTAI)
def yantai(path: Path) -> None:
    sheet = table_sheet("烟台", STANDARD_COLUMNS, YANTAI, title="烟台市数字产业集群申报信息汇总表",
                        cell=yantai_cell, below=["填表说明：符合条件的在“是否具有独立法人资格”栏打√。"])
    write_csv(path, sheet, "gbk")


# 5. 日照 (.csv, UTF-8 with BOM): full-width digits and punctuation (３．５％, １，２０６); sent twice
#    (an exact duplicate under another name).
RIZHAO = [
    cluster(1, "日照市", "日照云服务大数据产业集群", "日照市大数据产业发展促进中心",
            make_uscc("52", "371102", "MJA0Q3F8"), "云服务大数据",
            68.4, 26, 1, 5, 1, 4, 1206, 2.24, 64.0,
            "徐丽", "0633-8776655", "rzbigdata@163.com"),
    cluster(2, "日照市", "日照智能终端产业集群", "日照经济技术开发区智能终端产业促进会",
            make_uscc("51", "371171", "MJB1R4G9"), "数字终端",
            52.1, 20, 1, 3, 0, 3, 1003, 1.6, 50.0,
            "马骏", "0633-2209876", "rzznzd@126.com"),
]

_FW = str.maketrans("0123456789.,%-", "０１２３４５６７８９．，％－")


def rizhao_cell(rec: dict[str, Any], key: str, i: int) -> Any:
    value = default_cell(rec, key, i)
    if key == "rd_ratio":
        return f"{rec[key]:.1f}%".translate(_FW)
    if key in AMOUNTS:
        return f"{value}".translate(_FW)
    if key in COUNTS or key == "seq":
        return f"{value:,}".translate(_FW)
    return value


@sample("日照市数字产业集群申报信息汇总表.csv", dt.datetime(2024, 6, 25, 11, 0, tzinfo=BEIJING), RIZHAO)
def rizhao(path: Path) -> None:
    sheet = table_sheet("日照", STANDARD_COLUMNS, RIZHAO, title="日照市数字产业集群申报信息汇总表",
                        cell=rizhao_cell)
    write_csv(path, sheet, "utf-8-sig")


@sample("日照市数字产业集群申报信息汇总表(1).csv", dt.datetime(2024, 6, 25, 11, 2, tzinfo=BEIJING))
def rizhao_again(path: Path) -> None:
    rizhao(path)


# 6. 临沂: the city only in 填报单位：临沂市工业和信息化局 (neutral title and file name); `AI`;
#    a blank written `/` in a needed value.
LINYI = [
    cluster(1, "临沂市", "临沂智慧物流人工智能产业集群", "临沂市人工智能产业发展促进中心",
            make_uscc("52", "371302", "MJC2T5H0"), "AI",
            71.9, 29, 2, 6, 1, 5, 1318, 2.9, 69.0,
            "郑凯", "0539-8123456", "lyai@163.com"),
    cluster(2, "临沂市", "临沂磁电材料产业集群", "临沂市磁性电子材料行业协会",
            make_uscc("51", "371312", "MJD3U6J1"), "新型电子材料",
            88.2, 33, 2, 8, 1, 4, None, 3.0, 85.0,
            "冯燕", "0539-7011234", "lycdcl@126.com", remarks="知识产权数据正在核实"),
]


def linyi_cell(rec: dict[str, Any], key: str, i: int) -> Any:
    if key == "ip_total" and rec["name"] == "临沂磁电材料产业集群":
        return "/"
    return default_cell(rec, key, i)


@sample("附件2-山东省数字产业集群申报信息汇总表（盖章）.xlsx", dt.datetime(2024, 6, 28, 11, 20, tzinfo=BEIJING), LINYI)
def linyi(path: Path) -> None:
    sheet = table_sheet("申报信息汇总表", _cols("city"), LINYI, title="山东省数字产业集群申报信息汇总表",
                        above=["填报单位：临沂市工业和信息化局（盖章）", "填报时间：2024年6月28日"],
                        cell=linyi_cell, blank_after_title=True,
                        below=["填表说明：无相关数据的填“/”。"])
    write_xlsx(path, [sheet])


# 7. 济宁: R&D ratio as `3.5%` text, 0.042 in a `0.0%` cell and 3.1 plain; IP split into
#    科技奖励 / 专利 / 软件著作权 (no total); no 推荐排序 column (row order, 3 rows for a quota of 2).
JINING = [
    cluster(1, "济宁市", "济宁工业软件高端软件产业集群", "济宁高新区高端软件产业促进会",
            make_uscc("51", "370811", "MJE4W7K2"), "高端软件",
            101.5, 38, 2, 9, 1, 6, 1293, 3.36, 96.0,
            "褚明", "0537-2345678", "jnsoft@163.com"),
    cluster(2, "济宁市", "济宁能源电子产业集群", "济宁市能源电子产业发展促进中心",
            make_uscc("52", "370811", "MJF5X8L3"), "能源电子",
            156.0, 41, 3, 10, 2, 5, 1660, 6.3, 150.0,
            "卫东", "0537-3456789", "jnnydz@126.com"),
    cluster(3, "济宁市", "济宁云服务大数据产业集群", "济宁市大数据产业发展促进会",
            make_uscc("51", "370883", "MJG6Y9M4"), "云服务大数据",
            60.4, 21, 1, 3, 1, 3, 1012, 1.8, 58.0,
            "蒋琳", "0537-4567890", "jndsj@163.com"),
]
JINING_IP = {  # 科技奖励, 专利, 软件著作权
    "济宁工业软件高端软件产业集群": (36, 412, 845),
    "济宁能源电子产业集群": (28, 1398, 234),
    "济宁云服务大数据产业集群": (11, 305, 696),
}
for _rec in JINING:
    assert sum(JINING_IP[_rec["name"]]) == _rec["ip_total"]


def jining_cell(rec: dict[str, Any], key: str, i: int) -> Any:
    parts = JINING_IP[rec["name"]]
    if key in ("ip_awards", "ip_patents", "ip_software"):
        return parts[("ip_awards", "ip_patents", "ip_software").index(key)]
    if key == "rd_ratio":
        return ["3.5%", Pct(0.042), 3.1][i]
    return default_cell(rec, key, i)


@sample("济宁市数字产业集群申报信息汇总表.xlsx", dt.datetime(2024, 6, 26, 17, 45, tzinfo=BEIJING), JINING)
def jining(path: Path) -> None:
    cols: list[tuple[str, str]] = []
    for k, h in _cols("city_order"):
        if k == "ip_total":
            cols += [("ip_awards", "近三年科技奖励（项）"), ("ip_patents", "近三年专利（项）"),
                     ("ip_software", "近三年软件著作权（项）")]
        else:
            cols.append((k, h))
    sheet = table_sheet("汇总表", cols, JINING, title="济宁市数字产业集群申报信息汇总表", cell=jining_cell)
    write_xlsx(path, [sheet])


# 8. 威海: 填表说明 sheet before the data sheet, a hidden sheet of junk, a hidden row; blanks
#    written /, —, 无, 空; a major incident (三(七)) and a mistyped credit code (二).
WEIHAI = [
    cluster(1, "威海市", "威海智能终端产业集群", "威海市智能终端产业发展促进会",
            make_uscc("51", "371002", "MJH7A0N5"), "数字终端",
            92.7, 35, 2, 8, 1, 5, 1436, 3.4, 88.0,
            "秦川", "0631-5201234", None, incident=True, remarks="2023年集群内一家配套企业发生重大生产安全事故，已整改"),
    cluster(2, "威海市", "威海空天信息产业集群", "威海市空天信息产业发展服务中心",
            break_uscc(make_uscc("52", "371002", "MJJ8B1P6")), "空天信息",
            55.6, 20, 1, 3, 1, 3, 1030, 1.75, 54.0,
            None, "0631-3812345", "whkt@163.com"),
    cluster(3, "威海市", "威海高端软件产业集群", "威海火炬高技术产业开发区软件产业促进会",
            make_uscc("51", "371091", "MJK9C2Q7"), "高端软件",
            61.0, 24, 1, 4, 1, 4, 1120, 2.2, 60.0,
            "尤佳", "0631-5627890", "whsoft@126.com"),
]
WEIHAI_BLANKS = {  # (cluster order, field) -> how the clerk wrote "nothing"
    (1, "email"): "—",
    (2, "contact"): "空",
    (2, "remarks"): "无",
    (3, "remarks"): "/",
}


def weihai_cell(rec: dict[str, Any], key: str, i: int) -> Any:
    if (rec["city_order"], key) in WEIHAI_BLANKS:
        return WEIHAI_BLANKS[(rec["city_order"], key)]
    return default_cell(rec, key, i)


@sample("威海市数字产业集群申报信息汇总表.xlsx", dt.datetime(2024, 6, 27, 14, 18, tzinfo=BEIJING), WEIHAI)
def weihai(path: Path) -> None:
    guide = SheetSpec(name="填表说明", rows=[
        ["填表说明"],
        ["1. 每个集群填写一行，按推荐顺序填写“推荐排序”。"],
        ["2. 金额单位为亿元；数量单位为家、个、项。"],
        ["3. 无相关内容的，填写“/”或“无”。"],
        ["4. 本表需加盖市工业和信息化局公章后扫描报送。"],
    ], title_rows={0}, widths=[80])
    junk = table_sheet("旧版（勿用）", STANDARD_COLUMNS, [
        cluster(1, "威海市", "（草稿）威海海洋信息产业集群", "待定",
                "XXXXXXXXXXXXXXXXXX", "待定", 12.0, 3, 0, 0, 0, 0, 10, 0.1, 10.0,
                "测试", "123", "test"),
    ], title="威海市数字产业集群申报信息汇总表（旧版草稿）")
    junk.hidden = True
    data = table_sheet("汇总表", STANDARD_COLUMNS, WEIHAI, title="威海市数字产业集群申报信息汇总表",
                       above=["填报单位：威海市工业和信息化局"], cell=weihai_cell, blank_after_title=True)
    hidden_row = max(r for r in range(len(data.rows)) if data.rows[r][3] == "威海高端软件产业集群")
    data.hidden_rows.add(hidden_row)
    write_xlsx(path, [guide, junk, data], active=2)


# 9. 德州 (.ods): city written 德州, industries 云计算与大数据 / 集成电路（IC）, an extra column 所在园区;
#    one R&D ratio left empty (derived from the two amounts).
DEZHOU = [
    cluster(1, "德州", "德州云计算大数据产业集群", "德州市云计算大数据产业发展促进中心",
            make_uscc("52", "371402", "MJL0D3R8"), "云计算与大数据",
            73.8, 28, 1, 5, 1, 3, 1105, 2.4, 70.0,
            "何静", "0534-2678901", "dzyun@163.com"),
    cluster(2, "德州", "德州集成电路产业集群", "德州经济技术开发区集成电路产业促进会",
            make_uscc("51", "371471", "MJM1E4T9"), "集成电路（IC）",
            51.2, 20, 1, 2, 1, 3, 1036, 2.0, 50.0,
            "施磊", "0534-5123456", "dzic@126.com"),
]
DEZHOU_PARKS = {1: "德州数字经济产业园", 2: "德州经济技术开发区"}


@sample("德州数字产业集群申报信息汇总表.ods", dt.datetime(2024, 6, 28, 9, 5, tzinfo=BEIJING), DEZHOU)
def dezhou(path: Path) -> None:
    cols: list[tuple[str, str]] = []
    for k, h in STANDARD_COLUMNS:
        cols.append((k, h))
        if k == "name":
            cols.append(("park", "所在园区"))

    def cell(rec: dict[str, Any], key: str, i: int) -> Any:
        if key == "park":
            return DEZHOU_PARKS[rec["city_order"]]
        if key == "rd_ratio" and rec["city_order"] == 1:
            return None  # left empty: derived from 研发投入 / 销售收入
        return default_cell(rec, key, i)

    sheet = table_sheet("汇总表", cols, DEZHOU, title="德州市数字产业集群申报信息汇总表", cell=cell)
    write_ods(path, [sheet])


# 10. 潍坊: a resubmission (更正) that changes one value; R&D ratio as formulas with cached values.
def weifang_clusters(ip_second: int) -> list[dict[str, Any]]:
    return [
        cluster(1, "潍坊市", "潍坊虚拟现实产业集群", "潍坊市虚拟现实产业发展促进中心",
                make_uscc("52", "370705", "MJN2F5U0"), "虚拟现实",
                286.5, 52, 4, 14, 2, 8, 3265, 15.6, 272.0,
                "许诺", "0536-8191234", "wfvr@163.com"),
        cluster(2, "潍坊市", "潍坊智能声学数字终端产业集群", "潍坊高新区智能声学产业促进会",
                make_uscc("51", "370705", "MJP3G6W1"), "数字终端",
                118.9, 31, 2, 7, 1, 4, ip_second, 4.2, 112.0,
                "吕涛", "0536-8876543", "wfsx@126.com"),
    ]


WEIFANG_OLD = weifang_clusters(960)
WEIFANG_NEW = weifang_clusters(1096)


def weifang_sheet(records: list[dict[str, Any]], date: str) -> SheetSpec:
    from xlsxwriter.utility import xl_col_to_name

    keys = [k for k, _ in STANDARD_COLUMNS]
    rd_col, sales_col = xl_col_to_name(keys.index("rd_expense")), xl_col_to_name(keys.index("sales_revenue"))
    first = 4  # 1-based row of the first cluster: title, 填报单位, header, then data

    def cell(rec: dict[str, Any], key: str, i: int) -> Any:
        if key == "rd_ratio":
            row = first + i
            return Formula(f"=ROUND({rd_col}{row}/{sales_col}{row}*100,2)", rec["rd_ratio"])
        return default_cell(rec, key, i)

    return table_sheet("汇总表", STANDARD_COLUMNS, records, title="潍坊市数字产业集群申报信息汇总表",
                       above=[f"填报单位：潍坊市工业和信息化局    日期：{date}"], cell=cell,
                       total="合计", total_formulas=True)


@sample("潍坊市数字产业集群申报信息汇总表.xlsx", dt.datetime(2024, 6, 24, 16, 30, tzinfo=BEIJING), WEIFANG_OLD)
def weifang(path: Path) -> None:
    write_xlsx(path, [weifang_sheet(WEIFANG_OLD, "2024年6月24日")])


@sample("潍坊市数字产业集群申报信息汇总表（更正）.xlsx", dt.datetime(2024, 6, 27, 11, 15, tzinfo=BEIJING), WEIFANG_NEW)
def weifang_corrected(path: Path) -> None:
    write_xlsx(path, [weifang_sheet(WEIFANG_NEW, "2024年6月27日")])


# 11. 泰安: the city only in the file name; a 小计 row of SUM formulas with cached values.
TAIAN = [
    cluster(1, "泰安市", "泰安能源电子产业集群", "泰安市新能源电子产业发展促进会",
            make_uscc("51", "370902", "MJQ4H7X2"), "能源电子",
            82.4, 30, 2, 6, 1, 4, 1180, 2.7, 80.0,
            "孔亮", "0538-6212345", "tanydz@163.com"),
    cluster(2, "泰安市", "泰山人工智能产业集群", "泰安高新区人工智能产业发展服务中心",
            make_uscc("52", "370971", "MJR5J8Y3"), "人工智能",
            50.6, 20, 0, 3, 1, 3, 1008, 1.6, 48.5,
            "曹雨", "0538-8123456", "tsai@126.com", remarks="暂无年营收10亿元以上企业，培育中"),
]


@sample("泰安市数字产业集群推荐汇总表.xlsx", dt.datetime(2024, 6, 29, 8, 50, tzinfo=BEIJING), TAIAN)  # after 6月28日
def taian(path: Path) -> None:
    sheet = table_sheet("Sheet1", _cols("city"), TAIAN, title="数字产业集群申报信息汇总表",
                        total="小计", total_formulas=True,
                        below=["注：本表数据截至2023年底。"])
    write_xlsx(path, [sheet])


# 12. 东营 (.xlsm): a units row under the header (amounts in 万元), several sheets, city written
#     东营市工业和信息化局 under 推荐单位; one cluster without enough platforms (三(四), not relaxable).
DONGYING = [
    cluster(1, "东营市工业和信息化局", "东营工业软件产业集群", "东营市工业软件产业发展促进中心",
            make_uscc("52", "370502", "MJT6K9A4"), "高端软件",
            86.54, 25, 1, 5, 1, 3, 1142, 2.95, 82.0,
            "曾伟", "0546-8301234", "dysoft@163.com"),
    cluster(2, "东营市工业和信息化局", "东营新型电子材料产业集群", "东营经济技术开发区电子材料产业促进会",
            make_uscc("51", "370571", "MJU7L0B5"), "新型电子材料",
            97.2, 27, 2, 6, 0, 2, 1251, 3.5, 95.0,
            "彭飞", "0546-7712345", "dydzcl@126.com"),
]
UNIT_OF = {"revenue_total": "万元", "rd_expense": "万元", "sales_revenue": "万元", "leading_firms": "家",
           "leader_firms": "家", "backbone_firms": "家", "national_platforms": "个",
           "provincial_platforms": "个", "ip_total": "项", "rd_ratio": "%"}


@sample("东营市数字产业集群申报信息汇总表.xlsm", dt.datetime(2024, 6, 26, 10, 10, tzinfo=BEIJING), DONGYING)
def dongying(path: Path) -> None:
    cols = [(k, "推荐单位" if k == "city" else h.split("（")[0] if k in UNIT_OF else h)
            for k, h in STANDARD_COLUMNS]
    units = ["单位"] + [UNIT_OF.get(k) for k, _ in cols[1:]]

    def cell(rec: dict[str, Any], key: str, i: int) -> Any:
        if key in AMOUNTS:
            return round(rec[key] * 10000)
        return default_cell(rec, key, i)

    data = table_sheet("汇总表", cols, DONGYING, title="东营市数字产业集群申报信息汇总表",
                       header=[[h for _, h in cols], units], cell=cell,
                       below=["填表说明：金额单位为万元，数量单位见第3行。"])
    evidence = SheetSpec(name="佐证材料目录", rows=[
        ["序号", "集群名称", "佐证材料", "页码"],
        [1, "东营工业软件产业集群", "营业收入统计表、平台认定文件、知识产权清单", "1-46"],
        [2, "东营新型电子材料产业集群", "营业收入统计表、省级平台认定文件、专利清单", "47-88"],
    ], header_rows={0}, widths=[6, 28, 44, 8])
    blank = SheetSpec(name="Sheet3", rows=[])
    make_xlsm(path, [data, evidence, blank])


# 13. Attachments that are not summary tables: the recommendation letter (PDF) and a workbook
#     whose download broke off (truncated zip).
FAKE_PDF = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
            b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")


@sample("推荐文件.pdf", dt.datetime(2024, 6, 27, 10, 41, tzinfo=BEIJING))
def pdf(path: Path) -> None:
    path.write_bytes(FAKE_PDF)


LIAOCHENG = [
    cluster(1, "聊城市", "聊城光电显示数字终端产业集群", "聊城市数字终端产业发展促进中心",
            make_uscc("52", "371502", "MJW8M1C6"), "数字终端",
            66.0, 22, 1, 4, 1, 3, 1050, 2.1, 64.0,
            "袁博", "0635-8301234", "lcsz@163.com"),
]


@sample("聊城市数字产业集群申报信息汇总表.xlsx", dt.datetime(2024, 6, 28, 20, 3, tzinfo=BEIJING))
def liaocheng_broken(path: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        whole = Path(tmp) / "whole.xlsx"
        write_xlsx(whole, [table_sheet("汇总表", STANDARD_COLUMNS, LIAOCHENG,
                                       title="聊城市数字产业集群申报信息汇总表")])
        data = whole.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 5])  # the e-mail download broke off


# 14. Enterprise lists behind two clusters (issue 17, SPEC §3a; sdbatch/evidence/): 济南 泉城智算
#     (one workbook, a units line above the header, 规下 rows that are not counted, a 合计 row): every
#     figure agrees with the summary; 青岛 西海岸集成电路 (.xls, one sheet named after the cluster):
#     the list adds up to 81.5 亿元 where the summary declares 96.3 (an inflated total: 据实填报,
#     五(三) → needs_review), and one 规下 firm's credit code has a typing error.
LIST_HEADER = ["序号", "企业名称", "统一社会信用代码", "是否规上企业", "是否主导产业企业", "上年度营业收入",
               "研发投入", "销售收入", "近三年知识产权数（项）", "备注"]


def firm_list(rec: dict[str, Any], prefix: str, division: str, *, revenue: float | None = None,
              small_firms: int = 3) -> list[list[Any]]:
    """The 规上 firms behind ``rec`` (amounts in 万元): its leaders, backbone firms and the rest add
    up to ``revenue`` (default: the declared total), its IP, R&D and sales to the declared ones;
    ``small_firms`` 规下 firms follow (never counted)."""
    total = round((revenue if revenue is not None else rec["revenue_total"]) * 10000)
    big, n_lead, n_back = rec["leading_firms"], rec["leader_firms"], rec["backbone_firms"]
    rest = big - n_lead - n_back
    small = [5000 + 100 * (i % 7) for i in range(rest)]
    backbone = [60000 - 2000 * i for i in range(n_back)]
    left = total - sum(small) - sum(backbone)  # the leaders share the rest
    leaders = [left // n_lead + (1 if i < left % n_lead else 0) for i in range(n_lead)]
    assert all(v >= 100000 for v in leaders), (rec["name"], leaders)
    revenues = leaders + backbone + small
    ip = [rec["ip_total"] // big + (1 if i < rec["ip_total"] % big else 0) for i in range(big)]
    sales_factor = rec["sales_revenue"] * 10000 / total
    rd_factor = rec["rd_expense"] / rec["sales_revenue"]
    rows: list[list[Any]] = []
    for i, r in enumerate(revenues):
        sales = round(r * sales_factor, 2)
        rows.append([i + 1, f"{prefix}{i + 1:02d}科技有限公司", make_uscc("91", division, f"MA{i + 1:02d}{prefix_code(prefix)}"),
                     "是", "是", r, round(sales * rd_factor, 2), sales, ip[i], "龙头企业" if i < n_lead else None])
    for j in range(small_firms):
        n = big + j
        rows.append([n + 1, f"{prefix}小微{j + 1}号科技有限公司", make_uscc("91", division, f"MB{j + 1:02d}{prefix_code(prefix)}"),
                     "否", "是", 900 + 100 * j, 20, 900 + 100 * j, 2, None])
    return rows


def prefix_code(prefix: str) -> str:
    """Four letters of an organisation code, the same for every firm of one list."""
    return {"泉城": "QCJN", "西海岸": "XHAE"}[prefix]


@sample("济南市泉城智算产业集群规上企业名单.xlsx", dt.datetime(2024, 6, 26, 15, 20, tzinfo=BEIJING))
def jinan_list(path: Path) -> None:
    rows = firm_list(JINAN[0], "泉城", "370102")
    sheet = SheetSpec(name="企业名单", rows=[["济南市泉城智算产业集群规上企业名单"], ["单位：万元"], LIST_HEADER, *rows,
                                            ["合计", None, None, None, None, sum(r[5] for r in rows)]],
                      title_rows={0}, note_rows={1}, header_rows={2}, widths=[6, 28, 22, 10, 12, 14, 12, 12, 12, 10])
    write_xlsx(path, [sheet])


@sample("青岛市数字产业集群企业名单.xls", dt.datetime(2024, 6, 27, 10, 45, tzinfo=BEIJING))
def qingdao_list(path: Path) -> None:
    rows = firm_list(QINGDAO[2], "西海岸", "370211", revenue=81.5)
    rows[-1][2] = break_uscc(rows[-1][2])  # a typing error in a 规下 firm's code
    header = [h if h not in ("上年度营业收入", "研发投入", "销售收入") else f"{h}（万元）" for h in LIST_HEADER]
    sheet = SheetSpec(name="西海岸集成电路产业集群", rows=[["青岛西海岸集成电路产业集群规上企业名单"], header, *rows],
                      title_rows={0}, header_rows={1}, widths=[6, 28, 22, 10, 12, 14, 12, 12, 12, 10])
    write_xls(path, [sheet])


# ------------------------------------------------------------------------------ main


def generate(outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, writer in SAMPLES.items():
        target = outdir / name
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp) / name
            writer(tmp_path)
            shutil.move(str(tmp_path), target)
        stamp = MTIMES[name].timestamp()
        os.utime(target, (stamp, stamp))
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="生成示例收件箱（虚构的各市数字产业集群申报信息汇总表）。")
    parser.add_argument("outdir", type=Path, help="输出目录，例如 samples/inbox")
    args = parser.parse_args(argv)
    written = generate(args.outdir)
    extra = sorted(p.name for p in args.outdir.iterdir() if p.is_file() and p.name not in SAMPLES)
    for path in written:
        print(f"已生成 {path}")
    if extra:
        print(f"目录中另有 {len(extra)} 个文件不是本脚本生成的，未改动。")
    print(f"共 {len(written)} 个文件。")
    return 0


if __name__ == "__main__":
    sys.exit(main())
