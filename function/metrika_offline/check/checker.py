"""Check, repair and split one CSV of conversions in a single streaming pass.

    stream ─▶ decoding.TextBlocks ─▶ records.Records ─▶ validation.BatchValidator
             (bytes → text, LF)      (header, batches)   (columns, groups, duplicates)
                                                            │
                         report.ReportBuilder ◀─────────────┤
                         rejects.RejectsWriter ◀── invalid rows
                         splitter.PartSplitter ◀── render.render (valid rows, normalized)

Policy: invalid rows are reported and left out and the rest goes on, unless the share of
invalid rows is above `max_invalid_ratio` (probably the wrong type or format) or `strict` is
set and any row is invalid: then the file is rejected and any parts written are discarded.
File-level problems (encoding, header, an unclosed quote, a row too large) reject at once.

Bad data never raises: it ends up in the `Report` (see `report.py` for its JSON shape).
What raises: `ConfigError` for unusable options (an unknown time zone), `DeadlineReached`
when `should_stop` says so (parts written so far are discarded first), and whatever the
stream or the sink raise (after discarding the parts).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, BinaryIO

from metrika_offline import logs
from metrika_offline.check.chats import Replay, Versions
from metrika_offline.check.choices import (
    ChatSameKey,
    DateOrder,
    DurationFormat,
    Encoding,
    OnBadOptional,
    parse_chat_same_key,
    parse_column_map,
    parse_date_order,
    parse_duration_format,
    parse_encoding,
    parse_on_bad_optional,
    parse_phone_region,
    parse_timezone,
    zone_label,
)
from metrika_offline.check.codes import ERROR_CODES, POLICY_HINTS, WARNING_CODES
from metrika_offline.check.columns import KNOWN_COLUMNS, HeaderIssue, Layout, resolve_header
from metrika_offline.check.decoding import DecodeProblem, TextBlocks
from metrika_offline.check.dedupe import KeySet
from metrika_offline.check.records import Batch, LineMap, Malformed, RecordProblem, Records
from metrika_offline.check.rejects import RejectsWriter
from metrika_offline.check.render import render
from metrika_offline.check.report import Issue, PartInfo, Report, ReportBuilder, RowCounts
from metrika_offline.check.skipped import MESSAGES as SKIPPED_MESSAGES
from metrika_offline.check.skipped import SkippedRows
from metrika_offline.check.splitter import PartSink, PartSplitter, PartWriter, RowTooLarge
from metrika_offline.check.targets import TargetTally
from metrika_offline.check.unnamed import UnnamedColumns
from metrika_offline.check.validation import BatchValidator, Outcome
from metrika_offline.check.values import Context
from metrika_offline.config import Settings
from metrika_offline.errors import ConfigError, DeadlineReached
from metrika_offline.types import DEFAULT_MAX_PART_BYTES, ConversionType

if TYPE_CHECKING:  # the ledger's side (and numpy) is imported only when a run uses it
    import numpy as np
    import numpy.typing as npt

    from metrika_offline.check.sent import Keys, PartKeys, PartKeysSink, SentKeys

__all__ = [
    "ERROR_CODES",
    "WARNING_CODES",
    "CheckOptions",
    "Issue",
    "PartInfo",
    "PartSink",
    "PartWriter",
    "Report",
    "RowCounts",
    "check_file",
]

_log = logs.get_logger("checker")


@dataclasses.dataclass(frozen=True)
class CheckOptions:
    """How to check one file."""

    type: ConversionType
    timezone: str = "UTC"  # for human DateTime repairs
    strict: bool = False  # reject the file on any invalid row
    max_invalid_ratio: float = 0.5  # reject when invalid/total is above this
    max_part_bytes: int = DEFAULT_MAX_PART_BYTES
    max_errors: int = 100  # errors listed; counts stay exact
    max_dedupe_keys: int = 5_000_000  # past this, stop tracking duplicates and say so
    now: float | None = None  # Unix seconds; None = time.time() (tests pin it)
    encoding: Encoding = Encoding.AUTO  # auto, utf-8 or windows-1251 (see choices.py)
    phone_region: str = "RU"  # country of phone numbers written without a country code
    date_order: DateOrder | None = None  # how 01/11/2026 is read (None: an error)
    duration_format: DurationFormat | None = None  # what 1:35 means (None: left empty)
    on_bad_optional: OnBadOptional = OnBadOptional.BLANK  # blank: an invalid value is emptied
    column_map: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # CHATS rows of one file with the same chat key and other values: keep-last (the later
    # row is kept, the earlier left out) or keep-first (the later is a duplicate)
    chat_same_key: ChatSameKey = ChatSameKey.KEEP_LAST

    @classmethod
    def from_settings(
        cls, settings: Settings, *, type: ConversionType, now: float | None = None
    ) -> CheckOptions:
        """The options a process's settings ask for: the one place they are turned into these."""
        try:
            date_order = parse_date_order(settings.date_order) if settings.date_order else None
            duration = settings.duration_format
            duration_format = parse_duration_format(duration) if duration else None
            on_bad_optional = parse_on_bad_optional(settings.on_bad_optional)
            chat_same_key = parse_chat_same_key(settings.chat_same_key)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return cls(
            type=type,
            timezone=settings.timezone,
            phone_region=settings.phone_region,
            date_order=date_order,
            duration_format=duration_format,
            on_bad_optional=on_bad_optional,
            chat_same_key=chat_same_key,
            strict=settings.strict,
            max_invalid_ratio=settings.max_invalid_ratio,
            max_part_bytes=settings.max_part_bytes,
            max_errors=settings.max_errors,
            now=now,
        )

    def __post_init__(self) -> None:
        """Check the time zone, the phone region and the column map; a choice given as a
        string (by a caller of the library, not the routing) is parsed here, once."""
        try:
            parse_timezone(self.timezone)
            parse_phone_region(self.phone_region)
            parse_column_map(self.column_map, KNOWN_COLUMNS)
            _choose(self, "encoding", Encoding, parse_encoding)
            _choose(self, "on_bad_optional", OnBadOptional, parse_on_bad_optional)
            _choose(self, "chat_same_key", ChatSameKey, parse_chat_same_key)
            _choose(self, "date_order", DateOrder, parse_date_order)
            _choose(self, "duration_format", DurationFormat, parse_duration_format)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.max_part_bytes <= 0:
            raise ConfigError("max_part_bytes must be positive")
        if not 0.0 <= self.max_invalid_ratio <= 1.0:
            raise ConfigError("max_invalid_ratio must be between 0 and 1")
        if self.max_errors < 0 or self.max_dedupe_keys < 0:
            raise ConfigError("max_errors and max_dedupe_keys must not be negative")


def _choose(
    options: CheckOptions,
    name: str,
    kind: type[enum.StrEnum],
    parse: Callable[[str], enum.StrEnum],
) -> None:
    """A choice given as a string, parsed into its enum (ValueError if it is none)."""
    value = getattr(options, name)
    if value is not None and not isinstance(value, kind):
        spelt = value if isinstance(value, str) else repr(value)
        object.__setattr__(options, name, parse(spelt))


def time_zone(name: str) -> dt.tzinfo:
    """The named IANA zone; ConfigError if there is none."""
    try:
        return parse_timezone(name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _cell_count_code(cells: list[str], width: int) -> str:
    return "too-few-cells" if len(cells) < width else "too-many-cells"


class _Rejected(Exception):
    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


@dataclasses.dataclass
class _Blanks:
    """Blank lines seen after the last row so far: they only count if a row follows."""

    count: int = 0
    first: int | None = None


class _Run:
    """One pass over one file."""

    def __init__(
        self,
        options: CheckOptions,
        sink: PartSink | None,
        rejects: Callable[[], PartWriter] | None,
        should_stop: Callable[[], bool] | None,
        on_rows: Callable[[int], None] | None = None,
        *,
        sent: SentKeys | None = None,
        part_keys: PartKeysSink | None = None,
        replay: Replay | None = None,
        can_reread: bool = False,
    ) -> None:
        self.options = options
        self.on_rows = on_rows
        self.sent = sent
        self.is_chats = options.type is ConversionType.CHATS
        self.part_keys: PartKeys | None = None
        if part_keys is not None and sink is not None:
            from metrika_offline.check.sent import PartKeys  # noqa: PLC0415 (numpy, lazily)

            # CHATS: each row's version and chat key (see sent.py)
            self.part_keys = PartKeys(part_keys, per_row=2 if self.is_chats else 1)
        self.first_sent: tuple[int, int] | None = None  # line, key
        self.updates = 0  # CHATS rows whose chat was sent before with other values
        self.first_update: tuple[int, int] | None = None  # line, chat key
        # CHATS, keep-last: the first pass decides (`Versions`), a second one replays.
        self.chats: Versions | Replay | None = replay
        if replay is None and self.is_chats and options.chat_same_key is ChatSameKey.KEEP_LAST:
            self.chats = Versions(options.max_dedupe_keys) if options.max_dedupe_keys else None
        self.can_reread = can_reread
        self.reread = False  # a row replaced one already written: read the file again
        self.superseded = 0
        self.first_superseded: int | None = None  # its line
        self.late_kept = 0  # replaced rows left in the parts (the file could not be reread)
        self.builder = ReportBuilder(options.type, options.max_errors)
        self.ctx = Context(
            tz=time_zone(options.timezone),
            now=int(time.time() if options.now is None else options.now),
            zone=zone_label(options.timezone),
            phone_region=parse_phone_region(options.phone_region),
            date_order=options.date_order,
            duration_format=options.duration_format,
        )
        self.sink = sink
        self.open_rejects = rejects
        self.should_stop = should_stop
        self.splitter: PartSplitter | None = None
        self.rejects: RejectsWriter | None = None
        self.writing = sink is not None
        self.first_invalid_line: int | None = None
        self.blanks = _Blanks()
        self.layout: Layout | None = None
        self.targets: TargetTally | None = None
        self.target_position: int | None = None
        self.skip: SkippedRows | None = None

    def execute(self, stream: BinaryIO, progress: Callable[[int], None] | None) -> Report:
        builder = self.builder
        blocks = TextBlocks(stream, progress=progress, encoding=self.options.encoding.value)
        try:
            try:
                self._read(blocks)
            except (DecodeProblem, RecordProblem) as problem:
                issue = Issue(problem.code, problem.line, None, problem.message)
                builder.add_error(issue)
                builder.reject(issue)
            except _Rejected as rejected:
                builder.reject(rejected.issue)
            finally:
                builder.encoding = blocks.encoding
                builder.bytes_read = blocks.bytes_read
            if blocks.transcoded_at_line is not None:
                chosen = self.options.encoding is not Encoding.AUTO
                builder.warn(
                    "windows-1251",
                    blocks.transcoded_at_line,
                    None,
                    "the file was read as Windows-1251 (the encoding setting) and transcoded "
                    "to UTF-8"
                    if chosen
                    else "the file is Windows-1251 (from line "
                    f"{blocks.transcoded_at_line}): transcoded to UTF-8",
                )
            self._warn_sent()
            self._warn_chats()
            self._apply_policy()
            if self.rejects is not None:
                self.rejects.close()
        except BaseException:
            self._abandon()
            raise
        if self.splitter is not None:
            if builder.rejected_reason is None and self.writing:
                builder.parts = self.splitter.finish()
                if self.part_keys is not None:
                    self.part_keys.finish(builder.parts)
            else:
                self._discard()
        return builder.build()

    def _abandon(self) -> None:
        """Something raised: drop the parts and close the rejects, whatever else fails."""
        for cleanup in (
            self._discard if self.splitter is not None else None,
            self.rejects.close if self.rejects is not None else None,
        ):
            if cleanup is None:
                continue
            try:
                cleanup()
            except Exception:  # the original exception matters more; this one is logged
                _log.exception("cleaning up after a failed check failed too")

    def _discard(self) -> None:
        if self.part_keys is not None:
            self.part_keys.close()
        if self.splitter is not None:
            self.splitter.discard()

    def _read(self, blocks: TextBlocks) -> None:
        records = Records(blocks)
        names = records.header()
        builder = self.builder
        if names is None:
            issue = Issue("empty-file", None, None, "the file is empty")
            builder.add_error(issue)
            raise _Rejected(issue)
        builder.delimiter = records.delimiter
        layout, issues = resolve_header(self.options.type, names, self.options.column_map)
        self._header_issues(issues, records.header_line)
        if layout is None:
            raise _Rejected(next(e for e in builder.errors if e.line == records.header_line))
        self.layout = layout
        self.skip = SkippedRows(names, layout)
        builder.columns = layout.output_header
        self._open_outputs(layout, names, records.delimiter)
        max_keys = self.options.max_dedupe_keys
        blank = not self.options.strict and self.options.on_bad_optional is OnBadOptional.BLANK
        validator = BatchValidator(
            layout,
            self.ctx,
            KeySet(max_keys) if max_keys else None,
            blank_invalid=blank,
            stable_keys=self.sent is not None or self.part_keys is not None,
            skip=self.skip,
            chats=self.chats,
        )
        unnamed = UnnamedColumns(layout.unnamed) if layout.unnamed else None
        for batch in records.batches(layout.width):
            if self.should_stop is not None and self.should_stop():
                raise DeadlineReached("the check was stopped before the end of the file")
            if unnamed is not None:
                unnamed.check(batch)
            self._take(batch, validator.check(batch, builder.error_room), layout, records)
            if self.on_rows is not None:
                self.on_rows(builder.total)
        if unnamed is not None:
            for code, position, message in unnamed.warnings():
                builder.warn(code, records.header_line, f"column {position + 1}", message)
        if builder.total == 0:
            issue = Issue("header-only", None, None, "the file has a header and no data rows")
            builder.add_error(issue)
            raise _Rejected(issue)

    def _open_outputs(self, layout: Layout, names: list[str], delimiter: str) -> None:
        """The part splitter, the rejects writer and the Target tally, as the run has them."""
        if self.sink is not None:
            header = (",".join(layout.output_header) + "\n").encode()
            self.splitter = PartSplitter(self.sink, self.options.max_part_bytes, header)
        if self.open_rejects is not None:
            self.rejects = RejectsWriter(
                self.open_rejects, [name.strip() for name in names], delimiter
            )
        self.target_position = layout.position("Target")
        if self.target_position is not None:
            self.targets = self.builder.targets = TargetTally()

    def _header_issues(self, issues: list[HeaderIssue], line: int) -> None:
        for issue in issues:
            if issue.is_error:
                self.builder.add_error(Issue(issue.code, line, issue.column, issue.message))
            else:
                self.builder.warn(issue.code, line, issue.column, issue.message)

    def _take(self, batch: Batch, outcome: Outcome, layout: Layout, records: Records) -> None:
        builder = self.builder
        lines = batch.lines
        malformed = self._skip_rows(batch, outcome)
        self._errors(batch, outcome, layout, malformed)
        invalid_rows = len(outcome.invalid) + len(malformed)
        builder.total += len(malformed) + batch.count - len(outcome.skipped)
        builder.invalid += invalid_rows
        builder.duplicates += len(outcome.duplicates) + len(outcome.superseded)
        if outcome.superseded:
            self.superseded += len(outcome.superseded)
            line = lines[outcome.superseded[0]]
            if self.first_superseded is None or line < self.first_superseded:
                self.first_superseded = line
        if outcome.late_superseded:
            self._replaced_written(outcome.late_superseded)
        for note in outcome.notes:
            builder.warn(
                note.code,
                lines[note.first_row],
                note.column,
                note.message,
                note.count,
            )
        if outcome.duplicates:
            builder.warn(
                "duplicate-row",
                lines[min(outcome.duplicates)],
                None,
                "rows repeating an earlier row's "
                + ", ".join(layout.rules.dedupe_key)
                + " were dropped",
                len(outcome.duplicates),
            )
        if outcome.dedupe_stopped_row is not None and builder.dedupe_stopped_at is None:
            line = lines[outcome.dedupe_stopped_row]
            builder.dedupe_stopped_at = line
            builder.warn(
                "dedupe-stopped",
                line,
                None,
                f"over {self.options.max_dedupe_keys} distinct rows: from line {line} on, rows "
                "were compared with those before it, not with each other",
            )
        if self.targets is not None and self.target_position is not None:
            values = outcome.columns[self.target_position] or []
            left_out = set(outcome.invalid).union(outcome.duplicates, outcome.skipped)
            self.targets.add_batch(values, lines, left_out)
        self._blank_lines(batch)
        if invalid_rows:
            self._invalid(batch, outcome, layout, malformed)
        dropped = set(outcome.invalid)
        dropped.update(outcome.duplicates, outcome.skipped)
        dropped.update(outcome.superseded)
        kept_keys = self._already_sent(outcome, lines, dropped)
        if self.splitter is not None and self.writing:
            rendered = render(
                batch,
                outcome.columns,
                kept=layout.kept,
                changed=outcome.changed,
                dropped=dropped,
                delimiter=records.delimiter,
            )
            try:
                self.splitter.write(rendered)
            except RowTooLarge as exc:
                kept = [row for row in range(batch.count) if row not in dropped]
                line = lines[kept[exc.row]]
                raise _Rejected(self._row_too_large(line, exc)) from None
            if self.part_keys is not None and kept_keys is not None:
                self.part_keys.add(kept_keys, self.splitter.parts)

    def _replaced_written(self, count: int) -> None:
        """CHATS rows of earlier batches, already written, were replaced by later rows."""
        if self.can_reread:
            self.reread = True
            self.writing = False  # the second pass writes the parts
        else:
            self.late_kept += count

    def _already_sent(self, outcome: Outcome, lines: LineMap, dropped: set[int]) -> Keys | None:
        """Drop the rows the ledger says were sent (adding them to `dropped`); the keys of
        the rows kept, in order (None without stable keys, or no valid row). CHATS: a row is
        sent before when its version is in the ledger; its chat key alone makes it an
        update, which is kept (and counted); the keys kept are the rows' (version, key) pairs."""
        keys = outcome.keys
        if keys is None or not len(keys):
            return keys
        import numpy as np  # noqa: PLC0415 (loaded already, by the stable keys)

        rows = outcome.key_rows
        versions = outcome.versions
        if outcome.duplicates or outcome.superseded:
            keep = np.fromiter((row not in dropped for row in rows), dtype=bool, count=len(rows))
            keys = keys[keep]
            versions = None if versions is None else versions[keep]
            rows = [row for row in rows if row not in dropped]
        if versions is not None:
            return self._chats_sent(keys, versions, rows, lines, dropped)
        if self.sent is None:
            return keys
        hit = self.sent.sent(keys)
        if not hit.any():
            return keys
        self._drop_sent(hit, keys, rows, lines, dropped)
        return keys[~hit]

    def _drop_sent(
        self, hit: npt.NDArray[np.bool_], keys: Keys, rows: list[int], lines: LineMap,
        dropped: set[int],
    ) -> None:  # fmt: skip
        import numpy as np  # noqa: PLC0415

        found = np.flatnonzero(hit)
        self.builder.already_sent += len(found)
        dropped.update(rows[i] for i in found.tolist())
        first = int(found[0])
        if self.first_sent is None:
            self.first_sent = (lines[rows[first]], int(keys[first]))

    def _chats_sent(
        self, keys: Keys, versions: Keys, rows: list[int], lines: LineMap, dropped: set[int]
    ) -> Keys:
        from metrika_offline.check.sent import pairs  # noqa: PLC0415

        if self.sent is None or not len(keys):
            return pairs(versions, keys)
        import numpy as np  # noqa: PLC0415

        # One look-up for both: a chat in another file's part still in flight waits for it,
        # whichever version that part holds, so that the versions reach Metrica in order.
        both = self.sent.sent(np.concatenate((versions, keys)))
        hit, chat_sent = both[: len(keys)], both[len(keys) :]
        update = chat_sent & ~hit
        if update.any():
            found = np.flatnonzero(update)
            self.updates += len(found)
            if self.first_update is None:
                first = int(found[0])
                self.first_update = (lines[rows[first]], int(keys[first]))
        if not hit.any():
            return pairs(versions, keys)
        self._drop_sent(hit, versions, rows, lines, dropped)
        return pairs(versions[~hit], keys[~hit])

    def _warn_sent(self) -> None:
        if self.first_sent is None or self.sent is None:
            return
        line, key = self.first_sent
        count = self.builder.already_sent
        self.builder.warn(
            "already-sent",
            line,
            None,
            f"{count} rows were sent before and were dropped (the first on line {line}, sent "
            f"by {self.sent.who_sent(key)}); drop the file with metadata mode=resend to send "
            "them again",
            count,
        )

    def _warn_chats(self) -> None:
        builder = self.builder
        if self.superseded or self.late_kept:
            line = self.first_superseded
            said = []
            if self.superseded:
                said.append(
                    f"{self.superseded} rows were left out because a later row of the same "
                    "chat (DateTime, ChatPlatform and ChatUsername, ChatUserID or PhoneNumber) "
                    f"has other values, and the later row is sent (the first on line {line})"
                )
            if self.late_kept:
                said.append(
                    f"{self.late_kept} rows were replaced by a later row of the same chat after "
                    "they were written: this input cannot be read a second time, so both are "
                    "sent, the later one after (give a file rather than a pipe)"
                )
            builder.warn(
                "chat-superseded-in-file",
                line,
                None,
                "; ".join(said) + "; set chat_same_key to keep-first to keep the earlier rows",
                self.superseded + self.late_kept,
            )
        if self.updates and self.first_update is not None and self.sent is not None:
            line, key = self.first_update
            builder.warn(
                "chat-update",
                line,
                None,
                f"{self.updates} rows update chats sent before with other values and are sent "
                f"(the first on line {line}; its earlier version was sent by "
                f"{self.sent.who_sent(key)}): Metrica keeps the latest",
                self.updates,
            )

    def _row_too_large(self, line: int, exc: RowTooLarge) -> Issue:
        issue = Issue(
            "row-too-large",
            line,
            None,
            f"the row on line {line} is {exc.size} bytes: with the header it does not fit "
            f"in a part of {exc.limit} bytes",
        )
        self.builder.add_error(issue)
        return issue

    def _skip_rows(self, batch: Batch, outcome: Outcome) -> list[Malformed]:
        """Warn of the rows skipped as no conversion (the header again, totals), malformed
        ones included; returns the malformed rows left."""
        found: dict[str, list[int]] = {}
        for row, reason in outcome.skipped.items():
            found.setdefault(reason, []).append(batch.lines[row])
        malformed = batch.malformed
        if malformed and self.skip is not None:
            malformed = []
            for odd in batch.malformed:
                why = self.skip.why(odd.cells)
                if why is None:
                    malformed.append(odd)
                else:
                    found.setdefault(why, []).append(odd.line)
        for reason, lines in found.items():
            self.builder.warn(reason, min(lines), None, SKIPPED_MESSAGES[reason], len(lines))
        return malformed

    def _errors(
        self, batch: Batch, outcome: Outcome, layout: Layout, malformed: list[Malformed]
    ) -> None:
        builder = self.builder
        for code, times in outcome.error_counts.items():
            builder.count_errors(code, times)
        room = builder.error_room
        listed = [
            (batch.lines[e.row], e.order, Issue(e.code, batch.lines[e.row], e.column, e.message))
            for e in outcome.errors
        ]
        for index, row in enumerate(malformed):
            code = _cell_count_code(row.cells, layout.width)
            builder.count_errors(code, 1)
            if index < room:
                message = f"the row has {len(row.cells)} cells, the header {layout.width}"
                listed.append((row.line, -1, Issue(code, row.line, None, message)))
        if room > 0 and listed:
            listed.sort(key=lambda entry: (entry[0], entry[1]))
            builder.list_errors([issue for _, _, issue in listed])

    def _invalid(
        self, batch: Batch, outcome: Outcome, layout: Layout, malformed: list[Malformed]
    ) -> None:
        starts = [m.line for m in malformed[:1]]
        if outcome.invalid:
            starts.append(batch.lines[min(outcome.invalid)])
        first = min(starts)
        if self.first_invalid_line is None:
            self.first_invalid_line = first
        if self.options.strict and self.writing and self.splitter is not None:
            self.writing = False  # the file will be rejected: stop writing parts now
        if self.rejects is None:
            return
        entries: list[tuple[int, list[str], list[str]]] = [
            (batch.lines[row], codes, batch.row(row)) for row, codes in outcome.invalid.items()
        ]
        for row in malformed:
            code = _cell_count_code(row.cells, layout.width)
            entries.append((row.line, [code], row.cells))
        entries.sort(key=lambda entry: entry[0])
        for line, codes, cells in entries:
            self.rejects.add(line, codes, cells)

    def _blank_lines(self, batch: Batch) -> None:
        blanks = self.blanks
        if batch.count or batch.malformed:
            if blanks.count:
                self._warn_blank(blanks.count, blanks.first)
            inner = batch.blank_lines - batch.trailing_blank_lines
            if inner:
                self._warn_blank(inner, batch.first_blank_line)
            blanks.count = batch.trailing_blank_lines
            blanks.first = batch.last_line - batch.trailing_blank_lines + 1
        elif batch.blank_lines:
            blanks.count += batch.blank_lines
            if blanks.first is None:
                blanks.first = batch.first_blank_line

    def _warn_blank(self, times: int, line: int | None) -> None:
        self.builder.warn(
            "blank-line", line, None, "blank lines and rows of empty cells were skipped", times
        )

    def _likely_cause(self, invalid: int) -> str:
        hint = _row_error_hint(self.builder.error_counts, invalid)
        if hint is not None:
            return hint
        return f"is this the right type ({self.options.type.value}) and format?"

    def _apply_policy(self) -> None:
        builder = self.builder
        if builder.rejected_reason is not None:
            return
        total, invalid = builder.total, builder.invalid
        valid = total - invalid - builder.duplicates - builder.already_sent
        if self.options.strict and invalid:
            builder.reject(
                Issue(
                    "strict-invalid-row",
                    self.first_invalid_line,
                    None,
                    f"strict mode: {invalid} of {total} rows are invalid (the first on line "
                    f"{self.first_invalid_line})",
                )
            )
        elif total and invalid / total > self.options.max_invalid_ratio:
            builder.reject(
                Issue(
                    "too-many-invalid-rows",
                    None,
                    None,
                    f"{invalid} of {total} rows ({invalid / total:.0%}) are invalid, above the "
                    f"{self.options.max_invalid_ratio:.0%} limit: {self._likely_cause(invalid)}",
                )
            )
        elif total and not valid and not builder.already_sent:
            builder.reject(Issue("no-valid-rows", None, None, "no row is left to upload"))


def _row_error_hint(error_counts: Mapping[str, int], invalid: int) -> str | None:
    """The fix for the error most invalid rows share, when there is one that has a fix."""
    hinted = [(times, code) for code, times in error_counts.items() if code in POLICY_HINTS]
    if not hinted:
        return None
    times, code = max(hinted)
    return POLICY_HINTS[code] if times * 2 >= invalid else None


def _seekable(stream: BinaryIO) -> bool:
    seekable = getattr(stream, "seekable", None)  # a reader may not say
    try:
        return bool(seekable()) if callable(seekable) else False
    except (OSError, ValueError):
        return False


def check_file(
    stream: BinaryIO,
    options: CheckOptions,
    *,
    sink: PartSink | None = None,
    rejects: Callable[[], PartWriter] | None = None,
    progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_rows: Callable[[int], None] | None = None,
    sent: SentKeys | None = None,
    part_keys: PartKeysSink | None = None,
    reopen: Callable[[], BinaryIO] | None = None,
) -> Report:
    """Check `stream` as a CSV of `options.type` conversions, in one pass.

    With a `sink`, the valid rows, normalized (UTF-8, canonical header, comma, LF, known
    columns only), are written to it as parts of at most `options.max_part_bytes`, header in
    each, never cut inside a row; if the file ends up rejected, `sink.discard()` is called.
    `rejects` is called at the first invalid row to open a CSV of the invalid rows (their line
    and error codes, then their cells as read); `check_file` closes it. `progress` gets the
    bytes read so far after each block; `should_stop` is asked before each batch and, when it
    answers True, the parts are discarded and `DeadlineReached` is raised. `on_rows` gets the
    rows read so far after each batch (for a progress display).

    With `sent` (the ledger), rows whose key it holds are dropped as `already-sent`; with
    `part_keys` (and a `sink`), each part's row keys are written there beside it (`sent.py`).

    CHATS: when a row replaces a row of the same chat already written (see `chats.py`), the
    parts are discarded and the file is read again, from `reopen()` or, without it, from the
    start of `stream` if it can seek; the second pass applies the first's decisions and
    writes the parts (the rejects were written by the first).
    """
    can_reread = reopen is not None or _seekable(stream)
    run = _Run(
        options, sink, rejects, should_stop, on_rows,
        sent=sent, part_keys=part_keys, can_reread=can_reread,
    )  # fmt: skip
    report = run.execute(stream, progress)
    if not run.reread or report.rejected_reason is not None or not isinstance(run.chats, Versions):
        return report
    _log.info("a chat row replaced one already written: the file is read a second time")
    if reopen is not None:
        stream = reopen()
    else:
        stream.seek(0)
    replay = Replay(run.chats.decided, run.chats.stopped)
    again = _Run(
        options, sink, None, should_stop, on_rows, sent=sent, part_keys=part_keys, replay=replay
    )
    try:
        return again.execute(stream, None)
    finally:
        if reopen is not None:
            stream.close()
