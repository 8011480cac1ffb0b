"""Command line: parses, delegates to one library function, prints a short Chinese summary.

Nothing heavy is imported at module level, so ``sdbatch --help`` starts fast (STYLE §2).
Every word shown comes from ``sdbatch/ui.toml`` (``[cli]``), click's own messages included
(``[cli.click]``: click asks ``gettext`` for them; :func:`_install_click_chinese` answers in
Chinese, and a test holds every message of the installed click translated).

Exit codes (SPEC §6, docs/deployment.md): 0 every file read and every output written (also: nothing
new, an empty inbox); 1 the run finished but some file was rejected or some output could not be
written; 2 the run could not be done (bad arguments, bad rules, lock held, the ledger's state,
a full disk…).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

EXIT_OK, EXIT_REJECTED, EXIT_FAILED = 0, 1, 2


def _ui(key: str, **params: Any) -> str:
    from sdbatch.catalogue import text

    return text(key, **params)


# ----------------------------------------------------------------------------- click in Chinese
def _click_table() -> dict[str, str]:
    from sdbatch.catalogue import lookup

    return dict(lookup("cli.click"))


def click_gettext(message: str) -> str:
    """click's ``gettext``: its English message in Chinese (unknown ones stay as they are)."""
    return _click_table().get(message, message)


def click_ngettext(singular: str, plural: str, n: int) -> str:
    table = _click_table()
    return table.get(singular if n == 1 else plural) or table.get(singular) or (singular if n == 1 else plural)


def _install_click_chinese() -> None:
    """Answer click's ``_()``/``ngettext()`` calls in Chinese and name its value types in Chinese
    (``TEXT`` in a usage line reads 文本).  Only click's modules are touched, never gettext itself."""
    for name, module in list(sys.modules.items()):
        if name == "click" or name.startswith("click."):
            if callable(getattr(module, "_", None)):
                module._ = click_gettext  # type: ignore[attr-defined]
            if callable(getattr(module, "ngettext", None)):
                module.ngettext = click_ngettext  # type: ignore[attr-defined]
    from sdbatch.catalogue import lookup

    names = lookup("cli.types")
    for attr in ("STRING", "INT", "FLOAT", "BOOL", "UUID"):
        kind = getattr(click.types, attr, None)
        if kind is not None:
            kind.name = names[attr.lower()]
    click.types.IntRange.name = names["int_range"]
    click.types.FloatRange.name = names["float_range"]
    missing = click.exceptions.MissingParameter
    if not getattr(missing.format_message, "_sdbatch", False):
        english = missing.format_message

        def format_message(self: click.exceptions.MissingParameter) -> str:
            said = english(self)  # "缺少参数 '收件箱'." : the sentence ends the Chinese way
            head, dot, rest = said.partition(".")
            return f"{head}{_ui('cli.full_stop')}{rest.lstrip()}" if dot else said

        format_message._sdbatch = True  # type: ignore[attr-defined]
        missing.format_message = format_message  # type: ignore[method-assign]


_install_click_chinese()


_CJK_BREAK = re.compile(r"(?<=[^\x00-\x7f])[ \t]*\n[ \t]*(?=[^\x00-\x7f])")  # between two Chinese characters


class HelpFormatter(click.HelpFormatter):
    """Headings and the usage line with Chinese punctuation (``选项：``, ``用法：sdbatch run``)."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, click_gettext("Usage:") if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        self.write(_ui("cli.heading", indent=" " * self.current_indent, heading=heading) + "\n")

    def write_text(self, text: str) -> None:
        """Paragraphs rewrapped as click does, but a line break inside Chinese text joins without the
        space click would put there (附件的 文件时间); ``\\b`` paragraphs are kept as written."""
        paragraphs = re.split(r"\n[ \t]*\n", text)
        super().write_text("\n\n".join(p if p.lstrip().startswith("\b") else _CJK_BREAK.sub("", p)
                                        for p in paragraphs))


class Context(click.Context):
    formatter_class = HelpFormatter


class Command(click.Command):
    context_class = Context

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("options_metavar", _ui("cli.metavar.options"))
        super().__init__(*args, **kwargs)


class Group(click.Group):
    context_class = Context
    command_class = Command
    group_class = type  # subgroups are Groups too

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("options_metavar", _ui("cli.metavar.options"))
        kwargs.setdefault("subcommand_metavar", _ui("cli.metavar.subcommand"))
        super().__init__(*args, **kwargs)


# ----------------------------------------------------------------------------- failures
class Failure(click.ClickException):
    """A run that could not be done: one Chinese sentence, exit 2."""

    exit_code = EXIT_FAILED

    def show(self, file: Any = None) -> None:
        click.echo(_ui("cli.error", message=self.message), err=True)


def _guard(ctx: click.Context, func: Any, *args: Any, **kwargs: Any) -> Any:
    """Turn library exceptions into one readable sentence; tracebacks only with --debug."""
    from sdbatch.address_book import AddressBookInvalid
    from sdbatch.errors import IOFailure, Refused
    from sdbatch.ledger import LedgerError
    from sdbatch.lock import LockHeld
    from sdbatch.model import RulesInvalid
    from sdbatch.sending import MailError

    try:
        return func(*args, **kwargs)
    except (LockHeld, LedgerError, Refused, IOFailure) as exc:
        raise Failure(exc.message) from None
    except MailError as exc:
        raise Failure(str(exc)) from None
    except AddressBookInvalid as exc:
        raise Failure(exc.message) from None
    except RulesInvalid as exc:
        lines = "\n".join(_ui("cli.rules_problem", problem=p) for p in exc.problems)
        raise Failure(_ui("cli.rules_invalid", path=exc.path, problems=lines)) from None
    except click.ClickException:
        raise
    except KeyboardInterrupt:
        raise Failure(_ui("cli.interrupted")) from None
    except Exception as exc:  # noqa: BLE001 - the user gets a sentence, engineers use --debug
        if ctx.obj and ctx.obj.get("debug"):
            raise
        from sdbatch.errors import user_message

        raise Failure(user_message(exc)) from None


def _program_options(command: Any) -> Any:
    """``--<name>`` for every option a built-in program declares (e.g. the parks' ``--budget``)."""
    from sdbatch.catalogue import text
    from sdbatch.programs import builtin_options

    for option in builtin_options():
        kind: Any = option.type
        if option.type in (int, float) and option.minimum is not None:
            kind = click.IntRange(min=int(option.minimum)) if option.type is int else click.FloatRange(min=option.minimum)
        command = click.option(f"--{option.name.replace('_', '-')}", option.name, type=kind, default=None,
                               help=text(option.help_key))(command)
    return command


def _collect_options(flags: dict[str, Any], settings_: tuple[str, ...]) -> dict[str, Any]:
    """Program options from their own flags and from ``--set name=value`` (values stay text: the
    program that declares the option converts and checks them)."""
    out = {k: v for k, v in flags.items() if v is not None}
    for item in settings_:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(_ui("cli.set_malformed", item=item), param_hint="--set")
        out[name.strip().replace("-", "_")] = value.strip()
    return out


def _h(key: str) -> str:
    """An option's help text (``[cli.help]``)."""
    return _ui(f"cli.help.{key}")


def _m(key: str) -> str:
    """An option's or argument's placeholder in usage lines (``[cli.metavar]``)."""
    return _ui(f"cli.metavar.{key}")


def _out_option(help_key: str) -> Any:
    return click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("output"),
                        show_default=True, metavar=_m("dir"), help=_h(help_key))


def _ledger_option(command: Any) -> Any:
    return click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        metavar=_m("file"), help=_h("ledger"))(command)


# ----------------------------------------------------------------------------- commands
@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help=_h("debug"))
@click.version_option(package_name="sdbatch", message="sdbatch %(version)s")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """sdbatch：山东省数字产业集群 / 数字经济园区申报汇总表批量审核。

    \b
    示例：
      sdbatch run inbox/                 审核 inbox/ 中各市报送的汇总表
      sdbatch check 济南市汇总表.xlsx     快速查看一个文件的审核问题
      sdbatch template                   生成空白汇总表模板
      sdbatch rules list                 列出各批次的审核规则
      sdbatch status                     最近几次运行和各市报送情况
      sdbatch ledger check               检查台账是否完好
      sdbatch history 91370100MA3C4D5E6X 一个申报主体的历次申报、决定和禁止申报期
      sdbatch decide --help              登记弄虚作假、撤销、绩效评估、拨付奖补等决定
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if not debug:  # library warnings about odd cells are for engineers; findings speak to staff
        import warnings

        warnings.filterwarnings("ignore", module="openpyxl")


@main.command()
@click.argument("inbox", type=click.Path(file_okay=False, path_type=Path), metavar=_m("inbox"))
@_out_option("out")
@click.option("--program", "programs", multiple=True, metavar=_m("program"), help=_h("program"))
@click.option("--rules", "rules_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              metavar=_m("file"), help=_h("rules"))
@click.option("--force", is_flag=True, help=_h("force"))
@click.option("--mail", "mail_mode", type=click.Choice(["changed", "all", "none"]), default="changed",
              show_default=True, help=_h("mail"))
@_ledger_option
@click.option("--address-book", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar=_m("file"), help=_h("address_book"))
@click.option("--quiet", "-q", is_flag=True, help=_h("quiet"))
@click.option("--verbose", "-v", is_flag=True, help=_h("verbose"))
@click.option("--run-id", default=None, metavar=_m("run_id"), help=_h("run_id"))
@click.option("--now", default=None, metavar=_m("time"), help=_h("now"))
@click.option("--set", "settings_", multiple=True, metavar=_ui("options.set_metavar"), help=_ui("options.set_help"))
@_program_options
@click.pass_context
def run(ctx: click.Context, inbox: Path, out_dir: Path, programs: tuple[str, ...], rules_files: tuple[Path, ...],
        force: bool, mail_mode: str, ledger_path: Path | None, address_book: Path | None,
        quiet: bool, verbose: bool, run_id: str | None, now: str | None, settings_: tuple[str, ...],
        **program_options: Any) -> None:
    """审核收件箱中的全部汇总表，结果写入 --out 下的新目录。

    \b
    示例：
      sdbatch run inbox/
      sdbatch run inbox/ --out /data/sdbatch/output --quiet     （定时任务）
      sdbatch run inbox/ --program park_2024 --budget 1000
    退出码：0 全部文件已读取、全部结果已生成（或无新增文件、收件箱为空）；
    1 有文件被退回或有结果未能生成；2 无法运行（参数、规则、锁、台账、磁盘）。
    """
    from sdbatch.batch import RunOptions, run_batch
    from sdbatch.errors import shown_path

    if not inbox.is_dir():
        raise Failure(_ui("cli.no_inbox", inbox=shown_path(inbox)))
    options = RunOptions(
        out_dir=out_dir, programs=programs, rules_files=rules_files, force=force,
        program_options=_collect_options(program_options, settings_),
        mail_mode=mail_mode, ledger_path=ledger_path, address_book=address_book, quiet=quiet,
        verbose=verbose, run_id=run_id, now=now, debug=ctx.obj.get("debug", False),
        progress=sys.stderr.isatty() and not quiet,
    )
    outcome = _guard(ctx, run_batch, inbox, options)
    if not quiet:
        click.echo(outcome.summary())
    ctx.exit(outcome.exit_code)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path), metavar=_m("workbook"))
@click.option("--program", "programs", multiple=True, metavar=_m("program"), help=_h("check_program"))
@click.option("--rules", "rules_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              metavar=_m("file"), help=_h("check_rules"))
@click.pass_context
def check(ctx: click.Context, file: Path, programs: tuple[str, ...], rules_files: tuple[Path, ...]) -> None:
    """读取一个汇总表，打印读到的内容和全部审核问题（不写任何文件）。

    \b
    示例：
      sdbatch check inbox/济南市数字产业集群申报汇总表.xlsx
    退出码：0 文件可读；1 文件被退回；2 无法运行。
    """
    from sdbatch.batch import check_file

    report = _guard(ctx, check_file, file, programs=programs, rules_files=rules_files)
    click.echo(report.text)
    ctx.exit(report.exit_code)


@main.command()
@click.option("--program", default=None, metavar=_m("program"), help=_h("template_program"))
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), default=Path("templates/xlsx"),
              show_default=True, metavar=_m("path"), help=_h("template_output"))
@click.pass_context
def template(ctx: click.Context, program: str | None, output: Path) -> None:
    """按规则文件生成空白的市级汇总表模板（下拉选项、单位、填表说明）和企业名单模板。

    \b
    示例：
      sdbatch template
      sdbatch template --program cluster_2024 -o 汇总表模板.xlsx
    """
    from sdbatch.evidence import write_templates as write_lists
    from sdbatch.template import write_templates

    for path in [*_guard(ctx, write_templates, program, output), *_guard(ctx, write_lists, program, output)]:
        click.echo(_ui("cli.template_written", path=path))


@main.group()
def rules() -> None:
    """列出、查看、校验各批次的审核规则文件。

    \b
    示例：
      sdbatch rules list
      sdbatch rules show cluster_2024
      sdbatch rules check my_round.toml
    """


@rules.command("list")
@click.pass_context
def rules_list(ctx: click.Context) -> None:
    """列出内置的规则文件。

    \b
    示例：
      sdbatch rules list
    """
    from sdbatch.rules_report import list_text

    click.echo(_guard(ctx, list_text))


@rules.command("show")
@click.argument("name", metavar=_m("program"))
@click.pass_context
def rules_show(ctx: click.Context, name: str) -> None:
    """以表格显示一个批次的全部规则（字段、门槛、单位、性质、条款、名额、权重）。

    \b
    示例：
      sdbatch rules show cluster_2024
    """
    from sdbatch.rules_report import show_text

    click.echo(_guard(ctx, show_text, name))


@rules.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), metavar=_m("rules_file"))
@click.pass_context
def rules_check(ctx: click.Context, file: Path) -> None:
    """校验一个规则文件，逐条指出错误及其位置。

    \b
    示例：
      sdbatch rules check sdbatch/programs/cluster_2025.toml
    退出码：0 规则文件有效；2 有错误。
    """
    from sdbatch.rules import load

    loaded = _guard(ctx, load, file)
    click.echo(_ui("cli.rules_valid", title=loaded.title, name=loaded.name, version=loaded.version))


@main.group()
def mail() -> None:
    """发送某次运行生成的邮件草稿。

    \b
    示例：
      sdbatch mail send output/20240629-2200 --smtp smtp.example.cn:465 --ssl --user bgs
    """


@mail.command("send")
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--smtp", required=True, help=_ui("sending.cli.smtp"))
@click.option("--ssl", "security", flag_value="ssl", help=_ui("sending.cli.ssl"))
@click.option("--starttls", "security", flag_value="starttls", help=_ui("sending.cli.starttls"))
@click.option("--plain", "security", flag_value="plain", default=True, help=_ui("sending.cli.plain"))
@click.option("--user", default=None, help=_ui("sending.cli.user"))
@click.option("--password-env", default="SDBATCH_SMTP_PASSWORD", show_default=True,
              help=_ui("sending.cli.password_env"))
@click.option("--sender", "sender", default=None, help=_ui("sending.cli.sender"))
@click.option("--resend-unknown", is_flag=True, help=_ui("sending.cli.resend_unknown"))
@click.option("--yes", "-y", is_flag=True, help=_ui("sending.cli.yes"))
@click.pass_context
def mail_send(ctx: click.Context, run_dir: Path, smtp: str, security: str, user: str | None, password_env: str,
              sender: str | None, resend_unknown: bool, yes: bool) -> None:
    """把 RUN_DIR/mail/ 中的邮件草稿逐一发送，每封只发一次。

    每封邮件发送前后都记入 RUN_DIR/mail/journal.sqlite3；再次运行时跳过已发送的，重试失败的；
    正文已传出但未收到服务器确认的（如发送中途被终止）列为“结果不明”，核实后可加
    --resend-unknown 重发。同一运行目录同时只能有一个发送。

    \b
    示例：
      sdbatch mail send output/20240629-2200 --smtp 127.0.0.1:1025 --yes
    退出码：0 全部已发送；1 有邮件发送失败、结果不明或无收件人；2 无法发送（连接、登录、锁）。
    """
    from sdbatch.sending import SmtpOptions, plan, preview_line, send_drafts

    if not yes:
        items = _guard(ctx, plan, run_dir, resend_unknown)
        click.echo(_ui("sending.preview.title"))
        for item in items:
            click.echo(preview_line(item))
        if not any(item.action == "send" for item in items):
            click.echo(_ui("sending.preview.nothing"))
        else:
            click.confirm(_ui("sending.preview.confirm"), abort=True)
    options = _guard(ctx, SmtpOptions.from_cli, smtp, security, user, password_env, sender)
    report = _guard(ctx, send_drafts, run_dir, options, resend_unknown=resend_unknown)
    click.echo(report.summary())
    ctx.exit(report.exit_code)


@main.command()
@click.argument("inbox", type=click.Path(file_okay=False, path_type=Path))
@click.option("--settings", "settings_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=_ui("intake.cli.settings"))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("output"),
              show_default=True, help=_ui("intake.cli.out"))
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=_ui("intake.cli.ledger"))
@click.option("--mark-seen", is_flag=True, help=_ui("intake.cli.mark_seen"))
@click.option("--move-to", "move_to", default=None, metavar=_ui("intake.cli.folder_metavar"),
              help=_ui("intake.cli.move_to"))
@click.pass_context
def fetch(ctx: click.Context, inbox: Path, settings_path: Path | None, out_dir: Path, ledger_path: Path | None,
          mark_seen: bool, move_to: str | None) -> None:
    """从部门邮箱（IMAP）收取新邮件中的汇总表附件，放入 INBOX。

    邮箱服务器、账号和文件夹写在 config/mailbox.toml（--settings 可另行指定），密码从其中
    password_env 指定的环境变量读取；默认使用 TLS。每封邮件只收取一次（记入台账），附件的
    文件时间设为邮件的发送时间，邮件原文保存在收件目录旁的 mailbox-archive/ 中。默认不删除、
    不移动、不标记服务器上的邮件。

    \b
    示例：
      SDBATCH_MAIL_PASSWORD=... sdbatch fetch inbox/ --out output
      sdbatch fetch inbox/ --settings config/mailbox.toml --mark-seen
    退出码：0 已收取（或没有新邮件）；1 有邮件过大或无法读取，未能收取；2 无法收取（设置、连接、登录、锁）。
    """
    from sdbatch.intake.imap import FetchFailed, FetchOptions
    from sdbatch.intake.imap import fetch as fetch_mail
    from sdbatch.ledger import default_path

    options = FetchOptions(inbox=inbox, ledger=ledger_path or default_path(out_dir), settings_path=settings_path,
                           move_to=move_to, mark_seen=mark_seen)

    def run_fetch() -> Any:
        try:
            return fetch_mail(options)
        except FetchFailed as exc:
            raise Failure(exc.message) from None

    report = _guard(ctx, run_fetch)
    click.echo(report.summary())
    ctx.exit(report.exit_code)


@main.command()
@_out_option("status_out")
@_ledger_option
@click.pass_context
def status(ctx: click.Context, out_dir: Path, ledger_path: Path | None) -> None:
    """显示最近几次运行和各市报送状态（已报送 / 已更正 / 逾期 / 已退回 / 未报送）。

    \b
    示例：
      sdbatch status --out output
    """
    from sdbatch.ledger import status_text

    click.echo(_guard(ctx, status_text, out_dir, ledger_path))


@main.group()
def ledger() -> None:
    """检查台账，或在台账损坏时根据已发布的运行结果重建。

    \b
    示例：
      sdbatch ledger check --out output
      sdbatch ledger recover --out output
    """


@ledger.command("check")
@_out_option("status_out")
@_ledger_option
@click.pass_context
def ledger_check(ctx: click.Context, out_dir: Path, ledger_path: Path | None) -> None:
    """检查台账：文件头、结构、完整性和每次运行记录的校验值（不做任何修改）。

    \b
    示例：
      sdbatch ledger check --out output
    退出码：0 台账完好；1 台账已损坏（可用 sdbatch ledger recover 重建）；
    2 无法检查（台账不存在、被占用、没有权限、磁盘错误）。
    """
    from sdbatch.ledger import check_ledger, default_path

    report = _guard(ctx, check_ledger, ledger_path or default_path(out_dir), out_dir)
    click.echo(report.message)
    ctx.exit(EXIT_OK if report.ok else EXIT_REJECTED if report.kind == "damaged" else EXIT_FAILED)


@ledger.command("recover")
@_out_option("recover_out")
@_ledger_option
@click.option("--force", is_flag=True, help=_h("recover_force"))
@click.pass_context
def ledger_recover(ctx: click.Context, out_dir: Path, ledger_path: Path | None, force: bool) -> None:
    """把损坏的台账改名备份，再根据输出目录中已发布的运行结果（results.json、run.json）重建台账。

    \b
    示例：
      sdbatch ledger recover --out output
      sdbatch ledger recover --out /data/sdbatch/output --ledger /var/lib/sdbatch/ledger.sqlite3
    退出码：0 已重建；2 无法重建（台账完好、被占用、磁盘已满等，见提示）。
    """
    from sdbatch.errors import writing
    from sdbatch.ledger import default_path, recover
    from sdbatch.lock import LOCK_NAME, RunLock

    def locked_recover() -> Any:
        with writing(out_dir):
            out_dir.mkdir(parents=True, exist_ok=True)
            lock = RunLock(out_dir / LOCK_NAME)
            lock.acquire()
        try:
            return recover(ledger_path or default_path(out_dir), out_dir, force=force)
        finally:
            lock.release()

    report = _guard(ctx, locked_recover)
    click.echo(report.summary())


# ----------------------------------------------------------------------------- across rounds (issue 19)
def _date_option(value: str | None) -> Any:
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(_ui("history.decide.bad_date", date=value), param_hint="--date") from None


def _rules_option(command: Any) -> Any:
    return click.option("--rules", "rules_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
                        metavar=_m("file"), help=_h("history_rules"))(command)


@main.command("history")
@click.argument("applicant", metavar=_m("applicant"))
@click.option("--program", default=None, metavar=_m("program"), help=_h("history_program"))
@_out_option("status_out")
@_ledger_option
@_rules_option
@click.option("--date", "on", default=None, metavar=_m("date"), help=_h("history_date"))
@click.pass_context
def history(ctx: click.Context, applicant: str, program: str | None, out_dir: Path, ledger_path: Path | None,
            rules_files: tuple[Path, ...], on: str | None) -> None:
    """显示一个申报主体的历次申报、登记的决定、禁止申报期和认定状态。

    申报主体可写统一社会信用代码或名称（申报主体名称或集群、园区名称）。

    \b
    示例：
      sdbatch history 91370100MA3C4D5E6X --out output
      sdbatch history 齐鲁数字软件园 --program park
    """
    from sdbatch.history.show import history_text
    from sdbatch.ledger import default_path

    click.echo(_guard(ctx, history_text, ledger_path or default_path(out_dir), applicant, program, rules_files,
                      _date_option(on), out_dir))


@main.group()
def decide() -> None:
    """登记程序无法自行判断的决定（弄虚作假、撤销、绩效评估、拨付奖补、授予称号等）。

    每条登记都写明登记人（--who）、情况说明（--note）和条款（默认取规则文件 [history.decisions]
    中的条款，可用 --clause 另写），登记时间按北京时间自动记录；登记同时记入台账和台账旁的
    决定登记文件（台账文件名加 .decisions.jsonl，如 ledger.sqlite3.decisions.jsonl），台账损坏时可据此
    恢复。登记错误时用 void 作废，不删除。
    以后各批次审核时据此判断禁止申报期、绩效评估到期和降级撤销建议。

    \b
    示例：
      sdbatch decide false-material 91370100MA3C4D5E6X --who 张三 --note "经核查营业收入数据不实"
      sdbatch decide evaluation 齐鲁数字软件园 --result pass --date 2026-07-01 --who 李四 --note "评估通过"
      sdbatch decide void 20250701093000-a1b2c3 --who 张三 --note "误登记"
    """


def _decide_common(command: Any) -> Any:
    for option in reversed([
        click.option("--who", required=True, metavar=_m("who"), help=_h("decide_who")),
        click.option("--note", required=True, metavar=_m("note"), help=_h("decide_note")),
        click.option("--date", "on", default=None, metavar=_m("date"), help=_h("decide_date")),
        _out_option("status_out"),
        _ledger_option,
        _rules_option,
    ]):
        command = option(command)
    return command


def _applicant_options(command: Any) -> Any:
    for option in reversed([
        click.argument("applicant", metavar=_m("applicant")),
        click.option("--program", default=None, metavar=_m("program"), help=_h("history_program")),
        click.option("--name", default=None, metavar=_m("name"), help=_h("decide_name")),
        click.option("--clause", default=None, metavar=_m("clause"), help=_h("decide_clause")),
        click.option("--round", "round_", default=None, metavar=_m("program"), help=_h("decide_round")),
    ]):
        command = option(command)
    return command


def _record(ctx: click.Context, kind: str, params: dict[str, Any], **extra: Any) -> None:
    from sdbatch.errors import shown_path
    from sdbatch.history.decisions import Request, entry_text, record
    from sdbatch.history.journal import journal_path
    from sdbatch.ledger import default_path

    ledger_path = params["ledger_path"] or default_path(params["out_dir"])
    req = Request(kind=kind, who=params["who"], note=params["note"], applicant=params.get("applicant"),
                  program=params.get("program"), name=params.get("name"), clause=params.get("clause"),
                  date=_date_option(params.get("on")), round=params.get("round_"), **extra)
    entry = _guard(ctx, record, ledger_path, req, params["rules_files"], None, params["out_dir"])
    click.echo(_ui("history.decide.recorded", entry=entry_text(entry))
               + _ui("history.decide.journal", path=shown_path(journal_path(ledger_path))))


@decide.command("false-material")
@_applicant_options
@_decide_common
@click.pass_context
def decide_false_material(ctx: click.Context, **params: Any) -> None:
    """登记经核查以虚假材料申报（集群 五(三)：三年内不得再次申报；园区 第十七条(三)）。

    \b
    示例：
      sdbatch decide false-material 91370100MA3C4D5E6X --who 张三 --note "经核查营业收入数据不实"
    """
    _record(ctx, "false_material", params)


@decide.command("revoke")
@_applicant_options
@_decide_common
@click.pass_context
def decide_revoke(ctx: click.Context, **params: Any) -> None:
    """登记撤销称号或建设资格及其原因（第十七条：2年内不得再次申请；第十五条：满期未通过评估）。

    \b
    示例：
      sdbatch decide revoke 齐鲁数字软件园 --clause "第十七条(二)" --who 张三 --note "园区发生重大变化"
      sdbatch decide revoke 齐鲁数字软件园 --clause 第十五条 --who 张三 --note "满3年未通过评估"
    """
    _record(ctx, "revoked", params)


@decide.command("evaluation")
@_applicant_options
@click.option("--result", type=click.Choice(["pass", "fail"]), required=True, help=_h("decide_result"))
@_decide_common
@click.pass_context
def decide_evaluation(ctx: click.Context, result: str, **params: Any) -> None:
    """登记绩效评估结果（第十四条）：pass 通过，fail 未通过（整改后重新评估）。

    \b
    示例：
      sdbatch decide evaluation 齐鲁数字软件园 --result pass --date 2026-07-01 --who 李四 --note "评估通过"
    """
    _record(ctx, "evaluation", params, result=result)


@decide.command("title")
@_applicant_options
@click.option("--tier", required=True, metavar=_m("tier"), help=_h("decide_tier"))
@_decide_common
@click.pass_context
def decide_title(ctx: click.Context, tier: str, **params: Any) -> None:
    """登记授予称号（第十四条：通过评估的园区授予示范型、成长型称号）。

    \b
    示例：
      sdbatch decide title 齐鲁数字软件园 --tier 示范型 --date 2026-08-01 --who 李四 --note "厅发文授予"
    """
    _record(ctx, "title", params, tier=tier)


@decide.command("subsidy-paid")
@_applicant_options
@click.option("--amount", type=float, required=True, metavar=_m("amount"), help=_h("decide_amount"))
@_decide_common
@click.pass_context
def decide_subsidy_paid(ctx: click.Context, amount: float, **params: Any) -> None:
    """登记已拨付的奖补资金（万元）及拨付日期；撤销或降级时据此计算应收缴的资金。

    \b
    示例：
      sdbatch decide subsidy-paid 齐鲁数字软件园 --amount 150 --date 2024-12-20 --who 王五 --note "财政下达"
    """
    _record(ctx, "subsidy_paid", params, amount=amount)


@decide.command("recognise")
@_applicant_options
@click.option("--tier", required=True, metavar=_m("tier"), help=_h("decide_recognise_tier"))
@_decide_common
@click.pass_context
def decide_recognise(ctx: click.Context, tier: str, **params: Any) -> None:
    """登记实际认定的级别和日期（第九条），与批次评审结果不同时使用（--round 指明批次）。

    \b
    示例：
      sdbatch decide recognise 齐鲁数字软件园 --tier 成长型 --round park_2024 --date 2024-09-10 \\
          --who 李四 --note "厅发文认定"
    """
    _record(ctx, "recognised", params, tier=tier)


@decide.command("downgrade")
@_applicant_options
@click.option("--tier", required=True, metavar=_m("tier"), help=_h("decide_tier"))
@_decide_common
@click.pass_context
def decide_downgrade(ctx: click.Context, tier: str, **params: Any) -> None:
    """登记降级（第十五条）：自登记的日期起按新级别计。

    \b
    示例：
      sdbatch decide downgrade 齐鲁数字软件园 --tier 入库型 --who 李四 --note "满3年未通过评估，降级"
    """
    _record(ctx, "downgraded", params, tier=tier)


@decide.command("void")
@click.argument("uid", metavar=_m("entry"))
@_decide_common
@click.pass_context
def decide_void(ctx: click.Context, uid: str, **params: Any) -> None:
    """作废一条登记错误的决定（原登记保留，另记一条作废登记）。

    \b
    示例：
      sdbatch decide void 20250701093000-a1b2c3 --who 张三 --note "误登记"
    """
    _record(ctx, "void", params, voids=uid)


if __name__ == "__main__":  # pragma: no cover
    main()
