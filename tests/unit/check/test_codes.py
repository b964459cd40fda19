"""One registry of codes for the checker and the flow: the README's code tables say the same,
both ways; every code the flow can write is in it; every template fills."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from metrika_offline.check.codes import CODES, FLOW_CODES, Code, Level, message
from metrika_offline.errors import MetrikaDailyQuota, MetrikaNotReady, MetrikaWait

README = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
LEVELS = {
    "error": Level.ERROR,
    "warning": Level.WARNING,
    "result error": Level.RESULT_ERROR,
    "outcome warning": Level.OUTCOME_WARNING,
}
_HEADER = re.compile(r"^\| (?P<level>[a-z ]+) \| meaning \|$")
_ROW = re.compile(r"^\| `(?P<code>[a-z0-9-]+)` \| (?P<meaning>.+) \|$")


def _readme_tables() -> dict[str, tuple[Level, str]]:
    """Every row of the code tables in the README's "Error and warning codes" section."""
    section = README.split("### Error and warning codes")[1].split("\n### ")[0]
    rows: dict[str, tuple[Level, str]] = {}
    level: Level | None = None
    for line in section.splitlines():
        if header := _HEADER.match(line):
            level = LEVELS[header["level"]]
        elif (row := _ROW.match(line)) and level is not None:
            assert row["code"] not in rows, f"{row['code']} is listed twice"
            rows[row["code"]] = (level, row["meaning"])
        elif not line.startswith("|"):
            level = None
    return rows


def test_the_readme_tables_and_the_registry_list_the_same_codes_with_the_same_words() -> None:
    listed = _readme_tables()
    registered = {code: (info.level, info.description) for code, info in CODES.items()}
    assert sorted(set(registered) - set(listed)) == [], "registered, not in the README"
    assert sorted(set(listed) - set(registered)) == [], "in the README, not registered"
    assert listed == registered


def test_every_flow_code_is_registered_and_every_code_is_kebab_case() -> None:
    assert set(FLOW_CODES) == set(Code)
    for code in CODES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", code), code


@pytest.mark.parametrize("error", [MetrikaNotReady, MetrikaDailyQuota])
def test_the_wait_codes_of_metricas_answers_are_registered(error: type[MetrikaWait]) -> None:
    assert CODES[error.code].level is Level.WARNING


@pytest.mark.parametrize("code", [c for c in Code if FLOW_CODES[c].template])
def test_every_template_fills_with_the_fields_it_names(code: Code) -> None:
    template = FLOW_CODES[code].template
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    text = message(code, **dict.fromkeys(names, 1))
    assert "{" not in text
    assert text.strip() == text


def test_a_code_without_a_template_has_no_message() -> None:
    with pytest.raises(ValueError, match="no message template"):
        message(Code.BAD_TYPE)
