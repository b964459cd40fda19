"""What a person sees: `metrika-offline process` on a 200 MB file, run under a pseudo-terminal.

A dirty 200 MB CALLS export (the core benchmark's generator) is processed against the fake
Metrica in its own process, in parts of 80 MB, with stderr a terminal (100 columns), so the
progress bars are drawn as they would be for a person. The bytes the command writes are fed
to a small terminal emulator (carriage return, line feed, cursor up, erase line: what tqdm
uses); the screen is recorded every few seconds and at the end, and written to
docs/cli-progress.md.

    python -c "from tests.bench import capture_progress; capture_progress.main()"
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from tests.bench.bench_core import BENCH_DIR, CLI, MB, ROOT, generate
from tests.bench.bench_upload import fake_server

SIZE = int(os.environ.get("CAPTURE_MB", "200")) * MB
PART_BYTES = 80 * MB
COLUMNS, ROWS = 100, 30
SNAPSHOT_EVERY_S = 0.5
OUT = ROOT / "docs" / "cli-progress.md"
_ESCAPE = re.compile(rb"\x1b\[(\d*)([A-Za-z])")


class Screen:
    """Just enough of a terminal for progress bars: \\r, \\n, ESC[nA, ESC[K / ESC[2K."""

    def __init__(self) -> None:
        self.lines: list[str] = [""]
        self.row = self.col = 0

    def feed(self, data: bytes) -> None:
        position = 0
        while position < len(data):
            escape = _ESCAPE.match(data, position)
            if escape is not None:
                self._escape(int(escape[1] or 1), escape[2].decode())
                position = escape.end()
                continue
            char = data[position : position + 1]
            if char == b"\x1b":  # an escape we do not draw
                position += 1
                continue
            end = position + 1
            while end < len(data) and (data[end] & 0xC0) == 0x80:
                end += 1  # the rest of a UTF-8 character
            self._put(data[position:end].decode("utf-8", "replace"))
            position = end

    def _escape(self, count: int, command: str) -> None:
        if command == "A":
            self.row = max(0, self.row - count)
        elif command == "K":
            self.lines[self.row] = self.lines[self.row][: self.col]

    def _put(self, char: str) -> None:
        if char == "\r":
            self.col = 0
        elif char == "\n":
            self.row += 1
            self.col = 0
            while len(self.lines) <= self.row:
                self.lines.append("")
        elif char.isprintable():
            line = self.lines[self.row].ljust(self.col)
            self.lines[self.row] = line[: self.col] + char + line[self.col + 1 :]
            self.col += 1

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.lines).rstrip() + "\n"


def run(source: Path, api_url: str) -> tuple[list[tuple[float, str]], str, int, float]:
    """Run the command on a pseudo-terminal: snapshots (time, screen), the final screen, the
    exit code and the seconds it took."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    argv = [str(CLI), "process", source.name, "--counter", "51234567", "--type", "CALLS"]
    argv += ["--max-part-bytes", str(PART_BYTES)]
    env = {**os.environ, "METRIKA_TOKEN": "fake-metrika-token", "METRIKA_API_URL": api_url}
    env["COLUMNS"] = str(COLUMNS)
    screen = Screen()
    screen.feed(f"$ metrika-offline process {source.name} --counter 51234567 --type CALLS "
                f"--max-part-bytes {PART_BYTES}\r\n".encode())  # fmt: skip
    started = time.monotonic()
    child = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=source.parent
    )
    os.close(slave)
    snapshots: list[tuple[float, str]] = []
    next_shot = started + SNAPSHOT_EVERY_S
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed its side
                break
            if not data:
                break
            screen.feed(data)
        now = time.monotonic()
        if now >= next_shot:
            snapshots.append((now - started, screen.text()))
            next_shot = now + SNAPSHOT_EVERY_S
    code = child.wait()
    os.close(master)
    return snapshots, screen.text(), code, time.monotonic() - started


_EXIT = {0: "every valid row went", 1: "rows were left out", 2: "a usage error"}
_BAR = re.compile(r"^(?P<phase>[^:]+):\s+(?P<pct>\d+)%")


def pick(snapshots: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """One snapshot per phase caught midway (checking, each part's upload), in order."""
    chosen: dict[str, tuple[float, str]] = {}
    for at, text in snapshots:
        bar = _BAR.match(text.rstrip().splitlines()[-1])
        if bar is None:
            continue
        phase, pct = bar["phase"], int(bar["pct"])
        if phase not in chosen or (15 <= pct <= 90 and not _midway(chosen[phase][1])):
            chosen[phase] = (at, text)
    return sorted(chosen.values())


def _midway(text: str) -> bool:
    bar = _BAR.match(text.rstrip().splitlines()[-1])
    return bar is not None and 15 <= int(bar["pct"]) <= 90


def main() -> None:
    source = BENCH_DIR / "capture" / f"calls-{SIZE // MB}mb.csv"
    generate(source, "dirty", SIZE)
    for leftover in source.parent.glob(source.name + ".*"):
        leftover.unlink()  # a fresh run: no result, no job from an earlier capture
    work = source.parent / ".metrika-offline"
    if work.exists():
        subprocess.run(["rm", "-rf", str(work)], check=True)
    with fake_server() as (url, _):
        snapshots, final, code, took = run(source, url)
    shots = pick(snapshots)
    parts = [f"```\n{text}```\n\n*after {at:.0f} s*\n" for at, text in shots]
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(
        "# What `process` shows on a terminal\n\n"
        f"`metrika-offline process` on a {SIZE // MB} MB CALLS export (dirty: repaired phones, "
        "a few bad prices and repeated rows), against the fake Metrica in its own process, in "
        f"parts of {PART_BYTES // MB} MB, run under a pseudo-terminal of {COLUMNS} columns by "
        "`tests/bench/capture_progress.py` and drawn by a small terminal emulator. Progress "
        "goes to stderr only when it is a terminal; in a pipe or a script the same command "
        "prints the summary alone.\n\n"
        "## While it runs\n\n" + "\n".join(parts) + "\n## At the end\n\n"
        f"```\n{final}```\n\n"
        f"Exit code {code} ({_EXIT[code]}), {took:.0f} s in all on a shared 2-core machine.\n"
    )
    sys.stdout.write(final)
    print(f"exit {code} after {took:.0f} s; written to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
