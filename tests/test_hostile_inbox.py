"""A hostile inbox, end to end through ``sdbatch run`` (issue 8, "Done when").

The inbox holds the hostile corpus of ``test_hostile.py`` plus city workbooks that are valid
spreadsheets carrying hostile *content*: an 8 MB cell, formula-looking text in every text
column, a cluster name with an e-mail header injection; and one plain valid city workbook.
The run goes through the CLI in a subprocess so that its peak memory can be measured.
"""

from __future__ import annotations

import email
import json
import random
import subprocess
import sys
import time
from email import policy
from pathlib import Path
from typing import Any

import pytest

from sdbatch import settings

try:  # tests/ is a package
    from tests.test_hostile import build_corpus, replace_members, zipfile_members
except ImportError:  # pragma: no cover - tests/ as a plain folder on sys.path
    from test_hostile import build_corpus, replace_members, zipfile_members  # type: ignore[no-redef]

HEADERS = [
    "推荐排序", "所在市", "集群名称", "申报主体", "统一社会信用代码", "主导产业",
    "集群数字产业相关规上企业年营业收入总额（亿元）", "主导产业相关规上企业数量（家）",
    "年营业收入10亿元以上领军企业数量（家）", "营业收入亿元以上骨干企业数量（家）",
    "国家级创新平台数量（个）", "省级创新平台数量（个）", "近三年科技奖励及知识产权总数（项）",
    "规上企业上年度研发投入总额（亿元）", "规上企业上年度销售收入总额（亿元）", "研发投入占销售收入比重（%）",
    "是否具有独立法人资格", "有无不良信用记录", "近三年是否发生特别重大、重大生产安全事故或突发环境事件",
    "联系人", "联系电话", "邮箱", "备注",
]  # fmt: skip
TEXT_COLUMNS = ["集群名称", "申报主体", "统一社会信用代码", "主导产业", "联系人", "联系电话", "邮箱", "备注"]
FORMULAS = [
    '=HYPERLINK("http://evil.example.com/x","点击查看")',
    "=cmd|'/c calc'!A1",
    "+SUM(1,2)",
    "-2+3+cmd|'/c calc'!A0",
    "@SUM(1)",
    "=1+1",
    '=WEBSERVICE("http://evil.example.com")',
    "=DDE(\"cmd\";\"/c calc\";\"x\")",
]  # fmt: skip


def uscc_for(seed: str) -> str:
    """A well-formed 统一社会信用代码 (valid check digit), different for each seed."""
    from stdnum.cn import uscc

    body = "91370100MA3C" + f"{sum(map(ord, seed)) % 100000:05d}"
    return body + uscc.calc_check_digit(body)


def city_row(city: str, order: int, name: str, industry: str = "集成电路") -> list[Any]:
    return [
        order, city, name, f"{city}{industry}产业促进会", uscc_for(name), industry,
        120.5, 35, 2, 6, 1, 4, 1500, 8.0, 160.0, 5.0, "是", "无", "否",
        "张三", "0531-86123456", "zhangsan@example.com", "",
    ]  # fmt: skip


def write_city(path: Path, city: str, rows: list[list[Any]], *, text_cells: bool = False) -> None:
    """A city workbook in the attachment-2 layout. ``text_cells``: '=…' values stay text cells."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "汇总表"
    ws.append([f"{city}数字产业集群申报信息汇总表"])
    ws.append(HEADERS)
    for row in rows:
        ws.append(row)
    if text_cells:
        for line in ws.iter_rows(min_row=3):
            for cell in line:
                if cell.data_type == "f" and cell.column_letter != "W":  # column W (备注): a real formula
                    cell.data_type = "s"
    wb.save(path)


def html_city(city: str, rows: list[list[Any]]) -> bytes:
    def tr(values: list[Any]) -> str:
        return "<tr>" + "".join(f"<td>{v}</td>" for v in values) + "</tr>\n"

    body = f"<tr><td colspan={len(HEADERS)}>{city}数字产业集群申报信息汇总表</td></tr>\n"
    body += tr(HEADERS) + "".join(tr(r) for r in rows)
    page = (
        '<html xmlns:x="urn:schemas-microsoft-com:office:excel"><head>'
        '<meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head>'
        f"<body><table border=1>\n{body}</table></body></html>"
    )
    return page.encode("gb18030")


def eight_mb_text() -> str:
    """8 MB of UTF-8 that does not compress much (a repeated character would be an archive bomb)."""
    rng = random.Random(8)
    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    return "".join(rng.choices(chars, k=8 * 1024 * 1024 // 3))


VALID = "济南市数字产业集群申报信息汇总表.xlsx"
HTML = "枣庄市数字产业集群申报信息汇总表.xls"
BIG = "烟台市数字产业集群申报信息汇总表.xlsx"
FORMULA = "青岛市数字产业集群申报信息汇总表.xlsx"
INJECTION = "济宁市数字产业集群申报信息汇总表.xlsx"
INJECTED_NAME = "济宁市人工智能产业集群\r\nBcc: evil@example.com"


def build_inbox(inbox: Path) -> dict[str, str]:
    """The hostile inbox: file name -> expected rejection code, or "processed"."""
    expected = build_corpus(inbox)
    (inbox / "网页另存.xls").unlink()  # replaced by a complete city table saved as HTML
    expected = {name: code for name, code in expected.items() if code != "html"}
    # the cell bomb is read (streamed, bounded) and holds no summary table
    expected = {name: ("no-table-found" if code == "xlsx" else code) for name, code in expected.items()}
    (inbox / HTML).write_bytes(
        html_city("枣庄市", [city_row("枣庄市", 1, "枣庄市锂电能源电子产业集群", "能源电子")])
    )

    write_city(inbox / VALID, "济南市", [city_row("济南市", 1, "济南市集成电路产业集群")])
    big = city_row("烟台市", 1, "烟台市先进计算产业集群", "先进计算")
    big[HEADERS.index("备注")] = "@@BIG@@"
    write_city(inbox / BIG, "烟台市", [big])
    # openpyxl cuts strings to Excel's 32767 characters when writing: put the 8 MB in by hand
    members = zipfile_members((inbox / BIG).read_bytes())
    sheet = members["xl/worksheets/sheet1.xml"].replace(b"@@BIG@@", eight_mb_text().encode())
    (inbox / BIG).write_bytes(
        replace_members((inbox / BIG).read_bytes(), {"xl/worksheets/sheet1.xml": sheet})
    )
    hostile = city_row("青岛市", 1, "x")
    for i, column in enumerate(TEXT_COLUMNS):
        hostile[HEADERS.index(column)] = FORMULAS[i % len(FORMULAS)]
    write_city(inbox / FORMULA, "青岛市", [hostile], text_cells=True)
    injected = city_row("济宁市", 1, INJECTED_NAME, "人工智能")
    injected[HEADERS.index("邮箱")] = "a@example.com\r\nBcc: evil@example.com"
    injected[HEADERS.index("联系人")] = "李四\nSubject: 中奖通知"
    write_city(inbox / INJECTION, "济宁市", [injected])
    for name in (VALID, HTML, BIG, FORMULA, INJECTION):
        expected[name] = "processed"
    return expected


def run_cli(inbox: Path, out: Path) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """``sdbatch run`` in a child process: (process, seconds, peak RSS of the child in bytes)."""
    probe = (
        "import resource, subprocess, sys, json\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
        "print(json.dumps({'rc': p.returncode, 'out': p.stdout, 'err': p.stderr, 'peak': peak}))\n"
    )
    cli = [sys.executable, "-c", "import sys; from sdbatch.cli import main; sys.exit(main())"]
    args = [*cli, "run", str(inbox), "--out", str(out), "--now", "2024-06-20T10:00:00", "--run-id", "hostile"]
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - t0
    report = json.loads(done.stdout)
    proc = subprocess.CompletedProcess(args, report["rc"], report["out"], report["err"])
    return proc, seconds, int(report["peak"])


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("hostile-inbox")
    inbox = root / "inbox"
    expected = build_inbox(inbox)
    proc, seconds, peak = run_cli(inbox, root / "output")
    run_dir = root / "output" / "hostile"
    print(f"\nhostile inbox: {len(expected)} files, {seconds:.1f} s, peak RSS {peak / 1024 / 1024:.0f} MB")
    print(f"command: sdbatch run {inbox} --out {root / 'output'}")
    return {"root": root, "inbox": inbox, "expected": expected, "proc": proc, "seconds": seconds,
            "peak": peak, "run_dir": run_dir}  # fmt: skip


def _results(run: dict[str, Any]) -> dict[str, Any]:
    return json.loads((run["run_dir"] / "results.json").read_text(encoding="utf-8"))


def test_exit_code_and_no_traceback(hostile_run: dict[str, Any]) -> None:
    proc = hostile_run["proc"]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    assert proc.returncode == 1, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert "退回" in proc.stdout


def test_peak_memory_and_time(hostile_run: dict[str, Any]) -> None:
    # figures are printed by the fixture (pytest -s); only memory is asserted
    assert hostile_run["peak"] < 1 << 30


# the catalogue's Chinese reason, one telling phrase per code
REASONS = {
    "archive-bomb": "解压后体积异常",
    "unsafe-xml": "不安全的 XML",
    "file-encrypted": "已设置密码",
    "file-truncated": "不完整",
    "not-a-spreadsheet": "不是电子表格",
    "file-empty": "空文件",
    "lock-file": "临时锁定文件",
    "file-too-large": "超过大小限制",
    "no-table-found": "未找到申报信息汇总表",
}


def test_each_file_status_and_reason(hostile_run: dict[str, Any]) -> None:
    files = {f["file"]: f for f in _results(hostile_run)["files"]}
    assert set(files) == set(hostile_run["expected"])
    for name, expected in hostile_run["expected"].items():
        record = files[name]
        if expected == "processed":
            assert record["status"] == "processed", (name, record["error"], record["findings"][:3])
            assert record["error"] is None
        elif expected == "lock-file" and record["status"] == "ignored":
            continue  # ignoring an Excel lock file outright is also fine
        else:
            assert record["status"] == "rejected", (name, record)
            assert record["error_code"] == expected, (name, record["error_code"])
            assert REASONS[expected] in record["error"] and name in record["error"], (name, record["error"])
    word = files["Word改名.xlsx"]["error"]
    assert "Word 文档" in word


def test_hostile_content_is_kept_as_text(hostile_run: dict[str, Any]) -> None:
    apps = {a["city"]: a for a in _results(hostile_run)["applications"]}
    assert {"济南市", "枣庄市", "烟台市", "青岛市", "济宁市"} <= set(apps)
    assert apps["青岛市"]["values"].get("applicant") == "=cmd|'/c calc'!A1"
    remarks = apps["烟台市"]["values"].get("remarks") or ""
    assert len(remarks) <= settings.MAX_CELL_CHARS
    codes = {f["code"] for f in apps["烟台市"]["findings"]}
    assert "text-truncated" in codes, codes


def test_other_cities_unchanged(hostile_run: dict[str, Any], tmp_path: Path) -> None:
    """济南's application decides the same with or without the hostile files beside it."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / VALID).write_bytes((hostile_run["inbox"] / VALID).read_bytes())
    (inbox / HTML).write_bytes((hostile_run["inbox"] / HTML).read_bytes())
    proc, _, _ = run_cli(inbox, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr[-2000:]
    clean = json.loads((tmp_path / "out" / "hostile" / "results.json").read_text(encoding="utf-8"))

    def essence(results: dict[str, Any], city: str) -> dict[str, Any]:
        [app] = [a for a in results["applications"] if a["city"] == city]
        return {"status": app["status"], "score": app["score"], "values": app["values"],
                "findings": sorted((f["code"], f["field"] or "") for f in app["findings"])}  # fmt: skip

    for city in ("济南市", "枣庄市"):
        assert essence(_results(hostile_run), city) == essence(clean, city)


def test_no_formula_in_any_output_workbook(hostile_run: dict[str, Any]) -> None:
    import openpyxl

    books = sorted(hostile_run["run_dir"].rglob("*.xlsx"))
    assert len(books) >= 5
    for book in books:
        wb = openpyxl.load_workbook(book)  # full mode: data_type 'f' shows formulas
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (book.name, ws.title, cell.coordinate, cell.value)


def test_mail_headers_are_not_injected(hostile_run: dict[str, Any]) -> None:
    drafts = sorted((hostile_run["run_dir"] / "mail").glob("*.eml"))
    assert drafts, "no e-mail drafts written"
    for draft in drafts:
        raw = draft.read_bytes()
        header_block = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        message = email.message_from_bytes(raw, policy=policy.default)
        assert "Bcc" not in message and "bcc:" not in header_block.lower().decode("ascii", "replace"), (
            draft.name
        )
        for key, value in message.items():
            assert "\n" not in str(value) and "\r" not in str(value), (draft.name, key)
        assert "evil@example.com" not in header_block.decode("ascii", "replace"), draft.name
