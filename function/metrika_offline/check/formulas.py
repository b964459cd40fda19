"""Cells written for a person to open in a spreadsheet cannot start a formula.

A CSV cell Excel (or LibreOffice, Google Sheets) reads as a formula is evaluated when the file
is opened: `=HYPERLINK("http://evil.example","open")` typed into a CRM's comment field by a
website visitor would come back as a live link in the rejects file (CSV formula injection,
OWASP). As OWASP advises, such a cell is written with a leading `'`, which makes it text:

- `=`, `@`, a tab or a carriage return first: always;
- `+` or `-` first: only when what follows is not a number, so that a phone number
  (`+7 912 345-67-89`) or a negative amount (`-1 250,50`) stays as it is.

Only the first character is looked at for most cells, so the guard costs little on a file
whose rows are mostly rejected. The rule is for files people open (the rejects file), never
for the parts sent to Metrica, whose values go as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["FORMULA_FIRST", "defuse", "defused", "starts_formula"]

#: Characters that make a spreadsheet read a cell as a formula (or a command) when first.
FORMULA_FIRST = frozenset("=@\t\r+-")
_ALWAYS = frozenset("=@\t\r")
#: What may follow a `+` or a `-` and still be a number: digits and the marks phone numbers
#: and amounts are written with (spaces, no-break spaces, brackets, dashes, dots, commas).
_NUMBER_AFTER_SIGN = re.compile("[0-9 \u00a0\u202f().,-]*\\Z")


def starts_formula(cell: str) -> bool:
    """True when a spreadsheet opening the file could read `cell` as a formula."""
    first = cell[:1]
    if first not in FORMULA_FIRST:
        return False
    return first in _ALWAYS or _NUMBER_AFTER_SIGN.match(cell, 1) is None


def defuse(cell: str) -> str:
    """`cell`, with a leading `'` when it would start a formula."""
    return "'" + cell if starts_formula(cell) else cell


def defused(cells: Iterable[str]) -> list[str]:
    """Each cell defused; a cell whose first character cannot start a formula is not looked
    at further."""
    return ["'" + c if c[:1] in FORMULA_FIRST and starts_formula(c) else c for c in cells]
