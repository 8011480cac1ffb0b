"""Layouts a round of clerk-written workbooks read wrongly (written by a helper who had not seen the
code): text typed over two rows without a merge, totals rows without a 合计 label, an old value
kept in a hidden column beside the corrected one, amounts written with ¥, a district column
beside 所在市, and an industry listed beside a term the notice does not have.  Each family is
written several ways (openpyxl, xlsxwriter, CSV, xlwt) and read by the whole evaluation."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter

from tests.decision_builders import COLUMNS, ON_TIME, decide, header_label, row, set_mtime

HEADERS = [header_label(c) for c in COLUMNS]


def grid(rows: list[dict[str, Any] | list[Any]], columns: tuple[str, ...] = COLUMNS) -> list[list[Any]]:
    """The title, the header and the rows (a dict: a cluster's values; a list: cells as they are)."""
    return [["数字产业集群申报信息汇总表"], [header_label(c) for c in columns],
            *[[r.get(c) for c in columns] if isinstance(r, dict) else r for r in rows]]


def save(path: Path, cells: list[list[Any]], *, engine: str = "openpyxl", hidden_columns: tuple[int, ...] = ()) -> Path:
    """``cells`` written by ``engine`` (openpyxl, xlsxwriter, csv, xlwt); ``hidden_columns`` 0-based."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if engine == "openpyxl":
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "汇总表"
        for r in cells:
            ws.append(r)
        for c in hidden_columns:
            ws.column_dimensions[openpyxl.utils.get_column_letter(c + 1)].hidden = True
        wb.save(path)
    elif engine == "xlsxwriter":
        book = xlsxwriter.Workbook(str(path))
        _write_cells(book.add_worksheet("汇总表"), cells)
        for c in hidden_columns:
            book.worksheets()[0].set_column(c, c, 12, None, {"hidden": True})
        book.close()
    elif engine == "xlwt":
        xlwt = pytest.importorskip("xlwt")
        book = xlwt.Workbook()
        sheet = _write_cells(book.add_sheet("汇总表"), cells)
        for c in hidden_columns:
            sheet.col(c).hidden = True
        book.save(str(path))
    else:
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            csv.writer(fh).writerows([["" if v is None else v for v in r] for r in cells])
    set_mtime(path, ON_TIME)
    return path


def _write_cells(sheet: Any, cells: list[list[Any]]) -> Any:
    """Every cell through the sheet's ``write(row, col, value)`` (xlsxwriter and xlwt alike)."""
    for r, values in enumerate(cells):
        for c, value in enumerate(values):
            if value is not None:
                sheet.write(r, c, value)
    return sheet


def only_cells(**cells: Any) -> list[Any]:
    """A row holding only the given fields' cells."""
    return [cells.get(c) for c in COLUMNS]


def apps_of(inbox: Path) -> list[Any]:
    return sorted(decide(inbox).applications, key=lambda a: (a.source.file, a.source.row))


def codes(app: Any) -> set[str]:
    return {f.code for f in app.findings}


# ----------------------------------------------------------------------------- text over two rows
@pytest.mark.parametrize("engine, suffix", [("openpyxl", ".xlsx"), ("xlsxwriter", ".xlsx"), ("csv", ".csv")])
def test_a_name_typed_over_two_rows_is_one_application(tmp_path: Path, engine: str, suffix: str) -> None:
    """枣庄: "枣庄市数字终端" in C5, "产业集群" in C6 with the 备注 going on, no merge.  Row 6 was a
    third application named 产业集群 (over quota, fourteen 未填写 errors sent to the city)."""
    cells = grid([row(name="枣庄市锂电产业集群", city="枣庄市", city_order=1),
                  row(name="枣庄市数字终端", city="枣庄市", city_order=2, contact="冯七"),
                  only_cells(name="产业集群", contact="（备用）周八")])
    save(tmp_path / "inbox" / f"枣庄市汇总表{suffix}", cells, engine=engine)
    apps = apps_of(tmp_path / "inbox")
    assert [a.name for a in apps] == ["枣庄市锂电产业集群", "枣庄市数字终端产业集群"]
    second = apps[1]
    assert "record-rows" in codes(second) and "missing-value" not in codes(second)
    assert second.status == "eligible"
    assert second.values["contact"].startswith("冯七") and "周八" in second.values["contact"]


def test_an_applicant_typed_over_two_rows_is_joined(tmp_path: Path) -> None:
    """申报主体 going on in the row below (no name there): the row below was a nameless application."""
    cells = grid([row(name="济南市甲产业集群", applicant="山东泉城数字终端产业发展"),
                  only_cells(applicant="有限公司"),
                  row(name="济南市乙产业集群", city_order=2)])
    save(tmp_path / "inbox" / "济南市汇总表.xlsx", cells)
    apps = apps_of(tmp_path / "inbox")
    assert [a.name for a in apps] == ["济南市甲产业集群", "济南市乙产业集群"]
    assert apps[0].values["applicant"] == "山东泉城数字终端产业发展有限公司"
    assert apps[0].status == "eligible"


def test_a_latin_name_going_on_keeps_its_space(tmp_path: Path) -> None:
    cells = grid([row(name="济南市 Smart"), only_cells(name="Display 产业集群")])
    save(tmp_path / "inbox" / "济南市汇总表.xlsx", cells)
    [app] = apps_of(tmp_path / "inbox")
    assert app.name == "济南市 Smart Display 产业集群"


def test_a_row_with_a_whole_name_of_its_own_stays_an_application(tmp_path: Path) -> None:
    """Under a whole name (…集群), a row with only a name is a second application the city has
    not finished, not the first one's name going on; and a row with a number of its own is never
    text going on."""
    cells = grid([row(name="济南市甲产业集群"), only_cells(name="济南市乙产业集群"),
                  row(name="济南市丙"), only_cells(name="产业集群", leading_firms=30)])
    save(tmp_path / "inbox" / "济南市汇总表.xlsx", cells)
    apps = apps_of(tmp_path / "inbox")
    assert [a.name for a in apps] == ["济南市甲产业集群", "济南市乙产业集群", "济南市丙", "产业集群"]
    assert apps[1].status == "incomplete" and "missing-value" in codes(apps[1])


def test_an_unknown_column_going_on_keeps_both_lines(tmp_path: Path) -> None:
    """集群简介 (a column the rules do not know) written over the two rows: both lines are kept
    with the application, as its finding says."""
    columns = (*COLUMNS, "intro")
    header = [*HEADERS, "集群简介"]
    first = [*[row(name="淄博市新材料")[c] for c in COLUMNS], "以电子化学品为主，"]
    second = [None] * len(COLUMNS) + ["兼顾电子陶瓷。"]
    second[COLUMNS.index("name")] = "产业集群"
    save(tmp_path / "inbox" / "淄博市汇总表.xlsx", [["汇总表"], header, first, second])
    assert len(columns) == len(header)
    [app] = apps_of(tmp_path / "inbox")
    assert app.name == "淄博市新材料产业集群"
    assert app.unknown["集群简介"] == "以电子化学品为主，兼顾电子陶瓷。"


# ----------------------------------------------------------------------------- totals without a label
def _sums(rows: list[dict[str, Any]], **extra: Any) -> list[Any]:
    summed = ("revenue_total", "leading_firms", "leader_firms", "backbone_firms", "national_platforms",
              "provincial_platforms", "ip_total", "rd_expense", "sales_revenue")
    return only_cells(**{c: round(sum(r[c] for r in rows), 4) for c in summed}, **extra)


@pytest.mark.parametrize("engine, suffix", [("openpyxl", ".xlsx"), ("xlsxwriter", ".xlsx"), ("csv", ".csv"),
                                            ("xlwt", ".xls")])
def test_a_totals_row_without_a_label_is_not_an_application(tmp_path: Path, engine: str, suffix: str) -> None:
    """菏泽: the column sums under the two clusters, no 合计 in any cell.  It was a nameless
    application (over quota, seven 未填写 errors sent to the city)."""
    clusters = [row(name="菏泽市甲产业集群", city="菏泽市", revenue_total=90.5),
                row(name="菏泽市乙产业集群", city="菏泽市", city_order=2, revenue_total=70)]
    save(tmp_path / "inbox" / f"菏泽市汇总表{suffix}", grid([*clusters, _sums(clusters)]), engine=engine)
    result = decide(tmp_path / "inbox")
    assert [a.name for a in result.applications] == ["菏泽市甲产业集群", "菏泽市乙产业集群"]
    [record] = result.files
    assert ("summary-row-skipped", 5) in {(f.code, f.source.row) for f in record.findings if f.source}


def test_subtotals_and_a_grand_total_are_skipped(tmp_path: Path) -> None:
    """Two groups each with its subtotal, then the grand total of all four clusters."""
    first = [row(name=f"青岛市{n}产业集群", city="青岛市", city_order=i, revenue_total=60 + i)
             for i, n in enumerate(("甲", "乙"), start=1)]
    second = [row(name=f"青岛市{n}产业集群", city="青岛市", city_order=i, revenue_total=80 + i)
              for i, n in enumerate(("丙", "丁"), start=3)]
    cells = grid([*first, _sums(first), *second, _sums(second), _sums(first + second)])
    save(tmp_path / "inbox" / "青岛市汇总表.xlsx", cells)
    result = decide(tmp_path / "inbox")
    assert len(result.applications) == 4
    skipped = sorted(f.source.row for f in result.files[0].findings if f.code == "summary-row-skipped")
    assert skipped == [5, 8, 9]


def test_a_nameless_row_whose_numbers_are_not_the_sums_stays_an_application(tmp_path: Path) -> None:
    """Numbers without a name that do not add up: a cluster the city did not finish, said so."""
    clusters = [row(name="菏泽市甲产业集群", city="菏泽市"), row(name="菏泽市乙产业集群", city="菏泽市", city_order=2)]
    wrong = _sums(clusters)
    wrong[COLUMNS.index("leading_firms")] += 7
    save(tmp_path / "inbox" / "菏泽市汇总表.xlsx", grid([*clusters, wrong]))
    apps = apps_of(tmp_path / "inbox")
    assert len(apps) == 3
    assert "missing-value" in codes(apps[2])


# ----------------------------------------------------------------------------- hidden duplicate column
@pytest.mark.parametrize("engine, suffix", [("openpyxl", ".xlsx"), ("xlsxwriter", ".xlsx"), ("xlwt", ".xls")])
def test_a_hidden_old_column_gives_way_to_the_visible_one(tmp_path: Path, engine: str, suffix: str) -> None:
    """德州: the old revenue (45, below the 50 亿元 threshold) kept in a hidden column before the
    corrected one (65) under the same header.  The hidden one was read: ineligible, and the city
    told to delete the corrected column."""
    at = COLUMNS.index("revenue_total")
    header = [*HEADERS[: at + 1], HEADERS[at], *HEADERS[at + 1:]]
    values = [row(name="德州市能源电子产业集群", city="德州市", industry="能源电子")[c] for c in COLUMNS]
    data = [*values[:at], 45, 65, *values[at + 1:]]
    save(tmp_path / "inbox" / f"德州市汇总表{suffix}", [["汇总表"], header, data], engine=engine, hidden_columns=(at,))
    result = decide(tmp_path / "inbox")
    [app] = result.applications
    assert app.values["revenue_total"] == 65 and app.status == "eligible"
    [dup] = [f for f in result.files[0].findings if f.code == "duplicate-column"]
    hidden, visible = openpyxl.utils.get_column_letter(at + 1), openpyxl.utils.get_column_letter(at + 2)
    assert (dup.params["column"], dup.params["first"]) == (hidden, visible)


def test_two_visible_columns_alike_still_read_the_first(tmp_path: Path) -> None:
    at = COLUMNS.index("revenue_total")
    header = [*HEADERS[: at + 1], HEADERS[at], *HEADERS[at + 1:]]
    values = [row(name="德州市能源电子产业集群", city="德州市", industry="能源电子")[c] for c in COLUMNS]
    save(tmp_path / "inbox" / "德州市汇总表.xlsx", [["汇总表"], header, [*values[:at], 45, 65, *values[at + 1:]]])
    [app] = decide(tmp_path / "inbox").applications
    assert app.values["revenue_total"] == 45


# ----------------------------------------------------------------------------- cells and headers
@pytest.mark.parametrize("written, read", [("¥95.00", 95), ("￥90", 90), ("RMB 120", 120), ("人民币88亿元", 88)])
def test_an_amount_written_with_a_currency_mark(tmp_path: Path, written: str, read: float) -> None:
    save(tmp_path / "inbox" / "日照市汇总表.xlsx", grid([row(name="日照市甲产业集群", city="日照市", revenue_total=written)]))
    [app] = apps_of(tmp_path / "inbox")
    assert app.values["revenue_total"] == read
    assert "unparseable-value" not in codes(app)


def test_a_district_column_beside_the_city_is_not_a_duplicate_of_it(tmp_path: Path) -> None:
    """所在区（市） beside 所在市 (枣庄: 滕州市) was read as a second 所在市 column, and the city told to
    delete it; 所在县（市、区） and 区县 alike.  They are columns the rules do not know, kept."""
    at = COLUMNS.index("city")
    for n, district in enumerate(("所在区（市）", "所在县（市、区）", "区县")):
        header = [*HEADERS[: at + 1], district, *HEADERS[at + 1:]]
        values = [row(name=f"枣庄市{n}号产业集群", city="枣庄市")[c] for c in COLUMNS]
        inbox = tmp_path / f"inbox{n}"
        save(inbox / "枣庄市汇总表.xlsx", [["汇总表"], header, [*values[: at + 1], "滕州市", *values[at + 1:]]])
        result = decide(inbox)
        file_codes = {f.code for f in result.files[0].findings}
        assert "duplicate-column" not in file_codes and "unknown-column" in file_codes
        [app] = result.applications
        assert app.city == "枣庄市" and app.unknown[district] == "滕州市"


def test_a_city_the_row_names_wrongly_is_not_said_to_be_empty(tmp_path: Path) -> None:
    """荣成市 (a county-level city of 威海) under 所在市: the warning says the file's city was used;
    no finding may say the cell was left empty (city-source: 汇总表未填写所在市)."""
    save(tmp_path / "inbox" / "威海市汇总表.xlsx", grid([row(name="威海市甲产业集群", city="荣成市")]))
    [app] = apps_of(tmp_path / "inbox")
    assert app.city == "威海市"
    assert "city-unrecognised" in codes(app) and "city-source" not in codes(app)
    save(tmp_path / "inbox2" / "威海市汇总表.xlsx", grid([row(name="威海市乙产业集群", city=None)]))
    [empty] = apps_of(tmp_path / "inbox2")
    assert "city-source" in codes(empty)


@pytest.mark.parametrize("written, code", [
    ("物联网、集成电路", "several-industries"),       # a term the notice does not have, beside one it has
    ("集成电路，北斗导航", "several-industries"),
    ("人工智能/机器人", "several-industries"),
    ("集成电路设计、制造", "industry-normalised"),     # parts of the one industry
    ("高端软件和信息技术服务", "industry-normalised"),  # one industry's name, joined by 和
    ("集成电路（主要）、物联网", "industry-normalised"),  # the main one said
])
def test_an_industry_listed_beside_another_term_is_referred(tmp_path: Path, written: str, code: str) -> None:
    """聊城: 物联网、集成电路 was filed as 集成电路 with an info note, which opened the relaxed
    conditions of 集成电路 to it; which direction is the main one is for a person to say."""
    save(tmp_path / "inbox" / "聊城市汇总表.xlsx", grid([row(name="聊城市甲产业集群", city="聊城市", industry=written)]))
    [app] = apps_of(tmp_path / "inbox")
    assert code in codes(app)
    if code == "several-industries":
        assert app.status == "needs_review"


# ----------------------------------------------------------------------------- audiences
def test_a_correction_of_several_cities_tells_each_city_its_own_changes(tmp_path: Path) -> None:
    """烟台's corrected file also holds one 威海 cluster.  威海's review said "与此前报送的…相比：新增
    烟台市甲产业集群、…" - another city's names.  Each city is now told its own changes only."""
    import datetime as dt
    import email
    from email import policy

    from sdbatch.batch import RunOptions, run_batch
    from tests.decision_builders import write_workbook

    inbox = tmp_path / "inbox"
    first = [row(name="烟台市甲产业集群", city="烟台市"), row(name="烟台市乙产业集群", city="烟台市", city_order=2)]
    write_workbook(inbox / "烟台市汇总表.xlsx", first)
    later = [*first[:1], row(name="烟台市丙产业集群", city="烟台市", city_order=2),
             row(name="威海市石岛湾产业集群", city="威海市")]
    write_workbook(inbox / "烟台市汇总表（更正）.xlsx", later, mtime=ON_TIME + dt.timedelta(hours=2))
    book = tmp_path / "book.toml"
    book.write_text('from = "审核组 <shenhe@gxt.shandong.example>"\n[cities."烟台市"]\nto = ["a@yantai.example"]\n'
                    '[cities."威海市"]\nto = ["a@weihai.example"]\n', encoding="utf-8")
    outcome = run_batch(inbox, RunOptions(out_dir=tmp_path / "out", run_id="t", now="2024-07-01T10:00:00",
                                          mail_mode="all", quiet=True, address_book=book))
    run_dir = outcome.run_dir
    assert run_dir is not None

    def texts(city: str) -> str:
        wb = openpyxl.load_workbook(run_dir / f"{city}_审核意见.xlsx")
        cells = [str(c.value) for ws in wb.worksheets for r in ws.iter_rows() for c in r if c.value is not None]
        cells += [c.comment.text for ws in wb.worksheets for r in ws.iter_rows() for c in r if c.comment]
        message = email.message_from_bytes((run_dir / "mail" / f"{city}.eml").read_bytes(), policy=policy.default)
        cells += [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
        return "\n".join(cells)

    weihai, yantai = texts("威海市"), texts("烟台市")
    assert "烟台市丙产业集群" not in weihai and "烟台市乙产业集群" not in weihai
    assert "烟台市丙产业集群" in yantai and "烟台市乙产业集群" in yantai  # its own: added, withdrawn


def test_yes_no_answers_are_shown_in_the_words_they_are_asked_in(tmp_path: Path) -> None:
    """审核结论 showed "否" under 有无不良信用记录; the template asks it as 有/无, and so does the review."""
    from sdbatch.batch import RunOptions, run_batch
    from tests.decision_builders import write_workbook

    inbox = tmp_path / "inbox"
    write_workbook(inbox / "济南市汇总表.xlsx", [row(name="济南市甲产业集群", bad_credit="无", legal_person="是")])
    outcome = run_batch(inbox, RunOptions(out_dir=tmp_path / "out", run_id="t", now="2024-07-01T10:00:00",
                                          mail_mode="none", quiet=True))
    assert outcome.run_dir is not None
    sheet = openpyxl.load_workbook(outcome.run_dir / "济南市_审核意见.xlsx")["审核结论"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = next(r for r in rows if header_label("bad_credit") in r)
    first = rows[rows.index(header) + 1]
    assert first[header.index(header_label("bad_credit"))] == "无"
    assert first[header.index(header_label("legal_person"))] == "是"
