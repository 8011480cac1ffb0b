"""Render what people receive to PDF and PNG pages, to look at them as printed (``make render``).

    python tools/render.py [RUN_DIR] [--out DIR] [--templates DIR] [--only GLOB] [--no-install] [--dpi N]

RUN_DIR defaults to the newest run folder under ``output/``.  Every workbook of the run (each
city's review workbook, the department's lists), the body of every e-mail draft (``mail/*.eml``)
and the blank templates (``templates/xlsx/``) are converted with LibreOffice headless
(``soffice --headless --convert-to pdf``) and each PDF page to a PNG with ``pdftoppm``
(poppler-utils).  Output: ``output/render/<run-id>/`` (``pdf/``, ``png/``, ``mail/`` bodies as text).

When LibreOffice, pdftoppm or a Chinese font is missing, the Debian packages are installed with
apt-get (root, or sudo when there is one); the command is printed before it runs.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
from email import policy
from email.parser import BytesParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The smallest Debian set that converts xlsx (calc) and text (writer) without a desktop, pdftoppm,
# and a Chinese font (without one every Chinese character prints as a box).
PACKAGES = {
    "soffice": ["libreoffice-calc-nogui", "libreoffice-writer-nogui"],
    "writer": ["libreoffice-writer-nogui"],
    "pdftoppm": ["poppler-utils"],
    "cjk-font": ["fonts-wqy-microhei"],
    # metric-compatible with Calibri, Excel's default font: columns print as wide as in Excel
    "calibri-metrics": ["fonts-crosextra-carlito"],
}


def say(line: str) -> None:
    print(line, flush=True)


def _has_writer() -> bool:
    return any(Path(p).exists() for p in ("/usr/lib/libreoffice/program/libswlo.so",
                                          "/usr/lib/libreoffice/program/swriter"))


def _has_font(pattern: str) -> bool:
    if not shutil.which("fc-list"):
        return False
    out = subprocess.run(["fc-list", pattern, "family"], capture_output=True, text=True, check=False).stdout
    return bool(out.strip())


def missing_packages() -> list[str]:
    wanted: list[str] = []
    if not shutil.which("soffice"):
        wanted += PACKAGES["soffice"]
    elif not _has_writer():
        wanted += PACKAGES["writer"]
    if not shutil.which("pdftoppm"):
        wanted += PACKAGES["pdftoppm"]
    if not _has_font(":lang=zh"):
        wanted += PACKAGES["cjk-font"]
    if not _has_font("Carlito"):
        wanted += PACKAGES["calibri-metrics"]
    return list(dict.fromkeys(wanted))


def install(packages: list[str]) -> None:
    if not packages:
        return
    if not shutil.which("apt-get"):
        sys.exit(f"缺少 {' '.join(packages)}，且本机没有 apt-get：请手工安装后重试。")
    prefix: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            sys.exit(f"需要安装 {' '.join(packages)}（需要 root 权限）：\n"
                     f"  apt-get install -y --no-install-recommends {' '.join(packages)}")
        prefix = ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (prefix + ["apt-get", "update", "-q"],
                    prefix + ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]):
        say("+ " + " ".join(command))
        subprocess.run(command, check=True, env=env)


def newest_run(output: Path) -> Path:
    runs = [p for p in output.iterdir() if p.is_dir() and (p / "results.json").exists()]
    if not runs:
        sys.exit(f"{output} 中没有运行结果：请先运行 make demo。")
    return max(runs, key=lambda p: p.name)


def mail_bodies(run_dir: Path, target: Path) -> list[Path]:
    """Each draft's subject and plain-text body as a UTF-8 text file."""
    out = []
    target.mkdir(parents=True, exist_ok=True)
    for eml in sorted((run_dir / "mail").glob("*.eml")):
        with eml.open("rb") as fh:
            msg = BytesParser(policy=policy.default).parse(fh)
        body = msg.get_body(("plain",))
        content = body.get_content() if body is not None else ""
        attachments = [part.get_filename() or "" for part in msg.iter_attachments()]
        head = [f"主题：{msg['Subject']}", f"收件人：{msg.get('To', '')}", f"附件：{'、'.join(attachments)}", "", ""]
        path = target / f"{eml.stem}_邮件.txt"
        path.write_text("\n".join(head) + content, encoding="utf-8")
        out.append(path)
    return out


def convert(files: list[Path], pdf_dir: Path, filter_: str | None = None) -> None:
    """One soffice process for many files, with a private profile (safe beside other users)."""
    if not files:
        return
    pdf_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sdbatch-lo-") as profile:
        command = ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--norestore"]
        if filter_:
            command.append(f"--infilter={filter_}")
        command += ["--convert-to", "pdf", "--outdir", str(pdf_dir), *map(str, files)]
        say(f"+ soffice --headless --convert-to pdf （{len(files)} 个文件）")
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def to_png(pdf_dir: Path, png_dir: Path, dpi: int) -> int:
    png_dir.mkdir(parents=True, exist_ok=True)
    pages = 0
    for pdf in sorted(pdf_dir.glob("*.pdf")):
        subprocess.run(["pdftoppm", "-png", "-r", str(dpi), str(pdf), str(png_dir / pdf.stem)], check=True)
    pages = len(list(png_dir.glob("*.png")))
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "output" / "render")
    parser.add_argument("--templates", type=Path, default=ROOT / "templates" / "xlsx")
    parser.add_argument("--no-install", action="store_true")
    parser.add_argument("--dpi", type=int, default=80)
    parser.add_argument("--only", help="only the files whose name matches this pattern (e.g. '*名单*')")
    args = parser.parse_args(argv)

    missing = missing_packages()
    if missing and args.no_install:
        sys.exit(f"缺少 {' '.join(missing)}：请安装后重试（或去掉 --no-install）。")
    install(missing)

    run_dir = args.run_dir or newest_run(ROOT / "output")
    target = args.out / run_dir.name
    if target.exists():
        shutil.rmtree(target)
    pdf_dir, png_dir = target / "pdf", target / "png"
    workbooks = sorted(run_dir.glob("*.xlsx")) + sorted(args.templates.glob("*.xlsx"))
    bodies = mail_bodies(run_dir, target / "mail")
    if args.only:
        workbooks = [p for p in workbooks if fnmatch.fnmatch(p.name, args.only)]
        bodies = [p for p in bodies if fnmatch.fnmatch(p.name, args.only)]
    if not (run_dir / "mail").is_dir():
        say(f"提示：{run_dir} 没有邮件草稿（该次运行没有需要发信的城市）。")
    say(f"渲染 {run_dir} -> {target}")
    convert(workbooks, pdf_dir)
    convert(bodies, pdf_dir, "Text (encoded):UTF8,LF,,,")
    pages = to_png(pdf_dir, png_dir, args.dpi)
    pdfs = len(list(pdf_dir.glob("*.pdf")))
    say(f"完成：{pdfs} 个 PDF，{pages} 页 PNG，在 {target}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
