"""Routing: metadata > path > defaults, each value saying where it came from."""

from __future__ import annotations

import dataclasses

import pytest

from metrika_offline.check.checker import CheckOptions
from metrika_offline.check.choices import ChatSameKey, DateOrder, Encoding, OnBadOptional
from metrika_offline.config import Settings
from metrika_offline.errors import ConfigError
from metrika_offline.flow.record.route import Mode
from metrika_offline.flow.source.routing import route
from metrika_offline.types import ConversionType, UnknownGoals

SETTINGS = Settings(default_counter_id=111, default_type=ConversionType.BASIC)
CHOICES = (
    "timezone",
    "phone_region",
    "date_order",
    "duration_format",
    "encoding",
    "on_bad_optional",
    "chat_same_key",
    "ledger_window_days",
    "unknown_goals",
    "notify",
    "telegram_chat_id",
    "ignore_visit_join_threshold",
)
CHOICES_BY_DEFAULT = dict.fromkeys(CHOICES, "default")


def test_path_gives_counter_and_type_in_any_case() -> None:
    routed = route("incoming/51234567/Calls/2026-11/a.csv", {}, SETTINGS)
    assert routed.problem is None
    assert routed.counter_id == 51234567
    assert routed.type is ConversionType.CALLS
    assert routed.sources == {
        "counter_id": "path",
        "type": "path",
        "comment": "default",
        "mode": "default",
        **CHOICES_BY_DEFAULT,
    }
    assert routed.comment == "a"


def test_metadata_wins_over_path() -> None:
    meta = {"counter-id": "42", "type": "chats", "comment": "October batch", "mode": "dry-run"}
    routed = route("incoming/51234567/calls/a.csv", meta, SETTINGS)
    assert (routed.counter_id, routed.type, routed.comment, routed.mode) == (
        42,
        ConversionType.CHATS,
        "October batch",
        Mode.DRY_RUN,
    )
    assert routed.sources == {
        "counter_id": "metadata",
        "type": "metadata",
        "comment": "metadata",
        "mode": "metadata",
        **CHOICES_BY_DEFAULT,
    }


def test_defaults_when_path_says_nothing() -> None:
    routed = route("incoming/exports/leads.csv", {}, SETTINGS)
    assert routed.counter_id == 111
    assert routed.type is ConversionType.BASIC
    assert routed.sources["counter_id"] == "default"


def test_other_folders_are_just_folders() -> None:
    routed = route("incoming/2026-11/basic-ish/x.csv", {}, Settings())
    assert routed.counter_id is None
    assert routed.problem is not None
    assert routed.problem.code == "no-counter"


def test_digits_above_the_input_prefix_are_not_a_counter() -> None:
    # The prefix itself holds an all-digit folder; only what lies below it routes.
    settings = Settings(input_prefix="clients/12345/incoming/")
    routed = route("clients/12345/incoming/x.csv", {}, settings)
    assert routed.counter_id is None
    assert route("clients/12345/incoming/777/x.csv", {}, settings).counter_id == 777


def test_a_type_folder_above_the_input_prefix_is_not_a_type() -> None:
    settings = Settings(input_prefix="calls/incoming/", default_counter_id=5)
    assert route("calls/incoming/x.csv", {}, settings).type.value == "BASIC"
    assert route("calls/incoming/chats/x.csv", {}, settings).type.value == "CHATS"


def test_dry_run_needs_no_counter() -> None:
    routed = route("incoming/x.csv", {"mode": "dry-run"}, Settings())
    assert routed.problem is None
    assert routed.mode is Mode.DRY_RUN


@pytest.mark.parametrize(
    ("meta", "code"),
    [
        ({"counter-id": "12ab"}, "bad-counter-id"),
        ({"type": "leads"}, "bad-type"),
        ({"mode": "later"}, "bad-mode"),
    ],
)
def test_bad_metadata_is_a_clear_problem(meta: dict[str, str], code: str) -> None:
    routed = route("incoming/1/x.csv", meta, SETTINGS)
    assert routed.problem is not None
    assert routed.problem.code == code
    assert next(iter(meta)) in routed.problem.message


def test_metadata_keys_any_case_and_padded() -> None:
    routed = route("incoming/x.csv", {" Counter-ID ": " 77 "}, Settings())
    assert routed.counter_id == 77


def test_a_name_outside_the_input_prefix_is_read_whole() -> None:
    routed = route("exports/123/calls/x.csv", {}, Settings(input_prefix="incoming/"))
    assert (routed.counter_id, routed.type) == (123, ConversionType.CALLS)


def test_no_counter_says_every_way_to_give_one() -> None:
    routed = route("incoming/x.csv", {}, Settings())
    assert routed.problem is not None
    message = routed.problem.message
    for way in ("counter-id", "incoming/51234567/", "DEFAULT_COUNTER_ID"):
        assert way in message


def test_a_bad_mode_lists_the_modes() -> None:
    routed = route("incoming/1/x.csv", {"mode": "later"}, Settings())
    assert routed.problem is not None
    assert all(mode.value in routed.problem.message for mode in Mode)


def test_resend_is_an_upload_that_needs_a_counter() -> None:
    routed = route("incoming/51234567/a.csv", {"mode": "Resend"}, SETTINGS)
    assert (routed.mode, routed.problem) == (Mode.RESEND, None)
    lost = route("incoming/exports/a.csv", {"mode": "resend"}, Settings())
    assert lost.problem is not None
    assert lost.problem.code == "no-counter"


def test_the_ledger_window_comes_from_metadata_or_the_environment() -> None:
    assert route("incoming/5/a.csv", {}, Settings(ledger_window_days=10)).ledger_window_days == 10
    routed = route("incoming/5/a.csv", {"ledger-window-days": "35"}, SETTINGS)
    assert (routed.ledger_window_days, routed.sources["ledger_window_days"]) == (35.0, "metadata")
    assert route("incoming/5/a.csv", {"ledger-window-days": "0"}, SETTINGS).ledger_window_days == 0
    for bad in ("-1", "a week"):
        refused = route("incoming/5/a.csv", {"ledger-window-days": bad}, SETTINGS)
        assert refused.problem is not None
        assert "ledger-window-days" in refused.problem.message


def test_chat_same_key_comes_from_metadata_and_reaches_the_checker() -> None:
    routed = route("incoming/51234567/chats/a.csv", {"chat-same-key": "Keep-First"}, SETTINGS)
    assert (routed.problem, routed.chat_same_key) == (None, "keep-first")
    assert routed.sources["chat_same_key"] == "metadata"
    assert routed.chat_same_key == "keep-first"
    assert route("incoming/51234567/chats/a.csv", {}, SETTINGS).chat_same_key == "keep-last"


def test_a_files_choices_are_parsed_once_into_their_enums() -> None:
    routed = route(
        "incoming/a.csv",
        {"date-order": "dmy", "encoding": "cp1251", "unknown-goals": "Error", "type": "chats"},
        SETTINGS,
    )
    assert routed.date_order is DateOrder.DMY
    assert routed.encoding is Encoding.WINDOWS_1251
    assert routed.on_bad_optional is OnBadOptional.BLANK
    assert routed.chat_same_key is ChatSameKey.KEEP_LAST
    assert routed.unknown_goals is UnknownGoals.ERROR
    options = routed.check_options(SETTINGS)
    assert options.date_order is DateOrder.DMY
    assert options.encoding is Encoding.WINDOWS_1251


def test_check_options_hold_the_choices_as_enums_however_they_are_spelt() -> None:
    options = CheckOptions(
        type=ConversionType.CALLS, date_order="dmy", encoding="cp1251", on_bad_optional="Drop-Row"
    )  # type: ignore[arg-type]
    assert options.date_order is DateOrder.DMY
    assert options.encoding is Encoding.WINDOWS_1251
    assert options.on_bad_optional is OnBadOptional.DROP_ROW
    spelt = Settings(date_order="mdy", chat_same_key="Keep-First")
    from_env = CheckOptions.from_settings(spelt, type=ConversionType.CALLS)
    assert from_env.date_order is DateOrder.MDY
    assert from_env.chat_same_key is ChatSameKey.KEEP_FIRST
    with pytest.raises(ConfigError, match="date order"):
        CheckOptions.from_settings(Settings(date_order="YDM"), type=ConversionType.CALLS)


@pytest.mark.parametrize(
    ("field", "variable", "good"),
    [
        ("date_order", "DATE_ORDER", "DMY"),
        ("duration_format", "DURATION_FORMAT", "ms"),
        ("on_bad_optional", "ON_BAD_OPTIONAL", "blank"),
        ("chat_same_key", "CHAT_SAME_KEY", "keep-last"),
    ],
)
def test_a_bad_choice_in_the_environment_is_the_deployments_error(
    field: str, variable: str, good: str
) -> None:
    settings = dataclasses.replace(SETTINGS, **{field: "sideways"})
    with pytest.raises(ConfigError, match=variable):
        route("incoming/a.csv", {}, settings)
    # A file that gives the choice itself does not need the environment's.
    chosen = route("incoming/a.csv", {field.replace("_", "-"): good}, settings)
    assert chosen.problem is None
    assert getattr(chosen, field) == good
