"""The city's package copied into its review carries nothing Excel would run, evaluate or fetch
when the review is opened (SPEC §5: cells from cities are data; brief: nothing reaches the
network).  Each test hand-edits a workbook written by xlsxwriter the way a crafted or odd file
would be, runs the real pipeline and opens the review as a zip package and with openpyxl.

The families come from an audit that opened the reviews in LibreOffice with a request logger:
formulas spelt with a second namespace prefix, rule formulas calling functions that fetch,
pictures linked through another kind of relationship, parts of the city's package copied under
the names of the review's own parts, charts linked to their embedded workbooks, shapes that run
macros, table formulas outside ``xl/tables/``.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from sdbatch.writers import write_city_reviews
from sdbatch.writers._common import COLOURS
from sdbatch.writers.xlsxpatch import _rules_local
from tests.builders import TYPICAL_COLUMNS, valid_row
from tests.test_review_copy import decided, fill, png

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
KEYS = [key for key, _ in TYPICAL_COLUMNS]
LEADER = f"{openpyxl.utils.get_column_letter(KEYS.index('leader_firms') + 1)}3"  # below 三(三): red
FETCH = "http://127.0.0.1:9/x.png"
NAME = "济南市数字产业集群申报信息汇总表.xlsx"


def city_workbook(path: Path, extra: Callable[[Any, Any], None] | None = None) -> None:
    """A summary sheet of two applications, the first failing 三(三), and what ``extra`` adds."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("汇总表")
    ws.write_string(0, 0, "济南市数字产业集群申报信息汇总表")
    for c, (_, text) in enumerate(TYPICAL_COLUMNS):
        ws.write_string(1, c, text)
    for r, row in enumerate([valid_row(1, leader_firms=0), valid_row(2)], start=2):
        for c, key in enumerate(KEYS):
            if row.get(key) is not None:
                ws.write(r, c, row[key])
    if extra is not None:
        extra(wb, ws)
    wb.close()


def edited(path: Path, change: Callable[[dict[str, bytes]], None]) -> None:
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    change(parts)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)


def review_of(tmp_path: Path, extra: Callable[[Any, Any], None] | None,
              change: Callable[[dict[str, bytes]], None]) -> tuple[Path, dict[str, bytes]]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (tmp_path / "pixel.png").write_bytes(png())
    path = inbox / NAME
    city_workbook(path, extra)
    edited(path, change)
    review = write_city_reviews(decided(inbox), tmp_path / "run")["济南市"]
    with zipfile.ZipFile(review) as zf:
        names = zf.namelist()
        assert not [n for n, k in Counter(n.lower() for n in names).items() if k > 1]  # one entry per name
        parts = {n: zf.read(n) for n in names}
    ws = openpyxl.load_workbook(review)["汇总表"]  # the review opens, its marks are there
    assert fill(ws[LEADER]) == COLOURS["red"]
    return review, parts


def sheets(parts: dict[str, bytes]) -> bytes:
    return b"".join(data for name, data in parts.items() if name.startswith("xl/worksheets/sheet"))


def rels(parts: dict[str, bytes]) -> bytes:
    return b"".join(data for name, data in parts.items() if name.endswith(".rels"))


def image(tmp_path: Path) -> Callable[[Any, Any], None]:
    return lambda wb, ws: ws.insert_image("Z2", str(tmp_path / "pixel.png"))


# ----------------------------------------------------------------------------- formulas
def _second_prefix(parts: dict[str, bytes]) -> None:  # the root binds the namespace twice
    sheet = parts["xl/worksheets/sheet1.xml"]
    sheet = sheet.replace(f'<worksheet xmlns="{MAIN}"'.encode(), f'<worksheet xmlns="{MAIN}" xmlns:y="{MAIN}"'.encode(), 1)
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(
        b"</sheetData>", b'<y:row r="6"><y:c r="A6"><y:f>_xlfn.WEBSERVICE("' + FETCH.encode() + b'")</y:f>'
        b"<y:v>0</y:v></y:c></y:row></sheetData><sheetCalcPr fullCalcOnLoad=\"1\"/>", 1)


def _prefix_in_a_row(parts: dict[str, bytes]) -> None:  # a cell binds it for itself
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
        b"</sheetData>", b'<row r="6"><q:c xmlns:q="' + MAIN.encode() + b'" r="A6"><q:f>1+1</q:f><q:v>2</q:v></q:c>'
        b"</row></sheetData>", 1)


@pytest.mark.parametrize("spelling", [_second_prefix, _prefix_in_a_row])
def test_a_formula_spelt_with_another_prefix_does_not_survive(spelling: Any, tmp_path: Path):
    """The copy found formulas by the root's prefix: a cell formula written ``<y:f>`` with ``y``
    bound to the same namespace passed into the review as it was (LibreOffice calculated it on
    opening).  A sheet that binds the namespace twice, or inside its rows, is rebuilt from its
    values instead of copied."""
    review, parts = review_of(tmp_path, None, spelling)
    assert not re.search(rb"<(?:[\w.-]+:)?f[\s>/]", sheets(parts))
    ws = openpyxl.load_workbook(review)["汇总表"]
    assert all(cell.data_type != "f" for row in ws.iter_rows() for cell in row)


# ----------------------------------------------------------------------------- rules
@pytest.mark.parametrize(("rule", "local"), [
    (b"<formula>LEN($A$1)&gt;0</formula>", True),
    (b"<formula>AND(ISNUMBER($H3),$H3&gt;=10)</formula>", True),
    (b"<formula>_xlfn.IFS($A$1&gt;0,TRUE)</formula>", True),
    (b'<formula>LEN(_xlfn.WEBSERVICE("' + FETCH.encode() + b'"))&gt;0</formula>', False),
    (b'<formula>LEN(WEBSERVICE("' + FETCH.encode() + b'"))&gt;0</formula>', False),
    (b'<formula>ISNUMBER(_xlfn.FILTERXML("&lt;a/&gt;","//a"))</formula>', False),
    (b'<formula>INDIRECT("Other!A1")&gt;0</formula>', False),
    (b'<formula>RTD("srv",,"x")&gt;0</formula>', False),
    (b"<formula>A.B.SUM(1)&gt;0</formula>", False),
    (b'<cfvo type="min"/><cfvo type="formula" val="$A$1"/>', True),
    (b'<cfvo type="formula" val="Other!$A$1"/>', False),
    (b'<cfvo type="formula" val="_xlfn.WEBSERVICE(&quot;x&quot;)"/>', False),
    (b'<cfvo type="formula" val="Other!$A$1>0"/>', False),  # ">" may stand in an attribute value
    (b'<cfvo type="a>b" val="Other!$A$1"/>', False),
    (b"<x14:formula1><xm:f>$A$1:$A$9</xm:f></x14:formula1>", True),
    (b"<x14:formula1><xm:f>Lists&#33;$A$1:$A$9</xm:f></x14:formula1>", False),  # an escaped "!"
    (b"<x14:formula1>x<xm:f>$A$1</xm:f></x14:formula1>", False),
])
def test_rule_formulas_call_only_functions_that_read_the_sheet(rule: bytes, local: bool):
    """A conditional format is evaluated as soon as its sheet is shown: one calling WEBSERVICE
    fetched on opening.  Rules copied into a review call only the functions of
    ``settings.RULE_FUNCTIONS`` and refer only to their own sheet, in their formulas, in the
    thresholds of colour scales (``cfvo val``) and in the x14 rules of ``extLst``."""
    assert _rules_local(b'<cfRule type="expression" priority="1">' + rule + b"</cfRule>") == local


def test_a_conditional_format_that_fetches_is_dropped_and_a_local_one_kept(tmp_path: Path):
    def rules(wb: Any, ws: Any) -> None:
        red = wb.add_format({"font_color": "#9C0006"})
        ws.conditional_format("H3:H9", {"type": "formula", "criteria": f'=LEN(WEBSERVICE("{FETCH}"))>0',
                                        "format": red})
        ws.conditional_format("I3:I9", {"type": "formula", "criteria": "=LEN($A3)>0", "format": red})
        ws.conditional_format("J3:J9", {"type": "3_color_scale"})

    def threshold(parts: dict[str, bytes]) -> None:
        sheet = parts["xl/worksheets/sheet1.xml"]
        low = b'<cfvo type="min" val="0"/>'
        assert sheet.count(low) == 1
        parts["xl/worksheets/sheet1.xml"] = sheet.replace(low, b'<cfvo type="formula" val="_xlfn.WEBSERVICE(&quot;'
                                                          + FETCH.encode() + b'&quot;)"/>')

    review, parts = review_of(tmp_path, rules, threshold)
    ranges = [str(r.sqref) for r in openpyxl.load_workbook(review)["汇总表"].conditional_formatting]
    assert ranges == ["I3:I9"]
    assert FETCH.encode() not in sheets(parts)


def test_an_element_names_only_relationships_of_its_own_kind():
    from sdbatch.writers.xlsxpatch import _links_fit

    kept = {"rId1": "hyperlink", "rId2": "image", "rId1>": "hyperlink"}
    assert _links_fit(b'<hyperlinks><hyperlink ref="A1" r:id="rId1"/></hyperlinks>', "hyperlinks", kept)
    assert _links_fit(b'<picture r:id="rId2"/>', "picture", kept)
    assert not _links_fit(b'<picture r:id="rId1"/>', "picture", kept)
    assert not _links_fit(b'<picture r:id="rId1>"/>', "picture", kept)  # ">" may stand in a value
    assert not _links_fit(b'<dataConsolidate><dataRefs><dataRef r:id="rId2"/></dataRefs></dataConsolidate>',
                          "dataConsolidate", kept)
    assert _links_fit(b'<mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells>', "mergeCells", kept)


# ----------------------------------------------------------------------------- pictures, shapes, charts
def _blip_through_a_hyperlink(parts: dict[str, bytes]) -> None:
    """The picture's r:link names an external relationship typed as a hyperlink."""
    parts["xl/drawings/drawing1.xml"] = parts["xl/drawings/drawing1.xml"].replace(b'r:embed="rId1"', b'r:link="rIdH"')
    parts["xl/drawings/_rels/drawing1.xml.rels"] = parts["xl/drawings/_rels/drawing1.xml.rels"].replace(
        b"</Relationships>", f'<Relationship Id="rIdH" Type="{RELS}/hyperlink" Target="{FETCH}" '
        f'TargetMode="External"/></Relationships>'.encode())


def _background_through_a_hyperlink(parts: dict[str, bytes]) -> None:
    """A sheet background names the sheet's own hyperlink relationship."""
    found = re.search(rb'Id="(rId\d+)" Type="[^"]*/hyperlink"', parts["xl/worksheets/_rels/sheet1.xml.rels"])
    assert found is not None
    parts["xl/worksheets/sheet1.xml"] = re.sub(rb"(<drawing [^>]*/>)", rb'\1<picture r:id="' + found.group(1)
                                               + b'"/>', parts["xl/worksheets/sheet1.xml"], count=1)


@pytest.mark.parametrize("link", [_blip_through_a_hyperlink, _background_through_a_hyperlink])
def test_a_picture_linked_through_a_hyperlink_is_not_fetched(link: Any, tmp_path: Path):
    """External hyperlinks are kept (followed on a click); a picture naming one as its source
    would be fetched on opening.  Such a drawing or background is left out, the link itself stays."""
    def extra(wb: Any, ws: Any) -> None:
        ws.insert_image("Z2", str(tmp_path / "pixel.png"))
        ws.write_url("Z20", FETCH)

    _, parts = review_of(tmp_path, extra, link)
    assert not re.search(rb"<(?:\w+:)?picture[\s>/]|r:link=", sheets(parts) + b"".join(
        data for name, data in parts.items() if "drawings/drawing" in name))
    external = re.findall(rb"<Relationship [^>]*>", rels(parts))
    assert [r for r in external if FETCH.encode() in r]
    assert all(b"/hyperlink" in r for r in external if b"External" in r)


def test_a_shape_keeps_its_text_but_runs_no_macro_and_shows_no_formula(tmp_path: Path):
    def extra(wb: Any, ws: Any) -> None:
        ws.insert_textbox("Z2", "本市说明")

    def code(parts: dict[str, bytes]) -> None:
        drawing = parts["xl/drawings/drawing1.xml"]
        plain = b'<xdr:sp macro="" textlink="">'
        assert drawing.count(plain) == 1
        parts["xl/drawings/drawing1.xml"] = drawing.replace(plain, b"<xdr:sp macro=\"'\\\\127.0.0.1\\s\\m.xlsm'!"
                                                            b'Auto_Open" textlink="_xlfn.WEBSERVICE(&quot;'
                                                            + FETCH.encode() + b'&quot;)">')

    _, parts = review_of(tmp_path, extra, code)
    [drawing] = [data for name, data in parts.items() if re.fullmatch(r"xl/drawings/drawing\d+\.xml", name)]
    assert "本市说明".encode() in drawing
    assert b"macro=" not in drawing and b"textlink=" not in drawing and FETCH.encode() not in drawing


def _embedded_workbook(parts: dict[str, bytes]) -> None:
    _chart_data(parts, b'Target="../embeddings/book.xlsx"')
    parts["xl/embeddings/book.xlsx"] = b"PK\x05\x06" + b"\x00" * 18


def _workbook_far_away(parts: dict[str, bytes]) -> None:
    _chart_data(parts, b'Target="file:///\\\\127.0.0.1\\share\\book.xlsx" TargetMode="External"')


def _chart_data(parts: dict[str, bytes], target: bytes) -> None:
    chart = parts["xl/charts/chart1.xml"]
    if b"xmlns:r=" not in chart[:600]:
        chart = chart.replace(b"<c:chartSpace ", f'<c:chartSpace xmlns:r="{RELS}" '.encode(), 1)
    parts["xl/charts/chart1.xml"] = chart.replace(b"</c:chartSpace>", b'<c:externalData r:id="rId1"><c:autoUpdate '
                                                  b'val="1"/></c:externalData></c:chartSpace>')
    parts["xl/charts/_rels/chart1.xml.rels"] = (f'<?xml version="1.0"?><Relationships xmlns="http://schemas.'
                                                f'openxmlformats.org/package/2006/relationships"><Relationship '
                                                f'Id="rId1" Type="{RELS}/package" '.encode() + target
                                                + b"/></Relationships>")


@pytest.mark.parametrize("data", [_embedded_workbook, _workbook_far_away])
def test_a_chart_keeps_no_link_to_a_workbook(data: Any, tmp_path: Path):
    """A chart's data may live in a workbook embedded in the package or named by a path; Excel
    updates it from there.  The copy keeps a chart's cached values only: the link is gone, and a
    chart whose workbook lies outside the package is left out."""
    def chart(wb: Any, ws: Any) -> None:
        bars = wb.add_chart({"type": "column"})
        bars.add_series({"values": "=汇总表!$H$3:$H$4"})
        ws.insert_chart("Z2", bars)

    _, parts = review_of(tmp_path, chart, data)
    assert not any(b"externalData" in d for n, d in parts.items() if n.startswith("xl/charts/"))
    assert b"book.xlsx" not in rels(parts) and not any(n.startswith("xl/embeddings/") for n in parts)
    assert any(n.startswith("xl/charts/chart") for n in parts) == (data is _embedded_workbook)


# ----------------------------------------------------------------------------- parts under other names
MARK = b"<!-- the city's -->"


@pytest.mark.parametrize("target", ["/[Content_Types].xml", "/_rels/.rels", "/xl/_rels/workbook.xml.rels",
                                    "/docProps/custom.xml", "/xl/theme/_rels/theme1.xml.rels",
                                    "/xl/worksheets/sheet1.xml", "/xl/workbook.xml", "/xl/styles.xml"])
def test_no_part_of_the_city_is_copied_as_a_picture_or_under_a_name_the_review_writes(target: str, tmp_path: Path):
    """A drawing may name any part of the city's package as its "image": a relationships part
    (handing the theme back its links), the package's content types, the city's raw sheet with
    its formulas.  Copied under its own name it became a second zip entry beside the review's
    own.  A part reached by a link must be of that link's content type and may not take a name
    the review writes; otherwise the drawing is left out."""
    def change(parts: dict[str, bytes]) -> None:
        parts["xl/drawings/_rels/drawing1.xml.rels"] = parts["xl/drawings/_rels/drawing1.xml.rels"].replace(
            b"</Relationships>", f'<Relationship Id="rIdX" Type="{RELS}/image" Target="{target}"/>'
            f"</Relationships>".encode())
        name = target.lstrip("/")
        if name not in parts:
            parts[name] = b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/' \
                          b'2006/relationships"/>'
        parts[name] = parts[name].replace(b"?>", b"?>" + MARK, 1)
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(  # even when declared a picture
            b"</Types>", f'<Override PartName="{target}" ContentType="image/png"/></Types>'.encode())

    _, parts = review_of(tmp_path, image(tmp_path), change)
    # the mark may remain in the review's own styles or copy of the sheet, made from the city's
    carriers = [name for name, data in parts.items() if MARK in data]
    assert len(carriers) <= 1, carriers
    assert not [n for n in carriers if n.endswith((".rels", "].xml")) or n.startswith(("docProps/", "xl/workbook"))]
    assert not any(re.fullmatch(r"xl/drawings/drawing\d+\.xml", n) for n in parts)
    assert "xl/theme/_rels/theme1.xml.rels" not in parts


def test_table_formulas_are_removed_wherever_the_table_part_lives(tmp_path: Path):
    def table(wb: Any, ws: Any) -> None:
        ws.add_table("AA10:AC12", {"columns": [{"header": "a"}, {"header": "b"}, {
            "header": "c", "formula": f'=LEN(_xlfn.WEBSERVICE("{FETCH}"))', "total_function": "sum"}],
            "total_row": True})

    def move(parts: dict[str, bytes]) -> None:
        parts["xl/tbl/t1.xml"] = parts.pop("xl/tables/table1.xml")
        for name in ("xl/worksheets/_rels/sheet1.xml.rels", "[Content_Types].xml"):
            parts[name] = parts[name].replace(b"tables/table1.xml", b"tbl/t1.xml")

    _, parts = review_of(tmp_path, table, move)
    [copied] = [data for name, data in parts.items() if b"<table " in data[:400]]
    assert b"calculatedColumnFormula" not in copied and b"totalsRowFormula" not in copied
    assert FETCH.encode() not in copied


# ----------------------------------------------------------------------------- rule formulas in any spelling
@pytest.mark.parametrize("spelling", [
    b'<formula xml:space="preserve">{f}</formula>',  # attributes on the formula tag
    b"<formula >{f}</formula >",
    b"<formula><![CDATA[{f}]]></formula>",  # text in a CDATA section
])
def test_a_rule_that_points_elsewhere_is_dropped_however_its_formula_is_spelt(spelling: bytes, tmp_path: Path):
    """A conditional format whose formula tag carried an attribute was taken for local and kept in
    the city's review, pointing at a sheet the review leaves out (it could as well point at another
    workbook, which Excel offers to fetch).  Every formula tag is now read, whatever its spelling;
    a formula whose text cannot be read is not local."""
    def rules(wb: Any, ws: Any) -> None:
        wb.add_worksheet("选项").write(0, 0, 1)
        red = wb.add_format({"font_color": "#9C0006"})
        ws.conditional_format("H3:H10", {"type": "formula", "criteria": "=选项!$A$1>0", "format": red})
        ws.conditional_format("J3:J10", {"type": "formula", "criteria": "=$A$1>0", "format": red})

    outside = "选项!$A$1&gt;0".encode()

    def respell(parts: dict[str, bytes]) -> None:
        xml = parts["xl/worksheets/sheet1.xml"]
        assert xml.count(b"<formula>" + outside + b"</formula>") == 1
        parts["xl/worksheets/sheet1.xml"] = xml.replace(b"<formula>" + outside + b"</formula>",
                                                        spelling.replace(b"{f}", outside))

    review, parts = review_of(tmp_path, rules, respell)
    ranges = [str(r.sqref) for r in openpyxl.load_workbook(review)["汇总表"].conditional_formatting]
    assert ranges == ["J3:J10"]  # the local rule stays
    assert outside not in sheets(parts)


def test_rule_formulas_are_read_in_every_spelling():
    rule = b'<cfRule type="expression" priority="1">%s</cfRule>'
    assert _rules_local(rule % b"<formula>$A$1&gt;0</formula>")
    assert _rules_local(rule % b"<x:formula>$A$1&gt;0</x:formula><x:formula/>")  # an empty formula
    assert not _rules_local(rule % b'<formula a="1">Other!A1</formula>')
    assert not _rules_local(rule % b"<x:formula1>[1]S!A1</x:formula1>")
    assert not _rules_local(rule % b"<formula>$A$1<y/>Other!A1</formula>")  # an element inside
    assert not _rules_local(rule % b"<formula $A$1")  # a tag never closed
    assert _rules_local(b'<fill/><font b="1"/><dataValidation/>')  # f... elements that are no formula


# ----------------------------------------------------------------------------- pictures from outside
LINK = b"file://///127.0.0.1/share/x.png"


def _linked_picture(parts: dict[str, bytes]) -> None:
    """The drawing's picture linked from a network path instead of embedded (Insert > Link to file)."""
    drawing_rels = "xl/drawings/_rels/drawing1.xml.rels"
    parts[drawing_rels] = re.sub(rb'Target="[^"]+"', b'Target="' + LINK + b'" TargetMode="External"',
                                 parts[drawing_rels])
    parts["xl/drawings/drawing1.xml"] = parts["xl/drawings/drawing1.xml"].replace(b"r:embed=", b"r:link=")


def _linked_background(parts: dict[str, bytes]) -> None:
    """A sheet background picture taken from a network path."""
    sheet_rels = "xl/worksheets/_rels/sheet1.xml.rels"
    parts[sheet_rels] = parts[sheet_rels].replace(b"</Relationships>", f'<Relationship Id="rId99" Type="{RELS}/image" '
                                                  f'Target="{LINK.decode()}" TargetMode="External"/>'
                                                  f"</Relationships>".encode())
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = re.sub(rb"(<drawing [^>]*/>)", rb'\1<picture r:id="rId99"/>', parts[sheet])
    assert b"rId99" in parts[sheet]


@pytest.mark.parametrize("link", [_linked_picture, _linked_background])
def test_a_picture_linked_from_outside_the_workbook_is_not_copied(link: Any, tmp_path: Path):
    """A picture a workbook links from a path or URL is fetched by Excel when the workbook opens: a
    city's file linking one from a network share would have made the department's Excel, and every
    city's, reach that share on opening the review.  The copy keeps what lies inside the package
    and hyperlinks (followed on a click only); the rest of the sheet is copied as usual."""
    def extra(wb: Any, ws: Any) -> None:
        ws.insert_image("Z2", str(tmp_path / "pixel.png"))
        ws.write_url("Z20", "https://example.cn/政策原文")

    review, parts = review_of(tmp_path, extra, link)
    external = re.findall(rb'<Relationship [^>]*TargetMode="External"[^>]*>', rels(parts))
    assert external and all(b"/hyperlink" in r and b"example.cn" in r for r in external)
    assert LINK not in rels(parts) and b"rId99" not in sheets(parts)
    assert openpyxl.load_workbook(review)["汇总表"]["Z20"].hyperlink is not None


def test_a_chart_as_excel_saves_it_keeps_its_style_parts(tmp_path: Path):
    """Excel 2013 and later save every chart with a style and a colour part: the content types the
    copy requires of each kind must be the ones Excel writes, or every chart would be left out."""
    def chart(wb: Any, ws: Any) -> None:
        bars = wb.add_chart({"type": "column"})
        bars.add_series({"values": "=汇总表!$H$3:$H$4"})
        ws.insert_chart("Z2", bars)

    def styled(parts: dict[str, bytes]) -> None:
        ms = "http://schemas.microsoft.com/office/2011/relationships"
        parts["xl/charts/style1.xml"] = b'<?xml version="1.0"?><cs:chartStyle xmlns:cs="http://schemas.microsoft.' \
                                        b'com/office/drawing/2012/chartStyle" id="201"/>'
        parts["xl/charts/colors1.xml"] = b'<?xml version="1.0"?><cs:colorStyle xmlns:cs="http://schemas.microsoft.' \
                                         b'com/office/drawing/2012/chartStyle" meth="cycle" id="10"/>'
        parts["xl/charts/_rels/chart1.xml.rels"] = (
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
            f'relationships"><Relationship Id="rId2" Type="{ms}/chartColorStyle" Target="colors1.xml"/>'
            f'<Relationship Id="rId1" Type="{ms}/chartStyle" Target="style1.xml"/></Relationships>').encode()
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b"</Types>", (
            b'<Override PartName="/xl/charts/style1.xml" ContentType="application/vnd.ms-office.chartstyle+xml"/>'
            b'<Override PartName="/xl/charts/colors1.xml" ContentType="application/vnd.ms-office.chartcolorstyle+xml"/>'
            b"</Types>"))

    _, parts = review_of(tmp_path, chart, styled)
    charts = sorted(n for n in parts if n.startswith("xl/charts/"))
    assert "xl/charts/chart1.xml" in charts and "xl/charts/style1.xml" in charts and "xl/charts/colors1.xml" in charts
