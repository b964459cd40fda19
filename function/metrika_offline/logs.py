"""Structured logs: one JSON object per line on stdout, as Cloud Logging reads them.

Every line carries `severity` and `message`, plus the object being worked on (bucket, name,
generation, part) from a context variable, so that one file's story can be filtered out of
the log stream. Registered secrets are masked in every line, whatever the code that logged.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import threading
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import IO, Any

LOGGER_NAME = "metrika_offline"
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "metrika_offline_log_context", default=MappingProxyType({})
)
_secrets: set[str] = set()
_secrets_lock = threading.Lock()
MASK = "***"

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def register_secret(value: str) -> None:
    """Mask `value` wherever it would appear in a log line."""
    if len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by `***`."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields (bucket, name, generation, part…) to every line logged inside the block."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: severity, message, context, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelno, record.levelname),
            "message": record.getMessage(),
            "logger": record.name,
        }
        entry.update(_context.get())
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


def configure(level: str = "INFO", stream: IO[str] | None = None) -> logging.Logger:
    """Send the package's logs, as JSON lines, to `stream` (stdout by default). Idempotent."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level.upper())
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.propagate = False
    return logger


def get_logger(name: str) -> logging.Logger:
    """A child of the package logger (`metrika_offline.<name>`)."""
    return logging.getLogger(f"{LOGGER_NAME}.{name}")
