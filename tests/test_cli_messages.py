"""Issue 14 Build 7: every CLI message in Chinese — click's own usage errors, help and prompts
included — an empty inbox and an option that does not apply stated plainly, and a run's
outputs that could not be written reported (issue 15 Build 1)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from sdbatch import batch, writers
from sdbatch.catalogue import lookup
from sdbatch.cli import click_gettext, main
from tests.decision_builders import city_file, row

NOW = "2024-06-27T10:00:00"
ENGLISH = re.compile(r"\b(Usage|Options|Commands|Show this|Error|Missing|Invalid|does not exist|is not|Aborted|"
                     r"No such|Try|default|required|TEXT|PATH|DIRECTORY|FILE|FLOAT|INTEGER|RANGE|OPTIONS|COMMAND|ARGS)\b")


def invoke(*args: str, **kw: Any) -> Any:
    return CliRunner().invoke(main, list(args), **kw)


def click_messages() -> set[str]:
    """Every message the installed click asks gettext for (``_("…")`` and ``ngettext("…", "…")``)."""
    found: set[str] = set()
    for path in Path(click.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "ngettext"):
                found |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return found | {"required"}  # passed to _() through a variable


def test_every_click_message_is_translated() -> None:
    table = lookup("cli.click")
    missing = sorted(m for m in click_messages() if m not in table)
    assert not missing, f"add to [cli.click] in ui.toml: {missing}"
    for message, chinese in table.items():
        slots = set(re.findall(r"\{(\w+)", message))
        assert set(re.findall(r"\{(\w+)", chinese)) <= slots, (message, chinese)  # no slot click does not fill
    assert click_gettext("Aborted!") == "已取消。"


def _all_commands() -> list[list[str]]:
    out: list[list[str]] = [[]]

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name, command in group.commands.items():
            out.append([*prefix, name])
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(main, [])  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize("command", _all_commands(), ids=lambda c: " ".join(c) or "sdbatch")
def test_help_is_chinese(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "用法：" in result.output and "显示本帮助并退出。" in result.output
    if command[:2] == ["mail", "send"]:
        return  # the sending helper's command: its options' words are its own
    english = ENGLISH.findall(result.output)
    assert not english, (english, result.output)


@pytest.mark.parametrize("args, says", [
    (["rn"], "没有 'rn' 这个命令"),
    (["run"], "缺少参数 '收件箱'。"),
    (["run", ".", "--budget", "x"], "'x' 不是有效的数值"),
    (["run", ".", "--budget", "-5"], "不在允许范围"),
    (["run", ".", "--mail", "sometimes"], "不在可选值"),
    (["run", ".", "--no-such-option"], "没有 '--no-such-option' 这个选项"),
    (["check", "/no/such/file.xlsx"], "不存在"),
    (["status", "extra"], "多余的参数"),
])
def test_usage_errors_are_chinese(args: list[str], says: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert says in result.output, result.output
    assert "错误：" in result.output and "请运行 '" in result.output and "查看帮助" in result.output
    assert not ENGLISH.findall(result.output.replace("--help", "")), result.output


def test_aborted_prompt_is_chinese(tmp_path: Path) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    city_file(inbox, "济南市", [row()])
    assert invoke("run", str(inbox), "--out", str(out), "--run-id", "r1", "--now", NOW).exit_code == 0
    result = invoke("mail", "send", str(out / "r1"), "--smtp", "127.0.0.1:1", input="n\n")
    assert result.exit_code == 1 and "已取消。" in result.output and "Aborted" not in result.output, result.output


# ------------------------------------------------------------------------------ plain statements
def test_an_empty_inbox_is_said_plainly(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    result = invoke("run", str(tmp_path / "inbox"), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "没有任何文件" in result.output and "文件：\n" not in result.output
    assert not [p for p in (tmp_path / "out").iterdir() if p.is_dir()]  # no run folder


def test_an_inbox_with_nothing_to_review_says_so(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "推荐文件.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\n")
    result = invoke("run", str(inbox), "--out", str(tmp_path / "out"), "--mail", "none")
    assert result.exit_code == 0, result.output
    assert "已忽略 1" in result.output and "没有读到任何申报项目" in result.output


def test_an_option_no_program_of_the_run_takes(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row()])
    chosen = invoke("run", str(inbox), "--out", str(tmp_path / "o1"), "--program", "cluster_2024", "--budget", "100")
    assert chosen.exit_code == 2 and "--budget 不适用" in chosen.output, chosen.output
    unknown = invoke("run", str(inbox), "--out", str(tmp_path / "o2"), "--set", "budgett=100")
    assert unknown.exit_code == 2 and "没有 --budgett 这个运行选项" in unknown.output and "--budget" in unknown.output
    auto = invoke("run", str(inbox), "--out", str(tmp_path / "o3"), "--budget", "100", "--run-id", "r", "--now", NOW)
    assert auto.exit_code == 0, auto.output
    assert "选项 --budget 未使用" in auto.output
    info = json.loads((tmp_path / "o3" / "r" / "run.json").read_text(encoding="utf-8"))
    assert any("--budget" in n for n in info["notices"])
    assert "--budget" in (tmp_path / "o3" / "r" / "run.log").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------ outputs that failed
def test_an_output_that_cannot_be_written_is_reported_and_the_rest_published(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    city_file(inbox, "济南市", [row()])
    city_file(inbox, "青岛市", [row()])

    def broken(*_a: Any, **_k: Any) -> None:
        raise ValueError("a bug in the list writer")

    monkeypatch.setattr(writers, "write_ranked_list", broken)
    result = invoke("run", str(inbox), "--out", str(out), "--run-id", "r", "--now", NOW, "--mail", "all")
    assert result.exit_code == 1, result.output
    assert "未能生成名单" in result.output and "ValueError" in result.output
    run_dir = out / "r"
    assert (run_dir / "济南市_审核意见.xlsx").exists() and (run_dir / "results.json").exists()
    assert sorted(p.name for p in (run_dir / "mail").glob("*.eml")) == ["济南市.eml", "青岛市.eml"]
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert info["exit_code"] == 1 and [f["output"] for f in info["output_failures"]] == ["list"]
    assert "未能生成名单" in (run_dir / "run.log").read_text(encoding="utf-8")
    assert "退出码 1" in invoke("status", "--out", str(out)).output


def test_one_city_review_that_failed_costs_no_other_city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The review writer records a city it could not write on ``RunResult.review_failures``."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    city_file(inbox, "济南市", [row()])
    city_file(inbox, "青岛市", [row()])
    real = writers.write_city_reviews

    def one_fails(result: Any, run_dir: Path) -> Any:
        written = real(result, run_dir)
        (run_dir / "青岛市_审核意见.xlsx").unlink()
        result.review_failures = {"青岛市": IndexError("style index")}
        return {c: p for c, p in written.items() if c != "青岛市"}

    monkeypatch.setattr(writers, "write_city_reviews", one_fails)
    outcome = batch.run_batch(inbox, batch.RunOptions(out_dir=out, run_id="r", now=NOW, quiet=True, mail_mode="all"))
    assert outcome.exit_code == 1
    assert (out / "r" / "济南市_审核意见.xlsx").exists() and (out / "r" / "mail" / "济南市.eml").exists()
    assert "未能生成青岛市的审核意见" in outcome.summary()
    assert outcome.failures == [{"output": "review", "city": "青岛市", "reason": "程序内部错误（IndexError），请把 run.log 发给维护人员"}]


def test_help_text_has_no_space_click_put_between_chinese_words() -> None:
    """click rewraps a command's text and joins its lines with a space: between two Chinese
    characters that reads as a gap (附件的 文件时间).  Every command's description, every group."""
    import re

    import click
    from click.testing import CliRunner

    from sdbatch.cli import main

    def commands(group: click.Command, path: list[str]) -> list[list[str]]:
        found = [path]
        if isinstance(group, click.Group):
            for name, sub in group.commands.items():
                found += commands(sub, [*path, name])
        return found

    gaps = []
    for path in commands(main, []):
        command = main
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        shown = re.sub(r"\n *", "", CliRunner().invoke(main, [*path, "--help"]).output)  # click's own wrapping
        for before, after in re.findall(r"([\u4e00-\u9fff，。、；：）]{2})[ \t]*\n[ \t]*([\u4e00-\u9fff（]{2})",
                                        command.help or ""):
            if before + after not in shown:
                gaps.append(f"{' '.join(path) or 'sdbatch'}: {before} {after}")
    assert gaps == []
