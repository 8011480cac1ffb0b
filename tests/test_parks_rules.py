"""Every key of the ``[park]`` table is checked (issue 13, Build 3): a misspelt key or a value of the
wrong type makes ``sdbatch rules check`` exit 2 and name the key's place, one case per key of
:class:`~sdbatch.programs.park_rules.ParkSection` (walked from the model, so that a key added there
is tested here), plus the park round's own cross-checks (tier names, release, points)."""

from __future__ import annotations

import tomllib
import typing
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from click.testing import CliRunner
from pydantic import BaseModel

from sdbatch.cli import main
from sdbatch.programs import park
from sdbatch.programs.park_rules import ParkSection
from sdbatch.rules import bundled, load

RAW = tomllib.loads(bundled()["park_2024"].read_text(encoding="utf-8"))
FREE = {"groups", "aspects"}  # tables whose keys the round's author chooses
RUNNER = CliRunner()
# keys a round writes only where it needs them: tested with a valid value written in first
OPTIONAL = {("park", "standard", "indicators", 0, "group"): "L1", ("park", "standard", "indicators", 0, "max"): 2}


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds: itself, an item of a list of it, or the model of ``X | None``."""
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
        for inner in typing.get_args(arg):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return None


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list or any(typing.get_origin(a) is list
                                                        for a in typing.get_args(annotation))


def park_keys(model: type[BaseModel] = ParkSection, path: tuple[str | int, ...] = ("park",)) -> list[tuple[Any, ...]]:
    """The path of every key of the model, list items at index 0."""
    out: list[tuple[Any, ...]] = []
    for name, field in model.model_fields.items():
        here = (*path, name)
        out.append(here)
        inner = _model_of(field.annotation)
        if inner is not None and name not in FREE:
            out += park_keys(inner, (*here, 0) if _is_list(field.annotation) else here)
    return out


KEYS = park_keys()


def _at(raw: dict[str, Any], path: tuple[Any, ...]) -> Any:
    node: Any = raw
    for part in path:
        node = node[part]
    return node


def test_the_bundled_round_writes_every_park_key():
    """So that the walk over the bundled files (tests/test_rules_schema.py) reaches every key too."""
    missing = []
    for path in KEYS:
        try:
            _at(RAW, path)
        except (KeyError, IndexError):
            if path not in OPTIONAL:
                missing.append(".".join(map(str, path)))
    assert not missing, missing
    assert len(KEYS) > 50


def _wrong(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, (int, float)):
        return "12"
    if isinstance(value, str):
        return 12
    return "x"  # a list or a table


def _place(path: tuple[Any, ...]) -> list[str]:
    return [f"第{p + 1}项" if isinstance(p, int) else str(p) for p in path]


def _names(output: str, tokens: list[str]) -> bool:
    for line in output.splitlines():
        at = 0
        for token in tokens:
            at = line.find(token, at)
            if at < 0:
                break
            at += len(token)
        else:
            return True
    return False


@pytest.mark.parametrize("kind", ["misspelt", "wrong type"])
@pytest.mark.parametrize("path", KEYS, ids=lambda p: ".".join(map(str, p)))
def test_each_park_key_misspelt_or_mistyped_is_refused_with_its_place(tmp_path: Path, path: tuple[Any, ...],
                                                                      kind: str) -> None:
    raw = tomllib.loads(tomli_w.dumps(RAW))
    parent, key = _at(raw, path[:-1]), path[-1]
    if key not in parent:
        parent[key] = OPTIONAL[path]
    if kind == "misspelt":
        parent[f"{key}x"] = parent.pop(key)
        tokens = [*_place(path[:-1]), f"{key}x"]
    else:
        parent[key] = _wrong(parent[key])
        tokens = _place(path)
    target = tmp_path / "round.toml"
    target.write_text(tomli_w.dumps(raw), encoding="utf-8")
    result = RUNNER.invoke(main, ["rules", "check", str(target)])
    assert result.exit_code == 2, result.output
    assert "程序内部错误" not in result.output and "Traceback" not in result.output
    assert _names(result.output, tokens), f"{tokens} not named in:\n{result.output}"


def test_release_is_read_and_defaults_to_released(tmp_path: Path) -> None:
    assert park.settings_of(load("park_2024")).release_results is True
    raw = tomllib.loads(tomli_w.dumps(RAW))
    del raw["park"]["release"]
    path = tmp_path / "no_release.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    assert park.settings_of(load(path)).release_results is True  # default: released
    raw["park"]["release"] = {"results": False}
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    assert park.settings_of(load(path)).release_results is False


@pytest.mark.parametrize("key, value", [("sheet_points", "always"), ("points_tie", "middle"),
                                        ("points_total", 0), ("default_max", -1)])
def test_points_settings_out_of_range_are_refused(tmp_path: Path, key: str, value: Any) -> None:
    raw = tomllib.loads(tomli_w.dumps(RAW))
    raw["park"]["scoring"][key] = value
    path = tmp_path / "round.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    result = RUNNER.invoke(main, ["rules", "check", str(path)])
    assert result.exit_code == 2 and _names(result.output, ["park", "scoring", key]), result.output


def test_a_tier_renamed_in_one_place_is_refused_where_it_is_still_named(tmp_path: Path) -> None:
    """A new round renames 成长型 in [[park.tiers]] but not in [history.upgrade]: rules check names
    the place that still uses the old name (and exits 2) instead of failing at the next round."""
    raw = tomllib.loads(tomli_w.dumps(RAW))
    tier = next(t for t in raw["park"]["tiers"] if t["name"] == "成长型")
    tier["name"] = "提升型"
    path = tmp_path / "renamed.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    result = RUNNER.invoke(main, ["rules", "check", str(path)])
    assert result.exit_code == 2, result.output
    assert "成长型" in result.output and _names(result.output, ["history", "upgrade"]), result.output
