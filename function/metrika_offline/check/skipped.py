"""Rows that are no conversion: the header again, and a totals row.

Two exports joined into one file (`cat`, or pasted one below the other in Excel) carry the
second one's header in the middle; a report saved from a spreadsheet may end in a totals row
(`Итого;;;12 мин`). Neither is a bad conversion: each is skipped with a warning, and counts
neither as a row nor as an invalid one.

Both always fail a required column (a header cell or a label where DateTime should be, or
nothing there), so only rows with such an error are looked at: clean rows cost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from metrika_offline.check.columns import Layout

REPEATED_HEADER = "repeated-header"
TOTALS_ROW = "totals-row"

#: The first filled cell of a totals row (lower-cased, a colon after it allowed).
TOTALS_LABELS = frozenset({"итого", "всего", "total", "totals", "grand total"})

MESSAGES = {
    REPEATED_HEADER: "rows equal to the header (exports joined together) were skipped",
    TOTALS_ROW: "totals rows (Итого, Всего, Total) were skipped",
}


def _clean(cell: str) -> str:
    return cell.strip().lstrip("\ufeff").strip()


def _is_label(cell: str) -> bool:
    return cell.rstrip(":").rstrip().casefold() in TOTALS_LABELS


class SkippedRows:
    """Tells the header repeated and totals rows from conversions, for one file."""

    def __init__(self, names: Sequence[str], layout: Layout) -> None:
        self._header = [_clean(name) for name in names]
        self.required = tuple(
            position
            for position, column in enumerate(layout.columns)
            if column is not None and column.required
        )

    def why(self, cells: Sequence[str]) -> str | None:
        """`repeated-header`, `totals-row`, or None for a row that is neither."""
        # The required cells first: a bad date in them (the usual error) settles it at once.
        for position in self.required:
            cell = _clean(cells[position]) if position < len(cells) else ""
            if cell and cell != self._header[position] and not _is_label(cell):
                return None
        cleaned = [_clean(cell) for cell in cells]
        if cleaned == self._header:
            return REPEATED_HEADER
        label = next((cell for cell in cleaned if cell), "")
        if not _is_label(label):
            return None
        for position in self.required:
            value = cleaned[position] if position < len(cleaned) else ""
            if value and value != label:
                return None  # a required value: a conversion after all
        return TOTALS_ROW
