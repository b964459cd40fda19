"""The check report: what was found in a file, where, and what became of its rows.

Shape of `Report.to_json()` (stable: the result JSON embeds it and its schema is built from it)::

    {
      "valid": bool,                 # something to upload, and the file was not rejected
      "type": "BASIC" | "CALLS" | "CHATS",
      "encoding": "utf-8" | "utf-8-sig" | "windows-1251",
      "delimiter": "," | ";" | "\\t" | null,       # null when no header was read
      "columns": [str, ...],         # the header written to the parts (canonical names)
      "rows": {"total": int, "valid": int, "invalid": int, "duplicates": int,
               "already_sent": int},
      "errors": [{"code", "line", "column", "message"}, ...],   # at most max_errors
      "error_counts": {code: int, ...},                         # exact, whatever the cap
      "errors_truncated": bool,
      "warnings": [{"code", "count", "line", "column", "message"}, ...],
                                     # `unknown-goal` also lists "values": [{"value", "rows",
                                     # "did_you_mean"?}, ...] (goal identifiers, not personal)
      "parts": [{"index", "name", "rows", "bytes"}, ...],
      "rejected_reason": {"code", "line", "column", "message"} | null,
      "dedupe_tracking_stopped_at_line": int | null,
      "bytes_read": int,
      "ledger": {"mode", "window_days", "entries_read", "keys_read", "keys_in_flight",
                 "limited_since"} | null
    }

Counting: `rows.total` counts data rows (blank lines are not rows); `invalid` rows have at
least one error and are left out; `duplicates` are valid rows left out because an earlier row
had the same key (CHATS: the same chat key and values, or the same chat key and a later row
with other values, `chat-superseded-in-file`); `already_sent` are valid rows left out because
the ledger holds their key (an earlier file sent them: see `sent.py`); `valid` rows are the
rest, the ones written to the parts. So `total == valid + invalid + duplicates + already_sent`
always. A row with two problems counts once in `invalid` and twice in `error_counts`.

Lines are physical, 1-based, the header is line 1 (or wherever it was, after blank lines),
and a record holding a quoted newline is reported at the line where it starts. `line` and
`column` are null where they do not apply. Warnings are aggregated per code and column, with
the first line where each happened: a repair can happen millions of times.

Messages never carry cell values: they hold phone numbers and user IDs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

import msgspec

from metrika_offline.check.targets import TargetTally
from metrika_offline.types import ConversionType


class Issue(msgspec.Struct, frozen=True):
    """One problem, at one place."""

    code: str
    line: int | None
    column: str | None
    message: str


class UnknownTarget(msgspec.Struct, frozen=True, omit_defaults=True):
    """A Target value that names no goal, its row count, and the identifier likely meant
    (left out of the JSON when there is none)."""

    value: str
    rows: int
    did_you_mean: str | None = None


class WarningSummary(msgspec.Struct, frozen=True, omit_defaults=True):
    """Every occurrence of one warning code in one column (or in none)."""

    code: str
    count: int
    line: int | None  # the first
    column: str | None
    message: str
    values: tuple[UnknownTarget, ...] = ()  # only for `unknown-goal`; left out when empty


class RowCounts(msgspec.Struct, frozen=True):
    total: int = 0
    valid: int = 0
    invalid: int = 0
    duplicates: int = 0
    already_sent: int = 0


#: How every file of a part is named, wherever it is kept (the one place that spells it): its
#: CSV, and beside the ledger its row keys (`.keys`) and what was sent (`.json`).
PART_GLOB = "part-*.csv"


def part_name(index: int, suffix: str = ".csv") -> str:
    """`part-00001.csv` for part 1: the index, from 1, in five digits."""
    return f"part-{index:05d}{suffix}"


class PartInfo(msgspec.Struct, frozen=True):
    """One written part: `index` from 1, `name` from `part_name`, rows without header."""

    index: int
    name: str
    rows: int
    bytes: int


class LedgerSummary(msgspec.Struct, frozen=True):
    """What the result says about the ledger a file was checked against."""

    mode: str  # "on", "resend" (nothing dropped, keys still recorded) or "off"
    window_days: float
    entries_read: int = 0  # sent parts read
    keys_read: int = 0
    keys_in_flight: int = 0  # keys of other files' parts not uploaded yet
    limited_since: str | None = None  # parts sent before this were left out (LEDGER_MAX_KEYS)


@dataclasses.dataclass(frozen=True)
class Report:
    """What `check_file` found; see the module docstring for the JSON shape."""

    valid: bool
    rejected_reason: Issue | None
    type: ConversionType
    encoding: str
    delimiter: str | None
    columns: tuple[str, ...]
    rows: RowCounts
    errors: tuple[Issue, ...]
    error_counts: Mapping[str, int]
    errors_truncated: bool
    warnings: tuple[WarningSummary, ...]
    parts: tuple[PartInfo, ...]
    dedupe_tracking_stopped_at_line: int | None
    bytes_read: int
    ledger: LedgerSummary | None = None  # set by the pipeline: the rows sent before
    #: The Target values of the rows written to the parts (not in the JSON: the goal check
    #: reads it once the counter's goals are known). None when the file has no Target.
    targets: Mapping[str, tuple[int, int]] | None = None

    def to_json(self) -> dict[str, object]:
        """The report as `validate --json` prints it, and as the result JSON embeds it."""
        return {
            "valid": self.valid,
            "type": self.type.value,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "columns": list(self.columns),
            "rows": _builtins(self.rows),
            "errors": _builtins(self.errors),
            "error_counts": dict(self.error_counts),
            "errors_truncated": self.errors_truncated,
            "warnings": _builtins(self.warnings),
            "parts": _builtins(self.parts),
            "rejected_reason": _builtins(self.rejected_reason),
            "dedupe_tracking_stopped_at_line": self.dedupe_tracking_stopped_at_line,
            "bytes_read": self.bytes_read,
            "ledger": _builtins(self.ledger),
        }


def _builtins(value: object) -> object:
    """A record as plain JSON values (lists, not tuples), as its JSON shows it."""
    return msgspec.json.decode(msgspec.json.encode(value))


@dataclasses.dataclass(slots=True)
class _Tally:
    """One warning code in one column, while the file is read: how often, first where."""

    count: int
    line: int | None
    message: str


class ReportBuilder:
    """Collects findings during one pass, keeping only what the report will hold."""

    def __init__(self, kind: ConversionType, max_errors: int) -> None:
        self.kind = kind
        self.max_errors = max_errors
        self.errors: list[Issue] = []
        self.error_counts: dict[str, int] = {}
        self._warnings: dict[tuple[str, str | None], _Tally] = {}
        self._summaries: list[WarningSummary] = []
        self.total = 0
        self.invalid = 0
        self.duplicates = 0
        self.already_sent = 0
        self.rejected_reason: Issue | None = None
        self.encoding = "utf-8"
        self.delimiter: str | None = None
        self.columns: tuple[str, ...] = ()
        self.parts: tuple[PartInfo, ...] = ()
        self.dedupe_stopped_at: int | None = None
        self.bytes_read = 0
        self.targets: TargetTally | None = None

    @property
    def error_room(self) -> int:
        return self.max_errors - len(self.errors)

    def add_error(self, issue: Issue) -> None:
        self.count_errors(issue.code, 1)
        if len(self.errors) < self.max_errors:
            self.errors.append(issue)

    def count_errors(self, code: str, times: int) -> None:
        self.error_counts[code] = self.error_counts.get(code, 0) + times

    def list_errors(self, issues: list[Issue]) -> None:
        """Issues already counted with `count_errors`, listed up to the cap."""
        self.errors.extend(issues[: self.error_room])

    def warn(
        self, code: str, line: int | None, column: str | None, message: str, times: int = 1
    ) -> None:
        key = (code, column)
        entry = self._warnings.get(key)
        if entry is None:
            self._warnings[key] = _Tally(times, line, message)
        else:
            entry.count += times
            if line is not None and (entry.line is None or line < entry.line):
                entry.line = line

    def add_summary(self, summary: WarningSummary) -> None:
        """A warning already aggregated by its producer (it carries its own details)."""
        self._summaries.append(summary)

    def reject(self, issue: Issue) -> None:
        if self.rejected_reason is None:
            self.rejected_reason = issue

    def build(self) -> Report:
        valid_rows = self.total - self.invalid - self.duplicates - self.already_sent
        warnings = tuple(
            WarningSummary(code, entry.count, entry.line, column, entry.message)
            for (code, column), entry in self._warnings.items()
        ) + tuple(self._summaries)
        listed = len(self.errors)
        return Report(
            valid=self.rejected_reason is None and valid_rows > 0,
            rejected_reason=self.rejected_reason,
            type=self.kind,
            encoding=self.encoding,
            delimiter=self.delimiter,
            columns=self.columns,
            rows=RowCounts(
                self.total, valid_rows, self.invalid, self.duplicates, self.already_sent
            ),
            errors=tuple(self.errors),
            error_counts=MappingProxyType(dict(self.error_counts)),
            errors_truncated=sum(self.error_counts.values()) > listed,
            warnings=warnings,
            parts=self.parts,
            dedupe_tracking_stopped_at_line=self.dedupe_stopped_at,
            bytes_read=self.bytes_read,
            targets=None if self.targets is None else self.targets.frozen(),
        )
