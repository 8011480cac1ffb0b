"""More hostile inputs (a second look from outside): cells at the far end of a sheet, lines of
commas, links out of the inbox, hidden files, GBK-byte file names, invisible characters."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from sdbatch.batch import RunOptions, evaluate, scan_inbox
from sdbatch.model import FileRejected
from sdbatch.reading import read_workbook
from tests.decision_builders import COLUMNS, city_file, header_label, row
from tests.test_hostile import replace_members, xlsx_bytes, zipfile_members


def far_cell_xlsx(ref: str) -> bytes:
    """A valid small workbook plus one value at ``ref`` (e.g. XFD1048576)."""
    data = xlsx_bytes([["集群名称", "所在市"], ["某集群", "济南市"]])
    sheet = zipfile_members(data)["xl/worksheets/sheet1.xml"]
    row_no = "".join(ch for ch in ref if ch.isdigit())
    far = f'<row r="{row_no}"><c r="{ref}" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'.encode()
    return replace_members(data, {"xl/worksheets/sheet1.xml": sheet.replace(b"</sheetData>", far)})


@pytest.mark.parametrize("ref", ["XFD1048576", "SR200000", "W1048576"])
def test_a_value_far_away_is_rejected_before_any_reader_lays_it_out(tmp_path: Path, ref: str) -> None:
    path = tmp_path / "远端单元格.xlsx"
    path.write_bytes(far_cell_xlsx(ref))
    with pytest.raises(FileRejected) as caught:
        read_workbook(path)
    assert caught.value.code == "file-too-large"


def test_styled_empty_cells_far_below_do_not_count(tmp_path: Path) -> None:
    data = xlsx_bytes([["集群名称", "所在市"], ["某集群", "济南市"]])
    sheet = zipfile_members(data)["xl/worksheets/sheet1.xml"]
    styled = b'<row r="1048576"><c r="W1048576" s="0"/></row></sheetData>'
    path = tmp_path / "样式.xlsx"
    path.write_bytes(replace_members(data, {"xl/worksheets/sheet1.xml": sheet.replace(b"</sheetData>", styled)}))
    raw = read_workbook(path)
    assert len(raw.sheets[0].rows) == 2


def test_a_line_of_commas_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "逗号.csv"
    path.write_bytes(b"," * (3 * 1024 * 1024) + b"\n")
    with pytest.raises(FileRejected) as caught:
        read_workbook(path)
    assert caught.value.code == "file-too-large"


def test_links_and_hidden_files_are_listed_not_followed(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    city_file(inbox, "济南市", [row(name="济南链接测试集群")])
    secret = tmp_path / "outside.csv"
    secret.write_text("所在市,集群名称\n济南市,外部\n", encoding="utf-8")
    os.symlink(secret, inbox / "链接.csv")
    (inbox / ".隐藏.xlsx").write_bytes(b"x")
    records = {r.file: r for r in scan_inbox(inbox)}
    assert records["链接.csv"].status == "ignored"
    assert [f.code for f in records["链接.csv"].findings] == ["symlink-ignored"]
    assert records[".隐藏.xlsx"].status == "ignored"
    result = evaluate(inbox, RunOptions(out_dir=tmp_path / "out"))
    assert [a.name for a in result.applications] == ["济南链接测试集群"]


def test_gbk_byte_file_name_is_read_and_named(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    good = city_file(inbox, "淄博市", [row(name="淄博编码测试集群")])
    gbk = "淄博市汇总表.xlsx".encode("gb18030")
    os.rename(good, os.path.join(os.fsencode(inbox), gbk))
    result = evaluate(inbox, RunOptions(out_dir=tmp_path / "out"))
    assert [f.file for f in result.files] == ["淄博市汇总表.xlsx"]
    assert [a.name for a in result.applications] == ["淄博编码测试集群"]


def test_invisible_characters_leave_names(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = row(name="聊城\u202e集群\x1b[31m名称", city="聊城市")
    with (inbox / "聊城市汇总表.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)  # openpyxl refuses such characters; a CSV carries them
        writer.writerow([header_label(c) for c in COLUMNS])
        writer.writerow([data.get(c) for c in COLUMNS])
    result = evaluate(inbox, RunOptions(out_dir=tmp_path / "out"))
    assert [a.name for a in result.applications] == ["聊城集群[31m名称"]
