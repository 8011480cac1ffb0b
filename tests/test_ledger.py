"""The ledger (issue 5): schema migrations, records, no-change detection, 变更情况, city states."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from sdbatch import ledger as L
from sdbatch.jurisdiction import default as _jurisdiction
from sdbatch.ledger import FileSnap, Ledger, LedgerError, snapshot_inbox, status_text
from sdbatch.model import Application, FileRecord, RunResult, Source


def cities() -> list[str]:
    return list(_jurisdiction().cities)


FP = "cluster_2024@1|opts=a"


# ------------------------------------------------------------------------------ builders
def app(app_id: str, city: str, name: str, status: str = "eligible", score: float | None = 80.0,
        rank: int | None = 1, file: str = "f.xlsx", **values: object) -> Application:
    vals = {"revenue_total": 60.0, "leading_firms": 25}
    vals.update(values)
    return Application(id=app_id, program="cluster_2024", city=city, name=name, industry="人工智能",
                       city_order=1, values=vals, source=Source(file, "Sheet1", 5), status=status,
                       score=score, rank=rank)


def frec(name: str, city: str | None, status: str = "processed", content: str = "x", mtime: float = 1.7e9,
         late: bool = False, **kw: object) -> FileRecord:
    sha = hashlib.sha256(content.encode()).hexdigest()
    return FileRecord(file=name, path=f"/inbox/{name}", sha256=sha, size=len(content), mtime=mtime, city=city,
                      status=status, late=late, **kw)  # type: ignore[arg-type]


def result(run_id: str, apps: list[Application], files: list[FileRecord], deadline: dt.date | None = None
           ) -> RunResult:
    rules = SimpleNamespace(deadline=deadline, fields={"revenue_total": 1},
                            label=lambda f: {"revenue_total": "营业收入总额"}.get(f, f))
    return RunResult(program="cluster_2024", rules_version="2024.1", run_id=run_id, started="2024-06-20T22:00:00",
                     finished="2024-06-20T22:01:00", applications=apps, files=files, rules=rules)


def record(led: Ledger, res: RunResult, tmp_path: Path, snap: list[FileSnap] | None = None, fp: str = FP) -> Path:
    run_dir = tmp_path / "output" / res.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    led.record_run(res, snap or [], fp, run_dir, res.started, res.finished or "", res.exit_code())
    return run_dir


@pytest.fixture
def led(tmp_path: Path):
    with Ledger.open(tmp_path / "output" / "ledger.sqlite3") as ledger:
        yield ledger


# ------------------------------------------------------------------------------ schema
def test_open_creates_current_schema_wal_and_integrity(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ledger.sqlite3"
    with Ledger.open(path) as led:
        assert led.schema_version == L.SCHEMA_VERSION == len(L.MIGRATIONS)
        assert led.integrity_check() == "ok"
        assert led.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert led.last_runs(5) == []
    with Ledger.open(path) as led:  # reopening an up-to-date ledger changes nothing
        assert led.schema_version == L.SCHEMA_VERSION


def test_migration_from_version_1_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with Ledger.open(path, migrations=L.MIGRATIONS[:1]) as old:
        assert old.schema_version == 1
        old.conn.execute("INSERT INTO runs (id, started, finished, complete, exit_code) "
                         "VALUES ('r0', '2024-06-01', '2024-06-01', 1, 0)")
        old.conn.execute("INSERT INTO outcomes (run_id, app_id, city, name, status) "
                         "VALUES ('r0', 'a1', '济南市', '集群甲', 'eligible')")
    with Ledger.open(path) as led:
        assert led.schema_version == L.SCHEMA_VERSION
        assert led.integrity_check() == "ok"
        assert [r["id"] for r in led.last_runs(5)] == ["r0"]
        prev = led.previous_outcomes()
        assert prev["a1"]["status"] == "eligible" and prev["a1"]["values"] == {}
        # a version-1 run has no fingerprint: never "unchanged"
        assert not led.unchanged_since_last_run([], FP)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {L.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LedgerError, match="升级"):
        Ledger.open(path)


def test_corrupt_file_gives_a_chinese_sentence(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(LedgerError, match="损坏"):
        Ledger.open(path)


# ------------------------------------------------------------------------------ snapshot
def test_snapshot_is_recursive_sorted_and_skips_lock_and_hidden_files(tmp_path: Path) -> None:
    (tmp_path / "济南").mkdir()
    (tmp_path / "济南" / "a.xlsx").write_bytes(b"abc")
    (tmp_path / "b.xlsx").write_bytes(b"de")
    (tmp_path / "~$b.xlsx").write_bytes(b"lock")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.xlsx").write_bytes(b"c")
    snap = snapshot_inbox(tmp_path)
    assert [(s.relpath, s.size) for s in snap] == [("b.xlsx", 2), ("济南/a.xlsx", 3)]
    assert all(isinstance(s.mtime_ns, int) for s in snap)


def test_unchanged_detection(tmp_path: Path, led: Ledger) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "济南.xlsx").write_bytes(b"one")
    (inbox / "青岛.xlsx").write_bytes(b"two")
    snap = snapshot_inbox(inbox)
    assert not led.unchanged_since_last_run(snap, FP)  # no run yet
    run_dir = record(led, result("r1", [], []), tmp_path, snap)
    assert led.unchanged_since_last_run(snapshot_inbox(inbox), FP)
    assert not led.unchanged_since_last_run(snapshot_inbox(inbox), FP + "|force-other-rules")

    st = (inbox / "济南.xlsx").stat()
    os.utime(inbox / "济南.xlsx", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # touched
    assert not led.unchanged_since_last_run(snapshot_inbox(inbox), FP)
    os.utime(inbox / "济南.xlsx", ns=(st.st_atime_ns, st.st_mtime_ns))  # back as it was
    assert led.unchanged_since_last_run(snapshot_inbox(inbox), FP)

    (inbox / "淄博.xlsx").write_bytes(b"three")  # added
    assert not led.unchanged_since_last_run(snapshot_inbox(inbox), FP)
    (inbox / "淄博.xlsx").unlink()
    (inbox / "青岛.xlsx").unlink()  # removed
    assert not led.unchanged_since_last_run(snapshot_inbox(inbox), FP)
    (inbox / "青岛.xlsx").write_bytes(b"TWO")  # same size, new content, new mtime most likely
    os.utime(inbox / "青岛.xlsx", ns=(1, 1))
    assert not led.unchanged_since_last_run(snapshot_inbox(inbox), FP)

    # the previous run folder was deleted by hand: run again rather than point at nothing
    snap2 = snapshot_inbox(inbox)
    run_dir = record(led, result("r2", [], []), tmp_path, snap2)
    assert led.unchanged_since_last_run(snap2, FP)
    run_dir.rmdir()
    assert not led.unchanged_since_last_run(snap2, FP)


def test_incomplete_run_is_not_a_reference(tmp_path: Path, led: Ledger) -> None:
    record(led, result("r1", [app("a", "济南市", "甲")], []), tmp_path, [FileSnap("a.xlsx", 1, 1)])
    led.begin_run("r2", "2024-06-21T22:00:00")  # then killed
    assert led.unchanged_since_last_run([FileSnap("a.xlsx", 1, 1)], FP)
    assert set(led.previous_outcomes()) == {"a"}
    runs = led.last_runs(5)
    assert [(r["id"], r["complete"]) for r in runs] == [("r2", False), ("r1", True)]


# ------------------------------------------------------------------------------ records
def test_record_run_writes_runs_files_and_outcomes(tmp_path: Path, led: Ledger) -> None:
    files = [frec("济南.xlsx", "济南市", content="v1"),
             frec("坏.xlsx", None, "rejected", content="bad", error_code="not-a-spreadsheet",
                  error_params={"file": "坏.xlsx", "detail": "内容不是表格"})]
    apps = [app("jn-1", "济南市", "集群甲", file="济南.xlsx"),
            app("jn-2", "济南市", "集群乙", status="needs_review", score=70.5, rank=2, file="济南.xlsx")]
    res = result("r1", apps, files, deadline=dt.date(2024, 6, 28))
    record(led, res, tmp_path, [FileSnap("济南.xlsx", 2, 5)])
    run = led.last_runs(1)[0]
    assert run["id"] == "r1" and run["complete"] and run["exit_code"] == 1
    assert run["counts"] == {"files": {"processed": 1, "rejected": 1},
                             "applications": {"eligible": 1, "needs_review": 1}}
    assert run["rules_version"] == "2024.1" and run["deadline"] == "2024-06-28"
    assert run["n_files"] == 2 and run["n_applications"] == 2
    rows = {r["name"]: dict(r) for r in led.conn.execute("SELECT * FROM files")}
    assert rows["坏.xlsx"]["status"] == "rejected" and "不是电子表格" in rows["坏.xlsx"]["error"]
    assert rows["济南.xlsx"]["first_seen"] == "2024-06-20T22:00:00"
    prev = led.previous_outcomes()
    assert prev["jn-2"] == {**prev["jn-2"], "status": "needs_review", "score": 70.5, "rank": 2,
                            "city": "济南市", "name": "集群乙", "file": "济南.xlsx"}
    assert prev["jn-2"]["values"] == {"revenue_total": 60.0, "leading_firms": 25}

    # the same file seen again later keeps its first-seen time
    res2 = result("r2", apps, files)
    res2.started = "2024-06-21T22:00:00"
    record(led, res2, tmp_path)
    row = led.conn.execute("SELECT * FROM files WHERE name = '济南.xlsx'").fetchone()
    assert row["first_seen"] == "2024-06-20T22:00:00" and row["last_seen"] == "2024-06-21T22:00:00"
    assert row["last_run"] == "r2"
    assert led.integrity_check() == "ok"


def test_record_run_is_one_transaction(tmp_path: Path, led: Ledger) -> None:
    good = result("r1", [app("a", "济南市", "甲")], [frec("a.xlsx", "济南市")])
    record(led, good, tmp_path)
    bad = result("r2", [app("b", "青岛市", "乙")], [frec("b.xlsx", "青岛市")])
    bad.files[0].sha256 = None  # type: ignore[assignment]  # NOT NULL in files: fails mid-way
    with pytest.raises(sqlite3.IntegrityError):
        record(led, bad, tmp_path)
    assert [r["id"] for r in led.last_runs(5)] == ["r1"]
    assert led.conn.execute("SELECT COUNT(*) FROM outcomes WHERE run_id = 'r2'").fetchone()[0] == 0
    assert set(led.previous_outcomes()) == {"a"}


# ------------------------------------------------------------------------------ changes
def test_changes_rows(tmp_path: Path, led: Ledger) -> None:
    first = result("r1", [
        app("jn-1", "济南市", "集群甲"),
        app("jn-2", "济南市", "集群乙", revenue_total=40.0, status="ineligible"),
        app("qd-1", "青岛市", "集群丙"),
        app("zb-1", "淄博市", "集群丁"),
    ], [frec("济南.xlsx", "济南市"), frec("青岛.xlsx", "青岛市"), frec("淄博.xlsx", "淄博市")])
    assert led.changes(first) == []  # first run: nothing to compare with
    assert led.changed_cities(first) == {"济南市", "青岛市", "淄博市"}
    record(led, first, tmp_path)

    second = result("r2", [
        app("jn-1", "济南市", "集群甲"),  # unchanged
        app("jn-2", "济南市", "集群乙", revenue_total=55.0, status="eligible", score=85.0),  # corrected
        app("qd-9", "青岛市", "集群 丙", revenue_total=61.0),  # moved row (new id), value corrected
        app("yt-1", "烟台市", "集群戊", file="烟台.xlsx"),  # new
    ], [frec("济南.xlsx", "济南市"), frec("青岛.xlsx", "青岛市"), frec("烟台.xlsx", "烟台市")])
    rows = led.changes(second)
    got = [(r["kind"], r["city"], r["name"], r["old_status"], r["new_status"]) for r in rows]
    assert got == [
        ("状态变化", "济南市", "集群乙", "不符合条件", "符合条件"),
        ("数据更正", "青岛市", "集群 丙", "符合条件", "符合条件"),
        ("撤回", "淄博市", "集群丁", "符合条件", ""),
        ("新增", "烟台市", "集群戊", "", "符合条件"),
    ]
    notes = {r["name"]: r["note"] for r in rows}
    assert "营业收入总额 40 → 55" in notes["集群乙"] and "得分 80 → 85" in notes["集群乙"]
    assert notes["集群 丙"] == "营业收入总额 60 → 61"
    assert "淄博" not in notes["集群戊"] and "烟台.xlsx" in notes["集群戊"]
    assert all(set(r) >= {"kind", "city", "name", "old_status", "new_status", "note"} for r in rows)
    # 济南 (outcome changed), 淄博 (file gone), 烟台 (new file); 青岛 (value changed)
    assert led.changed_cities(second) == {"济南市", "青岛市", "淄博市", "烟台市"}


def test_changed_cities_sees_a_replaced_file_with_identical_outcomes(tmp_path: Path, led: Ledger) -> None:
    a = [app("jn-1", "济南市", "集群甲")]
    record(led, result("r1", a, [frec("济南.xlsx", "济南市", content="v1")]), tmp_path)
    same = result("r2", a, [frec("济南.xlsx", "济南市", content="v1")])
    assert led.changes(same) == [] and led.changed_cities(same) == set()
    resent = result("r2", a, [frec("济南.xlsx", "济南市", content="v2")])
    assert led.changed_cities(resent) == {"济南市"}


def test_many_changed_fields_are_summarised(tmp_path: Path, led: Ledger) -> None:
    many = {f"f{i}": i for i in range(8)}
    record(led, result("r1", [app("a", "济南市", "甲", **many)], []), tmp_path)
    changed = {k: v + 1 for k, v in many.items()}
    rows = led.changes(result("r2", [app("a", "济南市", "甲", **changed)], []))
    assert rows[0]["kind"] == "数据更正" and rows[0]["note"].endswith("等共 8 项")


# ------------------------------------------------------------------------------ states and status
def test_city_states(tmp_path: Path, led: Ledger) -> None:
    deadline = dt.date(2024, 6, 28)
    before = dt.datetime(2024, 6, 20).timestamp()
    after = dt.datetime(2024, 6, 30).timestamp()
    files = [
        frec("济南.xlsx", "济南市", mtime=before),
        frec("青岛-旧.xlsx", "青岛市", "superseded", content="old", mtime=before),
        frec("青岛-新.xlsx", "青岛市", content="new", mtime=before),
        frec("淄博.xlsx", "淄博市", mtime=after),
        frec("枣庄.xlsx", "枣庄市", late=True, mtime=before),
        frec("东营.xlsx", "东营市", "rejected", content="bad"),
    ]
    record(led, result("r1", [], files, deadline=deadline), tmp_path)
    states = led.city_states(today=dt.date(2024, 6, 25))
    assert list(states) == cities()
    assert states["济南市"] == "已报送"
    assert states["青岛市"] == "已更正"
    assert states["淄博市"] == "逾期" and states["枣庄市"] == "逾期"
    assert states["东营市"] == "已退回"  # received, and rejected: not 未报送 (issue 14)
    assert states["菏泽市"] == "未报送"
    assert led.city_states(today=dt.date(2024, 7, 1))["菏泽市"] == "未报送"  # still to send, after the deadline too
    assert led.city_states(deadline=None, today=dt.date(2024, 7, 1))["济南市"] == "已报送"


def test_status_text(tmp_path: Path) -> None:
    out = tmp_path / "output"
    text = status_text(out, None)
    assert "尚无台账" in text and "--ledger" in text
    assert not (out / "ledger.sqlite3").exists()  # status does not create a ledger

    custom = tmp_path / "elsewhere" / "台账.sqlite3"
    with Ledger.open(custom) as led:
        record(led, result("20240620-2200", [app("a", "济南市", "甲")], [frec("a.xlsx", "济南市")],
                           deadline=dt.date(2024, 6, 28)), tmp_path)
        led.begin_run("20240621-2200", "2024-06-21T22:00:00")
    text = status_text(out, custom, today=dt.date(2024, 6, 25))
    assert "20240620-2200" in text and "退出码 0" in text and "未完成" in text
    assert "济南市  已报送" in text and "菏泽市  未报送" in text and "截止日期 2024-06-28" in text
    assert all(city in text for city in cities())


def test_status_text_is_reachable_from_the_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sdbatch.cli import main

    res = CliRunner().invoke(main, ["status", "--out", str(tmp_path / "output")])
    assert res.exit_code == 0 and "尚无台账" in res.output


def test_round_rows_are_each_programs_last_complete_run(tmp_path: Path) -> None:
    """cluster_2024 in runs 1, 3 and 4 (4 left incomplete), park_2024 in runs 2 and 3: the history
    reads each program from its last complete run (3), the rows in the order they were recorded,
    each with its own run's values."""

    def record(run_id: str, started: str, rounds: list[tuple[str, str]]) -> L.RunRecord:
        run = {"id": run_id, "started": started, "finished": started, "program": None, "rules_version": "1",
               "run_dir": str(tmp_path / "out" / run_id), "exit_code": 0, "n_files": 0,
               "n_applications": len(rounds), "counts_json": "{}", "fingerprint": run_id, "snapshot_digest": "",
               "snapshot_count": 0, "deadline": None}
        outcomes = [{"app_id": f"{program}/{name}", "city": "济南市", "name": name, "industry": None,
                     "status": "eligible", "score": None, "rank": None, "file": "a.xlsx",
                     "values_json": f'{{"run": "{run_id}"}}'} for program, name in rounds]
        rows = [{"app_id": f"{program}/{name}", "program": program, "family": program.split("_")[0],
                 "applicant_id": None, "applicant_name": name, "name": name, "city": "济南市", "status": "eligible",
                 "tier": None, "subsidy": None, "received": None} for program, name in rounds]
        return L.RunRecord(run, [], iter(outcomes), iter(rows))

    (tmp_path / "out").mkdir()
    with Ledger.open(tmp_path / "out" / "ledger.sqlite") as led:
        led.record(record("r1", "2024-06-01T10:00:00+08:00", [("cluster_2024", "甲"), ("cluster_2024", "乙")]))
        led.record(record("r2", "2024-06-02T10:00:00+08:00", [("park_2024", "园一")]))
        led.record(record("r3", "2024-06-03T10:00:00+08:00",
                          [("cluster_2024", "丙"), ("cluster_2024", "甲"), ("park_2024", "园二")]))
        led.record(record("r4", "2024-06-04T10:00:00+08:00", [("cluster_2024", "丁")]))
        led.conn.execute("UPDATE runs SET complete = 0 WHERE id = 'r4'")
        rows = led.round_rows()
        bare = led.round_rows(values=False)
        # The history's book reads a record's values from the ledger when they are first used
        # (issue 16): the same values as the rows'.
        from sdbatch.history.book import Book

        book = Book.from_ledger(led)
        assert [dict(r.values) for r in book.records] == [{"run": "r3"}] * 3
    assert [(r["run_id"], r["program"], r["name"]) for r in rows] == [
        ("r3", "cluster_2024", "丙"), ("r3", "cluster_2024", "甲"), ("r3", "park_2024", "园二")]
    assert {r["values_json"] for r in rows} == {'{"run": "r3"}'}
    assert bare == [{k: v for k, v in r.items() if k != "values_json"} for r in rows]


def _reference_changes(led: Ledger, res: RunResult) -> list[dict]:
    """The 变更情况 rows as stop 25 made them: every previous outline held with its name, the
    (city, name) index always made, a list of (application, previous id) pairs."""
    last = led._last_complete()
    if last is None:
        return []
    from sdbatch.catalogue import label as vocab
    from sdbatch.jurisdiction import jurisdiction_of
    from sdbatch.model import _jsonable

    def status_label(code):
        return vocab("status", code) if code else ""

    field_label = L._field_labeller(res)
    prev = {r["app_id"]: dict(r) for r in led.conn.execute(
        "SELECT app_id, city, name, status, score, file FROM outcomes WHERE run_id = ?", (last["id"],))}
    by_key = {(p["city"], L._norm_name(p["name"])): pid for pid, p in prev.items()}
    matched, pairs = {}, []
    for a in res.applications:
        pid = a.id if a.id in prev else by_key.get((a.city, L._norm_name(a.name)))
        if pid is not None and pid in matched:
            pid = None
        if pid is not None:
            matched[pid] = a
        pairs.append((a, pid))
    diffs_of = {}
    for pid, stored in led.conn.execute("SELECT app_id, values_json FROM outcomes WHERE run_id = ?", (last["id"],)):
        if pid in matched:
            diffs = L._value_diffs(L.json.loads(stored) if stored else {}, _jsonable(matched[pid].values), field_label)
            if diffs:
                diffs_of[pid] = diffs
    rows = []
    for a, pid in pairs:
        base = {"city": a.city, "name": a.name, "app_id": a.id, "new_status": status_label(a.status),
                "new_status_code": a.status}
        if pid is None:
            rows.append({**base, "kind": L.CHANGE_NEW, "old_status": "", "old_status_code": None,
                         "note": L.text("ledger.note.from_file", file=a.source.file)})
            continue
        p, diffs = prev[pid], diffs_of.get(pid, [])
        old = {"old_status": status_label(p["status"]), "old_status_code": p["status"]}
        if p["status"] != a.status:
            note = [L.text("ledger.note.score", old=L._fmt(p["score"]), new=L._fmt(a.score))] \
                if not L._same(p["score"], a.score) else []
            if diffs:
                note.append(L.text("ledger.note.corrected", diffs=L._join_diffs(diffs)))
            rows.append({**base, **old, "kind": L.CHANGE_STATUS, "note": L.text("ledger.note.separator").join(note)})
        elif diffs:
            rows.append({**base, **old, "kind": L.CHANGE_VALUES, "note": L._join_diffs(diffs)})
        elif not L._same(p["score"], a.score):
            rows.append({**base, **old, "kind": L.CHANGE_SCORE,
                         "note": L.text("ledger.note.score", old=L._fmt(p["score"]), new=L._fmt(a.score))})
    for pid, p in prev.items():
        if pid not in matched:
            rows.append({"kind": L.CHANGE_WITHDRAWN, "city": p["city"], "name": p["name"], "app_id": pid,
                         "old_status": status_label(p["status"]), "old_status_code": p["status"],
                         "new_status": "", "new_status_code": None,
                         "note": L.text("ledger.note.withdrawn", file=p["file"])})
    order = jurisdiction_of(res).order
    rows.sort(key=lambda r: (order.get(r["city"], len(order)), r["city"] or "", L.CHANGE_KINDS.index(r["kind"]),
                             r["name"] or ""))
    return rows


@pytest.mark.parametrize("seed", range(25))
def test_changes_are_those_of_every_outline_held_whole(seed: int, tmp_path: Path, led: Ledger) -> None:
    """Issue 16 holds the last run's outlines by this run's ids, without names, and makes the
    (city, name) index only when an id is missing: the rows are the same as holding everything —
    ids kept, rows moved (new ids), duplicates of a name, withdrawals, status and value changes."""
    import random

    rng = random.Random(seed)
    cities_ = ["济南市", "青岛市", "淄博市"]
    names = ["集群甲", "集群 甲", "集群乙", "集群丙", "集群丁", None]
    before = [app(f"id{i}", rng.choice(cities_), rng.choice(names), status=rng.choice(["eligible", "ineligible"]),
                  score=rng.choice([70.0, 80.0, None]), revenue_total=rng.choice([40.0, 55.0]))
              for i in range(rng.randint(0, 12))]
    record(led, result("r1", before, [frec("济南.xlsx", "济南市")]), tmp_path)
    after = []
    for i in range(rng.randint(0, 12)):
        kept = rng.random() < 0.6 and before
        base = rng.choice(before) if kept else None
        app_id = base.id if base is not None and rng.random() < 0.7 else f"new{i}"
        after.append(app(app_id, base.city if base is not None else rng.choice(cities_),
                         base.name if base is not None else rng.choice(names),
                         status=rng.choice(["eligible", "ineligible", "needs_review"]),
                         score=rng.choice([70.0, 80.0, None]), revenue_total=rng.choice([40.0, 55.0, 61.0])))
    unique = list({a.id: a for a in after}.values())  # a run's ids are unique
    second = result("r2", unique, [frec("济南.xlsx", "济南市")])
    assert led.changes(second) == _reference_changes(led, second)
