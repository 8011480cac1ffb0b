"""Fuzz ``sdbatch run`` end to end (issue 15, item 7).

    python tools/fuzz.py -n 20000 --seed 1            # what `make fuzz N=20000 SEED=1` runs
    python tools/fuzz.py --seed 1 --only 1234,5678    # regenerate and rerun single inputs
    python tools/fuzz.py --seed 1 --only 1234 --write-to /tmp/x   # just write input 1234 there
    python tools/fuzz.py --shrink path/to/file.xlsx   # minimise a saved failing input

Every input is made from ``--seed`` and its index alone (``random.Random(f"{seed}:{index}")``), so a
failing one can be regenerated.  Inputs:

- **seeds**: the sample workbooks (``samples/inbox/``) and the test builders' workbooks
  (``tests/builders.py``: openpyxl, xlsxwriter, xlwt, odfpy, CSV), mutated by bit flips, byte runs
  (overwritten, inserted, deleted), truncations, and XML mutation inside a zip member
  (``xl/worksheets/sheetN.xml``, ``sharedStrings.xml``, ``styles.xml``, ``workbook.xml``, ODS
  ``content.xml``: attribute values, cell types, huge or negative indices, merged ranges, dimension
  references, far-away cells, duplicated and dropped elements);
- **generated city tables**: random columns and cells of every type (numbers huge, tiny, negative,
  non-finite, as text; dates, times, durations, booleans, formulas, error values, very long text,
  control and bidi characters, full-width digits, units, percent signs) written as .xlsx (two
  engines), .xls, .ods or CSV (several encodings and delimiters);
- **odd inbox entries**: names in GBK bytes, very long names, FIFOs, sockets, symbolic links (loops,
  dangling, out of the inbox, to a folder), empty files, folders named like workbooks, a workbook
  under another format's suffix.

Inputs go in batches (``--batch``) through the real CLI, ``sdbatch run`` in a child process, with
the demo's address book, a timeout and an address-space cap (``resource.setrlimit``); the child's
peak RSS and CPU time come from ``os.wait4``.  Counted as an exception: an exit code other than 0/1,
a traceback or ``程序内部错误`` anywhere (stdout, stderr, run.log), a file rejected as
``processing-failed``, an output reported failed (``run.json`` ``output_failures``), a file refused
for want of memory, a hang (timeout), and a results.json that is missing, not strict JSON or not
valid against ``docs/results.schema.json`` (with the contract rules of ``tests/contract.py``).
A batch that used more than ``--slow`` seconds (CPU, or twice that in wall time on a loaded machine)
has each input timed alone; a batch with an exception has its inputs rerun alone with ``--debug`` for
the traceback.  Each failing input is saved under ``<out>/<kind>/<index>/`` with ``input.json`` and
``rerun.sh``; the summary goes to stdout, ``summary.md`` and ``summary.json``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import datetime as dt
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zipfile
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ADDRESS_BOOK = ROOT / "config" / "address_book.toml"
NOW = "2024-06-27T10:00:00"
NAME_MAX = 255
SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv")
CITIES = ["济南市", "青岛市", "淄博市", "枣庄市", "东营市", "烟台市", "潍坊市", "济宁市", "泰安市", "威海市",
          "日照市", "临沂市", "德州市", "聊城市", "滨州市", "菏泽市", "济南", "莱芜市", "北京市", "青岛"]
INDUSTRIES = ["集成电路", "高端软件", "先进计算", "数字终端", "人工智能", "虚拟现实", "空天信息", "云服务大数据",
              "能源电子", "新型电子材料", "云计算与大数据", "AI", "VR/AR", "生物医药", ""]
YES_NO = ["是", "否", "有", "无", "√", "×", "Y", "N", "TRUE", "/", "—", "无", "空", "是否"]
UNITS = ["（亿元）", "(万元)", "（元）", "（%）", "%", "（家）", "(个)", "（项）", "", "（亿）", "（千元）"]
BLANKS = ["/", "—", "无", "空", "-", "　", " ", "N/A", "——", "暂无"]
ERRORS = ["#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "#GETTING_DATA"]
FORMULAS = ["=SUM(A1:A3)", "=1/0", "=A1", "=NOW()", "=\"文本\"&1", "=HYPERLINK(\"http://x.example\",\"x\")",
            "=INDIRECT(\"XFD1048576\")", "=Sheet2!A1", "=#REF!", "+1+1", "=" + "1+" * 200 + "1"]
ODD_TEXT = ["\x00", "\x07", "\x1b[31m", "\u202e", "\u200b", "\ufeff", "\ud7ff", "\uffff", "\ufffe", "\r\n",
            "\u2028", "\t", "💾", "𠀀", "\u0301", "\u3000", "'", "\"", "<b>", "&amp;", "]]>", "%s%n", "{0}",
            "{name}", "\\", "=", "@", "\x7f", "\x85", "\xa0"]
FULL_WIDTH = str.maketrans("0123456789.,%-+", "０１２３４５６７８９．，％－＋")


# ------------------------------------------------------------------------------ inputs
@dataclass
class FuzzInput:
    """One inbox entry: ``kind`` file | empty | fifo | socket | symlink | dir; ``name`` in bytes."""

    index: int
    name: bytes
    kind: str = "file"
    data: bytes = b""
    target: str = ""  # symlink: loop | dangling | outside | sibling | folder
    how: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name.decode("utf-8", "backslashreplace"), "kind": self.kind,
                "size": len(self.data), "sha256": hashlib.sha256(self.data).hexdigest(), "target": self.target,
                "how": self.how}


class Seeds:
    """The seed files: (name, bytes), generated deterministically once per process."""

    def __init__(self) -> None:
        self.files: list[tuple[str, bytes]] = []
        self._load()
        self.zips = [(n, d) for n, d in self.files if d[:2] == b"PK"]
        self.others = [(n, d) for n, d in self.files if d[:2] != b"PK"]

    def _load(self) -> None:
        inbox = ROOT / "samples" / "inbox"
        for path in sorted(inbox.iterdir()):
            if path.is_file():
                self.files.append((path.name, path.read_bytes()))
        self.files += builder_workbooks()


def builder_workbooks() -> list[tuple[str, bytes]]:
    """The test builders' workbooks: a typical summary table in every format and engine."""
    from tests import builders

    layout = builders.summary_sheet([builders.valid_row(n) for n in range(1, 4)],
                                    units_row=None, notes=["填表说明：金额单位为亿元。"])
    layout.sheet.merges.append((0, 0, 0, 5))
    layout.sheet.formats[(layout.data_rows[0], layout.col("rd_ratio"))] = "0.0%"
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, engine, encoding in [
            ("青岛市数字产业集群申报信息汇总表.xlsx", "openpyxl", "utf-8"),
            ("烟台市数字产业集群申报信息汇总表.xlsx", "xlsxwriter", "utf-8"),
            ("潍坊市数字产业集群申报信息汇总表.xls", "openpyxl", "utf-8"),
            ("临沂市数字产业集群申报信息汇总表.ods", "openpyxl", "utf-8"),
            ("滨州市数字产业集群申报信息汇总表.csv", "openpyxl", "gbk"),
            ("菏泽市数字产业集群申报信息汇总表.csv", "openpyxl", "utf-8-sig"),
        ]:
            path = Path(tmp) / name
            builders.write(path, layout.sheet, engine=engine, encoding=encoding)
            out.append((name, freeze(path.read_bytes())))
    return out


_DATES = [
    (re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)"), rb"\g<1>2024-06-20T10:00:00Z\g<2>"),
    (re.compile(rb"(<meta:creation-date>)[^<]*(</meta:creation-date>)"), rb"\g<1>2024-06-20T10:00:00\g<2>"),
    (re.compile(rb"(<dc:date>)[^<]*(</dc:date>)"), rb"\g<1>2024-06-20T10:00:00\g<2>"),
]


_ODF_ROOT = re.compile(rb"(<office:document-[a-z]+)((?:\s+xmlns:[A-Za-z0-9]+=\"[^\"]*\")+)")


def _odf_namespaces(match: re.Match[bytes]) -> bytes:
    """odfpy declares on the root element the namespaces its process has used so far: every one,
    in a fixed order, whatever was written before."""
    from odf.namespaces import nsdict

    declared = sorted(f' xmlns:{prefix}="{uri}"' for uri, prefix in nsdict.items())
    return match.group(1) + "".join(declared).encode()


def freeze(data: bytes) -> bytes:
    """A zip package made independent of when, and after what, it was written (dates of members
    and document, odfpy's namespace declarations)."""
    if data[:2] != b"PK":
        return data
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            body = src.read(info)
            if info.filename.endswith(".xml"):
                for pattern, repl in _DATES:
                    body = pattern.sub(repl, body)
                body = _ODF_ROOT.sub(_odf_namespaces, body, count=1)
            fixed = zipfile.ZipInfo(info.filename, (2024, 6, 20, 10, 0, 0))
            fixed.compress_type = info.compress_type
            out.writestr(fixed, body)
    return buf.getvalue()


# ----------------------------------------------------------------------------- mutators
def bit_flips(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    buf = bytearray(data)
    n = rng.choice([1, 1, 2, 4, 8, 32])
    for _ in range(n):
        if buf:
            pos = rng.randrange(len(buf))
            buf[pos] ^= 1 << rng.randrange(8)
    return bytes(buf), f"bit-flips:{n}"


def byte_run(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    if not data:
        return bytes(rng.randrange(256) for _ in range(16)), "byte-run:new"
    pos = rng.randrange(len(data))
    length = rng.choice([1, 4, 16, 64, 512, 4096])
    fill = rng.choice(["zero", "ff", "random", "repeat", "ascii"])
    run = {"zero": b"\0" * length, "ff": b"\xff" * length,
           "random": bytes(rng.randrange(256) for _ in range(min(length, 4096))),
           "repeat": data[pos:pos + 8] * (length // 8 + 1),
           "ascii": rng.choice([b"9", b"<", b"\"", b"A"]) * length}[fill][:length]
    how = rng.choice(["overwrite", "insert", "delete"])
    if how == "overwrite":
        out = data[:pos] + run + data[pos + length:]
    elif how == "insert":
        out = data[:pos] + run + data[pos:]
    else:
        out = data[:pos] + data[pos + length:]
    return out, f"byte-run:{how}:{fill}:{length}@{pos}"


def truncate(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    cut = rng.choice([rng.randrange(max(len(data), 1)), len(data) - rng.randrange(1, 64), rng.randrange(64)])
    cut = max(0, min(cut, len(data)))
    return data[:cut], f"truncate:{cut}"


MEMBERS = re.compile(r"(xl/worksheets/[^/]+\.xml|xl/sharedStrings\.xml|xl/styles\.xml|xl/workbook\.xml|"
                     r"content\.xml|styles\.xml|\[Content_Types\]\.xml|xl/_rels/workbook\.xml\.rels)$")
_ATTR = re.compile(rb'(\s)([A-Za-z:]+)="([^"]*)"')
_ELEMENTS = [rb"c", rb"row", rb"si", rb"xf", rb"sheet", rb"mergeCell", rb"numFmt", rb"col", rb"definedName",
             rb"table:table-row", rb"table:table-cell", rb"Relationship", rb"Override", rb"font", rb"fill"]
HUGE_VALUES = [b"999999999999999999999", b"-1", b"0", b"", b"2147483648", b"-2147483649", b"1e309", b"NaN",
               b"XFD1048576", b"A1:XFD1048576", b"A1048576", b"B99999", b"ZZZZ1", b"A0", b"A-1", b"$A$1:$B$2",
               b"1:1048576", b"A1:A1:A1", b"\xe4\xb8\xad", b"x" * 300, b"0x10", b" 1 ", b"1.5", b"true",
               b"s", b"e", b"str", b"inlineStr", b"d", b"n", b"b", b"hidden", b"veryHidden", b"rId999",
               b"../../../../etc/passwd", b"/xl/worksheets/sheet1.xml", b"1000000000", b"16385", b"65535",
               b"-0", b"1e-400", b"3.4028236e38", b"%", b"&amp;&#0;", b"&#x1F;"]


def mutate_xml(rng: random.Random, xml: bytes) -> tuple[bytes, str]:
    """One structural mutation of an XML part, chosen from the families of issue 15 item 7."""
    op = rng.choice(["attr", "attr", "cell-type", "value", "merge", "dimension", "far-cell", "dup", "drop",
                     "cut", "style"])
    if op == "attr":
        found = list(_ATTR.finditer(xml))
        if found:
            m = rng.choice(found)
            value = rng.choice(HUGE_VALUES)
            return xml[:m.start(3)] + value + xml[m.end(3):], f"xml:attr:{m.group(2).decode()}={value[:20]!r}"
    if op == "cell-type":
        found = list(re.finditer(rb'<c\b[^>]*?>', xml))
        if found:
            m = rng.choice(found)
            kind = rng.choice([b"s", b"n", b"b", b"e", b"str", b"inlineStr", b"d", b"x", b""])
            tag = re.sub(rb'\st="[^"]*"', b"", m.group(0))
            tag = tag[:2] + b' t="' + kind + b'"' + tag[2:]
            return xml[:m.start()] + tag + xml[m.end():], f"xml:cell-type:{kind.decode()}"
    if op == "value":
        found = list(re.finditer(rb"<(v|t|table:p|text:p)>([^<]*)</", xml))
        if found:
            m = rng.choice(found)
            value = rng.choice(HUGE_VALUES + [b"-5", b"99999", b"1e308", b"-1e308", b"4.9e-324", b"inf",
                                              b"45000.5", b"-700000", b"2958466", b"#DIV/0!", b"TRUE"])
            return xml[:m.start(2)] + value + xml[m.end(2):], f"xml:value:{value[:20]!r}"
    if op == "merge":
        refs = rng.choice([b"A1:XFD1048576", b"A1:B2", b"B2:A1", b"A1:A1", b"C3:C100000", b"A5:Z5",
                           b"A1:IV65536", b"XFD1048575:XFD1048576", b"A1:" + b"Z" * 3 + b"9" * 9])
        count = rng.choice([1, 1, 2, 50])
        block = b'<mergeCells count="%d">' % count + b''.join(b'<mergeCell ref="%s"/>' % refs for _ in range(count)) \
            + b"</mergeCells>"
        if b"<mergeCells" in xml:
            new = re.sub(rb'<mergeCell ref="[^"]*"', b'<mergeCell ref="' + refs + b'"', xml, count=1)
            return new, f"xml:merge-ref:{refs.decode()}"
        if b"</sheetData>" in xml:
            return xml.replace(b"</sheetData>", b"</sheetData>" + block, 1), f"xml:merge-add:{refs.decode()}x{count}"
    if op == "dimension":
        ref = rng.choice([b"A1:XFD1048576", b"A1", b"", b"Z9:A1", b"A1:ZZZ99999999"])
        if b"<dimension" in xml:
            return re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="' + ref + b'"', xml, count=1), \
                f"xml:dimension:{ref.decode()}"
    if op == "far-cell":
        found = list(re.finditer(rb'(<c r=")([A-Z]+)([0-9]+)"', xml))
        if found:
            m = rng.choice(found)
            ref = rng.choice([b"B99999", b"XFD1", b"A1048576", b"XFD1048576", b"AAA5", b"A200001", b"A0"])
            new = xml[:m.start(2)] + ref + xml[m.end(3):]
            if rng.random() < 0.5:  # its row too, as Excel writes it
                row = re.sub(rb"[A-Z]", b"", ref) or b"1"
                new = re.sub(rb'<row r="' + m.group(3) + rb'"', b'<row r="' + row + b'"', new, count=1)
            return new, f"xml:far-cell:{ref.decode()}"
    if op in ("dup", "drop"):
        tags = [t for t in _ELEMENTS if b"<" + t + b" " in xml or b"<" + t + b">" in xml]
        if tags:
            tag = rng.choice(tags)
            found = list(re.finditer(rb"<" + tag + rb"\b(?:[^>]*/>|.*?</" + tag + rb">)", xml, re.S))
            found = [m for m in found if len(m.group(0)) < 200_000]
            if found:
                m = rng.choice(found)
                if op == "dup":
                    times = rng.choice([1, 1, 3, 200])
                    return xml[:m.end()] + m.group(0) * times + xml[m.end():], f"xml:dup:{tag.decode()}x{times}"
                return xml[:m.start()] + xml[m.end():], f"xml:drop:{tag.decode()}"
    if op == "style":
        found = list(re.finditer(rb'\ss="([0-9]+)"', xml))
        if found:
            m = rng.choice(found)
            value = rng.choice([b"999", b"65535", b"-1", b"4294967296", b"x"])
            return xml[:m.start(1)] + value + xml[m.end(1):], f"xml:style:{value.decode()}"
    if op == "cut" or not xml:
        cut = rng.randrange(len(xml) + 1)
        return xml[:cut], f"xml:cut:{cut}"
    return bit_flips(rng, xml)[0], "xml:bit-flips"


def zip_member_mutation(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Mutate one XML member of a zip package (1-3 mutations), rezip the rest as it was."""
    src = zipfile.ZipFile(io.BytesIO(data))
    infos = src.infolist()
    targets = [i for i in infos if MEMBERS.search(i.filename)]
    if not targets:
        return byte_run(rng, data)
    target = rng.choice(targets)
    body = src.read(target)
    steps = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        body, how = mutate_xml(rng, body)
        steps.append(how)
    buf = io.BytesIO()
    method = rng.choice([zipfile.ZIP_DEFLATED, zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
    with zipfile.ZipFile(buf, "w", method) as out:
        for info in infos:
            fixed = zipfile.ZipInfo(info.filename, info.date_time)
            fixed.compress_type = method
            out.writestr(fixed, body if info.filename == target.filename else src.read(info))
    return buf.getvalue(), f"zip:{target.filename}:" + ";".join(steps)


# --------------------------------------------------------------------------- random cells
def random_number(rng: random.Random) -> Any:
    return rng.choice([
        rng.randint(-5, 5000), rng.uniform(0, 500), rng.choice([0, -0.0, 1e308, -1e308, 5e-324, 1e-12, 2**53 + 1,
                                                                 10**20, -(10**15), float("nan"), float("inf"),
                                                                 float("-inf"), 0.035, 3.5, 99.9999999999]),
        round(rng.uniform(-1000, 100000), rng.randint(0, 6)),
    ])


def random_text_number(rng: random.Random) -> str:
    n = random_number(rng)
    base = rng.choice([f"{n}", f"{n:,}" if isinstance(n, int) else f"{n}", "1e400", "-inf", "NaN", "Infinity",
                       "1,234.5", "3.5%", "０.０３５", "50亿元", "12万元", "1.2e3", "12，000", "约50", ">20",
                       "20+", "二十", "1/2", "3.5 %", "5%%", "%", "-", "0x1F", "1_000", "١٢٣", "½", "Ⅻ",
                       "50（亿元）", "１２０．５", "(120)", "120-", "1 234", "1'234", "²", "9" * 400])
    if rng.random() < 0.3:
        base = base.translate(FULL_WIDTH)
    if rng.random() < 0.3:
        base = rng.choice(["", " ", "\u3000", "\t"]) + base + rng.choice(["", "%", "亿元", "万元", "家", "个", " "])
    return base


def random_text(rng: random.Random) -> str:
    parts = [rng.choice(["示例", "集群", "发展促进会", "张三", "有限公司", "abc", "测试", "Ｆｕｌｌ", "ＡＩ"])
             for _ in range(rng.randint(0, 4))]
    for _ in range(rng.choice([0, 0, 1, 3])):
        parts.insert(rng.randint(0, len(parts)), rng.choice(ODD_TEXT))
    text = "".join(parts)
    if rng.random() < 0.03:
        text = text * rng.choice([1000, 5000]) + "x" * rng.choice([32767, 40000])
    return text


def random_cell(rng: random.Random, fid: str | None) -> Any:
    roll = rng.random()
    if roll < 0.5 and fid is not None:  # plausible for its column
        from tests.builders import make_uscc, valid_row

        good = valid_row(rng.randint(1, 9))
        if fid == "city":
            return rng.choice(CITIES)
        if fid == "industry":
            return rng.choice(INDUSTRIES)
        if fid == "applicant_uscc":
            return rng.choice([make_uscc(f"913701{rng.randint(10, 99)}MA3C4D5E{rng.randint(0, 9)}"), "913701001234567890",
                               "91370100MA3C4D5E6" + rng.choice("0123456789ABX"), "", "１２３"])
        if fid in ("legal_person", "bad_credit", "major_incident"):
            return rng.choice(YES_NO + [True, False])
        value = good.get(fid)
        if isinstance(value, (int, float)) and rng.random() < 0.5:
            return random_number(rng)
        return value
    kind = rng.choice(["number", "text-number", "text", "date", "datetime", "time", "duration", "bool", "formula",
                       "error", "blank", "none"])
    if kind == "number":
        return random_number(rng)
    if kind == "text-number":
        return random_text_number(rng)
    if kind == "text":
        return random_text(rng)
    if kind == "date":
        return dt.date(rng.choice([1900, 1901, 1904, 2024, 9999]), rng.randint(1, 12), rng.randint(1, 28))
    if kind == "datetime":
        return dt.datetime(rng.choice([1900, 2024, 2099]), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                           rng.randint(0, 59), rng.randint(0, 59), rng.choice([0, 500000]))
    if kind == "time":
        return dt.time(rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
    if kind == "duration":
        return rng.choice([dt.timedelta(hours=30, minutes=5), dt.timedelta(days=-3), dt.timedelta(seconds=0.5),
                           dt.timedelta(days=99999), dt.timedelta(microseconds=1)])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "formula":
        return rng.choice(FORMULAS)
    if kind == "error":
        return rng.choice(ERRORS)
    if kind == "blank":
        return rng.choice(BLANKS)
    return None


def random_sheet(rng: random.Random, city: str) -> Any:
    """A city summary table with random columns and cells (a :class:`tests.builders.Sheet`)."""
    from tests import builders

    columns = list(builders.TYPICAL_COLUMNS)
    if rng.random() < 0.4:
        columns = rng.sample(columns, rng.randint(1, len(columns)))
    if rng.random() < 0.3:
        columns = [(fid, label + rng.choice(UNITS)) for fid, label in columns]
    if rng.random() < 0.2:
        columns = [(fid, label.translate(FULL_WIDTH) + rng.choice(["", " ", "\n", "*"])) for fid, label in columns]
    if rng.random() < 0.1:
        columns.append(("extra", random_text(rng) or "附加列"))
    rows = []
    for _ in range(rng.choice([0, 1, 2, 3, 5, 12])):
        rows.append({fid: random_cell(rng, fid) for fid, _ in columns})
    title = rng.choice([f"{city}数字产业集群申报信息汇总表", None, random_text(rng), f"{city}数字经济园区汇总表"])
    layout = builders.summary_sheet(rows, columns=columns, title=title,
                                    notes=rng.choice([[], ["填表说明：金额单位为亿元。"], ["合计", "联系人：张三"]]),
                                    blank_rows_above=rng.choice([0, 0, 1, 40]),
                                    units_row={fid: rng.choice(UNITS) for fid, _ in columns} if rng.random() < 0.2
                                    else None, name=rng.choice(["汇总表", "Sheet1", "表" * 31, "a'b", "汇总"]))
    sheet = layout.sheet
    width = len(columns)
    for _ in range(rng.choice([0, 0, 1, 3])):
        r0, c0 = rng.randrange(len(sheet.rows)), rng.randrange(max(width, 1))
        sheet.merges.append((r0, c0, r0 + rng.choice([0, 1, 2, 60]), c0 + rng.choice([0, 1, 5])))
    if rng.random() < 0.2 and layout.data_rows:
        sheet.hidden_rows.add(rng.choice(layout.data_rows))
    if rng.random() < 0.3 and layout.data_rows:
        sheet.formats[(rng.choice(layout.data_rows), rng.randrange(max(width, 1)))] = rng.choice(
            ["0.0%", "[h]:mm:ss", "yyyy-mm-dd", "@", "#,##0.00", "0.00E+00", "mm:ss.0", ";;;"])
    if rng.random() < 0.1:
        sheet.hidden = True
    return sheet


PARK_TYPES = ["数字产业化园区", "产业数字化园区", "数字产业化", "产业数字化", "综合型园区", ""]
PARK_KINDS = ["数字经济产业园", "软件园", "高新技术产业开发区", "大数据产业园", "经济开发区"]


def park_codes() -> list[str]:
    """The indicator codes of the bundled park round (L1P1…), from its rules file."""
    body = (ROOT / "sdbatch" / "programs" / "park_2024.toml").read_text(encoding="utf-8")
    return sorted(set(re.findall(r"\bL\dP\d+\b", body)), key=lambda c: (c[:2], int(c[3:])))


def park_name(rng: random.Random) -> str:
    """A park name from a small pool, so that summaries and score sheets of one batch meet."""
    return rng.choice(CITIES[:6]).rstrip("市") + rng.choice(PARK_KINDS[:3])


def random_park_sheet(rng: random.Random, city: str) -> Any:
    """A city's park summary table (the park round's fields) with random cells."""
    from sdbatch import rules as rules_mod
    from tests import builders

    fields = [(fid, f.label, f.type) for fid, f in rules_mod.load("park_2024").fields.items()]
    if rng.random() < 0.4:
        fields = rng.sample(fields, rng.randint(3, len(fields)))
    units = {"amount": ["（亿元）", "（万元）", ""], "ratio": ["（%）", "", "%"], "count": ["（家）", "（个）", ""]}
    columns = [(fid, label + rng.choice(units.get(kind, [""]))) for fid, label, kind in fields]
    kinds = {fid: kind for fid, _, kind in fields}
    rows = []
    for n in range(rng.choice([0, 1, 2, 4, 8])):
        row: dict[str, Any] = {}
        for fid, _ in columns:
            kind = kinds[fid]
            if rng.random() < 0.4:
                row[fid] = random_cell(rng, None)
            elif fid == "name":
                row[fid] = park_name(rng)
            elif fid == "city":
                row[fid] = rng.choice([city, *CITIES[:3]])
            elif fid == "park_type":
                row[fid] = rng.choice(PARK_TYPES)
            elif kind == "bool":
                row[fid] = rng.choice(YES_NO)
            elif kind in ("count", "int"):
                row[fid] = rng.choice([rng.randint(0, 300), n + 1])
            elif kind in ("ratio", "amount", "number"):
                row[fid] = rng.choice([round(rng.uniform(0, 120), 2), random_number(rng)])
            else:
                row[fid] = random_text(rng) or None
        rows.append(row)
    layout = builders.summary_sheet(rows, columns=columns, title=f"{city}数字经济园区申报汇总表",
                                    notes=rng.choice([[], ["填表说明：比例按百分数填写。"]]), name="园区汇总表")
    return layout.sheet


def random_score_sheet(rng: random.Random, codes: list[str]) -> Any:
    """An expert's (or a city's) score sheet: parks as rows or columns, points per indicator code."""
    from tests import builders

    chosen = codes if rng.random() < 0.5 else rng.sample(codes, rng.randint(1, len(codes)))
    if rng.random() < 0.2:
        chosen = [*chosen, rng.choice(["L2P13", "L9P9", "l1p1", "Ｌ１Ｐ１", "L1P1", "合计"])]
    parks = [park_name(rng) for _ in range(rng.choice([1, 2, 3, 6]))]

    def points() -> Any:
        return rng.choice([round(rng.uniform(0, 5), 2), rng.randint(0, 10), "/", None, random_cell(rng, None),
                           -3, 999, float("nan"), "5分"])

    who = rng.choice(["甲", "乙", "丙", "丁", ""])
    grid: list[list[Any]] = [[f"省级数字经济园区专家复核评分表    评审专家：专家{who}"]]
    if rng.random() < 0.5:  # parks as rows
        grid.append(["序号", "园区名称", *chosen, "合计"])
        if rng.random() < 0.2:
            grid.append(["", "满分", *[rng.choice([2, 3, 5, 0, -1]) for _ in chosen], 100])
        for i, park in enumerate(parks, 1):
            grid.append([i, park, *[points() for _ in chosen], None])
    else:  # indicators as rows, parks as columns
        grid.append(["指标编号", *parks])
        for code in chosen:
            grid.append([code, *[points() for _ in parks]])
    return builders.Sheet(f"专家{who}" if who else "评分", grid)


def random_park_file(rng: random.Random, city: str, scores: bool) -> tuple[str, bytes, str]:
    sheets = [random_score_sheet(rng, park_codes())] if scores else [random_park_sheet(rng, city)]
    if rng.random() < 0.3:
        extra = random_score_sheet(rng, park_codes())
        extra.name = extra.name + "2" if extra.name == sheets[0].name else extra.name
        sheets.append(extra)
    return write_sheets(rng, sheets, "scores" if scores else "park")


def random_table_file(rng: random.Random, city: str) -> tuple[str, bytes, str]:
    """(suffix, bytes, how) of a generated city table."""
    sheet = random_sheet(rng, city)
    sheets = [sheet]
    if rng.random() < 0.2:
        sheets.append(random_sheet(rng, city))
        if sheets[1].name == sheet.name:
            sheets[1].name += "2"
    return write_sheets(rng, sheets, "table")


def write_sheets(rng: random.Random, sheets: list[Any], what: str) -> tuple[str, bytes, str]:
    """(suffix, bytes, how) of ``sheets`` in a format chosen at random; a writer that cannot hold a
    value gives way to the next (deterministically)."""
    from tests import builders

    sheet = sheets[0]
    formats = [(".xlsx", "openpyxl"), (".xlsx", "xlsxwriter"), (".xls", "xlwt"), (".ods", "odf"), (".csv", "csv")]
    start = rng.randrange(len(formats))
    for suffix, engine in formats[start:] + formats[:start]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"t{suffix}"
            try:
                if suffix == ".csv":
                    return ".csv", csv_bytes(rng, sheet.rows), f"{what}:csv"
                builders.write(path, sheets, engine="xlsxwriter" if engine == "xlsxwriter" else "openpyxl")
                return suffix, freeze(path.read_bytes()), f"{what}:{engine}"
            except Exception:  # noqa: BLE001 - this writer cannot hold a value: the next one
                continue
    return ".csv", csv_bytes(rng, sheet.rows), f"{what}:csv-fallback"


CSV_ENCODINGS = ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "utf-16-le", "big5", "latin-1", "utf-32",
                 "shift_jis", "cp1252"]
CSV_DELIMITERS = [",", ",", ";", "\t", "|", "，", " ", "\x00"]


def csv_bytes(rng: random.Random, rows: list[list[Any]]) -> bytes:
    encoding = rng.choice(CSV_ENCODINGS)
    delimiter = rng.choice(CSV_DELIMITERS)
    newline = rng.choice(["\r\n", "\n", "\r"])
    quoting = rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])
    text_buf = io.StringIO()
    writer = csv.writer(text_buf, delimiter=delimiter if len(delimiter) == 1 else ",", quoting=quoting,
                        lineterminator=newline)
    for row in rows:
        try:
            writer.writerow(["" if v is None else v for v in row])
        except Exception:  # noqa: BLE001 - QUOTE_NONNUMERIC over odd values
            writer.writerow(["" if v is None else str(v) for v in row])
    body = text_buf.getvalue()
    if delimiter == "，":
        body = body.replace(",", "，")
    if rng.random() < 0.1:  # a line cut in the middle of a quoted field
        body = body[: rng.randrange(len(body) + 1)] + '"'
    return body.encode(encoding, "replace")


# ------------------------------------------------------------------------------ one input
def make_input(seed: str, index: int, seeds: Seeds) -> FuzzInput:
    """Input ``index`` of the campaign ``seed``: the same bytes on every call."""
    rng = random.Random(f"{seed}:{index}")
    city = rng.choice(CITIES)
    family = rng.choices(["bytes", "zip-xml", "table", "csv", "park", "scores", "odd", "renamed"],
                         [18, 26, 24, 7, 7, 5, 7, 6])[0]
    if family == "bytes":  # half of them on the text and OLE seeds: a flipped bit in a zip is mostly a CRC error
        name, data = rng.choice(seeds.files if rng.random() < 0.5 else seeds.others)
        how = [f"seed:{name}"]
        for _ in range(rng.choice([1, 1, 2, 3])):
            data, step = rng.choice([bit_flips, byte_run, truncate])(rng, data)
            how.append(step)
        return FuzzInput(index, name.encode(), data=data, how=how)
    if family == "zip-xml":
        name, data = rng.choice(seeds.zips)
        how = [f"seed:{name}"]
        for _ in range(rng.choice([1, 1, 2])):
            try:
                data, step = zip_member_mutation(rng, data)
            except zipfile.BadZipFile:
                data, step = byte_run(rng, data)
            how.append(step)
        return FuzzInput(index, name.encode(), data=data, how=how)
    if family in ("table", "csv"):
        if family == "csv":
            from tests import builders  # noqa: F401 - random_sheet needs it

            sheet = random_sheet(rng, city)
            suffix, data, how = ".csv", csv_bytes(rng, sheet.rows), "table:csv"
        else:
            suffix, data, how = random_table_file(rng, city)
        name = rng.choice([f"{city}数字产业集群申报信息汇总表", f"{city}园区汇总表", "附件2", "汇总表（更正）", city])
        return FuzzInput(index, (name + suffix).encode(), data=data, how=[how])
    if family in ("park", "scores"):
        suffix, data, how = random_park_file(rng, city, family == "scores")
        name = f"园区_{city}_园区汇总表" if family == "park" else f"园区_专家评分表_{rng.choice('甲乙丙丁')}"
        return FuzzInput(index, (name + suffix).encode(), data=data, how=[how])
    if family == "renamed":
        name, data = rng.choice(seeds.files)
        suffix = rng.choice(SUFFIXES + (".et", ".xltx", ".XLSX", ""))
        stem = name.rsplit(".", 1)[0]
        return FuzzInput(index, (stem + suffix).encode(), data=data, how=[f"seed:{name}", f"renamed:{suffix}"])
    return odd_entry(rng, index, seeds, city)


def odd_entry(rng: random.Random, index: int, seeds: Seeds, city: str) -> FuzzInput:
    name, data = rng.choice(seeds.files)
    suffix = "." + name.rsplit(".", 1)[-1]
    kind = rng.choice(["gbk-name", "long-name", "fifo", "socket", "symlink", "empty", "dir", "odd-name"])
    if kind == "gbk-name":
        encoded = (name.rsplit(".", 1)[0] + suffix).encode(rng.choice(["gbk", "gb18030", "big5", "shift_jis"]),
                                                            "replace")
        return FuzzInput(index, encoded, data=data, how=[f"seed:{name}", "gbk-name"])
    if kind == "long-name":
        stem = (city + "数字产业集群申报信息汇总表" * 20)[: rng.choice([60, 75, 80])]
        raw = (stem + suffix).encode()
        return FuzzInput(index, raw, data=data, how=[f"seed:{name}", "long-name"])
    if kind == "odd-name":
        stem = rng.choice(["-x", "--help", " ", "名\n称", "名\t称", "\u202e" + "xslx.", "a\u200bb", "..", "~$锁",
                           ".hidden", "名称 ", "名称.", "%s%n", "$(id)", "a\\b", "*?", "名" * 2])
        return FuzzInput(index, (stem + suffix).encode(), data=data, how=[f"seed:{name}", f"odd-name:{stem!r}"])
    if kind in ("fifo", "socket"):
        return FuzzInput(index, f"{city}汇总表{suffix}".encode(), kind=kind, how=[kind])
    if kind == "symlink":
        target = rng.choice(["loop", "dangling", "outside", "sibling", "folder", "self-dir"])
        return FuzzInput(index, f"{city}链接{suffix}".encode(), kind="symlink", data=data, target=target,
                         how=[f"seed:{name}", f"symlink:{target}"])
    if kind == "empty":
        return FuzzInput(index, f"{city}空文件{suffix}".encode(), kind="empty", how=["empty"])
    inner = rng.choice(["nothing", "workbook", "deep"])
    return FuzzInput(index, f"{city}数字产业集群申报信息汇总表{suffix}".encode(), kind="dir", data=data,
                     target=inner, how=[f"seed:{name}", f"dir:{inner}"])


def entry_name(item: FuzzInput) -> bytes:
    """The name in the inbox: the index first (names are unique), within NAME_MAX bytes."""
    prefix = b"%06d-" % item.index
    name = prefix + item.name.replace(b"/", b"_").replace(b"\0", b"_")
    if len(name) > NAME_MAX:
        dot = item.name.rfind(b".")
        suffix = item.name[dot:] if 0 <= dot and len(item.name) - dot < 10 else b""
        name = name[: NAME_MAX - len(suffix)] + suffix
    return name


def materialise(item: FuzzInput, inbox: Path, outside: Path) -> None:
    """Make the inbox entry of ``item`` (and what it needs outside the inbox)."""
    inbox_b = os.fsencode(inbox)
    path = os.path.join(inbox_b, entry_name(item))
    if item.kind == "file":
        with open(path, "wb") as fh:
            fh.write(item.data)
    elif item.kind == "empty":
        open(path, "wb").close()
    elif item.kind == "fifo":
        os.mkfifo(path)
    elif item.kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        try:
            here = os.getcwd()
            os.chdir(inbox_b)  # AF_UNIX paths are short: bind by the relative name
            try:
                sock.bind(entry_name(item))
            finally:
                os.chdir(here)
        except OSError:
            os.mkfifo(path)
        finally:
            sock.close()
    elif item.kind == "symlink":
        name = entry_name(item)
        if item.target == "loop":
            os.symlink(name, path)
        elif item.target == "dangling":
            os.symlink(b"missing-" + name, path)
        elif item.target == "outside":
            target = os.path.join(os.fsencode(outside), name)
            with open(target, "wb") as fh:
                fh.write(item.data)
            os.symlink(target, path)
        elif item.target == "sibling":
            sibling = b"%06d-target" % item.index + name[name.rfind(b"."):]
            with open(os.path.join(inbox_b, sibling), "wb") as fh:
                fh.write(item.data)
            os.symlink(sibling, path)
        elif item.target == "folder":
            folder = b"%06d-folder" % item.index
            os.mkdir(os.path.join(inbox_b, folder))
            os.symlink(folder, path)
        else:  # a link to the inbox itself
            os.symlink(b".", path)
    elif item.kind == "dir":
        os.mkdir(path)
        if item.target == "workbook":
            with open(os.path.join(path, item.name), "wb") as fh:
                fh.write(item.data)
        elif item.target == "deep":
            deep = path
            for n in range(30):
                deep = os.path.join(deep, b"d%d" % n)
            os.makedirs(deep)
            with open(os.path.join(deep, item.name), "wb") as fh:
                fh.write(item.data)


def index_of(file_name: str) -> int | None:
    """The input index behind a file of results.json (its first six digits), if any."""
    m = re.match(r"(?:.*/)?(\d{6})-", file_name)
    return int(m.group(1)) if m else None


# ------------------------------------------------------------------------------ running
@dataclass
class Child:
    rc: int
    stdout: str
    stderr: str
    wall: float
    cpu: float
    maxrss_kb: int
    timed_out: bool


def run_cli(inbox: Path, out: Path, *, timeout: float, mem_mb: int, debug: bool = False,
            verbose: bool = False) -> Child:
    """``sdbatch run`` in a child process under an address-space cap; its own rusage.  ``debug``:
    the first failure stops the run with its traceback; ``verbose``: each isolated failure's
    traceback is logged (stderr) and the run goes on."""
    argv = ["run", str(inbox), "--out", str(out), "--address-book", str(ADDRESS_BOOK), "--mail", "all",
            "--now", NOW, "--run-id", "fuzz"]
    if debug or verbose:
        argv.append("--verbose")
    if debug:
        argv = ["--debug", *argv]
    boot = ("import resource, sys\n"
            f"cap = {mem_mb} * 1024 * 1024\n"
            "resource.setrlimit(resource.RLIMIT_AS, (cap, cap))\n"
            f"sys.argv = ['sdbatch'] + {argv!r}\n"
            f"sys.path.insert(0, {str(ROOT / 'tools')!r})\n"
            f"import fuzz; fuzz.spy_on_rejections({str(out) + '.masked'!r})\n"
            "from sdbatch.cli import main\n"
            "main()\n")
    with tempfile.TemporaryFile() as fout, tempfile.TemporaryFile() as ferr:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", boot], stdout=fout, stderr=ferr, stdin=subprocess.DEVNULL,
                                cwd=ROOT, start_new_session=True,
                                env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONWARNINGS": "always::ResourceWarning"})
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        fout.seek(0)
        ferr.seek(0)
        return Child(proc.returncode, fout.read().decode("utf-8", "replace"), ferr.read().decode("utf-8", "replace"),
                     wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, timed_out.is_set())


def spy_on_rejections(log_path: str) -> None:
    """In the child: note every exception that ``reading.rejection_for`` turns into a rejection
    although it was raised in sdbatch's own code (a crash shown as "file unreadable")."""
    import traceback

    import sdbatch.reading as reading

    original = reading.rejection_for

    def spy(exc: BaseException, path: Path) -> Any:
        frames = traceback.extract_tb(exc.__traceback__)
        ours = type(exc).__module__ in ("builtins", "sdbatch") or type(exc).__module__.startswith("sdbatch.")
        if ours and frames and "/sdbatch/" in frames[-1].filename and not isinstance(exc, MemoryError):
            where = f"{frames[-1].filename.rsplit('/sdbatch/', 1)[-1]}:{frames[-1].lineno} {frames[-1].name}"
            with open(log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"file": os.fsdecode(Path(path).name), "error": f"{type(exc).__name__}: "
                                     f"{str(exc)[:150]} @ sdbatch/{where}"}, ensure_ascii=False) + "\n")
        return original(exc, path)

    reading.rejection_for = spy  # type: ignore[assignment]


@dataclass
class Problem:
    kind: str
    detail: str
    index: int | None = None  # the input, when known


ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ -][A-Za-z]{2,}){2,}")  # three English words in a row
CJK = re.compile(r"[\u4e00-\u9fff]")


def _strict_json(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"non-finite number {name}")

    return json.loads(text, parse_constant=refuse)


def analyse(child: Child, out: Path, indexes: list[int]) -> list[Problem]:
    """What went wrong in one ``sdbatch run``, by input where the results say which."""
    from sdbatch.catalogue import text
    from tests.contract import breaches

    problems: list[Problem] = []
    lone = indexes[0] if len(indexes) == 1 else None
    if child.timed_out:
        return [Problem("timeout", f"killed after {child.wall:.0f} s", lone)]
    if child.rc not in (0, 1):
        problems.append(Problem(f"exit-{child.rc}", _last_line(child.stderr) or _last_line(child.stdout), lone))
    run_dir = out / "fuzz"
    log = ""
    try:
        log = (run_dir / "run.log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        pass
    everything = child.stdout + child.stderr + log
    if "Traceback (most recent call last)" in everything:
        problems.append(Problem("traceback", _traceback_line(everything), lone))
    results_path = run_dir / "results.json"
    from sdbatch.catalogue import text as ui_text

    empty = ui_text("batch.inbox_empty", inbox="\0").split("\0")[0]
    if child.rc in (0, 1) and not (child.rc == 0 and empty and empty in child.stdout):  # an inbox of empty folders
        if not results_path.exists():
            if not any(p.kind == "traceback" for p in problems):  # an uncaught exception also exits 1
                problems.append(Problem("results-missing", _last_line(child.stdout), lone))
        else:
            body = results_path.read_text(encoding="utf-8", errors="replace")
            try:
                doc = _strict_json(body)
            except ValueError as exc:
                problems.append(Problem("results-not-strict-json", str(exc)[:200], lone))
                doc = None
            if isinstance(doc, dict):
                for breach in breaches(doc)[:3]:
                    problems.append(Problem("results-schema", breach[:300], lone))
                memory = text("reading.out_of_memory")
                for f in doc.get("files", []):
                    reason = re.sub(r"“[^”]*”", "", f.get("error") or "")  # without the file's name
                    if ENGLISH.search(reason):
                        problems.append(Problem("reason-in-english", f.get("error") or "", index_of(f["file"])))
                    if f.get("error_code") == "processing-failed":
                        problems.append(Problem("processing-failed", f.get("error") or "", index_of(f["file"])))
                    elif memory in (f.get("error") or ""):
                        problems.append(Problem("out-of-memory", f.get("error") or "", index_of(f["file"])))
            try:
                info = _strict_json((run_dir / "run.json").read_text(encoding="utf-8"))
                for failure in info.get("output_failures", []):
                    problems.append(Problem("output-failed", json.dumps(failure, ensure_ascii=False)[:300], lone))
            except (OSError, ValueError) as exc:
                problems.append(Problem("run-json", str(exc)[:200], lone))
    if "ResourceWarning" in child.stderr:  # a file or socket left for the garbage collector to close
        problems.append(Problem("resource-leak", _line_with(child.stderr, "ResourceWarning"), lone))
    for line in (child.stdout + "\n" + child.stderr).splitlines():  # what a person reads is Chinese
        if "Warning: " in line or line.startswith(" ") or "Traceback" in everything:
            continue  # the ResourceWarnings shown on purpose (counted as resource-leak), a traceback
        if ENGLISH.search(line) and not CJK.search(line):  # a library's own English output
            problems.append(Problem("english-output", line[:200], lone))
            break
    try:
        for line in Path(str(out) + ".masked").read_text(encoding="utf-8").splitlines():
            masked = json.loads(line)
            problems.append(Problem("masked-crash", masked["error"], index_of(masked["file"])))
    except (OSError, ValueError):
        pass
    explained = any(p.kind in ("processing-failed", "output-failed") for p in problems)
    if "程序内部错误" in everything and not explained and not any(p.kind.startswith("exit-") for p in problems):
        problems.append(Problem("internal-error", _line_with(everything, "程序内部错误"), lone))
    return problems


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _line_with(text: str, needle: str) -> str:
    return next((line for line in text.splitlines() if needle in line), "")[:300]


def _traceback_line(text: str) -> str:
    """The exception line of the first traceback and its innermost sdbatch frame."""
    block = text[text.index("Traceback (most recent call last)"):]
    lines = block.splitlines()
    frames = [line.strip() for line in lines if line.strip().startswith("File ")]
    ours = [f for f in frames if "/sdbatch/" in f] or frames
    end = next((line for line in lines[1:] if line and not line.startswith(" ") and not line.startswith("Traceback")),
               "")
    where = re.sub(r'File ".*?/(sdbatch/[^"]+|[^/"]+)", line (\d+), in (\S+)', r"\1:\2 \3", ours[-1]) if ours else ""
    return f"{end[:200]} @ {where}"


def fingerprints(inbox: Path) -> dict[bytes, tuple[int, int, str]]:
    """Every regular file under the inbox (links not followed): (size, mtime, sha256)."""
    out = {}
    for folder, _dirs, names in os.walk(os.fsencode(inbox)):
        for name in names:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode):
                with open(path, "rb") as fh:
                    out[os.path.relpath(path, os.fsencode(inbox))] = (
                        info.st_size, info.st_mtime_ns, hashlib.sha256(fh.read()).hexdigest())
    return out


def outcomes(out: Path) -> Counter[str]:
    """What the run made of its inputs: each file's status (a rejection with its code), and the
    applications read, so that a summary shows how deep the inputs went."""
    seen: Counter[str] = Counter()
    try:
        doc = json.loads((out / "fuzz" / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return seen
    for f in doc.get("files", []):
        seen[f"{f.get('status')}:{f.get('error_code')}" if f.get("status") == "rejected" else str(f.get("status"))] += 1
    seen["(applications)"] += len(doc.get("applications", []))
    return seen


# ------------------------------------------------------------------------------- a campaign
@dataclass
class Tally:
    inputs: int = 0
    batches: int = 0
    problems: list[Problem] = field(default_factory=list)
    slow: list[dict[str, Any]] = field(default_factory=list)
    peak_kb: int = 0
    max_batch_wall: float = 0.0
    max_batch_cpu: float = 0.0
    max_single_cpu: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)  # file statuses and rejection codes
    lock: threading.Lock = field(default_factory=threading.Lock)


class Campaign:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.seed = str(args.seed)
        self.out = Path(args.out or ROOT / "output" / "fuzz" / self.seed)
        self.seeds = Seeds()
        self.tally = Tally()
        self.work = Path(tempfile.mkdtemp(prefix="sdbatch-fuzz-"))
        self.saved: set[tuple[str, int]] = set()

    def inputs(self, indexes: list[int]) -> list[FuzzInput]:
        return [make_input(self.seed, i, self.seeds) for i in indexes]

    def run_group(self, items: list[FuzzInput], tag: str, *, debug: bool = False,
                  verbose: bool = False) -> tuple[Child, list[Problem]]:
        place = self.work / tag
        shutil.rmtree(place, ignore_errors=True)
        inbox, outside = place / "inbox", place / "outside"
        inbox.mkdir(parents=True)
        outside.mkdir()
        for item in items:
            try:
                materialise(item, inbox, outside)
            except OSError as exc:  # e.g. a name this file system refuses
                print(f"  input {item.index}: not made ({exc})", file=sys.stderr)
        stamp = dt.datetime(2024, 6, 20, 10, 0).timestamp()
        for entry in os.scandir(os.fsencode(inbox)):
            if not entry.is_symlink() and entry.is_file():
                os.utime(entry.path, (stamp, stamp))
        timeout = self.args.timeout * (1 if len(items) == 1 else 3)
        before = fingerprints(inbox)
        child = run_cli(inbox, place / "out", timeout=timeout, mem_mb=self.args.mem_mb, debug=debug, verbose=verbose)
        problems = analyse(child, place / "out", [i.index for i in items])
        after = fingerprints(inbox)
        for name in sorted(set(before) | set(after)):  # SPEC §7: inputs are never modified
            if before.get(name) != after.get(name):
                problems.append(Problem("input-modified", os.fsdecode(name), index_of(os.fsdecode(name))))
        seen = outcomes(place / "out") if tag.startswith("b") else Counter()
        with self.tally.lock:
            self.tally.peak_kb = max(self.tally.peak_kb, child.maxrss_kb)
            self.tally.outcomes.update(seen)
        if not problems and not self.args.keep:
            shutil.rmtree(place, ignore_errors=True)
        return child, problems

    def batch(self, start: int) -> None:
        indexes = list(range(start, min(start + self.args.batch, self.args.first + self.args.n)))
        items = self.inputs(indexes)
        child, problems = self.run_group(items, f"b{start:06d}")
        with self.tally.lock:
            self.tally.batches += 1
            self.tally.inputs += len(items)
            self.tally.max_batch_wall = max(self.tally.max_batch_wall, child.wall)
            self.tally.max_batch_cpu = max(self.tally.max_batch_cpu, child.cpu)
        slow = child.cpu > self.args.slow or child.wall > 2 * self.args.slow or child.timed_out
        suspects = {p.index for p in problems if p.index is not None}
        unattributed = [p for p in problems if p.index is None]
        alone = items if (slow or unattributed) else [i for i in items if i.index in suspects]
        found: list[Problem] = []
        for item in alone:
            single, single_problems = self.run_group([item], f"s{item.index:06d}")
            with self.tally.lock:
                self.tally.max_single_cpu = max(self.tally.max_single_cpu, single.cpu)
            if single.cpu > self.args.slow or single.wall > self.args.slow or single.timed_out:
                record = {"index": item.index, "wall_s": round(single.wall, 1), "cpu_s": round(single.cpu, 1),
                          "rss_mb": single.maxrss_kb // 1024, "how": item.how}
                with self.tally.lock:
                    self.tally.slow.append(record)
                self.save(item, "slow", f"wall {single.wall:.1f} s, cpu {single.cpu:.1f} s", single)
            if single_problems:
                _, debug_problems = self.run_group([item], f"d{item.index:06d}", debug=True)
                tracebacks = [p for p in debug_problems if p.kind == "traceback"]
                for p in single_problems:
                    p.index = item.index
                    if tracebacks and p.kind in ("processing-failed", "output-failed", "internal-error"):
                        p.detail = f"{p.detail} | {tracebacks[0].detail}"
                    found.append(p)
                    self.save(item, p.kind, p.detail, single)
        batch_only = [p for p in problems if not any(q.kind == p.kind and (p.index is None or q.index == p.index)
                                                        for q in found)]
        tracebacks: list[str] = []
        if batch_only:  # an interaction between inputs: the batch again, each isolated failure logged
            verbose_child, _ = self.run_group(items, f"v{start:06d}", verbose=True)
            text = verbose_child.stderr
            tracebacks = [_traceback_line(text[m.start():]) for m in
                          re.finditer(r"Traceback \(most recent call last\)", text)]
        for p in batch_only:
            extra = f" | {tracebacks[0]}" if tracebacks and p.kind != "traceback" else ""
            p.detail = f"[batch {start}] {p.detail}{extra}"
            found.append(p)
            self.save_batch(items if p.index is None else [i for i in items if i.index == p.index], p)
        with self.tally.lock:
            self.tally.problems += found
        if found or (self.tally.batches % 20 == 0):
            print(self.progress_line(), file=sys.stderr, flush=True)

    def progress_line(self) -> str:
        t = self.tally
        kinds = Counter(p.kind for p in t.problems)
        return (f"[fuzz] {t.inputs}/{self.args.n} inputs, {t.batches} batches, problems {dict(kinds)}, "
                f"slow {len(t.slow)}, peak {t.peak_kb // 1024} MB")

    def save(self, item: FuzzInput, kind: str, detail: str, child: Child) -> None:
        key = (kind, item.index)
        if key in self.saved:
            return
        self.saved.add(key)
        folder = self.out / kind / f"{item.index:06d}"
        folder.mkdir(parents=True, exist_ok=True)
        if item.kind in ("file", "symlink", "dir") and item.data:
            (folder / os.fsdecode(entry_name(item)).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
             .replace("/", "_")).write_bytes(item.data)
        info = {**item.describe(), "seed": self.seed, "problem": kind, "detail": detail, "exit_code": child.rc,
                "stderr_tail": child.stderr[-3000:]}
        (folder / "input.json").write_text(json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8")
        (folder / "rerun.sh").write_text(
            f"#!/bin/sh\n# regenerate input {item.index} of seed {self.seed} and run it alone, with --debug\n"
            f"cd \"$(git -C \"$(dirname \"$0\")\" rev-parse --show-toplevel 2>/dev/null || echo {ROOT})\" && "
            f".venv/bin/python tools/fuzz.py --seed {self.seed} --only {item.index} --debug\n", encoding="utf-8")

    def save_batch(self, items: list[FuzzInput], problem: Problem) -> None:
        for item in items:
            self.save(item, f"batch-{problem.kind}", problem.detail, Child(0, "", "", 0, 0, 0, False))

    def close(self) -> None:
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)


# Defects that are not exceptions in issue 15's sense, counted apart.
OTHER_DEFECTS = {"reason-in-english", "english-output", "masked-crash", "input-modified", "resource-leak"}


def summary(campaign: Campaign, wall: float) -> tuple[str, dict[str, Any]]:
    t = campaign.tally
    by_kind: dict[str, list[Problem]] = defaultdict(list)
    for p in t.problems:
        by_kind[p.kind].append(p)
    exceptions = len({p.index for p in t.problems if p.kind not in OTHER_DEFECTS})
    others = len({p.index for p in t.problems if p.kind in OTHER_DEFECTS})
    lines = [f"# Fuzz summary: seed {campaign.seed}", "",
             "| figure | value |", "| --- | --- |",
             f"| command | `make fuzz N={campaign.args.n} SEED={campaign.seed}` "
             f"(batch {campaign.args.batch}, jobs {campaign.args.jobs}, first {campaign.args.first}) |",
             f"| inputs | {t.inputs} |", f"| batches (`sdbatch run`) | {t.batches} |",
             f"| inputs with an exception (exit code, traceback, internal error, processing-failed, output "
             f"failed, results.json missing/not strict/invalid, hang, out of memory) | {exceptions} |",
             f"| inputs with another defect (reason or output in English, crash reported as unreadable, "
             f"input modified, file left open) | {others} |",
             f"| slow inputs (> {campaign.args.slow:g} s alone) | {len(t.slow)} |",
             f"| peak memory (max RSS of one `sdbatch run`) | {t.peak_kb / 1024:.0f} MB |",
             f"| longest batch | {t.max_batch_wall:.1f} s wall, {t.max_batch_cpu:.1f} s CPU |",
             f"| wall time | {wall / 60:.1f} min |", ""]
    if by_kind:
        lines += ["| kind | inputs | distinct | first input | first line |", "| --- | --- | --- | --- | --- |"]
        for kind, ps in sorted(by_kind.items()):
            distinct: dict[str, Problem] = {}
            for p in ps:
                distinct.setdefault(re.sub(r"\[batch \d+\] |\d{6}-[^ ]*", "", p.detail)[:160], p)
            for n, (detail, p) in enumerate(distinct.items()):
                lines.append(f"| {kind if n == 0 else ''} | {len({q.index for q in ps}) if n == 0 else ''} | "
                             f"{len(distinct) if n == 0 else ''} | {p.index} | {detail.replace('|', '/')} |")
        lines.append("")
        lines.append(f"Failing inputs are saved under `{campaign.out}/<kind>/<index>/` (input.json, rerun.sh).")
    if t.slow:
        lines += ["", "Slow inputs:", *[f"- {s}" for s in t.slow[:50]]]
    lines += ["", "What the runs made of the inputs (file status or rejection code: count): " + ", ".join(
        f"{k} {v}" for k, v in t.outcomes.most_common())]
    doc = {"seed": campaign.seed, "n": campaign.args.n, "first": campaign.args.first, "inputs": t.inputs,
           "batches": t.batches, "exceptions": exceptions, "other_defects": others, "by_kind": {k: len({p.index for p in ps})
                                                                        for k, ps in by_kind.items()},
           "problems": [asdict(p) for p in t.problems], "slow": t.slow, "peak_rss_mb": round(t.peak_kb / 1024),
           "max_batch_wall_s": round(t.max_batch_wall, 1), "max_batch_cpu_s": round(t.max_batch_cpu, 1),
           "max_single_cpu_s": round(t.max_single_cpu, 1), "wall_s": round(wall, 1),
           "outcomes": dict(t.outcomes.most_common())}
    return "\n".join(lines), doc


# ------------------------------------------------------------------------------- shrinking
def shrink(path: Path, *, rounds: int = 400) -> bytes:
    """A smaller input that fails the same way (in process: ``batch.run_batch`` with ``debug``).

    Zip packages lose members, then XML elements (cells, rows, strings, styles) of each member;
    text loses lines, then fields; anything else loses chunks of bytes (delta debugging)."""
    data = path.read_bytes()
    name = path.name
    signature = failure_signature(name, data)
    if signature is None:
        raise SystemExit(f"{path}: no failure to keep while shrinking")
    print(f"shrinking {name} ({len(data)} bytes) keeping {signature}", file=sys.stderr)
    budget = [rounds]

    def keeps(candidate: bytes) -> bool:
        if budget[0] <= 0:
            return False
        budget[0] -= 1
        return failure_signature(name, candidate) == signature

    if data[:2] == b"PK":
        data = _shrink_zip(data, keeps)
    else:
        if b"\0" not in data[:4096]:
            data = _shrink_parts(data, b"\n", keeps)
            data = _shrink_parts(data, b",", keeps)
        if len(data) <= 4096:
            data = _shrink_parts(data, None, keeps)
    print(f"  -> {len(data)} bytes", file=sys.stderr)
    return data


def failure_signature(name: str, data: bytes) -> str | None:
    """The exception type and innermost sdbatch frame of the run over an inbox of this one file."""
    import traceback

    from sdbatch.batch import RunOptions, run_batch

    with tempfile.TemporaryDirectory() as tmp:
        inbox = Path(tmp) / "inbox"
        inbox.mkdir()
        (inbox / name).write_bytes(data)
        options = RunOptions(out_dir=Path(tmp) / "out", now=NOW, run_id="shrink", debug=True, quiet=True,
                             address_book=ADDRESS_BOOK, mail_mode="all")
        try:
            outcome = run_batch(inbox, options)
        except Exception as exc:  # noqa: BLE001 - the failure being kept
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/sdbatch/" in f.filename]
            where = f"{Path(frames[-1].filename).name}:{frames[-1].name}" if frames else "?"
            return f"{type(exc).__name__}@{where}"
        run_dir = outcome.run_dir
        if run_dir is not None:
            try:
                _strict_json((run_dir / "results.json").read_text(encoding="utf-8"))
            except ValueError:
                return "results-not-strict-json"
    return None


def _shrink_parts(data: bytes, sep: bytes | None, keeps: Any) -> bytes:
    """ddmin over lines (``sep``) or bytes (``sep`` None)."""
    parts: list[bytes] = data.split(sep) if sep else [data[i:i + 1] for i in range(len(data))]
    if sep is None and len(parts) > 20000:
        return data
    join = (sep or b"").join
    parts = _ddmin(parts, lambda candidate: bool(candidate) and keeps(join(candidate)))
    return join(parts)


def _rezip(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for filename, body in members:
            info = zipfile.ZipInfo(filename, (2024, 6, 20, 10, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(info, body)
    return buf.getvalue()


OUTER_ELEMENTS = (rb"row|si|xf|font|fill|border|numFmt|col|sheet|definedName|mergeCell|table:table-row|Override|"
                  rb"Relationship|cellStyleXfs|cellStyles|dxfs|tableStyles|extLst|sheetViews|pageMargins|"
                  rb"sheetFormatPr|cols|colors|rPr|sheetPr|dimension|pageSetup|headerFooter|dataValidations")
INNER_ELEMENTS = rb"c|table:table-cell|r"


def _ddmin(items: list[Any], keeps: Any) -> list[Any]:
    """The smallest sublist (by removing chunks, halving their size) for which ``keeps`` holds."""
    chunk = max(len(items) // 2, 1)
    while items and chunk >= 1:
        i, changed = 0, False
        while i < len(items):
            candidate = items[:i] + items[i + chunk:]
            if keeps(candidate):
                items, changed = candidate, True
            else:
                i += chunk
        if not changed:
            chunk //= 2
    return items


def _shrink_zip(data: bytes, keeps: Any) -> bytes:
    try:
        src = zipfile.ZipFile(io.BytesIO(data))
        members = [(i.filename, src.read(i)) for i in src.infolist()]
    except Exception:  # noqa: BLE001 - a damaged archive shrinks as bytes
        return data
    rezipped = _rezip(members)
    if not keeps(rezipped):
        return data
    i = 0
    while i < len(members):  # drop whole members
        candidate = members[:i] + members[i + 1:]
        if keeps(_rezip(candidate)):
            members = candidate
        else:
            i += 1
    for tags in (OUTER_ELEMENTS, INNER_ELEMENTS):  # whole rows and strings first, then single cells
        element = re.compile(rb"<(" + tags + rb")\b(?:[^>]*/>|.*?</\1>)", re.S)
        for n, (filename, body) in enumerate(list(members)):
            if not filename.endswith((".xml", ".rels")):
                continue
            spans = [m.span() for m in element.finditer(body)]
            if not spans:
                continue

            def without(kept: list[tuple[int, int]], body: bytes = body, spans: list[tuple[int, int]] = spans) -> bytes:
                keep = set(kept)
                out, last = [], 0
                for start, end in spans:
                    if (start, end) not in keep:
                        out.append(body[last:start])
                        last = end
                out.append(body[last:])
                return b"".join(out)

            def trial(kept: list[tuple[int, int]], before: list[tuple[str, bytes]] = members[:n],
                      after: list[tuple[str, bytes]] = members[n + 1:], filename: str = filename) -> bool:
                return keeps(_rezip([*before, (filename, without(kept)), *after]))

            kept = _ddmin(spans, trial)
            members = members[:n] + [(filename, without(kept))] + members[n + 1:]
    return _rezip(members)


def replay(campaign: Campaign, paths: list[Path]) -> int:
    """Each saved input alone through ``sdbatch run``: wall and CPU time, peak RSS, problems."""
    files = sorted(f for p in paths for f in ([p] if p.is_file() else p.rglob("*"))
                   if f.is_file() and f.name != "README.md")
    status = 0
    print("| file | exit | wall s | CPU s | peak MB | problems |\n| --- | --- | --- | --- | --- | --- |")
    for n, path in enumerate(files):
        item = FuzzInput(n, path.name.encode(), data=path.read_bytes(), how=[f"replay:{path}"])
        child, problems = campaign.run_group([item], f"r{n:06d}")
        slow = child.cpu > campaign.args.slow or child.wall > campaign.args.slow
        status |= bool(problems) or slow
        print(f"| {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} | {child.rc} | {child.wall:.1f} | "
              f"{child.cpu:.1f} | {child.maxrss_kb // 1024} | "
              f"{'; '.join(f'{p.kind}: {p.detail[:80]}' for p in problems) or ('slow' if slow else '')} |")
    campaign.close()
    return int(status)


# ------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1000, help="inputs to run")
    parser.add_argument("--seed", default="1", help="campaign seed (inputs are made from it and their index)")
    parser.add_argument("--first", type=int, default=0, help="index of the first input")
    parser.add_argument("--batch", type=int, default=25, help="inputs per `sdbatch run`")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before one input is a hang")
    parser.add_argument("--slow", type=float, default=10.0, help="seconds that make one input slow")
    parser.add_argument("--mem-mb", type=int, default=3072, help="address-space cap of each run (MB)")
    parser.add_argument("--out", default=None, help="where failing inputs and the summary go")
    parser.add_argument("--only", default=None, help="comma-separated indexes: regenerate and run these alone")
    parser.add_argument("--write-to", default=None, help="with --only: just write the inputs into this folder")
    parser.add_argument("--debug", action="store_true", help="with --only: run with --debug, show the output")
    parser.add_argument("--keep", action="store_true", help="keep every batch's inbox and output")
    parser.add_argument("--shrink", default=None, help="minimise this failing file; writes <name>.min beside it")
    parser.add_argument("--replay", nargs="+", default=None, metavar="PATH",
                        help="run each file (or each file in each folder) alone; report time, memory, problems")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # the writers' notes on odd generated tables

    if args.shrink:
        path = Path(args.shrink)
        smaller = shrink(path)
        target = path.with_name(path.name + ".min")
        target.write_bytes(smaller)
        print(target)
        return 0
    campaign = Campaign(args)
    if args.replay:
        return replay(campaign, [Path(p) for p in args.replay])
    if args.only:
        indexes = [int(x) for x in args.only.split(",") if x.strip()]
        items = campaign.inputs(indexes)
        if args.write_to:
            place = Path(args.write_to)
            place.mkdir(parents=True, exist_ok=True)
            outside = place.parent / (place.name + "-outside")
            outside.mkdir(exist_ok=True)
            for item in items:
                materialise(item, place, outside)
                print(json.dumps(item.describe(), ensure_ascii=False))
            return 0
        status = 0
        for item in items:
            child, problems = campaign.run_group([item], f"only{item.index:06d}", debug=args.debug)
            print(json.dumps(item.describe(), ensure_ascii=False))
            print(f"exit {child.rc}, {child.wall:.1f} s wall, {child.cpu:.1f} s CPU, {child.maxrss_kb // 1024} MB")
            if args.debug:
                print(child.stderr[-5000:])
            for p in problems:
                print(f"  {p.kind}: {p.detail}")
                status = 1
        campaign.close()
        return status
    t0 = time.perf_counter()
    starts = list(range(args.first, args.first + args.n, args.batch))
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stopped: the summary of what ran
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(args.jobs, 1))
    try:
        for future in concurrent.futures.as_completed([pool.submit(campaign.batch, s) for s in starts]):
            future.result()
    except KeyboardInterrupt:
        print("[fuzz] stopped: the batches under way finish, the rest are dropped", file=sys.stderr)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        report, doc = summary(campaign, time.perf_counter() - t0)
        campaign.out.mkdir(parents=True, exist_ok=True)
        (campaign.out / "summary.md").write_text(report + "\n", encoding="utf-8")
        (campaign.out / "summary.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
        print(report)
        campaign.close()
    return 1 if doc["exceptions"] or doc["other_defects"] or doc["slow"] else 0


if __name__ == "__main__":
    sys.exit(main())
