"""Folder settings: a `metrika-offline.json` for files that always look the same.

A CRM's nightly export lands in the same folder every night with the same columns, the same
time zone and the same quirks. A settings file in that folder (or any folder above it, up to
the input prefix: the nearest one wins, whole) says so once:

    {
      "counter_id": 51234567,
      "type": "CALLS",
      "timezone": "Europe/Moscow",
      "date_order": "DMY",
      "column_map": {"Телефон": "PhoneNumber", "Дата звонка": "DateTime"}
    }

Every key is one row of `routing.FIELDS` (parsed by the same parser as the object metadata)
or one of the structured keys here (`column_map`); `description` is free text for people.
An unknown key or a bad value makes the file's result `rejected` with `bad-settings`, naming
the settings file, the key and what is allowed: a typo must not silently change where
conversions go. The settings file itself is never treated as a CSV (its name does not end in
`.csv`, and the event filter names it).
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
from collections.abc import Callable, Mapping
from types import MappingProxyType

from metrika_offline.check.choices import parse_column_map
from metrika_offline.check.codes import Code
from metrika_offline.check.columns import KNOWN_COLUMNS
from metrika_offline.store.base import ObjectStore

SETTINGS_FILE = "metrika-offline.json"
BAD_SETTINGS = Code.BAD_SETTINGS

#: Keys that are not routing fields: free text, and structured values with their own parser.
_FREE_TEXT_KEYS = frozenset({"description"})
_STRUCTURED_KEYS = frozenset({"column_map"})


class SettingsProblem(Exception):
    """A settings file that cannot be used; `message` names the file and the key."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclasses.dataclass(frozen=True)
class FolderSettings:
    """One settings file, validated: routing fields as strings (parsed again by the routing
    table, like metadata), plus the structured values."""

    name: str  # the settings object's name
    fields: Mapping[str, str] = dataclasses.field(default_factory=dict)
    column_map: Mapping[str, str] = dataclasses.field(default_factory=dict)


Parsers = Mapping[str, Callable[[str], object]]
#: Keys that are switches: JSON true and false are taken as well as strings.
_SWITCH_KEYS = frozenset({"ignore_visit_join_threshold"})


def parse_settings(data: bytes, name: str, fields: Parsers) -> FolderSettings:
    """A settings file's content, checked against `fields` (routing field name -> its parser,
    which raises ValueError). Raises SettingsProblem."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SettingsProblem(f"{name} is not a JSON object: {exc}") from None
    if not isinstance(document, dict):
        raise SettingsProblem(f'{name} must hold a JSON object, like {{"type": "CALLS"}}')
    known = set(fields) | _FREE_TEXT_KEYS | _STRUCTURED_KEYS
    unknown = sorted(set(document) - known)
    if unknown:
        raise SettingsProblem(
            f"{name}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    values: dict[str, str] = {}
    for key, value in document.items():
        if key in _FREE_TEXT_KEYS or key in _STRUCTURED_KEYS:
            continue
        if isinstance(value, bool) and key in _SWITCH_KEYS:
            text = "true" if value else "false"
        elif isinstance(value, bool) or not isinstance(value, str | int):
            raise SettingsProblem(f"{name}: {key} must be a string")
        else:
            text = str(value)
        try:
            fields[key](text)
        except ValueError as exc:
            raise SettingsProblem(f"{name}: {key}: {exc}") from None
        values[key] = text
    column_map: Mapping[str, str] = {}
    if "column_map" in document:
        try:
            column_map = parse_column_map(document["column_map"], KNOWN_COLUMNS)
        except ValueError as exc:
            raise SettingsProblem(f"{name}: {exc}") from None
    return FolderSettings(name, MappingProxyType(values), column_map)


def candidates(object_name: str, input_prefix: str) -> list[str]:
    """Where a settings file for `object_name` may be, nearest first, up to the prefix's own
    folder."""
    root = input_prefix.rstrip("/")
    folder = posixpath.dirname(object_name)
    names: list[str] = []
    while True:
        names.append(posixpath.join(folder, SETTINGS_FILE))
        if folder == root or not folder or not (folder + "/").startswith(input_prefix):
            return names
        folder = posixpath.dirname(folder)


def find_settings(
    store: ObjectStore, object_name: str, input_prefix: str, fields: Parsers
) -> FolderSettings | None:
    """The nearest settings file above `object_name`, parsed; None when there is none.
    Raises SettingsProblem for one that cannot be used."""
    for name in candidates(object_name, input_prefix):
        found = store.read_bytes(name)
        if found is not None:
            return parse_settings(found[0], name, fields)
    return None
