"""Write city summary workbooks for tests, in every format a city may send (SPEC §2.1).

A workbook is described as a list of :class:`Sheet` (a grid of values plus merges, hidden
rows, number formats and formulas, all 0-based) and written by :func:`write` in the format
its suffix names (``engine`` picks the xlsx writer).  :func:`summary_sheet` lays out a
typical summary table: optional title/preamble rows, header row(s), data rows, notes.
All names here are fictional.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stdnum.cn import uscc

# The typical header of attachment 2, column by column: (field id, header text).
TYPICAL_COLUMNS: list[tuple[str, str]] = [
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

TITLE = "数字产业集群申报信息汇总表"


def make_uscc(base: str = "91370100MA3C4D5E6") -> str:
    """A valid 统一社会信用代码: 17 characters plus the computed check digit."""
    assert len(base) == 17
    return base + uscc.calc_check_digit(base)


def valid_row(n: int = 1, **overrides: Any) -> dict[str, Any]:
    """A complete, eligible cluster as a city would write it (field id -> cell value)."""
    row: dict[str, Any] = {
        "seq": n,
        "city_order": n,
        "city": "济南市",
        "name": f"示例{n}号数字产业集群",
        "applicant": f"示例{n}号集群发展促进会",
        "applicant_uscc": make_uscc(f"91370100MA3C4D5E{n % 10}"),
        "industry": "高端软件",
        "revenue_total": 120.5,
        "leading_firms": 35,
        "leader_firms": 2,
        "backbone_firms": 8,
        "national_platforms": 2,
        "provincial_platforms": 5,
        "ip_total": 1500,
        "rd_expense": 6,
        "sales_revenue": 150,
        "rd_ratio": 4,
        "legal_person": "是",
        "bad_credit": "无",
        "major_incident": "否",
        "contact": "张示例",
        "phone": "0531-88886666",
        "email": "cluster@example.cn",
        "remarks": None,
    }
    row.update(overrides)
    return row


@dataclass
class Sheet:
    """One sheet: ``rows`` of values; everything else keyed by 0-based (row, col)."""

    name: str
    rows: list[list[Any]]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r0, c0, r1, c1 inclusive
    hidden_rows: set[int] = field(default_factory=set)
    hidden: bool = False
    formats: dict[tuple[int, int], str] = field(default_factory=dict)  # number formats ("0.0%")
    formulas: dict[tuple[int, int], tuple[str, Any]] = field(default_factory=dict)  # formula, cached value


@dataclass
class Layout:
    """Where :func:`summary_sheet` put things (0-based rows)."""

    sheet: Sheet
    header_rows: list[int]
    data_rows: list[int]
    columns: list[str]  # field id (or header text) per column

    def col(self, fid: str) -> int:
        return self.columns.index(fid)

    def cell(self, fid: str, n: int = 0) -> str:
        """Excel address of field ``fid`` in data row ``n``."""
        return address(self.data_rows[n], self.col(fid))


def address(row: int, col: int) -> str:
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


def summary_sheet(
    rows: list[dict[str, Any]],
    *,
    columns: list[tuple[str, str]] | None = None,
    title: str | None = "济南市" + TITLE,
    preamble: list[str] = (),  # type: ignore[assignment]
    blank_rows_above: int = 0,
    units_row: dict[str, str] | None = None,
    extra_rows: list[tuple[int, list[Any]]] = (),  # type: ignore[assignment]
    notes: list[str] = (),  # type: ignore[assignment]
    name: str = "汇总表",
) -> Layout:
    """A summary table: title, preamble lines, header, (units row), data rows, notes.

    ``columns`` are (key, header text); a row dict is keyed by the same keys.  ``extra_rows``
    inserts raw rows (``(position among data rows, cells)``) such as a 合计 row.
    """
    columns = columns or TYPICAL_COLUMNS
    grid: list[list[Any]] = []
    if title:
        grid.append([title])
    for line in preamble:
        grid.append([line])
    for _ in range(blank_rows_above):
        grid.append([])
    header_rows = [len(grid)]
    grid.append([text for _, text in columns])
    if units_row:
        header_rows.append(len(grid))
        grid.append([units_row.get(key) for key, _ in columns])
    data_rows: list[int] = []
    extras = sorted(extra_rows, key=lambda e: e[0])
    for n, row in enumerate(rows):
        for pos, cells in extras:
            if pos == n:
                grid.append(list(cells))
        data_rows.append(len(grid))
        grid.append([row.get(key) for key, _ in columns])
    for pos, cells in extras:
        if pos >= len(rows):
            grid.append(list(cells))
    for line in notes:
        grid.append([line])
    return Layout(Sheet(name, grid), header_rows, data_rows, [key for key, _ in columns])


# ----------------------------------------------------------------------------- writers
def write(path: Path, sheets: list[Sheet] | Sheet, *, engine: str = "openpyxl", encoding: str = "utf-8") -> Path:
    """Write ``sheets`` to ``path`` in the format its suffix names.

    ``.xlsx``/``.xlsm``: ``engine`` openpyxl (formulas stored without cached values) or
    xlsxwriter (formulas with cached values); ``.xls``: xlwt; ``.ods``: odfpy;
    ``.csv``: the first sheet in ``encoding`` (utf-8, utf-8-sig, gbk).
    """
    if isinstance(sheets, Sheet):
        sheets = [sheets]
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        if engine == "xlsxwriter":
            _write_xlsxwriter(path, sheets)
        else:
            _write_openpyxl(path, sheets)
    elif suffix == ".xls":
        _write_xlwt(path, sheets)
    elif suffix == ".ods":
        _write_ods(path, sheets)
    elif suffix == ".csv":
        _write_csv(path, sheets[0], encoding)
    else:
        raise ValueError(f"no writer for {suffix}")
    return path


def _write_openpyxl(path: Path, sheets: list[Sheet]) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for s in sheets:
        ws = wb.create_sheet(s.name)
        for r, row in enumerate(s.rows):
            for c, value in enumerate(row):
                if value is not None:
                    ws.cell(row=r + 1, column=c + 1, value=value)
        for (r, c), (formula, _cached) in s.formulas.items():
            ws.cell(row=r + 1, column=c + 1, value=formula if formula.startswith("=") else "=" + formula)
        for (r, c), fmt in s.formats.items():
            ws.cell(row=r + 1, column=c + 1).number_format = fmt
        for r0, c0, r1, c1 in s.merges:
            ws.merge_cells(start_row=r0 + 1, start_column=c0 + 1, end_row=r1 + 1, end_column=c1 + 1)
        for r in s.hidden_rows:
            ws.row_dimensions[r + 1].hidden = True
        if s.hidden:
            ws.sheet_state = "hidden"
    wb.save(path)


def _write_xlsxwriter(path: Path, sheets: list[Sheet]) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    formats: dict[str, Any] = {}

    def fmt(spec: str | None) -> Any:
        if spec is None:
            return None
        if spec not in formats:
            formats[spec] = wb.add_format({"num_format": spec})
        return formats[spec]

    for s in sheets:
        ws = wb.add_worksheet(s.name)
        for r, row in enumerate(s.rows):
            for c, value in enumerate(row):
                if value is None or (r, c) in s.formulas:
                    continue
                f = fmt(s.formats.get((r, c)))
                if isinstance(value, str):
                    ws.write_string(r, c, value, f)
                elif isinstance(value, (dt.date, dt.datetime)):
                    ws.write_datetime(r, c, value, f or fmt("yyyy-mm-dd"))
                else:
                    ws.write(r, c, value, f)
        for (r, c), (formula, cached) in s.formulas.items():
            ws.write_formula(r, c, formula, fmt(s.formats.get((r, c))), cached)
        for r0, c0, r1, c1 in s.merges:
            ws.merge_range(r0, c0, r1, c1, s.rows[r0][c0] if c0 < len(s.rows[r0]) else None)
        for r in s.hidden_rows:
            ws.set_row(r, None, None, {"hidden": True})
        if s.hidden:
            ws.hide()
    wb.close()


def _write_xlwt(path: Path, sheets: list[Sheet]) -> None:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    styles: dict[str, Any] = {}
    for s in sheets:
        ws = wb.add_sheet(s.name)
        merged_cells = {(r, c) for r0, c0, r1, c1 in s.merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
        for r, row in enumerate(s.rows):
            for c, value in enumerate(row):
                if value is None or (r, c) in merged_cells:
                    continue
                spec = s.formats.get((r, c))
                if spec:
                    style = styles.setdefault(spec, xlwt.easyxf(num_format_str=spec))
                    ws.write(r, c, value, style)
                else:
                    ws.write(r, c, value)
        for r0, c0, r1, c1 in s.merges:
            ws.write_merge(r0, r1, c0, c1, s.rows[r0][c0] if c0 < len(s.rows[r0]) else "")
        for r in s.hidden_rows:
            ws.row(r).hidden = True
        if s.hidden:
            ws.visibility = 1
    wb.save(str(path))


def _write_ods(path: Path, sheets: list[Sheet]) -> None:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import CoveredTableCell, Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    for s in sheets:
        table = Table(name=s.name)
        spans = {(r0, c0): (r1 - r0 + 1, c1 - c0 + 1) for r0, c0, r1, c1 in s.merges}
        covered = {(r, c) for r0, c0, r1, c1 in s.merges for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)
                   if (r, c) != (r0, c0)}
        width = max((len(row) for row in s.rows), default=0)
        for r, row in enumerate(s.rows):
            tr = TableRow()
            for c in range(max(len(row), width if any(k[0] == r for k in covered) else 0)):
                value = row[c] if c < len(row) else None
                if (r, c) in covered:
                    tr.addElement(CoveredTableCell())
                    continue
                span = {}
                if (r, c) in spans:
                    span = {"numberrowsspanned": spans[(r, c)][0], "numbercolumnsspanned": spans[(r, c)][1]}
                if value is None:
                    tr.addElement(TableCell(**span))
                elif isinstance(value, bool):
                    cell = TableCell(valuetype="boolean", booleanvalue="true" if value else "false", **span)
                    cell.addElement(P(text="TRUE" if value else "FALSE"))
                    tr.addElement(cell)
                elif isinstance(value, (int, float)):
                    cell = TableCell(valuetype="float", value=value, **span)
                    cell.addElement(P(text=str(value)))
                    tr.addElement(cell)
                else:
                    cell = TableCell(valuetype="string", **span)
                    cell.addElement(P(text=str(value)))
                    tr.addElement(cell)
            table.addElement(tr)
        doc.spreadsheet.addElement(table)
    doc.save(str(path))


def _write_csv(path: Path, sheet: Sheet, encoding: str) -> None:
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        for row in sheet.rows:
            writer.writerow(["" if v is None else v for v in row])
