"""Print-ready lists and templates (issue 14 Build 5): every sheet A4, a readable scale or the
table split into blocks with key columns repeated, header rows repeated, a page header with the
title and run time, page x/y in the footer, numbers formatted by unit, one colour legend."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

from sdbatch import settings
from sdbatch.catalogue import text
from sdbatch.rules import load
from sdbatch.template import NOTES_SHEET, NOTES_WIDTHS, write_templates
from sdbatch.writers import printing, write_ranked_list
from sdbatch.writers._common import COLOURS, NEUTRAL_FILL, colour_legend
from tests.test_writers_review import build_result

MIN_SCALE = printing.min_scale()
XLSX_PADDING = 5 / 7  # xlsxwriter writes a column's width plus 5 px of padding, in character units


# ----------------------------------------------------------------------------- the plan itself
def test_a_narrow_table_prints_portrait_at_full_size():
    layout = printing.plan([10, 20, 30])
    assert (layout.landscape, layout.fit_width, layout.scale, layout.breaks) == (False, False, 100, ())


def test_a_table_wider_than_portrait_turns_landscape():
    layout = printing.plan([20] * 6)  # 6 x 145 px: wider than portrait, narrower than landscape
    assert layout.landscape and not layout.fit_width and layout.scale == 100


def test_a_somewhat_wide_table_fits_to_width_at_a_readable_scale():
    layout = printing.plan([12] * 12)
    assert layout.landscape and layout.fit_width and not layout.breaks
    assert MIN_SCALE <= layout.scale < 100


def test_a_very_wide_table_is_split_into_blocks_with_key_columns_repeated():
    widths = [6, 8, 24] + [12] * 30
    layout = printing.plan(widths, key_columns=3)
    assert not layout.fit_width and layout.scale >= MIN_SCALE and layout.repeat_columns == 3
    assert layout.breaks and all(b > 3 for b in layout.breaks)
    room = printing.room_pixels(layout)
    key = sum(printing.column_pixels(w) for w in widths[:3])
    edges = [3, *layout.breaks, len(widths)]
    for first, end in zip(edges, edges[1:], strict=False):
        block = sum(printing.column_pixels(w) for w in widths[first:end])
        assert key + block <= room, (first, end)


def test_key_columns_that_would_crowd_the_page_are_not_repeated():
    layout = printing.plan([60, 60] + [12] * 40, key_columns=2)
    assert layout.breaks and layout.repeat_columns == 0


def test_minimum_scale_keeps_text_readable():
    assert MIN_SCALE >= settings.PRINT_MIN_SCALE
    assert MIN_SCALE * settings.PRINT_FONT_PT / 100 >= settings.PRINT_MIN_FONT_PT


def test_text_sheet_fits_two_pages_only_while_readable():
    base = printing.plan([10, 40])
    page = printing.printable_height(False) * printing.FILL
    assert printing.fit_pages(base, page * 1.5, 2) == base  # fits at full size
    squeezed = printing.fit_pages(base, page * 2.4, 2)
    assert squeezed.pages_tall == 2 and squeezed.scale >= MIN_SCALE
    assert printing.fit_pages(base, page * 5, 2) == base  # too long to squeeze readably


def test_row_height_grows_with_wrapped_text():
    assert printing.row_height([("短", 10)]) == printing.LINE_HEIGHT_PT
    assert printing.row_height([("很长的一段说明文字" * 4, 10)]) >= 4 * printing.LINE_HEIGHT_PT
    assert printing.row_height([("一\n二\n三", 40)]) == 3 * printing.LINE_HEIGHT_PT


# ----------------------------------------------------------------------------- checks on a written sheet
def _widths(ws, last_col: int) -> list[float]:
    """Column widths in character units (openpyxl groups equal neighbours into one dimension)."""
    stored = {}
    for dim in ws.column_dimensions.values():
        for col in range(dim.min or 1, (dim.max or dim.min or 1) + 1):
            stored[col] = dim.width
    # the file stores the width plus the cell padding
    return [(stored.get(col) or 8.43) - XLSX_PADDING for col in range(1, last_col + 1)]


def _area(ws) -> tuple[int, int]:
    """(last row, last column) of the print area, 1-based."""
    area = ws.print_area
    assert area, f"{ws.title}: no print area"
    ref = area[0] if isinstance(area, list) else area
    last = ref.split("!")[-1].split(":")[-1].replace("$", "")
    col, row = re.match(r"([A-Z]+)(\d+)", last).groups()
    return int(row), openpyxl.utils.column_index_from_string(col)


def assert_print_ready(ws, *, title: str, time: str | None, table: bool = True) -> None:
    """A4, print area, header/footer, repeated header row, and a readable size."""
    name = ws.title
    assert int(ws.page_setup.paperSize) == 9, f"{name}: not A4"
    last_row, last_col = _area(ws)
    assert last_row >= 1
    header = ws.oddHeader.left.text or ""
    assert title in header.replace("&&", "&"), f"{name}: page header {header!r}"
    if time is not None:
        assert time in (ws.oddHeader.right.text or ""), f"{name}: run time missing"
    footer = ws.oddFooter.center.text or ""
    assert "&P" in footer and "&N" in footer, f"{name}: no page x of y"
    if table:
        assert ws.print_title_rows, f"{name}: header row not repeated"
    widths = _widths(ws, last_col)
    landscape = ws.page_setup.orientation == "landscape"
    total = sum(printing.column_pixels(w) for w in widths)
    fit = ws.sheet_properties.pageSetUpPr is not None and ws.sheet_properties.pageSetUpPr.fitToPage
    breaks = [b.id for b in ws.col_breaks.brk]
    # fitToWidth / fitToHeight default to 1 when absent
    wide = int(ws.page_setup.fitToWidth if ws.page_setup.fitToWidth is not None else 1)
    tall = int(ws.page_setup.fitToHeight if ws.page_setup.fitToHeight is not None else 1)
    if fit and wide == 1 and tall == 0:
        scale = 100 * printing.printable_pixels(landscape) / total
        assert scale >= MIN_SCALE, f"{name}: fit to width at {scale:.0f} %"
    elif fit:  # a text sheet fitted to a few pages tall: one page wide at full width
        assert total <= printing.printable_pixels(landscape), name
    else:
        scale = int(ws.page_setup.scale or 100)
        assert scale >= MIN_SCALE, f"{name}: scale {scale}"
        room = printing.printable_pixels(landscape) * 100 / scale
        repeated = 0
        if ws.print_title_cols:
            repeated = openpyxl.utils.column_index_from_string(ws.print_title_cols.split(":")[-1].replace("$", ""))
        key = sum(printing.column_pixels(w) for w in widths[:repeated])
        edges = [repeated, *breaks, last_col]
        for first, end in zip(edges, edges[1:], strict=False):
            block = sum(printing.column_pixels(w) for w in widths[first:end])
            assert key + block <= room + 1, f"{name}: columns {first + 1}-{end} do not fit one page"


# ----------------------------------------------------------------------------- the lists
@pytest.fixture(scope="module")
def cluster_list(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("list")
    result = build_result(tmp)
    (path,) = write_ranked_list(result, tmp / "run")
    return result, openpyxl.load_workbook(path)


@pytest.fixture(scope="module")
def park_list(tmp_path_factory):
    from tests.test_parks_pipeline import park_run

    run_dir = park_run(tmp_path_factory.mktemp("park"), budget=300)
    return openpyxl.load_workbook(run_dir / "认定名单.xlsx")


def test_every_sheet_of_the_cluster_list_is_print_ready(cluster_list):
    result, wb = cluster_list
    rules = result.rules
    for ws in wb.worksheets:
        assert_print_ready(ws, title=f"{rules.title}{rules.list_title}", time="2024-06-29 22:00",
                           table=ws.title != "说明")


def test_every_sheet_of_the_park_list_is_print_ready(park_list):
    rules = load("park_2024")
    assert len(park_list.worksheets) >= 6
    for ws in park_list.worksheets:
        assert_print_ready(ws, title=f"{rules.title}{rules.list_title}", time="2024-06-20 10:00",
                           table=ws.title != "说明")


def _column(ws, header: str, header_row: int = 1) -> list:
    col = [c.value for c in ws[header_row]].index(header) + 1
    return [ws.cell(row=r, column=col) for r in range(header_row + 1, ws.max_row + 1)
            if ws.cell(row=r, column=col).value is not None]


def test_numbers_are_formatted_by_unit(cluster_list):
    _, wb = cluster_list
    ws = wb["排名"]
    formats = {
        "集群数字产业相关规上企业年营业收入总额（亿元）": "0.00",  # 亿元: two decimals
        "年营业收入10亿元以上领军企业数量（家）": "0",  # a count: whole
        "综合得分": "0.00",
        "全省排名": "0",
    }
    for header, wanted in formats.items():
        cells = _column(ws, header)
        assert cells, header
        assert {c.number_format for c in cells} == {wanted}, header


def test_park_amounts_in_wan_yuan_are_whole_and_ratios_have_two_decimals(park_list):
    city = park_list["各市汇总"]
    for header in ("奖补上限合计（万元）", "建议分配合计（万元）"):
        assert {c.number_format for c in _column(city, header)} == {"0"}, header
    rank = park_list["排名"]
    ratio_headers = [h for h in (c.value for c in rank[1]) if h and h.endswith("（%）")]
    assert ratio_headers
    for header in ratio_headers:
        assert {c.number_format for c in _column(rank, header)} <= {"0.00"}, header
    assert {c.number_format for c in _column(rank, "奖补上限（万元）")} <= {"0"}


def test_the_ceiling_column_says_it_is_a_ceiling(park_list):
    headers = {c.value for ws in park_list.worksheets for c in ws[1] if isinstance(c.value, str)}
    assert "奖补上限（万元）" in headers
    assert not any("奖补资金" in h for h in headers)


def _fill(cell) -> str:
    return (cell.fill.fgColor.rgb or "")[-6:].upper() if cell.fill and cell.fill.fill_type == "solid" else ""


def test_colours_follow_the_one_legend(cluster_list):
    """The 说明 sheet states the legend once (from ui.toml); a cell elsewhere is coloured only
    by the legend's colour of its status."""
    _, wb = cluster_list
    notes = wb["说明"]
    lines = {row[1].value: _fill(row[1]) for row in notes.iter_rows() if row[1].value}
    for colour, line in colour_legend():
        assert lines.get(line) == COLOURS[colour], line
    assert sum(1 for row in notes.iter_rows() if row[0].value == text("legend.title")) == 1
    by_colour = {rgb: colour for colour, rgb in COLOURS.items()}
    wanted = {"不符合条件": "red", "材料不完整": "red", "超出推荐名额": "red", "需专家研判": "amber"}
    for ws in wb.worksheets:
        if ws.title == "说明":
            continue
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                rgb = _fill(cell)
                if not rgb or rgb == NEUTRAL_FILL:
                    continue
                assert rgb in by_colour and by_colour[rgb] == wanted.get(cell.value), \
                    f"{ws.title}!{cell.coordinate} {cell.value} {rgb}"


# ----------------------------------------------------------------------------- the templates
@pytest.fixture(scope="module", params=["cluster_2024", "park_2024"])
def template(request, tmp_path_factory):
    (path,) = write_templates(request.param, tmp_path_factory.mktemp("tpl"))
    return load(request.param), openpyxl.load_workbook(path)


def test_template_sheets_are_print_ready(template):
    rules, wb = template
    data, notes = wb.worksheets
    title = f"{rules.title.replace('申报', '')}申报信息汇总表"
    assert_print_ready(data, title=title, time=None)
    assert_print_ready(notes, title=title, time=None, table=False)
    assert notes.page_setup.orientation != "landscape"


def test_template_notes_print_on_two_pages_at_most(template):
    _, wb = template
    notes = wb[NOTES_SHEET]
    last_row, last_col = _area(notes)
    assert last_col == len(NOTES_WIDTHS)  # option lists right of the text are not printed
    height = sum((notes.row_dimensions[r].height or printing.LINE_HEIGHT_PT) for r in range(1, last_row + 1))
    setup = notes.page_setup
    fitted = int(setup.fitToHeight if setup.fitToHeight is not None else 1) \
        if notes.sheet_properties.pageSetUpPr is not None and notes.sheet_properties.pageSetUpPr.fitToPage else 0
    page = printing.printable_height(False)
    if fitted:
        assert fitted <= 2
        assert 100 * page * fitted / height >= MIN_SCALE  # the squeeze stays readable
    else:
        assert height <= 2 * page


def test_template_notes_rows_are_tall_enough_for_their_text(template):
    _, wb = template
    notes = wb[NOTES_SHEET]
    widths = {i + 1: w for i, w in enumerate(NOTES_WIDTHS)}
    merged = {m.min_row: m for m in notes.merged_cells.ranges}
    for row in notes.iter_rows(max_col=len(NOTES_WIDTHS)):
        for cell in row:
            if not isinstance(cell.value, str) or cell.font.sz and cell.font.sz > 12:
                continue
            span = merged.get(cell.row)
            width = (sum(widths[c] for c in range(span.min_col, span.max_col + 1))
                     if span is not None and span.min_col == cell.column else widths[cell.column])
            height = notes.row_dimensions[cell.row].height or printing.LINE_HEIGHT_PT
            assert height >= printing.row_height([(cell.value, width)]), f"{cell.coordinate} {cell.value[:20]}"


def test_a_long_dropdown_list_goes_to_the_notes_sheet_outside_the_print_area(tmp_path: Path):
    import tomllib

    from sdbatch.rules import from_dict

    raw = tomllib.loads((Path(__file__).parent.parent / "sdbatch" / "programs" / "cluster_2024.toml")
                        .read_text(encoding="utf-8"))
    raw["choices"]["industries"]["allowed"] += [f"示例产业方向第{i}号" for i in range(40)]  # over Excel's 255 characters
    rules = from_dict(raw, "long_choices")
    from sdbatch.template import write_template

    path = write_template(rules, tmp_path / "t.xlsx")
    wb = openpyxl.load_workbook(path)
    notes = wb[NOTES_SHEET]
    _, last_col = _area(notes)
    heads = [c.value for c in notes[1][last_col:] if c.value]
    assert heads and heads[0].startswith("选项")


def test_template_uses_no_colour_of_the_legend(template):
    """Headers and cells to fill in are grey: no legend colour means anything in a blank form."""
    _, wb = template
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert _fill(cell) in ("", NEUTRAL_FILL), f"{ws.title}!{cell.coordinate}"


def test_page_header_fits_excel_and_keeps_a_leading_digit_apart_from_the_size_code():
    """Excel holds 255 characters of a header; ``&9`` followed by ``2025`` would read as a size."""
    header, footer = printing.header_footer("2025年第二批" + "很长的名单标题" * 60, "审核时间 2026-11-30 19:22", "第 &P 页")
    assert printing.utf16_len(header) <= printing.HEADER_MAX
    assert header.startswith("&L&9 2025年第二批") and header.endswith("&R&9审核时间 2026-11-30 19:22")
    assert "…" in header
    short, _ = printing.header_footer("A&B 名单", "2026-11-30", "x")
    assert short == "&L&9A&&B 名单&R&9 2026-11-30"


def test_sheet_writer_past_the_last_column_and_breaks_past_excels_count(tmp_path):
    """A table wider than XFD is cut at XFD, and more than 1,023 page breaks are not written."""
    import io

    from sdbatch.writers import xlsxpatch as xp

    buf = io.BytesIO()
    writer = xp.SheetWriter(buf, xp.SheetView())
    writer.row(1, list(range(xp.MAX_COLUMNS + 10)))
    writer.close(page=xp.PageSetup(row_breaks=tuple(range(2, 2000))))
    data = buf.getvalue().decode()
    assert 'r="XFD1"' in data and data.count("<c ") == xp.MAX_COLUMNS
    assert data.count("<brk ") == xp.MAX_PAGE_BREAKS
