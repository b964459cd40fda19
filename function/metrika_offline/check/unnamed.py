"""Columns without a name: dropped when they hold nothing, or only row numbers.

Excel leaves empty columns after a table (`…;Currency;;`), R's `write.csv` and pandas'
`to_csv` write the row names or index as an unnamed first column (`1, 2, 3…` or `0, 1, 2…`,
with gaps where rows were filtered out). Neither is data: both are dropped, with a warning.
An unnamed column that holds anything else may be data: the file is rejected
(`empty-column-name`) at the first row where it does, so the user names it or removes it.
"""

from __future__ import annotations

import dataclasses
from itertools import pairwise

from metrika_offline.check.records import Batch


@dataclasses.dataclass(frozen=True)
class UnnamedProblem:
    row: int  # batch-relative
    position: int
    message: str


class UnnamedColumns:
    """Watches a file's unnamed columns batch by batch."""

    def __init__(self, positions: tuple[int, ...]) -> None:
        self.positions = positions
        self.filled: set[int] = set()  # positions that held any value
        self._last_number: dict[int, int] = {}  # the index column's last row number

    def check(self, batch: Batch) -> UnnamedProblem | None:
        """The first cell in `batch` that makes an unnamed column look like data."""
        for position in self.positions:
            values = batch.cells[position :: batch.stride][: batch.count]
            if not any(values):
                continue
            if position == 0 and self._row_numbers(values):
                self.filled.add(position)
                continue
            row = next(i for i, value in enumerate(values) if value.strip())
            if position == 0:
                row = self._first_not_numbered(values)
            return UnnamedProblem(
                row,
                position,
                f"header cell {position + 1} is empty but its column holds data: name it "
                "(or remove the column)",
            )
        return None

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

    def _first_not_numbered(self, values: list[str]) -> int:
        last = self._last_number.get(0, -1)
        for row, value in enumerate(values):
            text = value.strip()
            if not (text.isascii() and text.isdigit()) or int(text) <= last:
                return row
            last = int(text)
        return 0

    def warnings(self) -> list[tuple[str, int, str]]:
        """(code, position, message) for each column that was dropped."""
        found: list[tuple[str, int, str]] = []
        for position in self.positions:
            if position in self.filled:
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
