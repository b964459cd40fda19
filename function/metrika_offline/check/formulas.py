"""Cells written for a person to open in a spreadsheet cannot start a formula.

A CSV cell Excel (or LibreOffice, Google Sheets) reads as a formula is evaluated when the file
is opened: `=HYPERLINK("http://evil.example","open")` typed into a CRM's comment field by a
website visitor would come back as a live link in the rejects file (CSV formula injection,
OWASP). As OWASP advises, such a cell is written with a leading `'`, which makes it text:

- `=`, `@`, a tab or a carriage return first: always;
- `+` or `-` first: only when what follows is not a number, so that a phone number
  (`+7 912 345-67-89`) or a negative amount (`-1 250,50`) stays as it is.

A row is looked at by one regular expression over its joined cells, and cell by cell only when
it holds such a cell, so the guard costs little on a file whose rows are mostly rejected. The
rule is for files people open (the rejects file), never for the parts sent to Metrica, whose
values go as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["FORMULA_FIRST", "defuse", "defused", "starts_formula"]

#: Characters that make a spreadsheet read a cell as a formula (or a command) when first.
FORMULA_FIRST = frozenset("=@\t\r+-")
_ALWAYS = frozenset("=@\t\r")
#: What may follow a `+` or a `-` and still be a number: digits and the marks phone numbers
#: and amounts are written with (spaces, no-break spaces, brackets, dashes, dots, commas).
_NUMBER_CHARS = "0-9 \u00a0\u202f().,-"
_NUMBER_AFTER_SIGN = re.compile(f"[{_NUMBER_CHARS}]*\\Z")
#: The same rule over a whole row joined by a separator no cell holds (checked by counting):
#: a cell starts after each separator and ends at the next one.
_SEP = "\x1f"
_RISKY_CELL = re.compile(f"{_SEP}(?:[=@\t\r]|[+-](?![{_NUMBER_CHARS}]*{_SEP}))")


def starts_formula(cell: str) -> bool:
    """True when a spreadsheet opening the file could read `cell` as a formula."""
    first = cell[:1]
    if first not in FORMULA_FIRST:
        return False
    return first in _ALWAYS or _NUMBER_AFTER_SIGN.match(cell, 1) is None


def defuse(cell: str) -> str:
    """`cell`, with a leading `'` when it would start a formula."""
    return "'" + cell if starts_formula(cell) else cell


def defused(cells: Sequence[str]) -> Sequence[str]:
    """Each cell defused: `cells` itself when none would start a formula, found by one regular
    expression over the row (the rejects file's rows are mostly clean), else a new list."""
    joined = _SEP + _SEP.join(cells) + _SEP
    if _RISKY_CELL.search(joined) is None and joined.count(_SEP) == len(cells) + 1:
        return cells
    return [defuse(c) for c in cells]
