"""Benchmark: read a generated 100,000-row cluster summary workbook (what `make bench` runs).

    python tools/bench.py [--rows N] [--keep DIR]

Writes the workbook into a temporary folder (xlsxwriter, constant_memory) with the real headers
of attachment 2, then measures, each in its own fresh process, the wall time and the peak
resident memory of

  (a) python-calamine reading every row raw (the floor: no types, no formats);
  (b) ``sdbatch.reading.read_workbook(path)`` (streamed: the file is above FULL_READ_MAX_BYTES);
  (c) ``sdbatch.batch.check_file(path)``: read + header + normalise + checks.

Peak memory is ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` read by a small runner process
whose only child is the measured worker, so each figure belongs to one measurement only (it
includes the interpreter itself: see the "空进程" baseline row).  A step that is not importable
or fails prints "n/a" with the reason; the benchmark itself never crashes on it.
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
TIMEOUT_S = 900
DEFAULT_MAX_MB = 6144  # address-space cap per measured process: a runaway step fails, the machine lives

MODES = {
    "baseline": "Python 空进程（基线）",
    "calamine": "(a) python-calamine 原始读取",
    "ingest": "(b) sdbatch.reading.read_workbook",
    "check": "(c) sdbatch.batch.check_file",
}

CITIES = ["济南市", "青岛市", "淄博市", "枣庄市", "东营市", "烟台市", "潍坊市", "济宁市",
          "泰安市", "威海市", "日照市", "临沂市", "德州市", "聊城市", "滨州市", "菏泽市"]
INDUSTRIES = ["集成电路", "高端软件", "先进计算", "数字终端", "人工智能", "虚拟现实", "空天信息",
              "云服务大数据", "能源电子", "新型电子材料"]


# ------------------------------------------------------------------------------ the workbook


def generate(path: Path, rows: int) -> None:
    """A city summary table of ``rows`` clusters, written row by row (constant memory)."""
    import xlsxwriter

    sys.path.insert(0, str(HERE))
    from make_samples import STANDARD_COLUMNS, make_uscc  # the same headers as the samples

    rng = random.Random(2024)  # fixed seed: the same file every time
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    codes = [make_uscc("52", "370102", "MA" + "".join(rng.choice(alphabet[:10]) for _ in range(6)))
             for _ in range(97)]
    keys = [k for k, _ in STANDARD_COLUMNS]

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("汇总表")
    ws.write_string(0, 0, "山东省数字产业集群申报信息汇总表（性能测试）")
    for c, (_, header) in enumerate(STANDARD_COLUMNS):
        ws.write_string(1, c, header)
    pct = wb.add_format({"num_format": "0.0%"})
    for i in range(rows):
        sales = round(rng.uniform(40, 400), 1)
        rd = round(sales * rng.uniform(0.02, 0.08), 2)
        rec: dict[str, Any] = {
            "seq": i + 1,
            "city_order": i % 5 + 1,
            "city": CITIES[i % 16],
            "name": f"性能测试第{i + 1:06d}号数字产业集群",
            "applicant": f"性能测试第{i + 1:06d}号产业发展促进中心",
            "applicant_uscc": codes[i % len(codes)],
            "industry": INDUSTRIES[i % 10],
            "revenue_total": round(sales * rng.uniform(1.0, 1.1), 1),
            "leading_firms": rng.randint(10, 150),
            "leader_firms": rng.randint(0, 6),
            "backbone_firms": rng.randint(1, 30),
            "national_platforms": rng.randint(0, 4),
            "provincial_platforms": rng.randint(0, 15),
            "ip_total": rng.randint(500, 6000),
            "rd_expense": rd,
            "sales_revenue": sales,
            "rd_ratio": None,  # written below as a fraction in a percent cell
            "legal_person": "是",
            "bad_credit": "无" if i % 50 else "有",
            "major_incident": "否",
            "contact": "张三",
            "phone": f"0531-8{i % 10000000:07d}",
            "email": f"cluster{i}@example.cn",
            "remarks": None if i % 7 else "备注文字",
        }
        r = i + 2
        for c, key in enumerate(keys):
            value = rec[key]
            if key == "rd_ratio":
                ws.write_number(r, c, round(rd / sales, 4), pct)
            elif value is None:
                continue
            elif isinstance(value, str):
                ws.write_string(r, c, value)
            else:
                ws.write_number(r, c, value)
    wb.close()


# ------------------------------------------------------------------------------ the worker


def work(mode: str, path: str) -> dict[str, Any]:
    """Runs in the measured process. Returns what was read, or why the step is n/a."""
    if mode == "baseline":
        return {"rows": None}
    if mode == "calamine":
        from python_calamine import CalamineWorkbook

        sheet = CalamineWorkbook.from_path(path).get_sheet_by_index(0)
        return {"rows": len(sheet.to_python(skip_empty_area=False))}
    if mode == "ingest":
        try:
            from sdbatch.reading import read_workbook
        except Exception as exc:  # noqa: BLE001 - the lead's module may not exist yet
            return {"na": f"无法导入：{type(exc).__name__}: {exc}"}
        raw = read_workbook(Path(path))
        return {"rows": sum(len(s.rows) for s in raw.sheets)}
    if mode == "check":
        try:
            from sdbatch.batch import check_file
        except Exception as exc:  # noqa: BLE001
            return {"na": f"无法导入：{type(exc).__name__}: {exc}"}
        result = check_file(Path(path))
        # Count what was read, whatever the report object looks like (it may still change).
        apps = getattr(result, "applications", None)
        if apps is None:
            apps = getattr(getattr(result, "record", None), "applications", None)
        if apps is None and isinstance(result, tuple):
            apps = next((getattr(x, "applications", None) for x in result
                         if getattr(x, "applications", None) is not None), None)
        return {"rows": len(apps) if apps is not None else None}
    raise ValueError(mode)


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
                              text=True, timeout=TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        print(json.dumps({"na": f"超过 {TIMEOUT_S} 秒未完成"}, ensure_ascii=False))
        return 0
    seconds = time.perf_counter() - start
    maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    mb = maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024  # bytes vs KiB
    result: dict[str, Any] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            result = json.loads(line[len("BENCH-RESULT "):])
    if not result:
        tail = (proc.stderr.strip().splitlines() or ["无输出"])[-1]
        result = {"na": f"进程退出码 {proc.returncode}：{tail[:200]}", "ran": True}
    result.update(seconds=seconds, peak_mb=mb)
    print(json.dumps(result, ensure_ascii=False))
    return 0


def measure(mode: str, path: Path, max_mb: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--_measure", mode, str(path), str(max_mb)], capture_output=True,
                          text=True, timeout=TIMEOUT_S + 60)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"na": f"测量进程失败：{(proc.stderr.strip().splitlines() or ['?'])[-1][:200]}"}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--_work"]:
        return _worker_main(argv[1], argv[2], int(argv[3]))
    if argv[:1] == ["--_measure"]:
        return _runner_main(argv[1], argv[2], argv[3])

    parser = argparse.ArgumentParser(description="读取性能基准：生成大行数汇总表并测量读取耗时与峰值内存。")
    parser.add_argument("--rows", type=int, default=100_000, help="生成的集群行数（默认 100000）")
    parser.add_argument("--keep", type=Path, help="把生成的工作簿保留到此目录（默认用临时目录，结束后删除）")
    parser.add_argument("--only", choices=sorted(MODES), action="append", help="只测量指定项（可重复）")
    parser.add_argument("--max-mb", type=int, default=DEFAULT_MAX_MB,
                        help=f"每个被测进程的内存上限（MB，默认 {DEFAULT_MAX_MB}；0 表示不限）")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="sdbatch-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"性能测试汇总表_{args.rows}行.xlsx"
        t0 = time.perf_counter()
        generate(path, args.rows)
        size_mb = path.stat().st_size / (1024 * 1024)
        print(f"已生成 {path.name}：{args.rows:,} 行，{size_mb:.1f} MB，用时 {time.perf_counter() - t0:.1f} 秒")
        print()
        rows = []
        for mode in args.only or list(MODES):
            res = measure(mode, path, args.max_mb)
            rows.append((MODES[mode], res))
            _print_row(MODES[mode], res, header=len(rows) == 1)
    return 0


def _pad(text: str, width: int, *, right: bool = False) -> str:
    """Pad to a display width: CJK characters take two columns in a terminal."""
    import unicodedata

    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    fill = " " * max(0, width - shown)
    return fill + text if right else text + fill


def _print_row(label: str, res: dict[str, Any], *, header: bool) -> None:
    if header:
        print(_pad("测量项", 36) + _pad("耗时(秒)", 10, right=True) + _pad("峰值内存(MB)", 14, right=True)
              + _pad("读到行数", 12, right=True) + "  说明")
        print("-" * 80)
    secs = f"{res['seconds']:.2f}" if "seconds" in res else "n/a"
    mem = f"{res['peak_mb']:.1f}" if "peak_mb" in res else "n/a"
    if "na" in res:
        note = res["na"]
        if res.get("ran") and "seconds" in res:
            note += f"（运行 {secs} 秒后停止，峰值 {mem} MB）"
        secs, mem, count = "n/a", "n/a", "n/a"
    else:
        count = f"{res['rows']:,}" if res.get("rows") is not None else "-"
        note = ""
    print(_pad(label, 36) + _pad(secs, 10, right=True) + _pad(mem, 14, right=True)
          + _pad(count, 12, right=True) + f"  {note}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
