"""A column chart on a sheet written by :mod:`sdbatch.writers.xlsxpatch` (the province list's
city summary, issue 16): the chart part, the drawing part that places it on the sheet, and their
relationships.

The chart refers to the sheet's cells (``各市汇总!$D$2:$D$17``) and carries their values as it
was written (the caches), so a viewer that does not recompute charts still draws it.  Every text
is escaped; nothing in it is a formula of the workbook.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sdbatch.writers import xlsxpatch as xp

C_NS = "http://schemas.openxmlformats.org/drawingml/2006/chart"
A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
XDR_NS = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
REL_DRAWING = f"{xp.RELS}/drawing"
REL_CHART = f"{xp.RELS}/chart"
EMU_PER_PIXEL = 9525
SHEET_DRAWING_ID = "rId1"  # the sheet's relationship to its drawing (the sheet has no other)
_AXES = (50010001, 50010002)


@dataclass(frozen=True)
class Series:
    """One series: its name, categories and values, each as a reference and as written."""

    name: str
    name_ref: str  # e.g. 各市汇总!$D$1 (the sheet's name quoted when it must be)
    categories: Sequence[str]
    categories_ref: str
    values: Sequence[float]
    values_ref: str
    colour: str  # RGB, e.g. "70AD47"


@dataclass(frozen=True)
class ColumnChart:
    title: str
    x_title: str
    y_title: str
    series: Sequence[Series]
    major_unit: int = 1
    stacked: bool = True
    label_rotation: int = -45  # degrees of the category labels


def _rich(text: str) -> str:
    return (f"<c:tx><c:rich><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr/></a:pPr><a:r><a:rPr lang=\"zh-CN\"/>"
            f"<a:t>{xp.escape(text)}</a:t></a:r></a:p></c:rich></c:tx>")


def _title(text: str) -> str:
    return f"<c:title>{_rich(text)}<c:overlay val=\"0\"/></c:title>" if text else ""


def _str_cache(items: Sequence[str]) -> str:
    points = "".join(f'<c:pt idx="{i}"><c:v>{xp.escape(str(v))}</c:v></c:pt>' for i, v in enumerate(items))
    return f'<c:strCache><c:ptCount val="{len(items)}"/>{points}</c:strCache>'


def _num_cache(items: Sequence[float]) -> str:
    points = "".join(f'<c:pt idx="{i}"><c:v>{v!r}</c:v></c:pt>' for i, v in enumerate(items))
    return f'<c:numCache><c:formatCode>General</c:formatCode><c:ptCount val="{len(items)}"/>{points}</c:numCache>'


def _series(i: int, s: Series) -> str:
    return (f'<c:ser><c:idx val="{i}"/><c:order val="{i}"/>'
            f"<c:tx><c:strRef><c:f>{xp.escape(s.name_ref)}</c:f>{_str_cache([s.name])}</c:strRef></c:tx>"
            f'<c:spPr><a:solidFill><a:srgbClr val="{s.colour}"/></a:solidFill></c:spPr>'
            '<c:invertIfNegative val="0"/>'
            f"<c:cat><c:strRef><c:f>{xp.escape(s.categories_ref)}</c:f>{_str_cache(s.categories)}</c:strRef></c:cat>"
            f"<c:val><c:numRef><c:f>{xp.escape(s.values_ref)}</c:f>{_num_cache(s.values)}</c:numRef></c:val></c:ser>")


def chart_xml(chart: ColumnChart) -> bytes:
    """The chart part of a (stacked) column chart."""
    cat, val = _AXES
    grouping = "stacked" if chart.stacked else "clustered"
    overlap = '<c:overlap val="100"/>' if chart.stacked else ""
    rotation = chart.label_rotation * 60000
    body = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<c:chartSpace xmlns:c="{C_NS}" '
        f'xmlns:a="{A_NS}" xmlns:r="{xp.RELS}"><c:lang val="zh-CN"/><c:chart>{_title(chart.title)}'
        '<c:autoTitleDeleted val="0"/><c:plotArea><c:layout/>'
        f'<c:barChart><c:barDir val="col"/><c:grouping val="{grouping}"/><c:varyColors val="0"/>'
        + "".join(_series(i, s) for i, s in enumerate(chart.series))
        + f'<c:gapWidth val="150"/>{overlap}<c:axId val="{cat}"/><c:axId val="{val}"/></c:barChart>'
        f'<c:catAx><c:axId val="{cat}"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/>'
        f'<c:axPos val="b"/>{_title(chart.x_title)}<c:numFmt formatCode="General" sourceLinked="1"/>'
        '<c:tickLblPos val="nextTo"/>'
        f'<c:txPr><a:bodyPr rot="{rotation}" vert="horz"/><a:lstStyle/><a:p><a:pPr><a:defRPr/></a:pPr>'
        '<a:endParaRPr lang="zh-CN"/></a:p></c:txPr>'
        f'<c:crossAx val="{val}"/><c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/>'
        '<c:lblOffset val="100"/></c:catAx>'
        f'<c:valAx><c:axId val="{val}"/><c:scaling><c:orientation val="minMax"/><c:min val="0"/></c:scaling>'
        f'<c:delete val="0"/><c:axPos val="l"/><c:majorGridlines/>{_title(chart.y_title)}'
        '<c:numFmt formatCode="0" sourceLinked="0"/><c:tickLblPos val="nextTo"/>'
        f'<c:crossAx val="{cat}"/><c:crosses val="autoZero"/><c:crossBetween val="between"/>'
        f'<c:majorUnit val="{max(int(chart.major_unit), 1)}"/></c:valAx></c:plotArea>'
        '<c:legend><c:legendPos val="b"/><c:overlay val="0"/></c:legend><c:plotVisOnly val="1"/>'
        '<c:dispBlanksAs val="gap"/></c:chart></c:chartSpace>'
    )
    return body.encode("utf-8")


def drawing_xml(row: int, col: int, width_px: int, height_px: int, rel_id: str = "rId1") -> bytes:
    """A drawing holding one chart whose top left corner is the cell at (``row``, ``col``),
    0-based, ``width_px`` by ``height_px`` pixels."""
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<xdr:wsDr xmlns:xdr="{XDR_NS}" xmlns:a="{A_NS}">'
        f"<xdr:oneCellAnchor><xdr:from><xdr:col>{col}</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>{row}</xdr:row>"
        f'<xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:ext cx="{width_px * EMU_PER_PIXEL}" '
        f'cy="{height_px * EMU_PER_PIXEL}"/><xdr:graphicFrame macro=""><xdr:nvGraphicFramePr>'
        '<xdr:cNvPr id="2" name="Chart 1"/><xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr>'
        '<xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm><a:graphic>'
        f'<a:graphicData uri="{C_NS}"><c:chart xmlns:c="{C_NS}" xmlns:r="{xp.RELS}" r:id="{rel_id}"/>'
        "</a:graphicData></a:graphic></xdr:graphicFrame><xdr:clientData/></xdr:oneCellAnchor></xdr:wsDr>"
    ).encode()


def add_chart(out: xp.OutputPackage, sheet_part: str, chart: ColumnChart, row: int, col: int,
              size: tuple[int, int]) -> str:
    """Write ``chart`` and the drawing that places it on ``sheet_part`` (whose relationships
    are written here: the sheet has no other); returns the relationship id the sheet's
    ``<drawing>`` element names."""
    chart_part = out.name("xl/charts/chart", ".xml")
    drawing_part = out.name("xl/drawings/drawing", ".xml")
    out.write(chart_part, chart_xml(chart), xp.CT_CHART)
    out.write(drawing_part, drawing_xml(row, col, *size), xp.CT_DRAWING)
    out.write_rels(drawing_part, [("rId1", REL_CHART, chart_part, False)])
    out.write_rels(sheet_part, [(SHEET_DRAWING_ID, REL_DRAWING, drawing_part, False)])
    return SHEET_DRAWING_ID
