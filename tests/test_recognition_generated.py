"""Generated recognition tests (issue 12): every field of both bundled rules files is recognised from
headers composed of its concepts — in other orders, with the vocabulary's equivalent forms, with line
breaks, full-width characters, a unit in the header, in a line above the table or in a units row —
and no header of one field is read as another.  Industry names: every listed variant maps to its
canonical industry, names of industries outside the ten never do.

The headers are composed from the data (vocabulary.toml and the rules files), so a new concept, form
or field is covered without a new test.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from sdbatch import concepts
from sdbatch import rules as rules_mod
from sdbatch.header import apply_context_units, find_table, match_header, unit_statements
from sdbatch.model import RawSheet
from sdbatch.normalise import parse_choice
from sdbatch.rules import FieldRule, Rules
from sdbatch.text import vocabulary

PROGRAMS = ("cluster_2024", "park_2024")
FORMS: dict[str, list[str]] = vocabulary()["header"]["concepts"]
HEADER_UNITS = {"amount": ["（万元）", "(亿元)", "（元）"], "count": ["（家）", "(个)", "（项）"],
                "ratio": ["（%）", "(％)"], "bool": ["（是/否）", "（√/×）"]}
ROW_UNITS = {"amount": "万元", "count": "家", "ratio": "%"}


def forms_of(concept: str) -> list[str]:
    return [concept, *(w for w in FORMS.get(concept, []) if w != concept)]


def full_width(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def compose(f: FieldRule, rng: random.Random) -> str:
    """A header for ``f``: one of its key groups in any order, each concept in any of its written
    forms, after up to two of its qualifiers (modifiers come first in Chinese), joined by nothing,
    a line break or a space, sometimes in full-width characters."""
    group = rng.choice(f.concepts)
    words = [rng.choice(forms_of(c)) for c in group]
    rng.shuffle(words)
    qualifiers = [q for q in f.qualifiers if q not in group]
    chosen = rng.sample(qualifiers, rng.randint(0, min(2, len(qualifiers))))
    words = [rng.choice(forms_of(q)) for q in chosen] + words
    sep = rng.choice(["", "", "\n", " "])
    text = words[0]
    for word in words[1:]:
        latin = text[-1:].isascii() and text[-1:].isalpha() and word[:1].isascii() and word[:1].isalpha()
        text += (" " if latin and not sep else sep) + word  # Latin words keep their space
    return full_width(text) if rng.random() < 0.3 else text


def fields_of(program: str) -> Iterator[tuple[str, FieldRule]]:
    rules = rules_mod.load(program)
    for f in rules.fields.values():
        yield program, f


ALL_FIELDS = [pytest.param(p, f, id=f"{p}-{f.id}") for name in PROGRAMS for p, f in fields_of(name)]


@pytest.mark.parametrize("program, f", ALL_FIELDS)
def test_every_field_declares_what_identifies_it(program: str, f: FieldRule) -> None:
    assert f.concepts, f"{program}: field {f.id} has no concepts"


@pytest.mark.parametrize("program, f", ALL_FIELDS)
def test_each_form_of_each_key_concept_names_its_field(program: str, f: FieldRule) -> None:
    """Every written form the vocabulary knows, in every key group, in every order of the group."""
    rules = rules_mod.load(program)
    unit = HEADER_UNITS.get(concepts.FAMILY_OF_TYPE.get(f.type) or "", [""])[0]
    for group in f.concepts:
        for concept in group:
            for form in forms_of(concept):
                words = [form if c == concept else c for c in group]
                for text in ("".join(words), "".join(reversed(words)), "\n".join(words) + unit):
                    assert match_header(text, rules)[0] == f.id, (text, concepts.field_scores(text, rules))


@pytest.mark.parametrize("program, f", ALL_FIELDS)
def test_composed_headers_name_their_field_and_no_other(program: str, f: FieldRule) -> None:
    rules = rules_mod.load(program)
    rng = random.Random(f"{program}:{f.id}")
    family = concepts.FAMILY_OF_TYPE.get(f.type) or ""
    for _ in range(40):
        text = compose(f, rng)
        if family in HEADER_UNITS and rng.random() < 0.5:
            text += rng.choice(HEADER_UNITS[family])
        assert match_header(text, rules)[0] == f.id, (text, concepts.field_scores(text, rules))


def _table(rules: Rules, rng: random.Random, placement: str) -> tuple[RawSheet, list[str]]:
    """Every field of ``rules`` as one column (in a shuffled order) with a composed header; the
    amounts' unit in their header, in a line above the table, or in a units row."""
    fields = list(rules.fields.values())
    rng.shuffle(fields)
    header: list[Any] = []
    units: list[Any] = []
    for f in fields:
        family = concepts.FAMILY_OF_TYPE.get(f.type) or ""
        text = compose(f, rng)
        if placement == "header" and family in HEADER_UNITS:
            text += HEADER_UNITS[family][0]
        header.append(text)
        units.append(ROW_UNITS.get(family))
    rows: list[list[Any]] = [["某市汇总表"]]
    if placement == "line_above":
        rows.append([None] * (len(fields) - 1) + ["单位：万元"])
    rows.append(header)
    if placement == "units_row":
        rows.append(units)
    rows.append(["示例"] * len(fields))
    return RawSheet("汇总表", rows), [f.id for f in fields]


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("placement", ["header", "line_above", "units_row"])
@pytest.mark.parametrize("seed", range(4))
def test_a_table_of_composed_headers_is_assigned_whole(program: str, placement: str, seed: int) -> None:
    rules = rules_mod.load(program)
    sheet, expected = _table(rules, random.Random(f"{program}:{placement}:{seed}"), placement)
    table = find_table(sheet, rules)
    assert table is not None
    apply_context_units(table, unit_statements(table, [], rules), rules)
    got = {c.index: c.field for c in table.columns}
    assert got == dict(enumerate(expected)), [
        (sheet.rows[table.header_rows[0]][i], want, got.get(i)) for i, want in enumerate(expected) if got.get(i) != want]
    assert all(c.level == "sure" for c in table.columns), [(c.header, c.level) for c in table.columns]
    for col in table.columns:
        family = concepts.FAMILY_OF_TYPE.get(rules.fields[col.field or ""].type)
        if family == "amount":
            assert col.unit == ("万元" if placement != "header" else "万元"), (col.header, col.unit)
            assert col.unit_source == {"header": "header", "line_above": "context", "units_row": "units_row"}[placement]
        elif family in ("count", "ratio") and placement != "line_above":
            assert col.unit == ROW_UNITS[family], (col.header, col.unit)


# ----------------------------------------------------------------------------- industries
CLUSTER = rules_mod.load("cluster_2024")
INDUSTRIES = CLUSTER.choices["industries"]
OUTSIDE = ["智能制造", "新能源汽车", "生物医药", "智能网联汽车", "高端装备", "智能家电", "工业互联网", "新材料",
           "铝基新材料", "化工新材料", "智慧农业", "现代物流", "生物制造", "航空航天装备", "机器人", "海洋装备",
           "新能源", "节能环保", "文化创意", "纺织服装", "智慧医疗", "智能网联", "数字创意", "现代金融"]
VARIANTS = [pytest.param(canon, form, id=f"{canon}-{form}") for canon, forms in INDUSTRIES.variants.items()
            for form in [canon, *forms]]


@pytest.mark.parametrize("canon, form", VARIANTS)
def test_every_listed_variant_maps_to_its_industry(canon: str, form: str) -> None:
    for written in (form, form.upper(), full_width(form), f" {form} ", f"{form}产业", f"{form}（主导）"):
        parsed = parse_choice(written, INDUSTRIES)
        assert (parsed.value, parsed.code) == (canon, None), (written, parsed)


@pytest.mark.parametrize("name", OUTSIDE)
def test_an_industry_outside_the_ten_never_maps(name: str) -> None:
    for written in (name, f"{name}产业", f"{name}产业集群", full_width(name)):
        assert parse_choice(written, INDUSTRIES).code == "unknown-choice", (written, parse_choice(written, INDUSTRIES))


@pytest.mark.parametrize("canon", INDUSTRIES.allowed)
def test_a_text_holding_one_full_industry_name_maps(canon: str) -> None:
    assert parse_choice(f"新一代{canon}", INDUSTRIES).value == canon
    assert parse_choice(f"{canon}（核心领域）", INDUSTRIES).value == canon


def test_a_short_variant_never_maps_inside_a_longer_word() -> None:
    """A variant of two characters is a whole term or nothing (终端 is not in 终端设备制造)."""
    short = [(canon, form) for canon, forms in INDUSTRIES.variants.items() for form in forms if len(form) <= 2]
    assert short
    for canon, form in short:
        for longer in (f"{form}设备制造", f"新型{form}装备"):
            assert parse_choice(longer, INDUSTRIES).value != canon or any(
                c in longer for c in INDUSTRIES.allowed), longer


# ----------------------------------------------------------------------------- a new round's fields
def test_a_field_is_named_by_its_label_too(tmp_path: Any) -> None:
    """The template writes each field's label as its header: a field with neither aliases nor
    concepts is still read from it."""
    from sdbatch.rules import load
    from tests.test_rules_schema import CLUSTER_TEXT

    path = tmp_path / "cluster_2025.toml"
    path.write_text(CLUSTER_TEXT + '\n[fields.scale]\nlabel = "集群规模等级"\ntype = "text"\n', encoding="utf-8")
    assert match_header("集群规模等级", load(path))[0] == "scale"


def test_a_new_field_is_recognised_by_its_concepts_alone(tmp_path: Any) -> None:
    """A round adds a field with concepts only (no alias): headers written every which way name it."""
    from sdbatch.rules import load
    from tests.test_rules_schema import CLUSTER_TEXT

    path = tmp_path / "cluster_2025.toml"
    path.write_text(CLUSTER_TEXT + '\n[fields.listed_firms]\nlabel = "上市企业数量"\ntype = "count"\nunit = "家"\n'
                    'concepts = [["上市", "企业"]]\nqualifiers = ["规上"]\n', encoding="utf-8")
    rules = load(path)
    for text in ("上市企业数量", "上市公司（家）", "规模以上上市企业数", "Listed 上市 firms"):
        assert match_header(text, rules)[0] == "listed_firms", text
    assert match_header("规上企业数量", rules)[0] == "leading_firms"
