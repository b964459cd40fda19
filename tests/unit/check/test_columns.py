"""The column table and how a header is mapped onto it."""

from __future__ import annotations

import pytest

from metrika_offline.check.codes import ERROR_CODES, WARNING_CODES
from metrika_offline.check.columns import RULES, Kind, match_key, resolve_header, safe_label
from metrika_offline.types import ConversionType

B, C, H = ConversionType.BASIC, ConversionType.CALLS, ConversionType.CHATS
SEED_HEADER = [
    "ClientID",
    "DateTime",
    "ChatPlatform",
    "ChatUsername",
    "ChatUserID",
    "PhoneNumber",
    "ChatAnswered",
    "Tag",
    "Price",
    "Currency",
    "URL",
    "MessengerTrackerURL",
]


def _codes(kind: ConversionType, names: list[str]) -> list[str]:
    return [issue.code for issue in resolve_header(kind, names)[1]]


def test_required_columns_per_type_follow_the_docs() -> None:
    required = {t: {c.name for c in RULES[t].columns if c.required} for t in RULES}
    assert required == {
        B: {"Target", "DateTime"},
        C: {"DateTime"},
        H: {"DateTime", "ChatPlatform"},
    }
    assert "Target" not in {c.name for c in RULES[C].columns}


def test_each_type_spells_ids_like_its_docs() -> None:
    assert RULES[B].column("ClientId").kind is Kind.NUMERIC_ID
    assert RULES[H].column("ClientID").kind is Kind.NUMERIC_ID
    assert {c.name for c in RULES[H].columns} >= set(SEED_HEADER)


@pytest.mark.parametrize("kind", list(ConversionType))
def test_groups_and_keys_name_columns_of_their_type(kind: ConversionType) -> None:
    rules = RULES[kind]
    names = {c.name for c in rules.columns}
    for group in rules.groups:
        assert set(group.columns) <= names
        assert group.code in (ERROR_CODES if group.is_error else WARNING_CODES)
    assert set(rules.dedupe_key) <= names


def test_the_seeds_header_maps_without_a_word() -> None:
    layout, issues = resolve_header(H, SEED_HEADER)
    assert issues == []
    assert layout is not None
    assert layout.output_header == tuple(SEED_HEADER)


def test_names_match_in_any_case_and_spelling() -> None:
    assert match_key("Client_ID") == match_key("clientid") == match_key("CLIENT-ID")
    layout, issues = resolve_header(B, [" client_id ", "TARGET", "Date Time", "_ym_uid"])
    # ClientId twice: once as itself, once through the _ym_uid alias.
    assert layout is None
    assert "duplicate-column" in [i.code for i in issues]
    layout, issues = resolve_header(B, ["_ym_uid", "TARGET", "Date Time"])
    assert layout is not None
    assert layout.output_header == ("ClientId", "Target", "DateTime")
    assert [i.code for i in issues] == ["header-renamed"] * 3


def test_unknown_columns_are_dropped_with_a_warning() -> None:
    layout, issues = resolve_header(C, ["UserId", "DateTime", "Comment", "Target"])
    assert layout is not None
    assert layout.kept == (0, 1)
    assert [(i.code, i.column) for i in issues] == [
        ("unknown-column", "Comment"),
        ("unknown-column", "Target"),
    ]


@pytest.mark.parametrize(
    ("kind", "names", "code"),
    [
        (B, ["ClientId", "DateTime"], "missing-column"),
        (B, ["Target", "DateTime", "Price"], "no-linking-id"),
        (C, ["DateTime", "PhoneNumber"], "no-linking-id"),
        (H, ["ClientID", "DateTime", "ChatPlatform"], "no-chat-contact"),
        (B, ["ClientId", "Target", "DateTime", "CLIENTID"], "duplicate-column"),
        (C, ["UserId", "DateTime", "phone", "PhoneNumber"], "duplicate-column"),
    ],
)
def test_header_problems_reject(kind: ConversionType, names: list[str], code: str) -> None:
    layout, issues = resolve_header(kind, names)
    assert layout is None
    assert code in [i.code for i in issues if i.is_error]


def test_unnamed_cells_are_left_to_the_rows_and_brackets_quotes_spaces_do_not_count() -> None:
    names = ["", "[Target]", "'Price'", "Date Time", "ClientId", "", "Unnamed: 6"]
    layout, issues = resolve_header(B, names)
    assert layout is not None
    assert layout.unnamed == (0, 5, 6)
    assert layout.output_header == ("Target", "Price", "DateTime", "ClientId")
    assert {i.code for i in issues} == {"header-renamed"}
    assert not any(i.is_error for i in issues)


def test_a_column_map_names_the_files_own_columns() -> None:
    names = ["Телефон", "Дата звонка", "ID клиента", "Источник"]
    column_map = {"телефон": "PhoneNumber", "Дата  звонка": "DateTime", "ID клиента": "UserId"}
    layout, issues = resolve_header(C, names, column_map)
    assert layout is not None
    assert layout.output_header == ("PhoneNumber", "DateTime", "UserId")
    messages = [i.message for i in issues if i.code == "header-renamed"]
    assert "Телефон is mapped to PhoneNumber" in messages
    assert [i.code for i in issues if i.code == "unknown-column"] == ["unknown-column"]


def test_chats_without_linking_ids_only_warn() -> None:
    layout, issues = resolve_header(H, ["DateTime", "ChatPlatform", "PhoneNumber"])
    assert layout is not None
    assert [(i.code, i.is_error) for i in issues] == [("unattributed-chat", False)]


def test_a_data_row_taken_for_a_header_is_not_echoed() -> None:
    names = ["133591247640966458", "1687005600", "+71234567890", "order"]
    layout, issues = resolve_header(B, names)
    assert layout is None
    assert any("header row missing" in i.message for i in issues)
    text = " ".join(f"{i.column} {i.message}" for i in issues)
    for value in names[:3]:
        assert value not in text
    assert safe_label("PhoneNumber", 0) == "PhoneNumber"
    assert safe_label("+71234567890", 2) == "column 3"
    assert safe_label("john@example.com", 4) == "column 5"


def test_codes_are_kebab_case_and_distinct() -> None:
    codes = ERROR_CODES + WARNING_CODES
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert code == code.lower()
        assert all(part.isalnum() for part in code.split("-"))
