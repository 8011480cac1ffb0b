"""Benchmark (what `make bench` runs): ``sdbatch run`` end to end next to the I/O floor of the same work.

    python tools/bench.py [--rows 1000,10000,100000] [--keep DIR] [--detail]

For each size, writes a one-city cluster summary (济南市) of that many rows into a temporary
inbox (xlsxwriter, constant_memory; the real headers of attachment 2; amounts, ratios and some
invalid or converted values, so that about one cell in ten gets a finding), then measures, each
in its own fresh process, the wall time and the peak resident memory of

  run    ``sdbatch run INBOX --out OUT --force -q`` (reading, checks, decisions, the city's review
         workbook, the province list, results.json, the e-mail draft);
  floor  the same cells through the fastest libraries: python-calamine reads every cell, xlsxwriter
         (constant_memory) writes every cell again with a fill on one cell in ten and a comment on
         one in a hundred, plus a result table of one row per application;

and prints ``run / floor`` (wall time; CPU time too, which other work on the machine does not
inflate).  Under each size, a second figure sets the run against the floor of what it wrote
(``outputs``: the input read, then every cell of the run's workbooks written again the floor's
way, and its other files byte for byte): the run writes some four times the cells the floor
writes (the review's 审核结论, 问题清单 and 数据处理说明 sheets, the department's list).  ``--detail`` adds ``sdbatch.batch.check_file`` (read, header,
normalise, checks) and reports how the run's time splits (``run.json`` timings).

Peak memory is ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` read by a small runner process
whose only child is the measured worker, so each figure belongs to one measurement only (it
includes the interpreter itself: see the baseline row).  A step that fails prints "n/a" with
the reason; the benchmark itself never crashes on it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TIMEOUT_S = 1800
DEFAULT_MAX_MB = 6144  # address-space cap per measured process: a runaway step fails, the machine lives
SIZES = (1_000, 10_000, 100_000)
CITY = "济南市"
INDUSTRIES = ["集成电路", "高端软件", "先进计算", "数字终端", "人工智能", "虚拟现实", "空天信息",
              "云服务大数据", "能源电子", "新型电子材料"]
VARIANTS = {"人工智能": "AI", "云服务大数据": "云计算与大数据", "虚拟现实": "VR/AR"}


# ------------------------------------------------------------------------------ the workbook
def generate(path: Path, rows: int) -> dict[str, int]:
    """A city summary table of ``rows`` clusters, written row by row (constant memory).

    About one cell in ten draws a finding: amounts typed with their unit (converted), ratios
    left empty (computed from the amounts) or contradicting them, counts below a threshold,
    malformed phone numbers and e-mail addresses, broken credit codes, industry variants, and
    every row past the city's quota.  Returns how many of each were written.
    """
    import xlsxwriter

    sys.path.insert(0, str(HERE))
    from make_samples import STANDARD_COLUMNS, make_uscc

    rng = random.Random(2024)  # fixed seed: the same file every time
    codes = [make_uscc("52", "370102", "MA" + "".join(rng.choice("0123456789") for _ in range(6)))
             for _ in range(97)]
    keys = [k for k, _ in STANDARD_COLUMNS]
    counts = {"rows": rows, "cells": 0}

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("汇总表")
    ws.write_string(0, 0, f"{CITY}数字产业集群申报信息汇总表（性能测试）")
    for c, (_, header) in enumerate(STANDARD_COLUMNS):
        ws.write_string(1, c, header)
    ws.set_column(0, len(keys) - 1, 14)
    pct = wb.add_format({"num_format": "0.0%"})

    def odd(key: str, share: float) -> bool:
        if rng.random() < share:
            counts[key] = counts.get(key, 0) + 1
            return True
        return False

    for i in range(rows):
        sales = round(rng.uniform(40, 400), 1)
        rd = round(sales * rng.uniform(0.035, 0.08), 2)
        industry = INDUSTRIES[i % 10]
        rec: dict[str, Any] = {
            "seq": i + 1,
            "city_order": i + 1,  # past the quota from the fourth row: over-quota on every other row
            "city": CITY,
            "name": f"性能测试第{i + 1:06d}号数字产业集群",
            "applicant": f"性能测试第{i + 1:06d}号产业发展促进中心",
            "applicant_uscc": _broken(codes[i % len(codes)]) if odd("broken_uscc", 0.05) else codes[i % len(codes)],
            "industry": VARIANTS.get(industry, industry) if odd("industry_variant", 0.1) else industry,
            "revenue_total": round(sales * rng.uniform(1.0, 1.1), 1),
            "leading_firms": rng.randint(20, 150),
            "leader_firms": 0 if odd("no_leader", 0.1) else rng.randint(1, 6),
            "backbone_firms": rng.randint(3, 30),
            "national_platforms": rng.randint(1, 4),
            "provincial_platforms": rng.randint(3, 15),
            "ip_total": rng.randint(200, 999) if odd("few_ip", 0.1) else rng.randint(1000, 6000),
            "rd_expense": rd,
            "sales_revenue": sales,
            "rd_ratio": None,
            "legal_person": "是",
            "bad_credit": "有" if odd("bad_credit", 0.05) else "无",
            "major_incident": "否",
            "contact": "张三",
            "phone": "12345" if odd("bad_phone", 0.1) else f"0531-8{i % 10000000:07d}",
            "email": f"cluster{i}#example.cn" if odd("bad_email", 0.1) else f"cluster{i}@example.cn",
            "remarks": None if i % 7 else "备注文字",
        }
        if odd("amount_with_unit", 0.2):
            rec["revenue_total"] = f"{rec['revenue_total']}亿元"
        r = i + 2
        for c, key in enumerate(keys):
            value = rec[key]
            if key == "rd_ratio":
                if odd("ratio_missing", 0.1):
                    continue
                ratio = rd / sales * (1.5 if odd("ratio_mismatch", 0.1) else 1.0)
                ws.write_number(r, c, round(ratio, 4), pct)
            elif value is None:
                continue
            elif isinstance(value, str):
                ws.write_string(r, c, value)
            else:
                ws.write_number(r, c, value)
            counts["cells"] += 1
    wb.close()
    return counts


def _broken(code: str) -> str:
    """The same code with a wrong check digit."""
    return code[:-1] + ("0" if code[-1] != "0" else "1")


# ------------------------------------------------------------------------------ the worker
def work(mode: str, path: str) -> dict[str, Any]:
    """Runs in the measured process."""
    if mode == "baseline":
        return {"rows": None}
    if mode == "floor":
        return floor(Path(path))
    if mode == "outputs":
        return outputs_floor(Path(path))
    if mode == "run":
        from sdbatch.cli import main

        inbox = Path(path).parent
        out = inbox.parent / "out"
        try:
            main(["run", str(inbox), "--out", str(out), "--force", "-q", "--program", "cluster_2024"],
                 standalone_mode=False)
        except SystemExit as exc:  # click may still exit
            if exc.code not in (0, 1, None):
                return {"na": f"退出码 {exc.code}"}
        runs = sorted(p for p in out.iterdir() if p.is_dir() and (p / "results.json").exists())
        if not runs:
            return {"na": "没有生成输出目录"}
        info = json.loads((runs[-1] / "run.json").read_text(encoding="utf-8"))
        apps = sum(info["counts"]["applications"].values())
        return {"rows": apps, "timings": info.get("timings", {})}
    if mode == "check":
        from sdbatch.batch import check_file

        report = check_file(Path(path))
        return {"rows": len(report.record.applications)}
    raise ValueError(mode)


def floor(path: Path) -> dict[str, Any]:
    """The same work through the fastest libraries: read every cell, write every cell again with
    fills and comments, and a result table."""
    import xlsxwriter
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python(skip_empty_area=False)
    out = path.parent.parent / "floor.xlsx"
    wb = xlsxwriter.Workbook(str(out), {"constant_memory": True})
    ws = wb.add_worksheet("汇总表")
    _write_cells(ws, rows, wb.add_format({"bg_color": "#FFC7CE"}), 0)
    table = wb.add_worksheet("审核结论")
    for r, row in enumerate(rows[2:], start=1):
        table.write_row(r, 0, [r, row[3] if len(row) > 3 else "", "不符合条件", "未达到申报条件"]
                        + [v for v in row[7:13]])
    wb.close()
    return {"rows": len(rows) - 2}


def _write_cells(ws: Any, rows: list[list[Any]], red: Any, n: int) -> int:
    """Every non-empty cell of ``rows`` into ``ws`` the floor's way: a fill on one cell in ten and
    a comment on one in a hundred, counted on from ``n``; returns the new count."""
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value == "" or value is None:
                continue
            n += 1
            fmt = red if n % 10 == 0 else None
            if isinstance(value, str):
                ws.write_string(r, c, value, fmt)
            elif isinstance(value, (int, float)):
                ws.write_number(r, c, value, fmt)
            else:
                ws.write(r, c, str(value), fmt)
            if n % 100 == 0:
                ws.write_comment(r, c, "【未达到申报条件】填报值低于规定（三(二)）。处理意见：请核实填报数据。")
    return n


def outputs_floor(path: Path) -> dict[str, Any]:
    """The floor of what the run wrote: the input read as ``floor`` reads it, then every cell of
    the run's workbooks (their values, taken from them beforehand by :func:`_extract_outputs`)
    written again through xlsxwriter constant_memory with a fill on one cell in ten and a comment
    on one in a hundred, and the run's other files (results.json, e-mails) written byte for byte.
    Loading the extracted cells is timed apart (``load_s``) and left out of the figure."""
    import marshal

    import xlsxwriter
    from python_calamine import CalamineWorkbook

    t0 = time.perf_counter()
    c0 = time.process_time()
    folder = path.parent.parent
    books, blobs = marshal.loads((folder / "outputs.marshal").read_bytes())  # sheet file names, other files
    load_s, load_cpu = time.perf_counter() - t0, time.process_time() - c0
    CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python(skip_empty_area=False)
    target = folder / "outputs-floor"
    target.mkdir(exist_ok=True)
    n = 0
    for b, sheets in enumerate(books):
        wb = xlsxwriter.Workbook(str(target / f"{b}.xlsx"), {"constant_memory": True})
        red = wb.add_format({"bg_color": "#FFC7CE"})
        for s, sheet_file in enumerate(sheets):
            t1, c1 = time.perf_counter(), time.process_time()
            rows = marshal.loads((folder / sheet_file).read_bytes())  # one sheet's cells held at a time
            load_s += time.perf_counter() - t1
            load_cpu += time.process_time() - c1
            n = _write_cells(wb.add_worksheet(f"s{s}"), rows, red, n)
            del rows
        wb.close()
    for i, blob in enumerate(blobs):
        (target / f"{i}.bin").write_bytes(blob)
    return {"rows": None, "cells": n, "load_s": load_s, "load_cpu": load_cpu}


def _extract_outputs(folder: Path) -> int:
    """Every cell of the run's workbooks and the bytes of its other files, for :func:`outputs_floor`
    (outside any measurement); the cells counted."""
    import marshal

    from python_calamine import CalamineWorkbook

    out = folder / "out"
    runs = sorted(p for p in out.iterdir() if p.is_dir() and (p / "results.json").exists())
    books: list[list[str]] = []
    blobs: list[bytes] = []
    cells = 0
    for file in sorted(runs[-1].rglob("*")):
        if file.suffix == ".xlsx":
            wb = CalamineWorkbook.from_path(str(file))
            sheets: list[str] = []
            for name in wb.sheet_names:
                rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
                rows = [[v if isinstance(v, (str, int, float)) else str(v) for v in row] for row in rows]
                cells += sum(1 for row in rows for v in row if v != "")
                sheet_file = f"outputs-{len(books)}-{len(sheets)}.marshal"
                (folder / sheet_file).write_bytes(marshal.dumps(rows))
                sheets.append(sheet_file)
            books.append(sheets)
        elif file.is_file() and file.name not in ("run.json", "run.log"):
            blobs.append(file.read_bytes())
    (folder / "outputs.marshal").write_bytes(marshal.dumps((books, blobs)))
    return cells


def _worker_main(mode: str, path: str, max_mb: int) -> int:
    if max_mb > 0:
        limit = max_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    out: dict[str, Any] = {}
    out_of_memory = False
    try:
        out = work(mode, path)
    except MemoryError:
        out_of_memory = True  # build the message after the handler has freed the traceback's frames
    except Exception as exc:  # noqa: BLE001 - reported as n/a, never a crash of the bench
        out = {"na": f"运行出错：{type(exc).__name__}: {str(exc)[:200]}"}
    if out_of_memory:
        out = {"na": f"内存超过上限 {max_mb} MB（可用 --max-mb 调整）", "ran": True}
    print("BENCH-RESULT " + json.dumps(out, ensure_ascii=False), flush=True)
    return 0


# ------------------------------------------------------------------------------ the runner
def _runner_main(mode: str, path: str, max_mb: str) -> int:
    """A fresh process whose only child is the worker: RUSAGE_CHILDREN is that worker alone."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, __file__, "--_work", mode, path, max_mb], capture_output=True,
                              text=True, timeout=TIMEOUT_S, env=env, cwd=str(Path(path).parent.parent))
    except subprocess.TimeoutExpired:
        print(json.dumps({"na": f"超过 {TIMEOUT_S} 秒未完成"}, ensure_ascii=False))
        return 0
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    maxrss = usage.ru_maxrss
    mb = maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024  # bytes vs KiB
    result: dict[str, Any] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            result = json.loads(line[len("BENCH-RESULT "):])
    if not result:
        tail = (proc.stderr.strip().splitlines() or ["无输出"])[-1]
        result = {"na": f"进程退出码 {proc.returncode}：{tail[:200]}", "ran": True}
    result.update(seconds=seconds, cpu=usage.ru_utime + usage.ru_stime, peak_mb=mb)
    print(json.dumps(result, ensure_ascii=False))
    return 0


def measure(mode: str, path: Path, max_mb: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--_measure", mode, str(path), str(max_mb)],
                          capture_output=True, text=True, timeout=TIMEOUT_S + 60)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"na": f"测量进程失败：{(proc.stderr.strip().splitlines() or ['?'])[-1][:200]}"}
    return dict(json.loads(lines[-1]))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_work"]:
        return _worker_main(argv[1], argv[2], int(argv[3]))
    if argv[:1] == ["--_measure"]:
        return _runner_main(argv[1], argv[2], argv[3])

    parser = argparse.ArgumentParser(description="端到端性能基准：sdbatch run 与同样工作的读写下限对比。")
    parser.add_argument("--rows", default=",".join(map(str, SIZES)),
                        help="生成的集群行数，逗号分隔（默认 1000,10000,100000）")
    parser.add_argument("--keep", type=Path, help="把生成的工作簿和输出保留到此目录（默认用临时目录，结束后删除）")
    parser.add_argument("--detail", action="store_true", help="另测 check_file（读取+规范化+检查），并列出运行各阶段耗时")
    parser.add_argument("--max-mb", type=int, default=DEFAULT_MAX_MB,
                        help=f"每个被测进程的内存上限（MB，默认 {DEFAULT_MAX_MB}；0 表示不限）")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.rows.split(",") if s.strip()]

    with tempfile.TemporaryDirectory(prefix="sdbatch-bench-") as tmp:
        root = args.keep or Path(tmp)
        base = measure("baseline", _prepare(root / "baseline", 10), args.max_mb)
        print(f"Python 空进程（基线）：{base.get('seconds', 0):.2f} 秒，{base.get('peak_mb', 0):.0f} MB")
        print()
        print(_pad("行数", 9, right=True) + _pad("单元格", 11, right=True)
              + _pad("sdbatch run 秒", 16, right=True) + _pad("CPU秒", 8, right=True) + _pad("峰值MB", 8, right=True)
              + _pad("下限 秒", 9, right=True) + _pad("CPU秒", 8, right=True) + _pad("峰值MB", 8, right=True)
              + _pad("倍数", 7, right=True) + _pad("CPU倍数", 9, right=True) + "  说明")
        print("-" * 104)
        for rows in sizes:
            folder = root / f"rows-{rows}"
            t0 = time.perf_counter()
            path = _prepare(folder, rows)
            made = json.loads((folder / "counts.json").read_text(encoding="utf-8"))
            gen = time.perf_counter() - t0
            run = measure("run", path, args.max_mb)
            low = measure("floor", path, args.max_mb)
            _print_row(rows, made, run, low, gen)
            _print_outputs_floor(folder, path, run, args.max_mb)
            _print_again(measure("run", path, args.max_mb), run)
            if args.detail:
                check = measure("check", path, args.max_mb)
                timings = run.get("timings") or {}
                print(_pad("", 9) + f"  check_file {_secs(check)} 秒（CPU {_cpu(check)}）{_mem(check)} MB；run.json："
                      + "，".join(f"{k} {v}" for k, v in timings.items()))
    return 0


def _prepare(folder: Path, rows: int) -> Path:
    inbox = folder / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / f"{CITY}数字产业集群申报信息汇总表.xlsx"
    counts = generate(path, rows)
    (folder / "counts.json").write_text(json.dumps(counts, ensure_ascii=False), encoding="utf-8")
    return path


def _pad(text: str, width: int, *, right: bool = False) -> str:
    """Pad to a display width: CJK characters take two columns in a terminal."""
    import unicodedata

    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    fill = " " * max(0, width - shown)
    return fill + text if right else text + fill


def _secs(res: dict[str, Any]) -> str:
    return f"{res['seconds']:.2f}" if "seconds" in res and "na" not in res else "n/a"


def _mem(res: dict[str, Any]) -> str:
    return f"{res['peak_mb']:.0f}" if "peak_mb" in res and "na" not in res else "n/a"


def _cpu(res: dict[str, Any]) -> str:
    return f"{res['cpu']:.2f}" if "cpu" in res and "na" not in res else "n/a"


def _print_outputs_floor(folder: Path, path: Path, run: dict[str, Any], max_mb: int) -> None:
    """A second line under a size: the run next to the floor of writing what it wrote."""
    if "na" in run:
        return
    try:
        cells = _extract_outputs(folder)
    except (OSError, ValueError) as exc:
        print(_pad("", 9) + f"  产出下限 n/a：{exc}")
        return
    res = measure("outputs", path, max_mb)
    if "na" in res:
        print(_pad("", 9) + f"  产出下限 n/a：{res['na']}")
        return
    secs = res["seconds"] - res.get("load_s", 0)
    cpu = res["cpu"] - res.get("load_cpu", 0)
    print(_pad("", 9) + f"  产出下限（读入 + 写出本次运行各工作簿的全部 {cells:,} 个单元格及其他文件）："
          f"{secs:.2f} 秒（CPU {cpu:.2f}）{res['peak_mb']:.0f} MB；sdbatch run / 产出下限 = "
          f"{run['seconds'] / secs:.2f}（CPU {run['cpu'] / cpu:.2f}）", flush=True)


def _print_again(again: dict[str, Any], first: dict[str, Any]) -> None:
    """A third line: the same inbox run again into the same folder, as a nightly run after a
    change does — the ledger now holds the first run, and its applications are the history every
    application is matched against."""
    if "na" in first:
        return
    if "na" in again:
        print(_pad("", 9) + f"  再次运行 n/a：{again['na']}")
        return
    print(_pad("", 9) + f"  再次运行（台账已记录上次运行的 {first.get('rows') or 0:,} 个申报，逐一比对历史）："
          f"{_secs(again)} 秒（CPU {_cpu(again)}）{_mem(again)} MB；与首次运行之比 "
          f"{again['seconds'] / first['seconds']:.2f}", flush=True)


def _print_row(rows: int, made: dict[str, Any], run: dict[str, Any], low: dict[str, Any], gen: float) -> None:
    ratio = cpu_ratio = "n/a"
    if "na" not in run and "na" not in low and low.get("seconds"):
        ratio = f"{run['seconds'] / low['seconds']:.2f}"
        cpu_ratio = f"{run['cpu'] / low['cpu']:.2f}" if low.get("cpu") else "n/a"
    notes = [r["na"] for r in (run, low) if "na" in r]
    print(_pad(f"{rows:,}", 9, right=True) + _pad(f"{made.get('cells', 0):,}", 11, right=True)
          + _pad(_secs(run), 16, right=True) + _pad(_cpu(run), 8, right=True) + _pad(_mem(run), 8, right=True)
          + _pad(_secs(low), 9, right=True) + _pad(_cpu(low), 8, right=True) + _pad(_mem(low), 8, right=True)
          + _pad(ratio, 7, right=True) + _pad(cpu_ratio, 9, right=True) + "  " + "；".join(notes), flush=True)


if __name__ == "__main__":
    sys.exit(main())
