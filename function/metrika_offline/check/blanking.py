"""Keep the conversion, drop the bad value: an invalid optional value is left empty.

Metrica itself keeps such a row and sends nothing for the value ("if a different currency is
passed, null values are sent instead of currencies and amounts"), so throwing the whole
conversion away would lose what Metrica counts. Price and Currency go together: one without
the other means nothing. What stays a row error: required values (DateTime, Target,
ChatPlatform), Metrica's IDs, and a value whose blanking would leave the row without any of a
required group (a PhoneNumber that is a chat's only contact).
"""

from __future__ import annotations

import dataclasses

from metrika_offline.check.columns import BLANK_TOGETHER, Layout

CODE = "invalid-value-blanked"

#: One column's errors in one batch: (position, code, column name, message, rows).
Found = tuple[int, str, str | None, str, list[int]]


@dataclasses.dataclass(frozen=True)
class Blanked:
    """What blanking did to one column of one batch."""

    column: str
    rows: list[int]
    message: str


class Blanker:
    """Blanks invalid optional values of one file's layout."""

    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._by_name: dict[str, int] = {}
        for position, column in enumerate(layout.columns):
            if column is not None:
                self._by_name[column.name] = position
        self._partners: dict[str, str] = {}
        for one, other in BLANK_TOGETHER:
            if one in self._by_name and other in self._by_name:
                self._partners[one], self._partners[other] = other, one
        # Required groups: blanking a value must not leave a row with none of them.
        self._groups: dict[str, list[int]] = {}
        for group in layout.rules.groups:
            if not group.is_error:
                continue
            positions = [self._by_name[name] for name in group.columns if name in self._by_name]
            for name in group.columns:
                if name in self._by_name:
                    self._groups[name] = [p for p in positions if p != self._by_name[name]]

    def blank(
        self, found: list[Found], columns: list[list[str] | None], changed: set[int]
    ) -> tuple[list[Found], list[Blanked]]:
        """Errors that stay, and what was blanked. `columns` and `changed` are updated."""
        kept: list[Found] = []
        blanked: dict[str, tuple[set[int], str]] = {}
        for entry in found:
            position, code, name, message, rows = entry
            column = self._layout.columns[position] if position < len(columns) else None
            if column is None or not column.blank_when_invalid:
                kept.append(entry)
                continue
            others = self._groups.get(column.name)
            values = columns[position]
            assert values is not None
            stay = [row for row in rows if others is not None and self._alone(others, row, columns)]
            if stay:
                kept.append((position, code, name, message, stay))
            stay_set = set(stay)
            gone = [row for row in rows if row not in stay_set] if stay else rows
            if not gone:
                continue
            rows_blanked, _ = blanked.setdefault(column.name, (set(), message))
            rows_blanked.update(gone)
        result: list[Blanked] = []
        partnered: dict[str, set[int]] = {}
        for name, (rows_set, message) in blanked.items():
            partner = self._partners.get(name)
            if partner is not None:
                partnered.setdefault(partner, set()).update(rows_set)
            self._clear(name, rows_set, columns, changed)
            result.append(
                Blanked(
                    name,
                    sorted(rows_set),
                    f"invalid {name} values were left empty and their rows kept ({message})",
                )
            )
        for name, rows_set in partnered.items():
            values = columns[self._by_name[name]]
            assert values is not None
            extra = {row for row in rows_set if values[row]} - blanked.get(name, (set(), ""))[0]
            if not extra:
                continue
            self._clear(name, extra, columns, changed)
            other = self._partners[name]
            result.append(
                Blanked(
                    name,
                    sorted(extra),
                    f"{name} was left empty along with an invalid {other} (one means "
                    "nothing without the other)",
                )
            )
        return kept, result

    def _alone(self, others: list[int], row: int, columns: list[list[str] | None]) -> bool:
        """No other column of the required group has a value in `row`."""
        for position in others:
            values = columns[position]
            if values is not None and values[row]:
                return False
        return True

    def _clear(
        self, name: str, rows: set[int], columns: list[list[str] | None], changed: set[int]
    ) -> None:
        values = columns[self._by_name[name]]
        assert values is not None
        for row in rows:
            values[row] = ""
        changed.update(rows)
