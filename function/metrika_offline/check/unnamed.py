"""Columns without a name: dropped, with a warning that says what they held.

Excel leaves empty columns after a table (`…;Currency;;`), R's `write.csv` and pandas'
`to_csv` write the row names or index as an unnamed first column (`1, 2, 3…` or `0, 1, 2…`,
with gaps where rows were filtered out). Neither is data: both are dropped, with a warning.
An unnamed column that holds anything else (a note typed beside the table) is no column of
Metrica's either: it is dropped too, and the warning gives its position and how many values it
held, so that a user who meant it as data names it.
"""

from __future__ import annotations

from itertools import pairwise

from metrika_offline.check.records import Batch


class UnnamedColumns:
    """Watches a file's unnamed columns batch by batch."""

    def __init__(self, positions: tuple[int, ...]) -> None:
        self.positions = positions
        self.filled: set[int] = set()  # positions that held any value
        self.data: set[int] = set()  # positions that held something other than row numbers
        self.values: dict[int, int] = dict.fromkeys(positions, 0)  # filled cells by position
        self._last_number: dict[int, int] = {}  # the index column's last row number

    def check(self, batch: Batch) -> None:
        """Count what the unnamed columns of `batch` hold."""
        for position in self.positions:
            values = batch.cells[position :: batch.stride][: batch.count]
            if not any(values):
                continue
            self.values[position] += len(values) - values.count("")
            self.filled.add(position)
            if position == 0 and position not in self.data and self._row_numbers(values):
                continue
            self.data.add(position)

    def _row_numbers(self, values: list[str]) -> bool:
        """Ascending whole numbers, from 0 or 1 at the file's first row on."""
        joined = "".join(values)
        if not (joined.isascii() and joined.isdigit()) or "" in values:
            return False
        numbers = list(map(int, values))
        last = self._last_number.get(0)
        if last is None and numbers[0] > 1:
            return False
        if last is not None and numbers[0] <= last:
            return False
        if any(b <= a for a, b in pairwise(numbers)):
            return False
        self._last_number[0] = numbers[-1]
        return True

    def warnings(self) -> list[tuple[str, int, str]]:
        """(code, position, message) for each column that was dropped."""
        found: list[tuple[str, int, str]] = []
        for position in self.positions:
            if position in self.data:
                held = self.values[position]
                found.append(
                    (
                        "unnamed-column-dropped",
                        position,
                        f"header cell {position + 1} is empty but its column held {held} "
                        f"value{'s' if held != 1 else ''}: dropped (name the column in the "
                        "header if it is data for Metrica)",
                    )
                )
            elif position in self.filled:
                found.append(
                    (
                        "index-column-dropped",
                        position,
                        "the unnamed first column holds row numbers (an index written by R "
                        "or pandas): dropped",
                    )
                )
            else:
                found.append(
                    (
                        "empty-column-dropped",
                        position,
                        f"header cell {position + 1} is empty and so is its column "
                        "(Excel's empty columns after a table): dropped",
                    )
                )
        return found
