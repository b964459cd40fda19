"""A job's key is pinned: the fingerprint of routing and check settings must not move when the
code that holds those settings changes shape. A job in flight across a deploy keeps its key;
otherwise the CLI would start it over as if the settings had changed.

The keys below were recorded from the code as it stood before the routing and check choices
became enums (`Route` holding strings, `CheckOptions` copying them).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from metrika_offline.check.checker import CheckOptions
from metrika_offline.config import Settings
from metrika_offline.flow.record.route import Route
from metrika_offline.flow.source.claim import job_key
from metrika_offline.flow.source.folder_settings import FolderSettings, parse_settings
from metrika_offline.flow.source.routing import PARSERS, route
from metrika_offline.types import ConversionType

SETTINGS = Settings(default_counter_id=51234567, default_type=ConversionType.CALLS)
#: The environment spelling its choices otherwise than their canonical values: the key took
#: the spelling as it was (the choices were parsed only later, by the checker).
SPELT = Settings(
    default_counter_id=51234567,
    default_type=ConversionType.CALLS,
    date_order="dmy",
    duration_format="MS",
    on_bad_optional="Drop-Row",
    chat_same_key="KEEP-FIRST",
)
NOW = 1_796_560_000.0  # 2026-12-06 12:26:40 UTC: not part of the key


def _options(routed: Route, settings: Settings = SETTINGS) -> CheckOptions:
    """The options the function checks a routed file with (as the source side builds them)."""
    return routed.check_options(settings, now=NOW)


def _folder() -> FolderSettings:
    raw = (
        b'{"counter_id": 61234567, "type": "BASIC", "timezone": "Europe/Moscow",'
        b' "date_order": "DMY", "duration_format": "hms", "encoding": "windows-1251",'
        b' "on_bad_optional": "drop-row", "chat_same_key": "keep-first",'
        b' "ledger_window_days": 7, "unknown_goals": "error", "notify": "telegram,slack",'
        b' "telegram_chat_id": "-1001234567890", "ignore_visit_join_threshold": true,'
        b' "column_map": {"Phone number": "PhoneNumber", "Deal date": "DateTime"}}'
    )
    return parse_settings(raw, "incoming/shop/metrika-offline.json", PARSERS)


CASES: dict[str, tuple[Callable[[], Route], Settings, str]] = {
    "defaults": (
        lambda: route("incoming/2026-12/calls.csv", {}, SETTINGS),
        SETTINGS,
        "f48d1f271b02",
    ),
    "metadata": (
        lambda: route(
            "incoming/deals.csv",
            {
                "counter-id": "71234567",
                "type": "basic",
                "mode": "dry-run",
                "phone-region": "KZ",
                "date-order": "MDY",
                "notify": "none",
            },
            SETTINGS,
        ),
        SETTINGS,
        "15826d07fc17",
    ),
    "folder": (
        lambda: route("incoming/shop/deals.csv", {}, SETTINGS, _folder()),
        SETTINGS,
        "4614a924eb94",
    ),
    "environment spelt otherwise": (
        lambda: route("incoming/2026-12/calls.csv", {}, SPELT),
        SPELT,
        "ee806d47f3fe",
    ),
    "environment spelt otherwise, metadata over it": (
        lambda: route("incoming/2026-12/calls.csv", {"date-order": "mdy"}, SPELT),
        SPELT,
        "502b23756ce0",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_job_key_is_the_one_recorded_before(case: str) -> None:
    build, settings, recorded = CASES[case]
    routed = build()
    assert routed.problem is None
    assert job_key(routed, _options(routed, settings), settings) == recorded
