"""Value normalisers (issue 2, SPEC §2.1): unit tests per parser and Hypothesis properties.

Properties, for every normaliser: it never raises, and it returns "missing" (no value, no
code) only for a blank input; anything else written yields a value or a finding code.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdbatch import rules as rules_mod
from sdbatch.normalise import (
    MISSING,
    Parsed,
    is_blank,
    normalise_value,
    parse_bool,
    parse_choice,
    parse_city,
    parse_email,
    parse_int,
    parse_number,
    parse_phone,
    parse_text,
    parse_uscc,
    to_amount,
    to_count,
    to_percent,
)
from tests.builders import make_uscc

RULES = rules_mod.load("cluster_2024")
INDUSTRIES = RULES.choices["industries"]
CITIES = list(RULES.jurisdiction.cities)


# ----------------------------------------------------------------------------- parse_number
@pytest.mark.parametrize("written,expected", [
    (2380, 2380),
    (120.5, 120.5),
    ("2,380", 2380),
    ("2，380", 2380),
    ("1,234,567.5", 1234567.5),
    ("３．５", 3.5),
    ("１２０", 120),
    (" 52.3 ", 52.3),
    ("52.3亿元", 52.3),
    ("35家", 35),
    ("约30", 30),
    ("1000余", 1000),
    ("1000余项", 1000),
    ("1e3", 1000),
    ("-5", -5),
    (".5", 0.5),
    ("0", 0),
])
def test_parse_number_values(written: Any, expected: float) -> None:
    parsed = parse_number(written)
    assert parsed.code is None
    assert parsed.value == pytest.approx(expected)


def test_parse_number_integral_is_int() -> None:
    assert isinstance(parse_number("35").value, int)
    assert isinstance(parse_number("35.0").value, int)


@pytest.mark.parametrize("written,percent", [("3.5%", True), ("３．５％", True), ("3.5", False)])
def test_parse_number_percent_sign(written: str, percent: bool) -> None:
    parsed = parse_number(written)
    assert parsed.value == pytest.approx(3.5)
    assert dict(parsed.params)["percent"] is percent


def test_parse_number_cell_unit() -> None:
    assert dict(parse_number("325000万元").params)["unit"] == "万元"
    assert dict(parse_number("52.3 亿元").params)["unit"] == "亿元"


@pytest.mark.parametrize("written", ["/", "—", "无", "空", "", "  ", None, "——", "-", "N/A"])
def test_parse_number_blanks(written: Any) -> None:
    assert parse_number(written) == MISSING


@pytest.mark.parametrize("written", ["abc", "五十", "12,34", "1.2.3", "5-10", True, False, float("nan"),
                                     float("inf"), dt.date(2024, 6, 1), "1e999", "待核实"])
def test_parse_number_unparseable(written: Any) -> None:
    parsed = parse_number(written)
    assert parsed.value is None and parsed.code == "unparseable-value"


def test_parse_number_unit_then_suffix() -> None:
    assert parse_number("1000项以上").value == 1000


# ----------------------------------------------------------------------------- amounts / percent / counts
@pytest.mark.parametrize("written,column_unit,expected", [
    (325000, "万元", 32.5),
    ("325,000", "万元", 32.5),
    (52.3, "亿元", 52.3),
    (52.3, None, 52.3),
    (5230000000, "元", 52.3),
    (523000, "千元", 5.23),
    ("325000万元", None, 32.5),
    ("325000万元", "亿元", 32.5),  # the cell's unit wins over the column's
    ("52.3亿元", "万元", 52.3),
])
def test_to_amount(written: Any, column_unit: str | None, expected: float) -> None:
    parsed = to_amount(parse_number(written), column_unit, "亿元")
    assert parsed.code is None
    assert parsed.value == pytest.approx(expected)


def test_to_amount_says_how_it_converted() -> None:
    assert to_amount(parse_number(325000), "万元", "亿元").how
    assert to_amount(parse_number(52.3), "亿元", "亿元").how is None


@pytest.mark.parametrize("written,percent_format,expected", [
    ("3.5%", False, 3.5),
    (0.035, True, 3.5),
    (3.5, False, 3.5),
    (0.035, False, 3.5),
    ("３．５％", False, 3.5),
    (12, False, 12),
    (0, False, 0),
    (1, True, 100),
])
def test_to_percent(written: Any, percent_format: bool, expected: float) -> None:
    parsed = to_percent(parse_number(written), percent_format=percent_format)
    assert parsed.value == pytest.approx(expected)


@pytest.mark.parametrize("written,expected,code", [
    (35, 35, None), ("35", 35, None), (35.0, 35, None), ("35家", 35, None), (35.5, None, "unparseable-value"),
])
def test_to_count(written: Any, expected: Any, code: str | None) -> None:
    parsed = to_count(parse_number(written))
    assert (parsed.value, parsed.code) == (expected, code)


# ----------------------------------------------------------------------------- yes / no
@pytest.mark.parametrize("written,expected", [
    ("是", True), ("否", False), ("有", True), ("无", False), ("√", True), ("×", False), ("✓", True),
    ("Y", True), ("n", False), ("yes", True), ("No", False), (True, True), (False, False), (1, True), (0, False),
    (" 是 ", True), ("是（已注册）", True), ("具有", True), ("不具有", False), ("未发生", False), ("没有", False),
    ("无不良信用记录", False), ("有不良记录", True),
])
def test_parse_bool(written: Any, expected: bool) -> None:
    assert parse_bool(written) == Parsed(expected)


@pytest.mark.parametrize("written", [None, "", "/", "—", "空"])
def test_parse_bool_blank(written: Any) -> None:
    assert parse_bool(written).missing


@pytest.mark.parametrize("written", ["待定", "2", 2, "情况复杂"])
def test_parse_bool_unparseable(written: Any) -> None:
    assert parse_bool(written).code == "unparseable-value"


def test_parse_bool_unknown_is_not_no() -> None:
    assert parse_bool("未知").value is None


def test_parse_bool_nan_is_not_no() -> None:
    assert parse_bool(float("nan")).value is None


# ----------------------------------------------------------------------------- cities
@pytest.mark.parametrize("written,expected", [
    ("济南", "济南市"), ("济南市", "济南市"), ("济南市工业和信息化局", "济南市"), (" 济 南 市 ", "济南市"),
    ("青岛西海岸新区", "青岛市"), ("临沂市工业和信息化局", "临沂市"), ("菏泽", "菏泽市"),
])
def test_parse_city(written: str, expected: str) -> None:
    parsed = parse_city(written, RULES.jurisdiction)
    assert (parsed.value, parsed.code, parsed.how) == (expected, None, None)


@pytest.mark.parametrize("city", CITIES)
def test_parse_city_every_city(city: str) -> None:
    assert parse_city(city, RULES.jurisdiction).value == city
    assert parse_city(city[:-1], RULES.jurisdiction).value == city


@pytest.mark.parametrize("written", ["莱芜", "莱芜市", "莱芜市工业和信息化局"])
def test_parse_city_laiwu(written: str) -> None:
    parsed = parse_city(written, RULES.jurisdiction)
    assert (parsed.value, parsed.how) == ("济南市", "legacy")


@pytest.mark.parametrize("written", ["北京市", "江苏省", "山东省"])
def test_parse_city_unknown(written: str) -> None:
    assert parse_city(written, RULES.jurisdiction) == Parsed(code="unknown-city")


def test_sixteen_cities() -> None:
    assert len(CITIES) == 16


# ----------------------------------------------------------------------------- industries
@pytest.mark.parametrize("written,expected", [
    ("集成电路", "集成电路"),
    ("云计算与大数据", "云服务大数据"),
    ("集成电路（IC）", "集成电路"),
    ("AI", "人工智能"),
    ("VR/AR", "虚拟现实"),
    ("ＶＲ／ＡＲ", "虚拟现实"),
    ("高端软件产业", "高端软件"),
    ("新一代人工智能", "人工智能"),
])
def test_parse_choice_industries(written: str, expected: str) -> None:
    parsed = parse_choice(written, INDUSTRIES)
    assert parsed.value == expected and parsed.code is None


def test_parse_choice_several_named() -> None:
    parsed = parse_choice("集成电路、人工智能", INDUSTRIES)
    assert (parsed.value, parsed.how) == ("集成电路", "several")


@pytest.mark.parametrize("written", ["现代农业", "PAID", "生物医药"])
def test_parse_choice_unknown(written: str) -> None:
    assert parse_choice(written, INDUSTRIES) == Parsed(code="unknown-choice")


# ----------------------------------------------------------------------------- codes and contacts
VALID_USCC = make_uscc("91370100MA3C4D5E6")


FULL_WIDTH = str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                           "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ")


@pytest.mark.parametrize("written", [VALID_USCC, VALID_USCC.lower(), f" {VALID_USCC[:6]} {VALID_USCC[6:]} ",
                                     VALID_USCC.translate(FULL_WIDTH)])
def test_parse_uscc_valid(written: str) -> None:
    assert parse_uscc(written) == Parsed(VALID_USCC)


@pytest.mark.parametrize("written", [VALID_USCC[:-1], VALID_USCC + "1", VALID_USCC[:-1] + ("0" if VALID_USCC[-1] != "0" else "1"),
                                     "91370100MA3C4D5EI" + "0", 913701001234567890])
def test_parse_uscc_invalid(written: Any) -> None:
    parsed = parse_uscc(written)
    assert parsed.value is None and parsed.code == "invalid-credit-code"


@pytest.mark.parametrize("written", ["13912345678", "0531-88886666", "0531－88886666", "(0531)88886666",
                                     "0531-88886666转123", "13912345678/0531-88886666", "139-1234-5678",
                                     "13912345678；0531-88886666", 13912345678])
def test_parse_phone_valid(written: Any) -> None:
    parsed = parse_phone(written)
    assert parsed.code is None and parsed.value


@pytest.mark.parametrize("written", ["139 1234 5678", "0531 88886666", "+86 139 1234 5678"])
def test_parse_phone_grouped_digits(written: str) -> None:
    assert parse_phone(written).code is None


@pytest.mark.parametrize("written", ["12345", "1391234567", "电话待定", "0531-8888"])
def test_parse_phone_invalid_keeps_text(written: str) -> None:
    parsed = parse_phone(written)
    assert parsed.code == "invalid-phone" and parsed.value == written


@pytest.mark.parametrize("written,code", [("cluster@example.cn", None), (" a.b+c@mail.example.com.cn ", None),
                                          ("ｃｌｕｓｔｅｒ＠ｅｘａｍｐｌｅ．ｃｎ", None), ("cluster@", "invalid-email"),
                                          ("cluster.example.cn", "invalid-email"), ("张三@示例", "invalid-email")])
def test_parse_email(written: str, code: str | None) -> None:
    parsed = parse_email(written)
    assert parsed.code == code and parsed.value


def test_parse_text() -> None:
    assert parse_text("  示例  集群 ") == Parsed("示例 集群")
    assert parse_text(dt.date(2024, 6, 1)) == Parsed("2024-06-01")
    assert parse_text("/").missing
    assert parse_text(12.0) == Parsed("12")


# ----------------------------------------------------------------------------- normalise_value dispatch
@pytest.mark.parametrize("fid,written,kw,expected", [
    ("revenue_total", 325000, {"column_unit": "万元"}, 32.5),
    ("revenue_total", "１２０．５", {}, 120.5),
    ("rd_ratio", 0.035, {"percent_format": True}, 3.5),
    ("rd_ratio", "3.5%", {}, 3.5),
    ("leader_firms", "2,380", {}, 2380),
    ("legal_person", "√", {}, True),
    ("bad_credit", "无", {}, False),
    ("city", "莱芜", {}, "济南市"),
    ("industry", "AI", {}, "人工智能"),
    ("city_order", "1", {}, 1),
])
def test_normalise_value(fid: str, written: Any, kw: dict[str, Any], expected: Any) -> None:
    options = {"column_unit": None, "percent_format": False, **kw}
    parsed = normalise_value(RULES.fields[fid], written, rules=RULES, **options)
    assert parsed.value == pytest.approx(expected) if isinstance(expected, float) else parsed.value == expected


@pytest.mark.parametrize("fid", ["revenue_total", "leader_firms", "rd_ratio"])
def test_normalise_value_negative(fid: str) -> None:
    parsed = normalise_value(RULES.fields[fid], -3, column_unit=None, percent_format=False, rules=RULES)
    assert parsed.code == "negative-value" and parsed.value is None


# ----------------------------------------------------------------------------- properties
NUMBERISH = "0123456789０１２３４５６７８９.．,，%％ 　-+eE约近余多以上万亿千元家个项件人/—_无空是否有√×nN"
CITYISH = "".join(CITIES) + "莱芜工业和信息化局省北京"
INDUSTRYISH = "".join(INDUSTRIES.allowed) + "AIVRaivr/（）()、，与和产业IC"
TEXTISH = "@.-_abcxyzABC０１２３＠．（）()转/、 0123456789+"

# Ints a spreadsheet cell can hold (IEEE doubles: exact up to 2**53, magnitude below 1.8e308).
CELL_INTS = st.integers(min_value=-(2**53), max_value=2**53)

ANY_CELL = st.one_of(
    st.none(),
    st.booleans(),
    CELL_INTS,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.text(alphabet=NUMBERISH, max_size=12),
    st.text(alphabet=CITYISH, max_size=10),
    st.text(alphabet=INDUSTRYISH, max_size=10),
    st.text(alphabet=TEXTISH, max_size=20),
    st.sampled_from(["/", "—", "无", "空", "——", " ", "N/A", "null", "nan", "合计", "-", "×", "√"]),
    st.dates(),
    st.datetimes(),
    st.times(),
)

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_total(parsed: Parsed, value: Any, *, yes_no: bool = False) -> None:
    """The property: a Parsed; no value and no code only for blank input."""
    assert isinstance(parsed, Parsed)
    if parsed.value is None and parsed.code is None:
        assert is_blank(value, yes_no=yes_no), f"silent None for {value!r}"
    if isinstance(parsed.value, float):
        assert not math.isnan(parsed.value)


@PROPERTY
@given(ANY_CELL)
def test_property_parse_number(value: Any) -> None:
    assert_total(parse_number(value), value)


@PROPERTY
@given(ANY_CELL)
def test_property_parse_int(value: Any) -> None:
    assert_total(parse_int(value), value)


@PROPERTY
@given(ANY_CELL, st.sampled_from([None, "亿元", "万元", "元", "千元", "百万元", "%", "家"]))
def test_property_to_amount(value: Any, unit: str | None) -> None:
    assert_total(to_amount(parse_number(value), unit, "亿元"), value)


@PROPERTY
@given(ANY_CELL, st.booleans())
def test_property_to_percent(value: Any, percent_format: bool) -> None:
    assert_total(to_percent(parse_number(value), percent_format=percent_format), value)


@PROPERTY
@given(ANY_CELL)
def test_property_to_count(value: Any) -> None:
    assert_total(to_count(parse_number(value)), value)


@PROPERTY
@given(ANY_CELL)
def test_property_parse_bool(value: Any) -> None:
    assert_total(parse_bool(value), value, yes_no=True)


@PROPERTY
@given(ANY_CELL)
def test_property_parse_city(value: Any) -> None:
    parsed = parse_city(value, RULES.jurisdiction)
    assert_total(parsed, value)
    assert parsed.value is None or parsed.value in CITIES


@PROPERTY
@given(ANY_CELL)
def test_property_parse_choice(value: Any) -> None:
    parsed = parse_choice(value, INDUSTRIES)
    assert_total(parsed, value)
    assert parsed.value is None or parsed.value in INDUSTRIES.allowed


@PROPERTY
@given(st.one_of(ANY_CELL, st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=18, max_size=18)))
def test_property_parse_uscc(value: Any) -> None:
    parsed = parse_uscc(value)
    assert_total(parsed, value)
    assert parsed.value is None or len(parsed.value) == 18


@PROPERTY
@given(ANY_CELL)
def test_property_parse_phone(value: Any) -> None:
    assert_total(parse_phone(value), value)


@PROPERTY
@given(ANY_CELL)
def test_property_parse_email(value: Any) -> None:
    assert_total(parse_email(value), value)


@PROPERTY
@given(ANY_CELL)
def test_property_parse_text(value: Any) -> None:
    assert_total(parse_text(value), value)


@pytest.mark.parametrize("fid", sorted(RULES.fields))
@settings(max_examples=40, deadline=None)
@given(value=ANY_CELL, unit=st.sampled_from([None, "亿元", "万元", "元", "%", "家"]), percent_format=st.booleans())
def test_property_normalise_value_every_field(fid: str, value: Any, unit: str | None, percent_format: bool) -> None:
    f = RULES.fields[fid]
    parsed = normalise_value(f, value, column_unit=unit, percent_format=percent_format, rules=RULES)
    assert_total(parsed, value, yes_no=f.type == "bool")


def test_huge_integer_amount_does_not_raise() -> None:
    to_amount(parse_number(10**400), "万元", "亿元")
