"""Folder settings in the real flow: the pipeline on the emulated bucket and the fake Metrica
finds the nearest `metrika-offline.json`, reads a Russian CRM export through it, and rejects
a file whose settings are bad with `bad-settings`, naming the key."""

from __future__ import annotations

import time
from typing import Any

import pytest

from metrika_offline.config import Settings
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.pipeline import Pipeline
from metrika_offline.flow.source.events import ObjectEvent
from metrika_offline.metrika.client import MetrikaClient
from tests import samples
from tests.fakes.gcs_fixtures import GcsStack
from tests.fakes.metrika import FakeMetrika
from tests.schema import read_result

FOLDER = "incoming/crm/bitrix24/"


@pytest.fixture
def pipeline(gcs_stack: GcsStack, metrika_client: MetrikaClient) -> Pipeline:
    settings = Settings(max_event_age_s=3600, default_counter_id=1)
    return Pipeline(
        FlowContext.build(
            store=gcs_stack.store, settings=settings, metrika=metrika_client, inline=True
        )
    )


def drop(
    stack: GcsStack, name: str, data: bytes, metadata: dict[str, str] | None = None
) -> ObjectEvent:
    generation = stack.store.write_bytes(name, data, content_type="text/csv", metadata=metadata)
    return ObjectEvent(stack.bucket, name, generation, len(data), metadata or {}, "e", time.time())


def result(stack: GcsStack, name: str) -> dict[str, Any]:
    return read_result(stack.store, name)


def test_a_crm_export_goes_through_its_folder_settings(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    gcs_stack.store.write_bytes("incoming/metrika-offline.json", b'{"type": "BASIC"}')
    gcs_stack.store.write_bytes(FOLDER + "metrika-offline.json", samples.bitrix24_settings(777))
    name = FOLDER + "2026-11/calls-29.csv"
    pipeline.handle(drop(gcs_stack, name, samples.bitrix24_calls_csv(5)))
    found = result(gcs_stack, name)
    assert found["status"] == "uploaded", found["error"]
    routing = found["routing"]
    assert (routing["counter_id"], routing["type"], routing["timezone"]) == (
        777,
        "CALLS",
        "Europe/Moscow",
    )
    assert routing["settings_file"] == FOLDER + "metrika-offline.json"
    assert routing["sources"]["counter_id"] == routing["sources"]["column_map"] == "folder"
    assert found["rows"]["valid"] == 5
    codes = {w["code"] for w in found["warnings"]}
    assert {"windows-1251", "datetime-day-first", "phone-normalized", "duration-converted"} <= codes
    (upload,) = fake_metrika.uploads
    assert (upload.counter_id, upload.rows) == (777, 5)
    # The settings files were never taken for CSVs.
    assert gcs_stack.store.read_bytes(FOLDER + "metrika-offline.json.result.json") is None


def test_metadata_wins_over_the_folder(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    gcs_stack.store.write_bytes(FOLDER + "metrika-offline.json", samples.bitrix24_settings(777))
    name = FOLDER + "calls.csv"
    pipeline.handle(drop(gcs_stack, name, samples.bitrix24_calls_csv(2), {"counter-id": "888"}))
    found = result(gcs_stack, name)
    assert found["routing"]["counter_id"] == 888
    assert found["routing"]["sources"]["counter_id"] == "metadata"
    assert [u.counter_id for u in fake_metrika.uploads] == [888]


def test_bad_folder_settings_reject_the_file_and_say_which_key(
    gcs_stack: GcsStack, fake_metrika: FakeMetrika, pipeline: Pipeline
) -> None:
    gcs_stack.store.write_bytes(FOLDER + "metrika-offline.json", b'{"type": "CALLS", "tz": "MSK"}')
    name = FOLDER + "calls.csv"
    pipeline.handle(drop(gcs_stack, name, samples.bitrix24_calls_csv(2)))
    found = result(gcs_stack, name)
    assert found["status"] == "rejected"
    assert found["error"]["code"] == "bad-settings"
    assert "unknown key 'tz'" in found["error"]["message"]
    assert FOLDER + "metrika-offline.json" in found["error"]["message"]
    assert fake_metrika.journal == []
