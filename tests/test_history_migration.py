"""The ledger's migration to schema 4 (history across rounds) from the ledgers in use.

- ``tests/data/ledger_release_0_1.sqlite3``: written by the release deployed today (commit 203da08,
  schema 2; see ``ledger_release_0_1.md``).  Its run folder is gone: the migration reads its
  applicants from the ledger's own outcomes.
- A ledger of schema 3 (what main wrote before this change), made here by the current code with
  the first three migrations, its run folder present: the migration reads the tiers from it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from sdbatch.batch import RunOptions, run_batch
from sdbatch.cli import main
from sdbatch.ledger import MIGRATIONS, SCHEMA_VERSION, Ledger, check_ledger, read_run_folder
from tests.decision_builders import city_file, row
from tests.history_builders import at, by_name, finding, round_rules

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "tests" / "data" / "ledger_release_0_1.sqlite3"
RELEASE_RUN, RELEASE_OUT = "20240629-090000", "/tmp/rel/out"
# An applicant of the release's run (the samples): 东营工业软件产业集群, 86.54 亿元 in 2024.
DONGYING = dict(name="东营工业软件产业集群", applicant="东营市工业软件产业发展促进中心",
                applicant_uscc="52370502MJT6K9A48A", revenue_total=86.54 * 4)


def counts(path: Path) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    try:
        out: dict[str, Any] = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                               for t in ("runs", "files", "run_files", "outcomes")}
        out["version"] = conn.execute("PRAGMA user_version").fetchone()[0]
        out["run_ids"] = [r[0] for r in conn.execute("SELECT id FROM runs ORDER BY rowid")]
        out["files_rows"] = conn.execute("SELECT * FROM files ORDER BY sha256, name").fetchall()
        out["outcome_rows"] = conn.execute("SELECT * FROM outcomes ORDER BY run_id, app_id").fetchall()
        return out
    finally:
        conn.close()


def deployed(tmp_path: Path) -> Path:
    path = tmp_path / "out" / "ledger.sqlite3"
    path.parent.mkdir()
    shutil.copy(RELEASE, path)
    return path


def test_the_fixture_is_the_release_ledger() -> None:
    before = counts(RELEASE)
    assert before["version"] == 2 and before["run_ids"] == [RELEASE_RUN]
    assert (before["runs"], before["files"], before["run_files"], before["outcomes"]) == (1, 22, 22, 37)


def test_release_ledger_is_migrated_keeping_its_runs_and_files(tmp_path: Path) -> None:
    path = deployed(tmp_path)
    before = counts(path)
    with Ledger.open(path) as led:
        assert led.schema_version == SCHEMA_VERSION == 5
        assert led.integrity_check() == "ok"
        assert [r["id"] for r in led.last_runs(10)] == [RELEASE_RUN]
        rounds = led.round_rows()
    after = counts(path)
    for key in ("runs", "files", "run_files", "outcomes", "run_ids", "files_rows"):
        assert after[key] == before[key], key
    assert [r[:-1] for r in after["outcome_rows"]] == [r[:-1] for r in before["outcome_rows"]]
    # its applicants are known to the next round: 37 outcomes of two programs, by credit code
    assert len(rounds) == 37 and {r["program"] for r in rounds} == {"cluster_2024", "park_2024"}
    dongying = next(r for r in rounds if r["name"] == "东营工业软件产业集群")
    assert dongying["family"] == "cluster" and dongying["applicant_id"] == "52370502MJT6K9A48A"
    assert dongying["received"] == "2024-06-26" and dongying["tier"] is None  # no folder: no tiers
    assert check_ledger(path).ok, check_ledger(path).message


def test_status_and_a_new_round_work_on_the_release_ledger(tmp_path: Path) -> None:
    path = deployed(tmp_path)
    runner = CliRunner()
    shown = runner.invoke(main, ["status", "--out", str(tmp_path / "out"), "--ledger", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "济南市" in shown.output
    with Ledger.open(path, out_dir=RELEASE_OUT) as led:  # the release's own folder still sees its run
        assert [r["id"] for r in led.last_runs(5)] == [RELEASE_RUN]

    inbox = tmp_path / "inbox"
    city_file(inbox, "东营市", [row(**DONGYING, city_order=1, city="东营市")], mtime=at("2025-06-20"))
    rules = round_rules(tmp_path / "rules", "cluster_2024", "cluster_2025")
    outcome = run_batch(inbox, RunOptions(out_dir=tmp_path / "out", ledger_path=path, rules_files=(rules,),
                                          now="2025-06-27T10:00:00", run_id="r2025", mail_mode="none", quiet=True))
    assert outcome.run_dir is not None and outcome.exit_code == 0, outcome.message
    doc = json.loads((outcome.run_dir / "results.json").read_text(encoding="utf-8"))
    app = by_name(doc)["东营工业软件产业集群"]
    assert [r["run_id"] for r in app["history"]["rounds"]] == [RELEASE_RUN]
    change = finding(app, "yoy-change")
    assert change["field"] == "revenue_total" and change["params"]["old"] == 86.54

    shown = runner.invoke(main, ["status", "--out", str(tmp_path / "out"), "--ledger", str(path)])
    assert shown.exit_code == 0 and "r2025" in shown.output
    history = runner.invoke(main, ["history", "52370502MJT6K9A48A", "--ledger", str(path), "--date", "2025-07-01"])
    assert history.exit_code == 0, history.output
    assert "cluster_2024" in history.output and "cluster_2025" in history.output
    with Ledger.open(path) as led:
        assert [r["id"] for r in led.last_runs(10)] == ["r2025", RELEASE_RUN]
    assert check_ledger(path).ok


def test_schema_3_ledger_is_migrated_with_the_tiers_of_its_run_folder(tmp_path: Path) -> None:
    from tests.test_parks_pipeline import park_run

    run_dir = park_run(tmp_path / "made")  # a park round made by the current code (its own ledger)
    results, info = read_run_folder(run_dir) or ({}, {})
    path = tmp_path / "schema3.sqlite3"
    with Ledger.open(path, MIGRATIONS[:3]) as led:  # what main's ledger was before the intake and history migrations
        assert led.schema_version == 3
        led.record_docs(results, info, run_dir)
        digest = led.conn.execute("SELECT digest FROM runs").fetchone()[0]
    assert digest
    with Ledger.open(path) as led:
        assert led.schema_version == 5
        assert led.check() == []  # the run's checksum holds after the migration
        rows = {r["name"]: r for r in led.round_rows()}
    assert {k: rows[k]["tier"] for k in rows} == {"示范园区": "示范型", "成长园区": "成长型", "入库园区": "入库型"}
    assert all(r["family"] == "park" for r in rows.values())
    assert check_ledger(path).ok


def test_a_migration_that_fails_leaves_the_ledger_as_it_was(tmp_path: Path, monkeypatch: Any) -> None:
    from sdbatch import ledger as ledger_mod

    path = deployed(tmp_path)

    def broken(conn: sqlite3.Connection) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(ledger_mod._MIGRATION_STEPS, 5, broken)
    try:
        Ledger.open(path)
    except RuntimeError:
        pass
    else:  # pragma: no cover - the step must have run
        raise AssertionError("the migration step did not run")
    assert counts(path)["version"] == 2
    monkeypatch.undo()
    with Ledger.open(path) as led:
        assert led.schema_version == 5
