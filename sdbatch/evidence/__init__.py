"""Evidence: the enterprise lists behind the declared figures (据实填报), for every program.

A city may send, with its summary, the list of enterprises behind each application (集群规上
企业名单, 园区企业名单).  What a list holds and how each declared figure is recomputed from it is
data: the ``[evidence]`` table of the round's rules file (:mod:`sdbatch.rules_schema`).

The stage, as the batch calls it:

- :func:`claim` (from :func:`sdbatch.batch.read_record`): a file whose sheets are lists is read
  here (:mod:`.sheets`: located on its first rows like a summary; :mod:`.read`: read by columns) and kept
  on its record (``FileRecord.evidence``); it is neither rejected as "no summary table" nor
  read as a summary;
- :func:`apply` (from :func:`sdbatch.batch.evaluate`, before the decisions): lists matched to
  applications (:mod:`.match`), figures recomputed (:mod:`.recompute`), cross-checks (a bad
  credit code, a firm twice, a firm counted by two applications) — findings on the declared
  cells, each application's ``evidence`` block (results.json);
- :func:`publish`: the 佐证核对 sheet of each city's review and the department's sheet of firms
  counted twice (:mod:`.report`);
- :func:`write_templates` (from :mod:`sdbatch.template`): the blank list of each round.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sdbatch.evidence.spec import EvidenceSpec, spec_of

if TYPE_CHECKING:
    from sdbatch.evidence.stage import EvidenceRun
    from sdbatch.model import FileRecord, RunResult
    from sdbatch.rules import Rules

__all__ = ["EvidenceSpec", "apply", "claim", "publish", "spec_of", "write_templates"]


def claim(record: FileRecord, candidates: list[Rules], *, debug: bool = False) -> bool:
    """Read ``record`` as an enterprise list when every sheet holding something is one; True then.

    False when no round of ``candidates`` has lists, when the file holds a summary (or anything
    else), or when it cannot be read at all (the batch's own reading then says why)."""
    specs = [(spec, rules) for rules in candidates if (spec := spec_of(rules)) is not None]
    if not specs:
        return False
    from sdbatch.evidence.sheets import find_lists, sources
    from sdbatch.model import FileRejected
    from sdbatch.reading import preflight

    path = Path(record.path)
    try:
        kind = preflight(path)
        srcs, book = sources(path, kind)
        try:
            lists = find_lists(srcs, record.file, specs)
            found = None
            if lists is not None:  # only now the columns are read (numpy, pandas: not for a summary)
                from sdbatch.evidence.read import read_lists

                found = read_lists(*lists, file=record.file, mtime=record.mtime)
        finally:
            if book is not None:
                book.close()
    except FileRejected:
        return False  # read_workbook will reject it with the same reason
    except BaseException as exc:  # a library failing on a damaged file: the batch's reading says why
        from sdbatch.errors import library_failure

        if debug or not library_failure(exc):
            raise
        import logging

        logging.getLogger("sdbatch").debug("evidence: %s not read as a list", record.file, exc_info=True)
        return False
    if found is None:
        return False
    listed, notes = found
    record.kind, record.program, record.status = kind, listed.program, "processed"
    record.evidence = listed
    record.sheet = listed.sheets[0].sheet if listed.sheets else None
    record.findings.extend(notes)
    return True


def apply(records: list[FileRecord], programs: dict[str, Rules]) -> EvidenceRun | None:
    """Match, recompute and cross-check every list of the run (findings go to the applications);
    None when the run holds no list (the stage and its numpy and pandas are then never loaded)."""
    if not any(r.evidence is not None for r in records):
        return None
    from sdbatch.evidence.stage import apply as run

    return run(records, programs)


def publish(run: EvidenceRun | None, result: RunResult) -> None:
    if run is None:
        return
    from sdbatch.evidence.report import publish as add

    add(run, result)


def write_templates(program: str | None, output: Path) -> list[Path]:
    """The blank enterprise list of each round that has ``[evidence]`` (of ``program`` when given:
    a bundled name or a rules file), in the folder ``output`` (none when ``output`` names one
    .xlsx file: that is the summary template's)."""
    from sdbatch import rules as rules_mod
    from sdbatch.evidence.template import write_template

    if output.suffix.lower() == ".xlsx":
        return []
    names: list[str | Path] = [program] if program else list(rules_mod.bundled())
    specs = [spec for name in names if (spec := spec_of(rules_mod.load(name))) is not None]
    return [write_template(spec, output) for spec in specs]


