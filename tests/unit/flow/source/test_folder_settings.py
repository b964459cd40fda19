"""Folder settings: found nearest first, checked key by key, ranked between metadata and the
path, and taken by the CLI's `--settings` too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metrika_offline import cli
from metrika_offline.config import Settings
from metrika_offline.flow.record.route import RoutingProblem
from metrika_offline.flow.source.events import EventKind, ObjectEvent, classify
from metrika_offline.flow.source.folder_settings import (
    SETTINGS_FILE,
    FolderSettings,
    SettingsProblem,
    candidates,
    find_settings,
    parse_settings,
)
from metrika_offline.flow.source.routing import PARSERS, route
from metrika_offline.store.local import LocalStore
from metrika_offline.types import ConversionType
from tests import samples

DOCS = Path(__file__).resolve().parents[4] / "docs/folder-settings"
SETTINGS = Settings(default_counter_id=111)


def _settings(**values: object) -> bytes:
    return json.dumps(values, ensure_ascii=False).encode()


def test_candidates_run_from_the_nearest_folder_up_to_the_input_prefix() -> None:
    assert candidates("incoming/acme/calls/2026-11/a.csv", "incoming/") == [
        "incoming/acme/calls/2026-11/metrika-offline.json",
        "incoming/acme/calls/metrika-offline.json",
        "incoming/acme/metrika-offline.json",
        "incoming/metrika-offline.json",
    ]
    assert candidates("a.csv", "") == ["metrika-offline.json"]
    assert candidates("sub/a.csv", "") == ["sub/metrika-offline.json", "metrika-offline.json"]


def test_the_nearest_settings_file_wins_whole(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.write_bytes("incoming/" + SETTINGS_FILE, _settings(timezone="Asia/Yekaterinburg"))
    store.write_bytes("incoming/acme/" + SETTINGS_FILE, _settings(type="CALLS"))
    found = find_settings(store, "incoming/acme/calls/a.csv", "incoming/", PARSERS)
    assert found is not None
    assert found.name == "incoming/acme/" + SETTINGS_FILE
    assert dict(found.fields) == {"type": "CALLS"}
    assert find_settings(store, "incoming/other/a.csv", "incoming/", PARSERS) is not None
    assert (
        find_settings(LocalStore(tmp_path / "empty"), "incoming/a.csv", "incoming/", PARSERS)
        is None
    )


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{not json", "not a JSON object"),
        (b"[1, 2]", "must hold a JSON object"),
        (_settings(timezon="Europe/Moscow"), "unknown key 'timezon'"),
        (_settings(timezone="Moscow"), "timezone: unknown time zone"),
        (_settings(type="LEADS"), "type: unknown conversion type"),
        (_settings(counter_id="12ab"), "counter_id: must be digits"),
        (_settings(date_order="DD.MM"), "date_order: unknown date order"),
        (_settings(encoding="koi8-r"), "encoding: unknown encoding"),
        (_settings(on_bad_optional="ignore"), "on_bad_optional must be blank or drop-row"),
        (_settings(chat_same_key="latest"), "chat_same_key must be keep-last or keep-first"),
        (_settings(phone_region="Russia"), "phone region must be two letters"),
        (_settings(phone_region="XX"), "not a region with phone numbers"),
        (_settings(strict=True), "unknown key 'strict'"),
        (_settings(column_map={"Телефон": "Phone"}), "not a Metrica column"),
        (_settings(column_map=["Телефон"]), "column_map must be an object"),
        (_settings(type=["CALLS"]), "type must be a string"),
    ],
)
def test_a_bad_settings_file_is_named_with_its_key(content: bytes, says: str) -> None:
    with pytest.raises(SettingsProblem) as caught:
        parse_settings(content, "incoming/acme/metrika-offline.json", PARSERS)
    assert says in caught.value.message
    assert caught.value.message.startswith("incoming/acme/metrika-offline.json")


@pytest.mark.parametrize("example", sorted(DOCS.glob("*.json")), ids=lambda p: p.name)
def test_the_shipped_examples_are_valid(example: Path) -> None:
    found = parse_settings(example.read_bytes(), example.name, PARSERS)
    assert found.fields["type"] == "CALLS"
    assert "DateTime" in found.column_map.values()


def test_precedence_metadata_then_folder_then_path_then_defaults() -> None:
    folder = FolderSettings(
        "incoming/acme/" + SETTINGS_FILE,
        {"counter_id": "42", "type": "CALLS", "timezone": "Europe/Moscow", "comment": "CRM"},
        {"Телефон": "PhoneNumber"},
    )
    name = "incoming/51234567/chats/export.csv"
    routed = route(name, {"comment": "October"}, SETTINGS, folder)
    assert routed.problem is None
    assert (routed.counter_id, routed.type, routed.comment) == (42, ConversionType.CALLS, "October")
    assert routed.timezone == "Europe/Moscow"
    assert routed.column_map == {"Телефон": "PhoneNumber"}
    assert routed.settings_file == "incoming/acme/" + SETTINGS_FILE
    assert routed.sources["comment"] == "metadata"
    assert routed.sources["counter_id"] == routed.sources["type"] == "folder"
    assert routed.sources["timezone"] == routed.sources["column_map"] == "folder"
    assert routed.sources["phone_region"] == "default"
    without = route(name, {"timezone": "Asia/Omsk"}, SETTINGS)
    assert (without.counter_id, without.type, without.timezone) == (
        51234567,
        ConversionType.CHATS,
        "Asia/Omsk",
    )
    assert without.sources["counter_id"] == "path"
    assert without.sources["timezone"] == "metadata"
    assert without.settings_file is None


def test_a_bad_settings_file_or_value_is_a_bad_settings_problem() -> None:
    broken = RoutingProblem("bad-settings", "incoming/metrika-offline.json: unknown key 'x'")
    assert route("incoming/5/a.csv", {}, SETTINGS, broken).problem == broken
    routed = route("incoming/5/a.csv", {"date-order": "YMD"}, SETTINGS)
    assert routed.problem is not None
    assert routed.problem.code == "bad-settings"
    assert "metadata date-order" in routed.problem.message


def test_the_settings_file_is_never_taken_for_a_csv() -> None:
    event = ObjectEvent("b", "incoming/acme/" + SETTINGS_FILE, 1, 10, {})
    decision = classify(event, SETTINGS)
    assert decision.kind is EventKind.SKIP
    assert "folder settings" in decision.reason


# --- the CLI -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TIMEZONE", "STRICT", "MAX_INVALID_RATIO", "MAX_PART_BYTES", "PHONE_REGION"):
        monkeypatch.delenv(name, raising=False)


def test_cli_settings_give_the_type_column_map_and_time_zone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "calls.csv"
    export.write_bytes(samples.bitrix24_calls_csv(4))
    settings = tmp_path / SETTINGS_FILE
    settings.write_bytes(samples.bitrix24_settings())
    assert cli.main(["validate", str(export), "--settings", str(settings), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["type"] == "CALLS"
    assert report["rows"]["valid"] == 4
    assert report["columns"] == ["PhoneNumber", "Tag", "TalkDuration", "DateTime", "ClientId"]
    zones = [w["message"] for w in report["warnings"] if w["code"] == "datetime-day-first"]
    assert zones
    assert "Europe/Moscow" in zones[0]
    # The command line wins over the file.
    args = ["validate", str(export), "--settings", str(settings), "--timezone", "UTC", "--json"]
    assert cli.main(args) == 0
    report = json.loads(capsys.readouterr().out)
    zones = [w["message"] for w in report["warnings"] if w["code"] == "datetime-day-first"]
    assert zones
    assert "as UTC time" in zones[0]


def test_cli_settings_problems_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "calls.csv"
    export.write_bytes(samples.bitrix24_calls_csv(2))
    settings = tmp_path / SETTINGS_FILE
    settings.write_bytes(_settings(type="CALLS", timezon="Europe/Moscow"))
    assert cli.main(["validate", str(export), "--settings", str(settings)]) == 2
    assert "bad-settings" in capsys.readouterr().err
    assert cli.main(["validate", str(export)]) == 2
    assert "no type" in capsys.readouterr().err
