"""Check one batch of rows: each column by its kind, the at-least-one groups, then duplicates
among the rows that passed. Works on whole columns; row indices are batch-relative."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from itertools import compress, count
from operator import not_
from typing import TYPE_CHECKING

from metrika_offline.check.blanking import CODE as BLANKED
from metrika_offline.check.blanking import Blanker
from metrika_offline.check.chats import Decided, Replay, Versions
from metrika_offline.check.columns import Column, Group, Layout
from metrika_offline.check.dedupe import KeySet
from metrika_offline.check.records import Batch
from metrika_offline.check.skipped import SkippedRows
from metrika_offline.check.values import CHECKS, Check, Context
from metrika_offline.types import ConversionType

if TYPE_CHECKING:
    from metrika_offline.check.sent import Keys

#: What each warning says, given the column it is about.
NOTE_MESSAGES: dict[str, str] = {
    "whitespace-trimmed": "spaces around {column} values were removed",
    "decimal-comma": "decimal commas in {column} became full stops",
    "thousands-spaces-removed": (
        "spaces between groups of three digits in {column} were removed (and a decimal comma "
        "became a full stop)"
    ),
    "currency-rouble": "roubles written as руб, р., RUR or ₽ in {column} became RUB",
    "datetime-converted": (
        "{column} dates and times were converted to Unix seconds; those without a UTC offset "
        "were read as {zone} time"
    ),
    "datetime-day-first": (
        "{column} dates written DD.MM.YYYY were read day first and converted to Unix seconds, "
        "as {zone} time"
    ),
    "datetime-date-order": (
        "{column} day-month-year dates (01/11/2026, 01-11-2026) were read in the configured "
        "order ({date_order}) and converted to Unix seconds, as {zone} time"
    ),
    "fractional-seconds": "fractions of a second in {column} were dropped",
    "phone-normalized": "{column} numbers were reduced to + and digits",
    "phone-national": (
        "{column} numbers written without a country code were read as {region} numbers "
        "(the phone region) and written as + and digits"
    ),
    "chat-platform-lowercased": "{column} was lower-cased",
    "chat-platform-alias": (
        "{column} values naming one of Metrica's platforms another way (tg, wa, telegrambot…) "
        "became whatsapp, telegram or viber"
    ),
    "flag-words": "yes and no in {column} (да/нет, yes/no, true/false, y/n) became 1 and 0",
    "duration-converted": (
        "{column} durations written H:MM:SS, spelled out (1 мин, 35 сек) or as two parts "
        "read by duration_format became seconds"
    ),
    "id-formula-unwrapped": (
        '{column} IDs written as Excel\'s text formula (="0123") became their digits'
    ),
    "currency-uppercased": "{column} codes were upper-cased",
    "older-than-linking-window": (
        "{column} is more than 21 days ago: such conversions are kept but will not be "
        "linked to visits"
    ),
    "target-looks-like-name": (
        "{column} has spaces or non-Latin letters: it must be the goal's identifier, "
        "not its display name"
    ),
    "unattributed-chat": (
        "no ClientID, UserID, Yclid or PurchaseID: the chat cannot be linked to a visit"
    ),
}


def note_message(code: str, column: str | None, ctx: Context | None = None) -> str:
    """A warning's message; `ctx` names the time zone, phone region and date order used."""
    return NOTE_MESSAGES.get(code, code).format(
        column=column or "",
        zone=ctx.zone if ctx is not None else "UTC",
        region=ctx.phone_region if ctx is not None else "RU",
        date_order=(ctx.date_order or "none") if ctx is not None else "none",
    )


@dataclasses.dataclass(frozen=True)
class RowError:
    row: int
    order: int  # column position, for listing a row's errors left to right
    code: str
    column: str | None
    message: str


@dataclasses.dataclass(frozen=True)
class Note:
    code: str
    column: str | None
    count: int
    first_row: int
    message: str


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one batch holds after checking."""

    columns: list[list[str] | None]  # per input position, after repairs; None = dropped
    changed: set[int]  # rows with a repaired value
    invalid: dict[int, list[str]]  # row -> its error codes
    errors: list[RowError]  # the first `room` errors, in row then column order
    error_counts: dict[str, int]
    notes: list[Note]
    duplicates: list[int]
    dedupe_stopped_row: int | None
    # With stable keys: the valid rows, in order, and their keys (duplicates included).
    key_rows: list[int] = dataclasses.field(default_factory=list)
    keys: Keys | None = None
    # Rows that are no conversion (the header again, a totals row): row -> why.
    skipped: dict[int, str] = dataclasses.field(default_factory=dict)
    # CHATS: each of those rows' version key (every column), beside its chat key.
    versions: Keys | None = None
    # CHATS: rows replaced by a later row of the same chat with other values.
    superseded: list[int] = dataclasses.field(default_factory=list)
    late_superseded: int = 0  # rows of earlier batches replaced by rows of this one


class BatchValidator:
    """Checks batches against one file's layout."""

    def __init__(
        self,
        layout: Layout,
        ctx: Context,
        keys: KeySet | None,
        *,
        blank_invalid: bool = False,
        stable_keys: bool = False,
        skip: SkippedRows | None = None,
        chats: Versions | Replay | None = None,
    ) -> None:
        self._layout = layout
        self._skip = skip
        self._chats = chats
        self._stable = stable_keys
        self._ctx = ctx
        self._keys = keys
        self._blanker = Blanker(layout) if blank_invalid else None
        self._checks: list[tuple[int, Column, Check]] = [
            (position, column, CHECKS[column.kind])
            for position, column in enumerate(layout.columns)
            if column is not None
        ]
        self._groups: list[tuple[Group, list[int]]] = []
        for group in layout.rules.groups:
            present = [layout.position(name) for name in group.columns]
            self._groups.append((group, [p for p in present if p is not None]))
        key = [layout.position(name) for name in layout.rules.dedupe_key]
        self._key_positions = [p for p in key if p is not None]
        self._full_key = key
        # CHATS: a row's version is every column of the type (the ledger's, in the type's
        # order, an absent one empty) or every column of the file (within one file).
        self._all_columns = [layout.position(c.name) for c in layout.rules.columns]
        self._present = [p for p in self._all_columns if p is not None]

    def check(self, batch: Batch, room: int) -> Outcome:
        n = batch.count
        columns: list[list[str] | None] = [None] * self._layout.width
        changed: set[int] = set()
        found_errors: list[tuple[int, str, str | None, str, list[int]]] = []
        notes: list[Note] = []
        for position, column, check in self._checks:
            values = batch.cells[position :: batch.stride]
            found = check(values, column, self._ctx) if n else None
            if found is None:
                columns[position] = values
                continue
            columns[position] = found.final
            changed.update(found.changed)
            for (code, message), rows in found.errors.items():
                found_errors.append((position, code, column.name, message, rows))
            for code, (times, first) in found.notes.items():
                message = note_message(code, column.name, self._ctx)
                notes.append(Note(code, column.name, times, first, message))
        skipped = self._skipped(batch, found_errors) if found_errors else {}
        if skipped:
            found_errors = self._without(found_errors, skipped)
        if self._blanker is not None and found_errors:
            found_errors, blanked = self._blanker.blank(found_errors, columns, changed)
            for done in blanked:
                notes.append(Note(BLANKED, done.column, len(done.rows), done.rows[0], done.message))
        self._check_groups(columns, n, skipped, found_errors, notes)
        invalid: dict[int, list[str]] = {}
        error_counts: dict[str, int] = {}
        for _, code, _, _, rows in found_errors:
            error_counts[code] = error_counts.get(code, 0) + len(rows)
            for row in rows:
                invalid.setdefault(row, []).append(code)
        left_out = {**invalid, **{row: [] for row in skipped}} if skipped else invalid
        key_rows, stable = self._stable_keys(columns, n, left_out)
        versions = self._stable_versions(columns, key_rows) if stable is not None else None
        chats = self._left_out(columns, n, left_out, stable, key_rows, versions=versions)
        return Outcome(
            columns=columns,
            changed=changed,
            invalid=invalid,
            errors=self._first_errors(found_errors, room),
            error_counts=error_counts,
            notes=notes,
            duplicates=chats.duplicates,
            dedupe_stopped_row=chats.stopped,
            key_rows=key_rows,
            keys=stable,
            versions=versions,
            superseded=chats.superseded,
            late_superseded=chats.late,
            skipped=skipped,
        )

    def _left_out(
        self,
        columns: list[list[str] | None],
        n: int,
        invalid: dict[int, list[str]],
        stable: Keys | None,
        key_rows: list[int],
        *,
        versions: Keys | None,
    ) -> Decided:
        """The valid rows left out because of other rows of the file."""
        if self._chats is not None:
            if stable is not None and versions is not None and isinstance(self._chats, Versions):
                # the ledger's keys, already taken: no second hash of the cells
                return self._chats.check(key_rows, stable.tolist(), versions.tolist(), n)
            return self._chat_versions(self._chats, columns, n, invalid)
        duplicates, stopped = self._dedupe(columns, n, invalid, stable, key_rows)
        return Decided(duplicates, [], stopped=stopped)

    def _stable_versions(self, columns: list[list[str] | None], key_rows: list[int]) -> Keys | None:
        """CHATS: the valid rows' version keys, for the ledger (None for other types)."""
        if self._layout.rules.type is not ConversionType.CHATS:
            return None
        from metrika_offline.check.sent import stable_hashes  # noqa: PLC0415 (numpy: ledger only)

        every = [None if p is None else columns[p] for p in self._all_columns]
        return stable_hashes(every, key_rows, version=True)

    def _chat_versions(
        self,
        chats: Versions | Replay,
        columns: list[list[str] | None],
        n: int,
        invalid: dict[int, list[str]],
    ) -> Decided:
        """CHATS: rows left out because of another row of the file with the same chat key
        (see `chats.py`)."""
        if not n:
            return Decided([], [])
        rows = [row for row in range(n) if row not in invalid] if invalid else range(n)
        if isinstance(chats, Replay):
            return chats.check(rows, n)
        picked = [row for row in rows] if invalid else None

        def hashed(positions: list[int]) -> list[int]:
            cells = [columns[p] or [] for p in positions]
            if picked is not None:
                cells = [[column[row] for row in picked] for column in cells]
            return list(map(hash, zip(*cells, strict=True)))

        return chats.check(rows, hashed(self._key_positions), hashed(self._present), n)

    def _check_groups(
        self,
        columns: list[list[str] | None],
        n: int,
        skipped: dict[int, str],
        found_errors: list[tuple[int, str, str | None, str, list[int]]],
        notes: list[Note],
    ) -> None:
        """Rows with every column of an at-least-one group empty: errors or notes."""
        for group, positions in self._groups:
            missing = self._missing_group(columns, positions, n)
            if skipped and missing:
                missing = [row for row in missing if row not in skipped]
            if not missing:
                continue
            if group.is_error:
                message = f"every one of {', '.join(group.columns)} is empty"
                found_errors.append((self._layout.width, group.code, None, message, missing))
            else:
                message = note_message(group.code, None, self._ctx)
                notes.append(Note(group.code, None, len(missing), missing[0], message))

    def _skipped(
        self, batch: Batch, found: list[tuple[int, str, str | None, str, list[int]]]
    ) -> dict[int, str]:
        """Rows with an error in a required column that are the header again or totals."""
        skip = self._skip
        if skip is None:
            return {}
        rows = {row for position, _, _, _, bad in found if position in skip.required for row in bad}
        why = ((row, skip.why(batch.row(row))) for row in sorted(rows))
        return {row: reason for row, reason in why if reason is not None}

    @staticmethod
    def _without(
        found: list[tuple[int, str, str | None, str, list[int]]], skipped: dict[int, str]
    ) -> list[tuple[int, str, str | None, str, list[int]]]:
        kept = []
        for position, code, name, message, rows in found:
            left = [row for row in rows if row not in skipped]
            if left:
                kept.append((position, code, name, message, left))
        return kept

    def _stable_keys(
        self, columns: list[list[str] | None], n: int, invalid: dict[int, list[str]]
    ) -> tuple[list[int], Keys | None]:
        """The valid rows and their stable keys, when the ledger wants them."""
        if not self._stable or not n:
            return [], None
        from metrika_offline.check.sent import stable_hashes  # noqa: PLC0415 (numpy: ledger only)

        key_rows = [row for row in range(n) if row not in invalid] if invalid else [*range(n)]
        key_columns = [None if p is None else columns[p] for p in self._full_key]
        return key_rows, stable_hashes(key_columns, key_rows)

    @staticmethod
    def _missing_group(columns: list[list[str] | None], positions: list[int], n: int) -> list[int]:
        """Rows where every column of the group is empty."""
        present = [columns[p] for p in positions]
        cols = [c for c in present if c is not None]
        if not cols or not n:
            return []  # no column of the group at all: the header said so, once
        if any("" not in col for col in cols):
            return []
        if len(cols) == 1:
            return list(compress(count(), map(not_, cols[0])))
        return list(compress(count(), map(not_, map(any, zip(*cols, strict=True)))))

    @staticmethod
    def _first_errors(
        found: list[tuple[int, str, str | None, str, list[int]]], room: int
    ) -> list[RowError]:
        if room <= 0:
            return []
        candidates = [
            RowError(row, order, code, column, message)
            for order, code, column, message, rows in found
            for row in rows[:room]
        ]
        candidates.sort(key=lambda e: (e.row, e.order))
        return candidates[:room]

    def _dedupe(
        self,
        columns: list[list[str] | None],
        n: int,
        invalid: dict[int, list[str]],
        stable: Keys | None,
        key_rows: list[int],
    ) -> tuple[list[int], int | None]:
        """Rows (among the valid) whose key an earlier row had; and the first row whose key
        could not be remembered any more, if the key limit was reached in this batch. With
        `stable` keys (those of the valid rows), those are compared instead of `hash()`."""
        keys = self._keys
        if keys is None or not self._key_positions or not n:
            return [], None
        if stable is not None:
            repeats, stopped = keys.add_all(stable, len(stable))
            return [key_rows[p] for p in repeats], None if stopped is None else key_rows[stopped]
        key_columns = [columns[p] for p in self._key_positions]
        keyed: Iterable[object]
        if len(key_columns) == 1:
            keyed = key_columns[0] or []
        else:
            # A tuple's hash mixes its strings' SipHash values: 64 bits, no joined copy.
            keyed = zip(*(c or [] for c in key_columns), strict=True)
        hashes: Iterable[int] = map(hash, keyed)
        rows: list[int] | None = None
        size = n
        if invalid:
            mask = [True] * n
            for row in invalid:
                mask[row] = False
            rows = list(compress(range(n), mask))
            hashes = compress(hashes, mask)
            size = len(rows)
        repeats, stopped = keys.add_all(hashes, size)
        if rows is None:
            return repeats, stopped
        return [rows[p] for p in repeats], None if stopped is None else rows[stopped]
