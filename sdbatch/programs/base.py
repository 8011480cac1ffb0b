"""What a program contributes to the shared pipeline: the ``Program`` protocol.

A program round is a rules file (``sdbatch/programs/*.toml``).  Its ``[program].kind`` (or
``[program].module`` for a program that lives outside this package) names a :class:`Program`
subclass; a kind without a module of its own gets this base class, whose behaviour is the
generic one (conditions from the rules file, the composite score of ``[score]``).

The shared stages call a program only through the methods below and never test its name;
writers render the columns and sheets a program *declares* (:class:`OutcomeColumn`,
:class:`SheetSpec`), and results.json carries its typed blocks (:class:`Outcome` per
application, :class:`ProgramReport` per run).

Subclass and override what the program needs::

    class AwardProgram(Program):
        kind = "award"

        def decide(self, apps, claimed, options):
            for app in apps:
                app.outcome = AwardOutcome(amount=...)
            return ProgramReport()

        def outcome_columns(self):
            return [OutcomeColumn("amount", "奖励金额（万元）", lambda a: a.outcome.amount, number_format="0")]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:  # only for annotations: keep `sdbatch --help` light
    from pydantic import BaseModel

    from sdbatch.model import Application, FileRecord, Finding, RawSheet, RawWorkbook, RunResult
    from sdbatch.rules import Rules

AUDIENCES = ("city", "department")


@runtime_checkable
class Outcome(Protocol):
    """A program's typed result for one application (e.g. a park's tier and subsidy).

    ``to_dict()`` is the application's ``outcome`` block in results.json; ``kind`` names the
    schema of that block (docs/results.schema.json).
    """

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]: ...


@dataclass
class ProgramReport:
    """A program's run-level results (how scores were made, an allocation…): the program's block
    under ``programs.<name>`` in results.json.  ``data`` must be JSON-ready; ``department_only``
    keys never reach a city's outputs."""

    data: dict[str, Any] = field(default_factory=dict)
    department_only: frozenset[str] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)

    def for_city(self) -> dict[str, Any]:
        return {k: v for k, v in self.data.items() if k not in self.department_only}


@dataclass(frozen=True)
class OutcomeColumn:
    """A column a program adds to the writers' tables, one value per application.

    ``audience`` "department" keeps it out of everything a city receives.  ``number_format`` is an
    Excel format code ("0", "0.00"); ``where`` names the tables that show it: "list" (the
    department's list), "review" (审核结论 of a city's review), "mail" (the e-mail's summary).
    """

    key: str
    label: str
    value: Callable[[Application], Any]
    audience: str = "city"
    number_format: str | None = None
    where: tuple[str, ...] = ("list", "review")
    #: in the list's per-city summary: "sum" (a total per city), "count" (one count column per value
    #: of ``values``, e.g. parks recognised per tier) or None
    summary: str | None = None
    values: tuple[str, ...] = ()
    #: ui.toml key of the summary column's title, with a {value} slot for "count" columns
    summary_label: str | None = None
    #: ui.toml key of the phrase used in sentences (e-mail), with a {value} slot, e.g. 奖补上限{value}万元
    phrase: str | None = None
    optional: bool = False  # left out of a table when no application has a value


@dataclass
class SheetSpec:
    """A sheet a program adds to an output workbook: a title line, a table, notes below."""

    name: str
    headers: list[str]
    rows: list[list[Any]]
    audience: str = "department"
    title: str | None = None
    notes: list[str] = field(default_factory=list)
    number_formats: Mapping[int, str] = field(default_factory=dict)  # column index -> Excel format


@dataclass(frozen=True)
class Note:
    """A line of a 说明 sheet: label and text.  ``emphasis``: a caveat every reader must see (e.g.
    default points were used), also shown under the main table and coloured."""

    label: str
    text: str
    emphasis: bool = False


@dataclass(frozen=True)
class ProgramOption:
    """A run option only some programs understand (e.g. the parks' ``--budget``).

    The CLI adds ``--<name>`` to ``sdbatch run`` for every option of every known program; a run
    given an option that none of its programs takes says so in plain Chinese.
    """

    name: str
    type: type
    help_key: str  # ui.toml key of the help text
    minimum: float | None = None


class OptionInvalid(ValueError):
    def __init__(self, name: str, value: Any) -> None:
        super().__init__(name)
        self.name = name
        self.value = value


def convert_option(option: ProgramOption, value: Any) -> Any:
    """A run option's value as its program declared it (``--set budget=1000`` arrives as text)."""
    try:
        converted = option.type(value)
    except (TypeError, ValueError):
        raise OptionInvalid(option.name, value) from None
    if isinstance(converted, float) and converted != converted:  # NaN
        raise OptionInvalid(option.name, value)
    if option.minimum is not None and isinstance(converted, (int, float)) and converted < option.minimum:
        raise OptionInvalid(option.name, value)
    return converted


class Program:
    """The generic program; subclasses override what their round needs."""

    kind: ClassVar[str] = "generic"
    #: name of the program's own table in the rules file (``[park]``) and the pydantic model that
    #: validates it (``sdbatch rules check`` reports its errors with their place in the file).
    section: ClassVar[str | None] = None
    section_model: ClassVar[type[BaseModel] | None] = None
    options: ClassVar[tuple[ProgramOption, ...]] = ()

    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    def accepted_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The run options this program declares, converted; others are left to other programs."""
        return {o.name: convert_option(o, given[o.name]) for o in self.options
                if o.name in given and given[o.name] is not None}

    # ------------------------------------------------------------------ reading
    def claims_sheet(self, sheet: RawSheet) -> bool:
        """Whether a sheet is this program's own kind of table (e.g. a score sheet), so that the
        summary-table locator leaves it alone."""
        return False

    def claim_file(self, raw: RawWorkbook) -> Any | None:
        """Data read from a workbook that holds no summary table (e.g. expert score sheets), or
        None when the workbook is not the program's."""
        return None

    # ------------------------------------------------------------------ checks and decisions
    def check_application(self, app: Application) -> list[Finding]:
        """Checks of the program's own, beyond the rules file's conditions."""
        return []

    def decide(self, apps: list[Application], claimed: Sequence[tuple[FileRecord, Any]],
               options: Mapping[str, Any]) -> ProgramReport:
        """Scores, ranks and outcomes of the decided applications (statuses are set)."""
        from sdbatch import rank

        rank.score_and_rank(apps, self.rules)
        return ProgramReport()

    def history_facts(self, app: Application) -> dict[str, Any]:
        """What the ledger keeps of the application's outcome for later rounds beside its status
        (``tier``: the level recognised, ``subsidy``: 万元), read by :mod:`sdbatch.history`; the
        generic program has none."""
        return {}

    # ------------------------------------------------------------------ outputs
    def outcome_columns(self) -> list[OutcomeColumn]:
        """Columns the writers add per application (none for the generic program)."""
        return []

    def score_for_city(self, app: Application) -> float | None:
        """The score a city's review shows for ``app`` (None: not shown).  A program whose score
        comes from a confidential review shows it only once the results are released."""
        return app.score

    def list_sheets(self, result: RunResult, apps: list[Application]) -> list[SheetSpec]:
        """Extra sheets of the department's list workbook."""
        return []

    def review_sheets(self, result: RunResult, city: str, apps: list[Application]) -> list[SheetSpec]:
        """Extra sheets of one city's review workbook (audience must be "city")."""
        return []

    def notes(self, result: RunResult, apps: list[Application], audience: str) -> list[Note]:
        """Lines the program adds to the 说明 sheet of an output for ``audience`` ("city": a city's
        review and e-mail; "department": the list), e.g. how scores were made."""
        from sdbatch.catalogue import text

        return [Note(text("notes.ranking_label"), text("notes.ranking_generic"))] if audience == "department" else []
