#!/usr/bin/env python3
"""Which B-trees a SQLite data file's commits write, read from its WAL.

    scripts/wal-pages.py <data file> [commits=400]

Copy the data file and its `-wal` while a benchmark runs (the server restarts the WAL only
past 64 MiB), then run this on the copy: it prints how many frames (pages) each commit wrote
and, over the last `commits` commits, how many pages per commit each table or index took
(page owners from SQLite's `dbstat`). Used for README, "No index entry for succeeded
deliveries".
"""
import collections
import shutil
import sqlite3
import struct
import sys
import tempfile
from pathlib import Path

WAL_HEADER, FRAME_HEADER = 32, 24


def commits_in(wal: bytes) -> list[list[int]]:
    page_size = struct.unpack(">I", wal[8:12])[0]
    commits, current, offset = [], [], WAL_HEADER
    while offset + FRAME_HEADER + page_size <= len(wal):
        page, size_after_commit = struct.unpack(">II", wal[offset : offset + 8])
        current.append(page)
        if size_after_commit:
            commits.append(current)
            current = []
        offset += FRAME_HEADER + page_size
    return commits


def owners(data: Path, wal: Path) -> dict[int, str]:
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "copy.db"
        shutil.copy(data, copy)
        shutil.copy(wal, f"{copy}-wal")
        conn = sqlite3.connect(copy)
        try:
            return {page: name for name, page in conn.execute("SELECT name, pageno FROM dbstat")}
        finally:
            conn.close()


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    data = Path(sys.argv[1])
    last = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    wal = Path(f"{data}-wal")
    commits = commits_in(wal.read_bytes())
    if not commits:
        sys.exit(f"{wal}: no committed frames")
    frames = sum(len(commit) for commit in commits)
    print(f"{len(commits)} commits, {frames} frames, {frames / len(commits):.2f} per commit")
    owner = owners(data, wal)
    recent = commits[-last:]
    tally = collections.Counter(owner.get(page, "?") for commit in recent for page in commit)
    for name, pages in tally.most_common():
        print(f"{pages / len(recent):6.2f} pages per commit  {name}")


if __name__ == "__main__":
    main()
