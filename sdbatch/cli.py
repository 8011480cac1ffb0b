"""Command line: parses, delegates to one library function, prints a short Chinese summary.

Nothing heavy is imported at module level, so ``sdbatch --help`` starts fast (STYLE §2).
Exit codes (SPEC §6): 0 every file read; 1 the run finished but some file was rejected;
2 the run could not be done (bad arguments, bad rules, lock held).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

EXIT_OK, EXIT_REJECTED, EXIT_FAILED = 0, 1, 2


class Failure(click.ClickException):
    """A run that could not be done: one Chinese sentence, exit 2."""

    exit_code = EXIT_FAILED

    def show(self, file: Any = None) -> None:
        click.echo(f"错误：{self.message}", err=True)


def _guard(ctx: click.Context, func: Any, *args: Any, **kwargs: Any) -> Any:
    """Turn library exceptions into one readable sentence; tracebacks only with --debug."""
    from sdbatch.ledger import LedgerError
    from sdbatch.lock import LockHeld
    from sdbatch.model import RulesInvalid
    from sdbatch.writers.mail import MailError

    try:
        return func(*args, **kwargs)
    except (LockHeld, LedgerError) as exc:
        raise Failure(exc.message) from None
    except MailError as exc:
        raise Failure(str(exc)) from None
    except RulesInvalid as exc:
        lines = "\n".join(f"  - {p}" for p in exc.problems)
        raise Failure(_ui_text("rules_check.invalid", path=exc.path) + "\n" + lines) from None
    except click.ClickException:
        raise
    except KeyboardInterrupt:
        raise Failure("已中断。") from None
    except Exception as exc:  # noqa: BLE001 - the user gets a sentence, engineers use --debug
        if ctx.obj and ctx.obj.get("debug"):
            raise
        from sdbatch.errors import user_message

        raise Failure(user_message(exc)) from None


def _ui(key: str) -> str:
    from sdbatch.catalogue import text

    return text(key)


def _ui_text(key: str, **params: Any) -> str:
    from sdbatch.catalogue import text

    return text(key, **params)


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
            raise click.BadParameter(item, param_hint="--set")
        out[name.strip().replace("-", "_")] = value.strip()
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="出错时显示完整的 Python 调用栈（供开发人员排查）。")
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
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if not debug:  # library warnings about odd cells are for engineers; findings speak to staff
        import warnings

        warnings.filterwarnings("ignore", module="openpyxl")


@main.command()
@click.argument("inbox", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("output"),
              show_default=True, help="输出目录；每次运行写入其中的一个新子目录。")
@click.option("--program", "programs", multiple=True,
              help="只按该批次规则审核（如 cluster_2024、park_2024）；默认按表头内容自动识别。")
@click.option("--rules", "rules_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="使用指定的规则文件（可多次给出）。")
@click.option("--force", is_flag=True, help="即使没有新增或变更的文件也重新审核。")
@click.option("--mail", "mail_mode", type=click.Choice(["changed", "all", "none"]), default="changed",
              show_default=True, help="为哪些城市生成邮件草稿。")
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="台账数据库位置（默认在输出目录中）。")
@click.option("--address-book", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="各市收件人通讯录（TOML）；默认 config/address_book.toml。")
@click.option("--quiet", "-q", is_flag=True, help="只输出错误。")
@click.option("--verbose", "-v", is_flag=True, help="输出详细过程。")
@click.option("--run-id", default=None, help="指定运行编号（默认按时间生成）。")
@click.option("--now", default=None, help="指定“当前时间”（ISO 格式，用于复现）。")
@click.option("--set", "settings_", multiple=True, metavar=_ui("options.set_metavar"), help=_ui("options.set_help"))
@_program_options
@click.pass_context
def run(ctx: click.Context, inbox: Path, out_dir: Path, programs: tuple[str, ...], rules_files: tuple[Path, ...],
        force: bool, mail_mode: str, ledger_path: Path | None, address_book: Path | None,
        quiet: bool, verbose: bool, run_id: str | None, now: str | None, settings_: tuple[str, ...],
        **program_options: Any) -> None:
    """审核收件箱 INBOX 中的全部汇总表，结果写入 --out 下的新目录。

    \b
    示例：
      sdbatch run inbox/
      sdbatch run inbox/ --out /data/sdbatch/output --quiet     （定时任务）
      sdbatch run inbox/ --program park_2024 --budget 1000
    退出码：0 全部文件已读取；1 有文件被退回；2 无法运行（参数、规则或锁）。
    """
    from sdbatch.batch import RunOptions, run_batch

    if not inbox.is_dir():
        raise Failure(f"收件箱目录不存在：{inbox}")
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
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--program", "programs", multiple=True, help="按该批次规则审核（默认自动识别）。")
@click.option("--rules", "rules_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="使用指定的规则文件。")
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
@click.option("--program", default=None, help="批次规则名（默认：全部内置批次）。")
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), default=Path("templates/xlsx"),
              show_default=True, help="输出文件或目录。")
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
        click.echo(f"已生成模板：{path}")


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
@click.argument("name")
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
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
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
    click.echo(_ui_text("rules_check.valid", title=loaded.title, name=loaded.name, version=loaded.version))


@main.group()
def mail() -> None:
    """发送某次运行生成的邮件草稿。

    \b
    示例：
      sdbatch mail send output/20240629-2200 --smtp smtp.example.cn:465 --ssl --user bgs
    """


@mail.command("send")
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--smtp", required=True, help="SMTP 服务器，HOST:PORT。")
@click.option("--ssl", "security", flag_value="ssl", help="使用 SSL（通常端口 465）。")
@click.option("--starttls", "security", flag_value="starttls", help="使用 STARTTLS（通常端口 587）。")
@click.option("--plain", "security", flag_value="plain", default=True, help="不加密（仅限内网测试）。")
@click.option("--user", default=None, help="登录用户名。")
@click.option("--password-env", default="SDBATCH_SMTP_PASSWORD", show_default=True,
              help="保存登录密码的环境变量名。")
@click.option("--sender", "sender", default=None, help="发件人地址（默认取通讯录中的 from）。")
@click.option("--yes", "-y", is_flag=True, help="不再确认，直接发送（供脚本使用）。")
@click.pass_context
def mail_send(ctx: click.Context, run_dir: Path, smtp: str, security: str, user: str | None, password_env: str,
              sender: str | None, yes: bool) -> None:
    """把 RUN_DIR/mail/ 中的邮件草稿逐一发送，并记录发送情况。

    \b
    示例：
      sdbatch mail send output/20240629-2200 --smtp 127.0.0.1:1025 --yes
    """
    from sdbatch.writers.mail import SmtpOptions, list_drafts, send_drafts

    drafts = _guard(ctx, list_drafts, run_dir)
    if not drafts:
        raise Failure(f"{run_dir} 中没有邮件草稿。")
    if not yes:
        click.echo("将发送以下邮件：")
        for d in drafts:
            click.echo(f"  {d.city}  →  {', '.join(d.recipients) or '（无收件人，将跳过）'}")
        click.confirm("确认发送？", abort=True)
    options = _guard(ctx, SmtpOptions.from_cli, smtp, security, user, password_env, sender)
    report = _guard(ctx, send_drafts, run_dir, options)
    click.echo(report.summary())
    ctx.exit(report.exit_code)


@main.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("output"),
              show_default=True, help="输出目录（台账所在位置）。")
@click.option("--ledger", "ledger_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="台账数据库位置（默认在输出目录中）。")
@click.pass_context
def status(ctx: click.Context, out_dir: Path, ledger_path: Path | None) -> None:
    """显示最近几次运行和各市报送状态（已报送 / 未报送 / 逾期 / 已更正）。

    \b
    示例：
      sdbatch status --out output
    """
    from sdbatch.ledger import status_text

    click.echo(_guard(ctx, status_text, out_dir, ledger_path))


if __name__ == "__main__":  # pragma: no cover
    main()
