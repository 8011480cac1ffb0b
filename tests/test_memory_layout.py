"""The run's memory layout (issue 16): applications' values and findings' parameters held
compactly, and the cycle collector kept off a run's long-lived objects, restored afterwards."""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path

import pytest

from sdbatch import heap
from sdbatch.model import NO_PARAMS, NO_UNKNOWN, Finding, Params, Values, _jsonable


def _values(*pairs: tuple[str, object]) -> Values:
    return Values.packer()(dict(pairs))


def test_values_behave_as_the_dict_they_were_packed_from() -> None:
    source = {"name": "甲集群", "sales": 12.5, "rd": None, "city": "济南市"}
    values = Values.packer()(source)
    assert values == source and source == values
    assert list(values) == list(source) and list(values.items()) == list(source.items())
    assert values["sales"] == 12.5 and values.get("rd", "x") is None and values.get("nope", 7) == 7
    assert "rd" in values and "nope" not in values and len(values) == 4
    with pytest.raises(KeyError):
        values["nope"]
    values["sales"] = 13.0  # a field of the layout keeps its place
    values["extra"] = 1  # a new one goes last, as in a dict
    assert list(values) == ["name", "sales", "rd", "city", "extra"] and values["sales"] == 13.0
    del values["name"]
    assert list(values) == ["sales", "rd", "city", "extra"] and "name" not in values
    values["name"] = "乙"  # deleted then set again: last, as in a dict
    assert list(values)[-1] == "name" and dict(values)["name"] == "乙"
    assert json.loads(json.dumps(_jsonable(values), ensure_ascii=False))["name"] == "乙"
    assert values != {"sales": 13.0}


def test_applications_with_the_same_fields_share_one_index() -> None:
    pack = Values.packer()
    a, b = pack({"x": 1, "y": 2}), pack({"x": 3, "y": 4})
    c = pack({"y": 5, "x": 6})  # another order: its own index, its own order
    assert a._index is b._index and c._index is not a._index
    b["x"] = 9
    assert a == {"x": 1, "y": 2} and b == {"x": 9, "y": 4} and list(c) == ["y", "x"]


def test_finding_parameters_behave_as_the_dict_given() -> None:
    given = {"label": "研发投入占比", "value": 3.5, "unit": "%"}
    finding = Finding("value-converted", "info", field="rd_ratio", params=given)
    params = finding.params
    assert isinstance(params, Params) and params == given and given == params
    assert list(params.items()) == list(given.items()) and dict(params) == given
    assert params["unit"] == "%" and params.get("nope", 1) == 1 and "label" in params and len(params) == 3
    assert {**params, "x": 1}["value"] == 3.5 and "{label}: {value}".format_map(params) == "研发投入占比: 3.5"
    with pytest.raises(KeyError):
        params["nope"]
    assert Finding("city-not-found", "error").params is NO_PARAMS and not NO_PARAMS
    other = Finding("value-converted", "info", params={"label": "b", "value": 1, "unit": ""})
    assert other.params._index is params._index  # the same names share one index


def test_a_dict_given_to_many_findings_stays_one_object(monkeypatch: pytest.MonkeyPatch) -> None:
    from sdbatch import model

    # the memo of dicts packed lately is emptied when full: start from an empty one, as a run does,
    # not from whatever the tests before this one left in it (a clear between two of them splits them)
    monkeypatch.setattr(model, "_PACKED", {})
    shared = [{"item": "三(一)"}, {"item": "三(五)"}, {"item": "三(六)"}]  # the expert items of every application
    made = [Finding("expert-item", "info", params=p) for _ in range(100) for p in shared]
    assert len({id(f.params) for f in made}) == 3


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_run_scope_turns_the_collector_off_and_settle_collects_the_stage_garbage() -> None:
    assert gc.isenabled()
    with heap.run_scope():
        assert not gc.isenabled()
        with heap.run_scope():  # evaluate inside a run: the outer scope decides
            pass
        assert not gc.isenabled()
        kept = _Cycle()
        gone = weakref.ref(_Cycle())
        assert gone() is not None  # cyclic garbage waits for the stage's end
        heap.settle()
        assert gone() is None
        assert gc.get_freeze_count() > 0  # what lived on is out of the next passes
        del kept
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_run_scope_restores_the_collector_when_a_stage_fails() -> None:
    with pytest.raises(RuntimeError), heap.run_scope():
        heap.settle()
        raise RuntimeError("stage failed")
    assert gc.isenabled() and gc.get_freeze_count() == 0
    heap.settle()  # outside a scope: nothing frozen
    assert gc.get_freeze_count() == 0


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    try:
        with heap.run_scope():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_run_leaves_the_collector_as_it_found_it(tmp_path: Path) -> None:
    from sdbatch.batch import RunOptions, run_batch
    from tests.decision_builders import NOW, city_file, row

    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(city_order=i) for i in (1, 2, 3)])
    outcome = run_batch(inbox, RunOptions(out_dir=tmp_path / "out", now=NOW, run_id="t1", mail_mode="none"))
    assert outcome.run_dir is not None and outcome.result is not None
    assert gc.isenabled() and gc.get_freeze_count() == 0
    app = outcome.result.applications[0]
    assert isinstance(app.values, Values)  # read from a real workbook: packed
    doc = json.loads((outcome.run_dir / "results.json").read_text(encoding="utf-8"))
    assert doc["applications"][0]["values"] == {k: _jsonable(v) for k, v in app.values.items()}
    assert app.unknown is NO_UNKNOWN  # no unknown column: no dict of its own
    written = doc["applications"][0]["findings"]
    assert [f["code"] for f in written] == [f.code for f in app.findings]
    assert [f["params"] for f in written] == [{k: _jsonable(v) for k, v in f.params.items()} for f in app.findings]
    assert any(isinstance(f.params, Params) for f in app.findings)


def test_the_ledger_leaves_the_applications_texts_as_they_were(tmp_path: Path) -> None:
    """sqlite3 and orjson keep the UTF-8 form of a text they bind or write inside the text: the
    ledger, results.json and run.json are handed copies of each application's own id, name and
    values, which live as long as the run (issue 16)."""
    import sys

    from sdbatch.batch import RunOptions, run_batch
    from tests.decision_builders import NOW, city_file, row

    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(city_order=i) for i in (1, 2, 3)])
    outcome = run_batch(inbox, RunOptions(out_dir=tmp_path / "out", now=NOW, run_id="t1", mail_mode="none"))
    assert outcome.result is not None
    for app in outcome.result.applications:
        assert app.id is not None and not app.id.isascii() and app.name is not None and not app.name.isascii()
        texts = [v for v in (app.id, app.name, *app.values.values()) if type(v) is str and not v.isascii()
                 and v not in (app.city, app.industry)]  # canonical names: one object for every row
        assert len(texts) >= 4  # the id, the name (twice), the applicant...
        for text in texts:
            assert sys.getsizeof(text) == sys.getsizeof("".join(list(text))), text  # no UTF-8 form attached
    import sqlite3

    with sqlite3.connect(tmp_path / "out" / "ledger.sqlite3") as conn:
        stored = {r[0]: r[1] for r in conn.execute("SELECT app_id, name FROM outcomes WHERE run_id = 't1'")}
    assert stored == {a.id: a.name for a in outcome.result.applications}


def test_run_json_history_facts_are_made_as_they_are_written(tmp_path: Path) -> None:
    """run.json's history block (one entry per application) is made entry by entry as it is
    written and recorded (issue 16): the file and the ledger hold what a dict of them held."""
    import copy
    import pickle
    import sqlite3

    from sdbatch.batch import RunOptions, run_batch
    from sdbatch.history.facts import ledger_facts
    from tests.decision_builders import NOW, city_file, row

    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(city_order=i) for i in (1, 2, 3)])
    outcome = run_batch(inbox, RunOptions(out_dir=tmp_path / "out", now=NOW, run_id="t1", mail_mode="none"))
    assert outcome.run_dir is not None and outcome.result is not None
    facts = ledger_facts(outcome.result)
    assert facts, "the cluster round keeps a history"
    plain = {name: {**spec, "applications": {k: dict(v) for k, v in spec["applications"].items()}}
             for name, spec in facts.items()}
    written = json.loads((outcome.run_dir / "run.json").read_text(encoding="utf-8"))["ledger"]["history"]
    assert written == plain
    [(name, spec)] = plain.items()
    assert list(spec["applications"]) == [a.id for a in outcome.result.applications]
    with sqlite3.connect(tmp_path / "out" / "ledger.sqlite3") as conn:
        ids = {r[0] for r in conn.execute("SELECT app_id FROM round_outcomes WHERE run_id = 't1'")}
    assert ids == set(spec["applications"])
    app = outcome.result.applications[0]
    assert copy.deepcopy(app).unknown == {} and pickle.loads(pickle.dumps(app.unknown)) == {}
