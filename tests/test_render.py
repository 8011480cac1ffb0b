"""``make render`` (tools/render.py) turns what people receive into PDF pages and PNG images.

It needs LibreOffice, pdftoppm and a Chinese font; a machine without them skips this test (the
tool itself offers to install them, never from a test).  Here one city's run goes through it:
its review workbook and its e-mail body become PDFs with pages, each page a PNG, and the body's
text file says who the e-mail is for and what it carries.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sdbatch.batch import RunOptions, run_batch
from tests.builders import summary_sheet, valid_row, write

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import render  # noqa: E402  (tools/ is not a package)

pytestmark = pytest.mark.skipif(bool(render.missing_packages()),
                                reason="no LibreOffice, pdftoppm or Chinese font on this machine")

BOOK = """
from = "审核组 <shenhe@gxt.shandong.example>"

[cities."济南市"]
to = ["szjj@jinan.example"]
"""


def test_a_review_and_its_mail_render_to_pages(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write(inbox / "济南市数字产业集群申报信息汇总表.xlsx",
          summary_sheet([valid_row(1), valid_row(2, name="济南受测第二集群", phone="12345")]).sheet)
    book = tmp_path / "book.toml"
    book.write_text(BOOK, encoding="utf-8")
    outcome = run_batch(inbox, RunOptions(out_dir=tmp_path / "out", quiet=True, mail_mode="all", address_book=book))
    assert outcome.run_dir is not None, outcome.message
    target = tmp_path / "render"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "render.py"), str(outcome.run_dir), "--out",
                           str(target), "--templates", str(tmp_path / "no-templates"), "--only", "济南市*",
                           "--no-install"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    done = target / outcome.run_dir.name
    pdfs = sorted(p.name for p in (done / "pdf").glob("*.pdf"))
    assert pdfs == ["济南市_审核意见.pdf", "济南市_邮件.pdf"]
    for pdf in (done / "pdf").glob("*.pdf"):
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    pngs = list((done / "png").glob("*.png"))
    assert len(pngs) >= 2 and all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)
    body = (done / "mail" / "济南市_邮件.txt").read_text(encoding="utf-8")
    assert "szjj@jinan.example" in body and "济南市_审核意见.xlsx" in body
