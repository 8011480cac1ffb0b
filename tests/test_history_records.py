"""What staff record, and where it lives (issue 19): ``sdbatch decide`` refuses what it cannot record
with a Chinese reason; every entry is in the ledger and in the decisions journal beside it, so that a
damaged ledger rebuilt by ``sdbatch ledger recover`` loses none; a changed entry is found by
``sdbatch ledger check``; ``[history]`` is validated like the rest of a rules file.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from sdbatch.cli import main
from sdbatch.history import journal
from sdbatch.ledger import Ledger
from sdbatch.rules import bundled
from tests.decision_builders import city_file, make_uscc, row
from tests.history_builders import at, decide, run_round, uid_of

RUNNER = CliRunner()
CODE = make_uscc(701)


@pytest.fixture()
def ledger(tmp_path: Path) -> Path:
    """A ledger in the output folder of one cluster round (济南市: 甲, code CODE)."""
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name="甲数字产业集群", applicant="甲集群发展促进会", applicant_uscc=CODE)],
              mtime=at("2024-06-20"))
    path = tmp_path / "out-r1" / "ledger.sqlite3"
    run_round(tmp_path, "r1", inbox, path, "2024-06-27T10:00:00", program="cluster_2024")
    return path


def invoke(*args: str) -> Any:
    return RUNNER.invoke(main, list(args))


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("args, said", [
    (["evaluation", CODE, "--result", "pass"], "没有“绩效评估”这类决定"),
    (["false-material", make_uscc(702)], "请用 --program 指明申报类别"),
    (["false-material", "91370100MA0000000X"], "不是有效的统一社会信用代码"),
    (["false-material", CODE, "--program", "nosuch"], "没有名为“nosuch”的申报类别或批次"),
    (["void", "20240101000000-abcdef"], "没有编号为“20240101000000-abcdef”的登记"),
    (["false-material", CODE, "--date", "2024-13-01"], "不是日期"),
], ids=["kind-not-for-clusters", "unknown-applicant", "bad-code", "unknown-program", "no-such-entry", "bad-date"])
def test_decide_refuses_with_a_reason(ledger: Path, args: list[str], said: str) -> None:
    result = invoke("decide", *args, "--who", "张三", "--note", "说明", "--ledger", str(ledger))
    assert result.exit_code == 2, result.output
    assert said in result.output
    assert "Traceback" not in result.output
    with Ledger.open(ledger) as led:
        assert led.decisions() == []


def test_decide_needs_who_and_note(ledger: Path) -> None:
    result = invoke("decide", "false-material", CODE, "--who", "张三", "--ledger", str(ledger))
    assert result.exit_code == 2 and "--note" in result.output
    result = invoke("decide", "false-material", CODE, "--who", " ", "--note", "说明", "--ledger", str(ledger))
    assert result.exit_code == 2 and "--who" in result.output


def test_an_applicant_named_by_name_is_recorded_with_its_code(ledger: Path) -> None:
    said = decide(ledger, "false-material", "甲集群发展促进会", "--who", "张三", "--note", "说明")
    with Ledger.open(ledger) as led:
        (entry,) = led.decisions()
    assert entry.applicant_id == CODE and entry.family == "cluster" and entry.clause == "五(三)"
    assert entry.uid == uid_of(said) and entry.recorded.endswith("+08:00")


def test_a_new_applicant_needs_the_program_and_may_be_named(ledger: Path) -> None:
    other = make_uscc(703)
    decide(ledger, "false-material", other, "--program", "cluster_2024", "--name", "乙集群发展促进会",
           "--who", "张三", "--note", "外省通报", "--clause", "五(三)", "--date", "2024-12-01")
    shown = invoke("history", "乙集群发展促进会", "--ledger", str(ledger), "--date", "2025-01-01")
    assert shown.exit_code == 0, shown.output
    assert other in shown.output and "在禁止期内" in shown.output and "外省通报" in shown.output


# ----------------------------------------------------------------------------- the journal
def test_a_damaged_ledger_loses_no_decision(ledger: Path) -> None:
    uid = uid_of(decide(ledger, "false-material", CODE, "--who", "张三", "--note", "经核查数据不实",
                        "--date", "2024-08-01"))
    with open(ledger, "r+b") as fh:  # a foreign header: the ledger is damaged
        fh.write(b"not a database at all")
    checked = invoke("ledger", "check", "--ledger", str(ledger), "--out", str(ledger.parent))
    assert checked.exit_code == 1
    recovered = invoke("ledger", "recover", "--ledger", str(ledger), "--out", str(ledger.parent))
    assert recovered.exit_code == 0, recovered.output
    assert "恢复 1 条工作人员登记的决定" in recovered.output
    with Ledger.open(ledger) as led:
        assert [d.uid for d in led.decisions()] == [uid]
        assert {r["program"] for r in led.round_rows()} == {"cluster_2024"}  # rounds from the run folder
    shown = invoke("history", CODE, "--ledger", str(ledger), "--date", "2025-01-01")
    assert uid in shown.output and "在禁止期内" in shown.output


def test_a_journal_line_cut_off_is_left_out_and_reported(ledger: Path) -> None:
    decide(ledger, "false-material", CODE, "--who", "张三", "--note", "一", "--date", "2024-08-01")
    path = journal.journal_path(ledger)
    with open(path, "ab") as fh:
        fh.write(b'{"uid": "cut-off')  # a crash in the middle of a line
    second = uid_of(decide(ledger, "false-material", CODE, "--who", "张三", "--note", "二", "--date", "2024-09-01"))
    read = journal.read(path)
    assert read.bad_lines == [2] and [d.note for d in read.entries] == ["一", "二"]
    assert read.entries[1].uid == second
    ledger.unlink()
    recovered = invoke("ledger", "recover", "--ledger", str(ledger), "--out", str(ledger.parent))
    assert "第 2 行" in recovered.output
    with Ledger.open(ledger) as led:
        assert [d.note for d in led.decisions()] == ["一", "二"]


def test_a_lost_journal_is_written_again_from_the_ledger(ledger: Path) -> None:
    decide(ledger, "false-material", CODE, "--who", "张三", "--note", "一")
    path = journal.journal_path(ledger)
    path.unlink()
    with Ledger.open(ledger) as led:
        assert led.sync_decisions() == (0, 1, [])
    assert [d.note for d in journal.read(path).entries] == ["一"]


def test_an_entry_changed_in_the_ledger_is_found(ledger: Path) -> None:
    uid = uid_of(decide(ledger, "false-material", CODE, "--who", "张三", "--note", "一"))
    conn = sqlite3.connect(ledger)
    conn.execute("UPDATE decisions SET effective = '2020-01-01' WHERE uid = ?", (uid,))
    conn.commit()
    conn.close()
    checked = invoke("ledger", "check", "--ledger", str(ledger), "--out", str(ledger.parent))
    assert checked.exit_code == 1 and uid in checked.output and "校验值不符" in checked.output


def test_every_journal_line_carries_who_when_clause_and_note(ledger: Path) -> None:
    decide(ledger, "false-material", CODE, "--who", "张三", "--note", "说明", "--date", "2024-08-01")
    (line,) = journal.journal_path(ledger).read_text(encoding="utf-8").splitlines()
    entry = json.loads(line)
    assert {k: entry[k] for k in ("who", "note", "clause", "effective", "kind", "applicant_id")} == {
        "who": "张三", "note": "说明", "clause": "五(三)", "effective": "2024-08-01", "kind": "false_material",
        "applicant_id": CODE}
    assert entry["recorded"].endswith("+08:00") and len(entry["digest"]) == 64


# ----------------------------------------------------------------------------- [history] validated
CLUSTER_TEXT = bundled()["cluster_2024"].read_text(encoding="utf-8")
PARK_TEXT = bundled()["park_2024"].read_text(encoding="utf-8")


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "round.toml"
    path.write_text(text, encoding="utf-8")
    result = invoke("rules", "check", str(path))
    assert result.exit_code == 2, result.output
    return [line.strip().removeprefix("- ") for line in result.output.splitlines()]


def swap(text: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def test_history_tables_are_checked_with_their_places(tmp_path: Path) -> None:
    found = problems(tmp_path, swap(PARK_TEXT, ('deadline_years = 3', 'deadline_years = 1'),
                                    ('from_tiers = ["入库型", "成长型"]', 'from_tiers = ["入库型", "发展型"]'),
                                    ('fields = ["firms_total", "cloud_firms",', 'fields = ["park_type", "cloud_firms",'),
                                    ('evaluation = "第十四条"\n', '')))
    text = "\n".join(found)
    assert "[history.evaluation].deadline_years: 满 1 年未通过评估才建议降级或撤销，不应早于评估到期（2 年）" in text
    assert "[history.upgrade].from_tiers 第2项: “发展型”不在档次顺序 order（入库型、成长型、示范型）中" in text
    assert "[history.yoy].fields 第1项: 字段“park_type”的类型为 choice" in text
    assert "[history.evaluation]: 决定类别“evaluation”未在 [history.decisions] 中写明条款" in text
    typo = problems(tmp_path, swap(PARK_TEXT, ('family = "park"', 'family = "park"\nfamliy = "x"')))
    assert "[history]: 未知的键“famliy”，是否应为“family”？" in typo


def test_a_ban_needs_its_decision_enabled_and_history_needs_the_credit_code(tmp_path: Path) -> None:
    text = swap(CLUSTER_TEXT, ('false_material = "五(三)"\n', ''), ('applicant_id = "applicant_uscc"', ''),
                ('[fields.applicant_uscc]', '[fields.applicant_code]'),
                ('field = "applicant_uscc"', 'field = "applicant_code"'))
    found = "\n".join(problems(tmp_path, text))
    assert "[history].bans 第1项.decision: 决定类别“false_material”未在 [history.decisions] 中写明条款" in found
    assert "applicant_id" in found and "[program.roles]" in found
    bad_years = swap(CLUSTER_TEXT, ("years = 3", "years = 0"))
    assert any("years" in p and "不小于 1" in p for p in problems(tmp_path, bad_years))


# ----------------------------------------------------------------------------- decisions and the nightly run
def test_a_decision_recorded_since_the_last_run_makes_the_next_run_decide_again(ledger: Path, tmp_path: Path) -> None:
    from sdbatch.batch import RunOptions, run_batch

    options = RunOptions(out_dir=ledger.parent, ledger_path=ledger, programs=("cluster_2024",), mail_mode="all",
                         quiet=True, now="2024-06-28T10:00:00")  # as the round was run
    assert run_batch(tmp_path / "inbox", options).run_dir is None  # nothing new: not run again
    decide(ledger, "false-material", CODE, "--round", "cluster_2024", "--who", "张三", "--note", "本批次核查发现",
           "--date", "2024-06-28")
    outcome = run_batch(tmp_path / "inbox", options)
    assert outcome.run_dir is not None, outcome.message
    (app,) = json.loads((outcome.run_dir / "results.json").read_text(encoding="utf-8"))["applications"]
    # the false material was found in this very round: its application is ineligible too
    assert app["status"] == "ineligible" and "applicant-banned" in [f["code"] for f in app["findings"]]


def _linear_match(book: Any, family: str, applicant_id: str | None, names: list[str | None],
                  exclude_program: str | None) -> tuple[list[Any], list[Any], str | None]:
    """Book.match as it was first written: every entry of the book read for each application."""
    from sdbatch.history.book import BY_ID, BY_NAME
    from sdbatch.history.model import name_key

    def record_keys(r: Any) -> set[str]:
        return {name_key(r.applicant_name), name_key(r.name)} - {""}

    records = [r for r in book.records if r.family == family and r.program != exclude_program]
    decisions = [d for d in book.decisions if d.family == family]
    keys = {name_key(n) for n in names} - {""}
    if applicant_id:
        recs = [r for r in records if r.applicant_id == applicant_id]
        decs = [d for d in decisions if d.applicant_id == applicant_id]
        if recs or decs:
            recs += [r for r in records if not r.applicant_id and record_keys(r) & keys]
            decs += [d for d in decisions if not d.applicant_id and name_key(d.applicant_name) in keys]
            decs.sort(key=lambda d: (d.effective, d.recorded, d.uid))
            return recs, decs, BY_ID
    if not keys:
        return [], [], None
    recs = [r for r in records if record_keys(r) & keys and (not applicant_id or not r.applicant_id)]
    decs = [d for d in decisions if name_key(d.applicant_name) in keys and (not applicant_id or not d.applicant_id)]
    return (recs, decs, BY_NAME) if recs or decs else ([], [], None)


@pytest.mark.parametrize("seed", range(12))
def test_matching_by_index_finds_what_reading_every_entry_finds(seed: int) -> None:
    """Book.match looks an application's credit code and names up in an index (issue 16: a ledger
    of 100,000 records against 100,000 applications); what it finds, and in which order, is what
    reading every record and decision finds — codes, names only, entries without a code, other
    families, the round itself left out, decisions of the same day."""
    import datetime as dt
    import random

    from sdbatch.history.book import Book
    from sdbatch.history.model import Decision, RoundRecord

    rng = random.Random(seed)
    codes = [make_uscc(n) for n in range(6)] + [None, None]
    names = ["泉城数字集群", "泉城 数字集群", "青岛软件园", "烟台数智园", None, ""]
    records = [RoundRecord(program=rng.choice(["cluster_2024", "cluster_2025", "park_2024"]),
                           family=rng.choice(["cluster", "park"]), run_id=f"r{rng.randint(1, 3)}",
                           run_date=dt.date(2024, 1, rng.randint(1, 28)), app_id=f"a{i}",
                           applicant_id=rng.choice(codes), applicant_name=rng.choice(names), name=rng.choice(names),
                           city="济南市", status="eligible", tier=None, subsidy=None, received=None)
               for i in range(rng.randint(0, 60))]
    decisions = [Decision(uid=f"u{i}", family=rng.choice(["cluster", "park"]), applicant_id=rng.choice(codes),
                          applicant_name=rng.choice(names), kind="false_material", clause=None, round=None, tier=None,
                          result=None, amount=None, effective=dt.date(2024, 2, rng.randint(1, 3)), voids=None,
                          who="张三", recorded=f"2024-02-0{rng.randint(1, 3)}T10:00:00+08:00", note="")
                 for i in range(rng.randint(0, 15))]
    book = Book(records, decisions)
    # a run's book reads the records a question needs only (the loader stands for the ledger)
    lazy = Book(decisions=decisions, loader=lambda keep: [
        r for r in records if keep is None or keep({"family": r.family, "program": r.program})])
    for _ in range(80):
        family = rng.choice(["cluster", "park", "other"])
        applicant_id, wanted = rng.choice(codes), [rng.choice(names), rng.choice(names)]
        exclude = rng.choice(["cluster_2024", "park_2024", None])
        got = book.match(family, applicant_id, wanted, exclude_program=exclude)
        assert (got.records, got.decisions, got.by if got.records or got.decisions else None) == \
            _linear_match(book, family, applicant_id, wanted, exclude)
        assert lazy.match(family, applicant_id, wanted, exclude_program=exclude) == got
    for family in ("cluster", "park", "other"):
        assert lazy.applicants(family) == book.applicants(family)
    assert lazy.records == records


@pytest.mark.parametrize(("stored", "expected"), [
    ('{"revenue": 12.5, "city": "济南市"}', {"revenue": 12.5, "city": "济南市"}),
    (None, {}), ("", {}), ("[1, 2]", {}), ("{broken", {}), ('"text"', {}),
])
def test_a_records_values_are_read_from_the_ledgers_text_when_used(stored: str | None, expected: dict) -> None:
    """A round's record keeps its values as the ledger's JSON text until a matched application
    reads them (issue 16); what it reads is that object, or no values for text that is not one."""
    from sdbatch.history.model import RoundRecord

    record = RoundRecord.from_row({"program": "cluster_2024", "family": "cluster", "run_id": "r1",
                                   "started": "2024-06-01T10:00:00+08:00", "app_id": "a1", "values_json": stored})
    assert dict(record.values) == expected
    assert record.values == expected and bool(record.values) == bool(expected)
    assert record.values.get("revenue") == expected.get("revenue")


def test_matching_against_a_book_without_entries_reads_no_name(monkeypatch):
    """A first round (or a round whose only entries are its own): nothing to find, and the names
    are not normalised for it (issue 16: a name key costs microseconds, 100,000 applications)."""
    import sdbatch.history.book as book_mod
    from sdbatch.history.book import Book
    from sdbatch.history.model import RoundRecord

    def unread(_name):
        raise AssertionError("a name was normalised")

    own = RoundRecord(program="cluster_2024", family="cluster", run_id="r1", run_date=None, app_id="a",
                      applicant_id=make_uscc(7), applicant_name="甲公司", name="甲集群", city="济南市",
                      status="eligible", tier=None, subsidy=None, received=None)
    monkeypatch.setattr(book_mod, "name_key", unread)
    for book in (Book(), Book([own])):
        found = book.match("cluster", make_uscc(7), ["甲公司", "甲集群"], exclude_program="cluster_2024")
        assert not found.records and not found.decisions and found.by is None
    monkeypatch.undo()
    other = Book([own]).match("cluster", make_uscc(7), ["甲公司"], exclude_program="cluster_2025")
    assert [r.app_id for r in other.records] == ["a"]


def test_a_nightly_run_over_the_round_the_ledger_holds_reads_no_record(ledger: Path, tmp_path: Path,
                                                                        monkeypatch) -> None:
    """The ledger's only round is the one being run again, and no decision is recorded: nothing of
    it is matched or listed, so no record is made (issue 16: 100,000 of them held 85 MB); once a
    decision names an applicant, the bans sheet reads them and lists the ban."""
    from sdbatch.history.model import RoundRecord

    made: list[str] = []
    real = RoundRecord.from_row.__func__

    def counting(cls, row, fetch=None):
        made.append(row["app_id"])
        return real(cls, row, fetch)

    monkeypatch.setattr(RoundRecord, "from_row", classmethod(counting))
    inbox = tmp_path / "inbox"
    doc = run_round(tmp_path, "r2", inbox, ledger, "2024-06-28T10:00:00", program="cluster_2024")
    assert made == [] and doc["applications"]
    decide(ledger, "false-material", CODE, "--program", "cluster_2024", "--date", "2024-06-28", "--who", "张三",
           "--note", "材料不实")
    doc = run_round(tmp_path, "r3", inbox, ledger, "2024-06-29T10:00:00", program="cluster_2024")
    assert made  # the decision's applicant is looked for among the records
    rows = [list(r) for r in load_workbook(doc["_run_dir"] / "推荐名单.xlsx", read_only=True)["禁止申报名单"]
            .iter_rows(values_only=True)]
    assert any(CODE in r for r in rows)
