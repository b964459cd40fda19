"""Every file of the corpus (tests/data/manifest.json) reaches the outcome written down for it."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from metrika_offline.check.checker import CheckOptions, check_file
from metrika_offline.types import ConversionType
from tests.unit.check.helpers import MemorySink, MemoryWriter, SingleLineStream

DATA = Path(__file__).resolve().parents[2] / "data"
MANIFEST = json.loads((DATA / "manifest.json").read_text(encoding="utf-8"))
ENTRIES: list[dict[str, Any]] = MANIFEST["files"]
ROOT = DATA.parent.parent
#: Keys of a folder settings file that are check options.
EXAMPLE_CHOICES = frozenset(
    {"timezone", "phone_region", "date_order", "duration_format", "encoding", "column_map"}
)


def _stream(entry: dict[str, Any]) -> io.RawIOBase | io.BytesIO:
    generate = entry.get("generate")
    if generate is None:
        return io.BytesIO((DATA / entry["file"]).read_bytes())
    assert generate["kind"] == "single-line"
    return SingleLineStream(generate["bytes"])


def _example(entry: dict[str, Any]) -> dict[str, Any]:
    """The check choices of the folder settings example an entry is read through, if any."""
    if "settings" not in entry:
        return {}
    example = json.loads((ROOT / entry["settings"]).read_text(encoding="utf-8"))
    return {key: value for key, value in example.items() if key in EXAMPLE_CHOICES}


def _id(entry: dict[str, Any]) -> str:
    return entry["file"] or entry["generate"]["kind"]


def test_corpus_is_large_enough_and_every_file_is_listed() -> None:
    listed = {entry["file"] for entry in ENTRIES if entry["file"]}
    on_disk = {path.name for path in DATA.iterdir() if path.name != "manifest.json"}
    assert listed == on_disk
    assert len(ENTRIES) >= 30


@pytest.mark.parametrize("entry", ENTRIES, ids=_id)
def test_corpus_file(entry: dict[str, Any]) -> None:
    expect = entry["expect"]
    # An entry may pin its own clock ("now" among its options), for recent dates.
    chosen = {"now": MANIFEST["now"], **_example(entry), **entry.get("options", {})}
    options = CheckOptions(type=ConversionType(entry["type"]), **chosen)
    sink = MemorySink()
    report = check_file(_stream(entry), options, sink=sink)  # type: ignore[arg-type]

    assert report.valid is expect["valid"]
    rejected = report.rejected_reason.code if report.rejected_reason else None
    assert rejected == expect["rejected"]
    assert sorted(report.error_counts) == expect["errors"]
    assert sorted({w.code for w in report.warnings}) == expect["warnings"]
    if "rows" in expect:
        assert msgspec.to_builtins(report.rows) == expect["rows"]
    if "line" in expect:
        assert report.rejected_reason is not None
        assert report.rejected_reason.line == expect["line"]
    for key in ("encoding", "delimiter"):
        if key in expect:
            assert getattr(report, key) == expect[key]
    # Parts exist exactly when the file is valid, and hold exactly the valid rows.
    if report.valid:
        assert sum(part.rows for part in report.parts) == report.rows.valid
        assert sink.rows() == report.rows.valid
    else:
        assert sink.parts == {}


# A spreadsheet reads a cell as a formula when it starts with one of these; `+` and `-` only
# when what follows is not a plain number (written out here, apart from the code's own rule).
_FORMULA_ALWAYS = ("=", "@", "\t", "\r")
_PLAIN_NUMBER_AFTER_SIGN = "0123456789 ().,-\u00a0\u202f"


def _opens_as_formula(cell: str) -> bool:
    if cell.startswith(_FORMULA_ALWAYS):
        return True
    return cell.startswith(("+", "-")) and not all(c in _PLAIN_NUMBER_AFTER_SIGN for c in cell[1:])


def test_no_cell_of_any_rejects_file_opens_as_a_formula() -> None:
    """Every corpus file, its rejected rows kept: no cell written for a person starts a
    formula, and a source cell that would have is there with a `'` before it."""
    defused = 0
    for entry in ENTRIES:
        chosen = {"now": MANIFEST["now"], **entry.get("options", {}), "max_invalid_ratio": 1.0}
        options = CheckOptions(type=ConversionType(entry["type"]), **chosen)
        opened: list[MemoryWriter] = []

        def open_rejects(opened: list[MemoryWriter] = opened) -> MemoryWriter:
            opened.append(MemoryWriter())
            return opened[-1]

        report = check_file(_stream(entry), options, sink=MemorySink(), rejects=open_rejects)  # type: ignore[arg-type]
        for writer in opened:
            text = writer.data.decode("utf-8-sig")
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=report.delimiter))
            for cell in (cell for row in rows for cell in row):
                assert not _opens_as_formula(cell), (entry["file"], cell)
                defused += cell.startswith("'") and _opens_as_formula(cell[1:])
    # The corpus holds such cells (crm-formula-cells.csv): the check above is not vacuous.
    assert defused >= 6
