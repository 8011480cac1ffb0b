"""Give the sample files the times the cities "sent" them (git does not keep file times).

    python tools/set_received_times.py [INBOX] [MANIFEST]

The batch takes a file's modification time as the time it was received (the deadline check);
`make demo` runs this first so that the demo shows only the one late file the samples intend.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def apply(inbox: Path, manifest: Path) -> int:
    times = json.loads(manifest.read_text(encoding="utf-8"))
    done = 0
    for name, when in times.items():
        path = inbox / name
        if path.exists():
            stamp = dt.datetime.fromisoformat(when).timestamp()
            os.utime(path, (stamp, stamp))
            done += 1
    return done


if __name__ == "__main__":
    inbox = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "samples" / "inbox"
    manifest = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "samples" / "received.json"
    print(f"已设置 {apply(inbox, manifest)} 个示例文件的接收时间")
