"""Shared pieces of the writers: colours, audiences, labels, reasons and safe cell values.

Writers render a decided :class:`~sdbatch.model.RunResult`; nothing here recomputes a
status, a score or a rank.

**One colour legend** for every output (:func:`colour_of`, :func:`legend`): red, a finding the
city must fix; amber, one to check or that needs the experts' judgement; blue, a value that was
converted or computed (the catalogue marks those codes ``converted = true``) and nothing else —
a skipped 合计 row, a note row or a name is never blue (such notes carry a comment, no fill).

**Audiences** (:func:`for_audience`): a finding reaches a reader only when its catalogue
audience allows (``sdbatch.catalogue.audience``): a city's outputs carry ``city`` findings only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sdbatch import clock, settings
from sdbatch.catalogue import audience, entries, join, label, lookup, render, text, words
from sdbatch.model import STATUSES, Application, FileRecord, Finding, RunResult

UNKNOWN_CITY = text("writers.common.unknown_city")

# Fill colours (ARGB without alpha for xlsxwriter, with FF for openpyxl).
COLOURS = {"red": "FFC7CE", "amber": "FFEB9C", "blue": "DDEBF7"}
COLOUR_STRENGTH = {"red": 3, "amber": 2, "blue": 1}
HEADER_FILL = "D9E1F2"
# Headers, totals and cells to fill in: grey, a colour outside the legend, so that a reader never
# takes a header for a converted value (blue) or a cell to fill for one to review (amber).
NEUTRAL_FILL = "E7E6E6"

_RED_EFFECTS = {"ineligible", "incomplete", "over_quota"}
_SEVERITY_STRENGTH = {"error": 3, "warning": 2, "info": 1}


def is_converted(code: str) -> bool:
    """Whether a finding code says a value was converted or computed (blue in every output)."""
    return bool((entries().get(code) or {}).get("converted", False))


def colour_of(finding: Finding) -> str | None:
    """The legend's colour of a finding: ``red`` the city must fix it (it fails, or a value needed
    is missing); ``amber`` to check, or for the experts' judgement; ``blue`` a converted or
    computed value; None for any other note (shown as a comment, without a fill)."""
    if finding.effect in _RED_EFFECTS or finding.severity == "error":
        return "red"
    if finding.effect == "needs_review" or finding.severity == "warning":
        return "amber"
    return "blue" if is_converted(finding.code) else None


def colour_legend() -> list[tuple[str, str]]:
    """The one colour legend of every output: (colour, its meaning), from ui.toml ``[legend]``.

    red: fails, must be fixed; amber: needs the experts' judgement; blue: a value the system
    converted or derived, to be checked.  A 说明 sheet states it once."""
    return [(colour, text(f"legend.{colour}")) for colour in ("red", "amber", "blue")]


_STATUS_COLOURS = {"over_quota": "red", "ineligible": "red", "incomplete": "red", "needs_review": "amber"}


def status_colour(status: str | None) -> str | None:
    """The legend's colour of a status: red for the failing ones, amber for needs_review, none
    for eligible (the legend has no colour for what needs nothing)."""
    return _STATUS_COLOURS.get(status or "")


def for_city(finding: Finding) -> bool:
    """Whether a city may read the finding (its catalogue audience, issue 13)."""
    return audience(finding.code) == "city"


def number_format(unit: str | None, field_type: str | None = None) -> str | None:
    """The Excel number format of a field: by unit (ui.toml ``[number_formats]``: 亿元 and % with
    two decimals, 万元 whole), counts as integers, other numbers with two decimals."""
    by_unit = lookup("number_formats")
    if unit and unit in by_unit:
        return str(by_unit[unit])
    if field_type in ("count", "int"):
        return settings.COUNT_NUMBER_FORMAT
    if field_type in ("amount", "ratio", "number"):
        return settings.DECIMAL_NUMBER_FORMAT
    return None


def department(rules: Iterable[Any] = ()) -> str:
    """The department that issues the call and signs what sdbatch sends: the jurisdiction of the
    first rules that name one (``rules.jurisdiction.department``), else ``ui.toml``
    ``mail.department``."""
    for item in rules:
        name = getattr(getattr(item, "jurisdiction", None), "department", None)
        if name:
            return str(name)
    return text("mail.department")


def strongest_colour(colours: Iterable[str | None]) -> str | None:
    shown = [c for c in colours if c]
    return max(shown, key=lambda c: COLOUR_STRENGTH[c]) if shown else None


def legend() -> list[tuple[str, str]]:
    """(colour, meaning) for every colour of the legend, strongest first (one source: ui.toml)."""
    return colour_legend()


def for_audience(findings: Iterable[Finding], reader: str = "city") -> list[Finding]:
    """The findings ``reader`` ("city" or "department") may see, in their order."""
    if reader != "city":
        return list(findings)
    return [f for f in findings if audience(f.code) == "city"]


def status_label(status: str | None) -> str:
    return label("status", status) if status else ""


def file_status_label(status: str | None) -> str:
    return label("file_status", status) if status else ""


def severity_label(severity: str | None) -> str:
    return label("severity", severity) if severity else ""


def city_key(city: str | None) -> str:
    return city or UNKNOWN_CITY


def finding_rank(finding: Finding) -> tuple[int, int]:
    """Sort key, strongest first: effect in status precedence, then severity."""
    effect = STATUSES.index(finding.effect) if finding.effect in STATUSES else len(STATUSES)
    return (effect, -_SEVERITY_STRENGTH.get(finding.severity, 0))


def finding_title(finding: Finding, rules: Any = None) -> str:
    """Title of a finding with the field it concerns, e.g. ``未达到申报条件（领军企业数量）``."""
    title = render(finding).title
    if finding.field and rules is not None:
        field_label = rules.label(finding.field)
        if field_label and field_label not in title:
            return text("writers.common.title_with_field", title=title, field=field_label)
    return title


def reason(app: Application, rules: Any = None, limit: int = 3, reader: str = "department") -> str:
    """One line: the titles of the findings that decided the application's status (only those
    ``reader`` may see)."""
    findings = for_audience(app.findings, reader)
    deciding = [f for f in findings if f.effect == app.status and f.effect is not None]
    if not deciding and app.status != "eligible":
        deciding = [f for f in findings if f.severity == "error"]
    if not deciding:
        if app.status == "eligible":
            return text("writers.common.all_conditions_met")
        return ""
    deciding.sort(key=finding_rank)
    titles: list[str] = []
    for f in deciding:
        t = finding_title(f, rules)
        if t not in titles:
            titles.append(t)
    more = text("writers.common.and_more", count=len(titles)) if len(titles) > limit else ""
    return text("writers.common.separator").join(titles[:limit]) + more


def rules_for(result: RunResult, program: str | None) -> Any:
    if program and program in result.programs:
        return result.programs[program]
    if result.rules is not None and not isinstance(result.rules, (dict, list)):
        return result.rules
    if result.programs:
        return next(iter(result.programs.values()))
    return None


def programs_of(result: RunResult) -> dict[str, Any]:
    if result.programs:
        return dict(result.programs)
    if result.rules is not None:
        return {result.program: result.rules}
    return {}


def header_with_unit(title: str, unit: str | None) -> str:
    return text("writers.common.with_unit", title=title, unit=unit) if unit else title


def plain(value: Any) -> Any:
    """A value as it is written into a cell: numbers stay numbers, booleans 是/否, rest text."""
    kind = type(value)
    if kind is int or value is None:  # the common cases first: a table of 100,000 rows passes here
        return value
    if kind is str:
        return value.replace("\r\n", "\n").replace("\r", "\n") if "\r" in value else value
    if isinstance(value, bool):
        return text("values.yes") if value else text("values.no")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value != value:
            return None
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return join(value)
    # Line breaks as LF only: a bare CR is stored as "_x000D_" and shows up in some readers.
    return str(value).replace("\r\n", "\n").replace("\r", "\n")


def answer_words(field: Any) -> tuple[str, str]:
    """The yes/no words of a yes/no field: 有/无 for a field asked as 有无…, 是/否 otherwise (SPEC §2.1)."""
    have = tuple(words("template.bool_have"))
    yes, no = have if str(getattr(field, "label", "")).startswith("".join(have)) else tuple(words("template.bool_yes"))
    return yes, no


def answered(field: Any, value: Any) -> Any:
    """A yes/no value in the words its field is asked in (有无不良信用记录: 无, not 否); others as they are."""
    if not isinstance(value, bool) or getattr(field, "type", None) != "bool":
        return value
    yes, no = answer_words(field)
    return yes if value else no


def show(value: Any) -> str:
    """A value as text for comments and e-mails."""
    if value is None or value == "":
        return text("values.empty")
    if isinstance(value, bool):
        return text("values.yes") if value else text("values.no")
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return str(value)


def one_line(text: str) -> str:
    """Collapse CR/LF and other line breaks: for anything that goes into a header."""
    return " ".join(str(text).split())


def files_of_city(result: RunResult, city: str) -> list[FileRecord]:
    return [f for f in result.files if city_key(f.city) == city]


CHINA = clock.zone()  # settings.TIME_ZONE (Asia/Shanghai)


def china_time(iso: str | None) -> dt.datetime | None:
    """A stamp as China time (a naive stamp is taken as China time already)."""
    return clock.read_stamp(iso)


def time_text(iso: str | None) -> str:
    """A stamp as people read it, in China time: 2024-06-29 22:00."""
    moment = china_time(iso)
    if moment is None:
        return iso or ""
    return moment.strftime("%Y-%m-%d %H:%M")


def program_of(result: RunResult, name: str | None) -> Any:
    """The Program object of one program of the run (the generic one when unknown)."""
    from sdbatch.programs import program_for
    from sdbatch.programs.base import Program

    rules = rules_for(result, name)
    return program_for(rules) if rules is not None else Program(rules)  # type: ignore[arg-type]


def outcome_columns(program: Any, apps: list[Application], where: str, audience: str) -> list[Any]:
    """The columns a program declares for one table (``where``) and reader (``audience``);
    optional ones only when some application has a value."""
    out = []
    for column in program.outcome_columns():
        if where not in column.where or (audience == "city" and column.audience != "city"):
            continue
        if column.optional and all(column.value(a) is None for a in apps):
            continue
        out.append(column)
    return out


class Mapped(Sequence[Any]):
    """``[make(item) for item in items]`` made each time it is read, an entry at a time: a writer
    reads one entry per application (a list's row, the ledger's outcome) once or twice, and none
    is held in between (issue 16: 100,000 applications held every entry until written)."""

    def __init__(self, items: Sequence[Any], make: Callable[[Any], Any]) -> None:
        self._items, self._make = items, make

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        return map(self._make, self._items)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._make(a) for a in self._items[i]]
        return self._make(self._items[i])
