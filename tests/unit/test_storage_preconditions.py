"""The precondition rules the local Cloud Storage proxy enforces, as Cloud Storage states them:
an absent object has generation 0 and no metageneration."""

from __future__ import annotations

import pytest

from tests.fakes.gcs_proxy import Preconditions

LIVE = (1700, 3)  # generation, metageneration
ABSENT = (0, None)


@pytest.mark.parametrize(
    ("query", "state", "failure"),
    [
        ({}, LIVE, None),
        ({}, ABSENT, None),
        ({"ifGenerationMatch": "0"}, ABSENT, None),
        ({"ifGenerationMatch": "0"}, LIVE, "match"),
        ({"ifGenerationMatch": "1700"}, LIVE, None),
        ({"ifGenerationMatch": "1699"}, LIVE, "match"),
        ({"ifGenerationMatch": "1700"}, ABSENT, "match"),
        ({"ifGenerationNotMatch": "1700"}, LIVE, "not-match"),
        ({"ifGenerationNotMatch": "1"}, LIVE, None),
        ({"ifGenerationNotMatch": "0"}, ABSENT, "not-match"),
        ({"ifMetagenerationMatch": "3"}, LIVE, None),
        ({"ifMetagenerationMatch": "2"}, LIVE, "match"),
        ({"ifMetagenerationMatch": "1"}, ABSENT, "match"),
        ({"ifMetagenerationNotMatch": "3"}, LIVE, "not-match"),
        ({"ifMetagenerationNotMatch": "3"}, ABSENT, None),
        # The client spells one of them `ifMetaGenerationNotMatch`: names are case-blind.
        ({"ifMetaGenerationNotMatch": "3"}, LIVE, "not-match"),
        ({"ifGenerationMatch": "1700", "ifMetagenerationMatch": "2"}, LIVE, "match"),
    ],
)
def test_precondition_rules(
    query: dict[str, str], state: tuple[int, int | None], failure: str | None
) -> None:
    assert Preconditions.from_query(query).failure(*state) == failure


def test_source_preconditions_are_read_with_their_own_prefix() -> None:
    query = {"ifSourceGenerationMatch": "5", "ifGenerationMatch": "0"}
    assert Preconditions.from_query(query, prefix="ifSource").if_generation_match == 5
    assert Preconditions.from_query(query).if_generation_match == 0
