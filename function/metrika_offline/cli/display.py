"""What the CLI shows on stderr: progress bars on a terminal, notes and retries always.

Bars are tqdm's (bytes, rows, rate, ETA), imported only when stderr is a terminal, so a script
or a pipe pays nothing for them; the function never imports this module (import-linter holds
it). Log records stay off stderr unless `--verbose`, except Metrica's retries, which become one
line a person reads: `503 backend_error, retrying in 2 s (2/6)`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

from metrika_offline import logs
from metrika_offline.flow.observe import Meter

#: How often a bar is redrawn at most.
REFRESH_S = 0.2


class _Bar:
    """One phase drawn as a tqdm bar; rows shown beside the bytes."""

    def __init__(self, label: str, total: int | None, stream: IO[str], rows: int | None) -> None:
        from tqdm import tqdm  # only on a terminal: see the module docstring

        self._bar = tqdm(
            total=total,
            desc=label,
            unit="B",
            unit_scale=True,
            unit_divisor=1000,
            file=stream,
            mininterval=REFRESH_S,
            leave=True,
            dynamic_ncols=True,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
            "[{elapsed}<{remaining}, {rate_fmt}{postfix}]"
            if total
            else "{desc}: {n_fmt} [{elapsed}, {rate_fmt}{postfix}]",
        )
        self._rows = rows
        self._shown_rows = 0.0

    def update(self, done: int | None = None, rows: int | None = None) -> None:
        if rows is not None:
            self._rows = rows
        step = 0 if done is None else done - self._bar.n
        if step > 0:
            if self._rows is not None and time.monotonic() - self._shown_rows >= REFRESH_S:
                self._shown_rows = time.monotonic()
                self._bar.set_postfix_str(f"{self._rows:,} rows", refresh=False)
            self._bar.update(step)

    def close(self) -> None:
        if self._rows is not None:
            self._bar.set_postfix_str(f"{self._rows:,} rows", refresh=False)
        if self._bar.total and self._bar.n < self._bar.total:
            self._bar.refresh()
        self._bar.close()


class _Silent:
    def update(self, done: int | None = None, rows: int | None = None) -> None:
        pass

    def close(self) -> None:
        pass


class Display:
    """The CLI's observer: bars when `stream` is a terminal, notes in any case."""

    def __init__(self, stream: IO[str] | None = None, *, bars: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.bars = self.stream.isatty() if bars is None else bars

    def phase(self, label: str, total: int | None, *, rows: int | None = None) -> Meter:
        return _Bar(label, total, self.stream, rows) if self.bars else _Silent()

    def note(self, message: str) -> None:
        line = f"metrika-offline: {message}"
        if self.bars:
            from tqdm import tqdm

            tqdm.write(line, file=self.stream)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()


class _RetryNotes(logging.Handler):
    """Metrica's retries as one line each on the display; every other record dropped."""

    def __init__(self, display: Display) -> None:
        super().__init__(logging.WARNING)
        self.display = display

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "event", None) != "metrika_retry":
            return
        fields: dict[str, Any] = vars(record)
        status = int(fields.get("http_status") or 0)
        what = f"{status} {fields.get('error_type') or ''}".strip() if status else "no answer"
        delay = float(fields.get("delay_s") or 0.0)
        attempt = int(fields.get("attempt") or 1) + 1
        total = fields.get("max_attempts")
        of = f" ({attempt}/{total})" if total else ""
        self.display.note(f"{what}, retrying in {delay:.0f} s{of}")


@contextlib.contextmanager
def people_logs(display: Display, *, verbose: bool) -> Iterator[None]:
    """The package's logs, while a command runs: JSON on stderr with `verbose`, else only
    Metrica's retries, as notes. The logger is left as it was found."""
    logger = logging.getLogger(logs.LOGGER_NAME)
    saved = (logger.level, list(logger.handlers), logger.propagate)
    if verbose:
        logs.configure("INFO", display.stream)
    else:
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.setLevel(logging.WARNING)
        logger.addHandler(_RetryNotes(display))
        logger.propagate = False
    try:
        yield
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        level, handlers, propagate = saved
        for handler in handlers:
            logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
