"""The typed job record and the published `result.schema.json` say the same thing: every field
the record projects is in the schema (and nothing the schema requires is missing), and every
enum in the schema is the model's own."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from metrika_offline.check.choices import ChatSameKey, DateOrder, DurationFormat, OnBadOptional
from metrika_offline.check.report import Report, RowCounts, UnknownTarget, WarningSummary
from metrika_offline.flow.record import codec
from metrika_offline.flow.record.job import (
    GAVE_UP,
    Job,
    Lease,
    MetrikaOutcome,
    MetrikaReport,
    Part,
    PartState,
    Problem,
    Source,
    Status,
)
from metrika_offline.flow.record.result import (
    Result,
    decode_result,
    encode_result,
    part_of,
    result_of,
)
from metrika_offline.flow.record.route import Mode, Route
from metrika_offline.metrika.models import STATUSES, Uploading
from metrika_offline.types import ConversionType
from tests.schema import SCHEMA_PATH, check_result

SCHEMA: dict[str, Any] = json.loads(Path(SCHEMA_PATH).read_text())
DEFS: dict[str, Any] = SCHEMA["$defs"]

UPLOADING = Uploading(
    7, "2026-11-30 10:00:00", 3, 3, "c x", "BASIC", "CLIENT_ID", "PROCESSED", 1, 0, 2
)
PART = Part(1, "w/p1", 3, 40, "mo1", "c mo1", PartState.UPLOADED, 1, Lease("me", 1.0), UPLOADING)
FULL_JOB = Job(
    source=Source("b", "incoming/a.csv", 5, 40),
    routing=Route(1, ConversionType.BASIC, "c", Mode.UPLOAD, {"counter_id": "path"}),
    status=Status.PARTIALLY_UPLOADED,
    created_at=1_800_000_000.0,
    updated_at=1_800_000_100.0,
    finished_at=1_800_000_100.0,
    check=Report(
        valid=True,
        rejected_reason=None,
        type=ConversionType.BASIC,
        encoding="utf-8",
        delimiter=",",
        columns=("ClientId", "Target", "DateTime"),
        rows=RowCounts(4, 3, 1, 0),
        errors=(),
        error_counts={"bad-date": 1},
        errors_truncated=False,
        warnings=(WarningSummary("bom-removed", 1, 1, None, "a byte order mark was removed"),),
        parts=(),
        dedupe_tracking_stopped_at_line=None,
        bytes_read=40,
    ),
    parts=(
        PART,
        dataclasses.replace(
            PART,
            index=2,
            state=PartState.FAILED,
            uploading=None,
            error=Problem(
                "metrika-rejected", "no", http_status=400, error_type="invalid_parameter"
            ),
        ),
    ),
    rejects="incoming/a.csv.rejected.csv",
    error=Problem("metrika-rejected", "a part was refused"),
    metrika=MetrikaReport(MetrikaOutcome.PROCESSED, "2026-11-30T10:00:00+00:00", 3, 3, 3, 2, 0, 1),
)


def enum_of(schema: dict[str, Any]) -> set[str]:
    return set(schema["enum"])


def test_a_full_result_is_valid() -> None:
    check_result(json.loads(codec.encode_result(FULL_JOB)))


def test_every_enum_is_the_models() -> None:
    props = SCHEMA["properties"]
    assert enum_of(props["status"]) == {s.value for s in Status}
    assert enum_of(props["routing"]["properties"]["type"]) == {t.value for t in ConversionType}
    assert enum_of(props["routing"]["properties"]["mode"]) == {m.value for m in Mode}
    assert enum_of(DEFS["part"]["properties"]["state"]) == {s.value for s in PartState}
    assert enum_of(DEFS["outcome"]["properties"]["outcome"]) == {o.value for o in MetrikaOutcome}
    assert enum_of(DEFS["uploading"]["properties"]["status"]) == {*STATUSES, GAVE_UP}


def _json(record: object) -> object:
    return msgspec.json.decode(msgspec.json.encode(record))


FULL_RESULT = result_of(FULL_JOB)


@pytest.mark.parametrize(
    ("schema", "projected"),
    [
        (SCHEMA, _json(FULL_RESULT)),
        (SCHEMA["properties"]["source"], _json(FULL_RESULT.source)),
        (SCHEMA["properties"]["routing"], _json(FULL_RESULT.routing)),
        (DEFS["part"], _json(part_of(PART))),
        (DEFS["uploading"], _json(UPLOADING)),
        (DEFS["outcome"], _json(FULL_JOB.metrika)),
        (
            DEFS["warning"],
            _json(WarningSummary("c", 1, None, None, "m", (UnknownTarget("v", 1, "w"),))),
        ),
        (
            DEFS["problem"],
            _json(Problem("c", "m", http_status=1, error_type="t", metrika_message="x")),
        ),
    ],
    ids=["result", "source", "routing", "part", "uploading", "outcome", "warning", "problem"],
)
def test_the_projection_and_the_schema_name_the_same_fields(
    schema: dict[str, Any], projected: object
) -> None:
    assert isinstance(projected, dict)
    assert set(schema["required"]) <= projected.keys()
    optional_in_schema = {"warnings"} if schema is DEFS["part"] else set()
    assert projected.keys() | optional_in_schema == schema["properties"].keys()


def test_the_result_reads_back_as_the_records_it_was_written_from() -> None:
    written = encode_result(FULL_RESULT)
    assert decode_result(written) == FULL_RESULT
    assert encode_result(decode_result(written)) == written
    assert written == codec.encode_result(FULL_JOB)


def test_a_result_of_the_wrong_shape_is_refused() -> None:
    data = json.loads(encode_result(FULL_RESULT))
    data["routing"]["date_order"] = "YMD"
    with pytest.raises(msgspec.ValidationError, match="date_order"):
        decode_result(json.dumps(data).encode())


def test_the_result_records_and_the_schema_name_the_same_top_fields() -> None:
    (_, components) = msgspec.json.schema_components([Result])
    typed = components["Result"]
    assert typed["properties"].keys() == SCHEMA["properties"].keys()
    assert set(typed["required"]) == set(SCHEMA["required"])


def test_the_state_object_holds_the_whole_record() -> None:
    """Everything the flow knows survives the state object, types and all."""
    assert codec.decode_state(codec.encode_state(FULL_JOB)) == FULL_JOB


def test_a_state_object_of_the_wrong_shape_is_refused() -> None:
    data = json.loads(codec.encode_state(FULL_JOB))
    data["parts"][0]["state"] = "lost"
    with pytest.raises(msgspec.ValidationError, match="state"):
        codec.decode_state(json.dumps(data).encode())


def test_a_state_of_the_previous_format_is_read() -> None:
    """Jobs in flight when the function is upgraded carry on: their state still loads."""
    previous = (Path(__file__).parent / "previous-format-state.json").read_bytes()
    job = codec.decode_state(previous)
    assert (job.source.generation, job.revision, job.status) == (7, 6, Status.PROCESSING)
    assert job.routing.type is ConversionType.CALLS
    assert job.routing.sources["comment"] == "metadata"
    assert job.check is not None
    assert (job.check.rows.invalid, job.check.encoding) == (1, "windows-1251")
    assert job.check.errors[0].code == "bad-datetime"
    first, gave_up, sending, failed = job.parts
    assert first.uploading is not None
    assert (first.uploading.id, first.uploading.status, first.uploading.linked_quantity) == (
        1001,
        "PROCESSED",
        2,
    )
    assert gave_up.uploading is not None
    assert (gave_up.uploading.id, gave_up.uploading.status) == (1002, GAVE_UP)
    assert sending.lease == Lease("abc", 1_796_040_600.0)
    assert failed.error == Problem(
        "metrika-rejected",
        "refused",
        http_status=400,
        error_type="invalid_parameter",
        metrika_message="bad",
    )
    assert job.metrika is not None
    assert job.metrika.outcome is MetrikaOutcome.PENDING
    # Written again, it is in the current format, and reads back the same.
    assert codec.decode_state(codec.encode_state(job)) == job
    check_result(json.loads(codec.encode_result(job)))


def _spelt_as_the_environment(document: dict[str, Any]) -> bytes:
    """A record written before the routing parsed a default choice: as the environment spelt it."""
    document["routing"].update(
        date_order="dmy",
        duration_format="MS",
        on_bad_optional="Drop-Row",
        chat_same_key="KEEP-FIRST",
    )
    return json.dumps(document).encode()


def test_a_state_with_choices_spelt_as_the_environment_had_them_is_read() -> None:
    """A job in flight across the upgrade, in a deployment with DATE_ORDER=dmy, carries on."""
    job = codec.decode_state(_spelt_as_the_environment(json.loads(codec.encode_state(FULL_JOB))))
    assert job.routing.date_order is DateOrder.DMY
    assert job.routing.duration_format is DurationFormat.MS
    assert job.routing.on_bad_optional is OnBadOptional.DROP_ROW
    assert job.routing.chat_same_key is ChatSameKey.KEEP_FIRST
    assert dataclasses.replace(job, routing=FULL_JOB.routing) == FULL_JOB


def test_a_result_with_choices_spelt_as_the_environment_had_them_is_read() -> None:
    result = decode_result(_spelt_as_the_environment(json.loads(encode_result(FULL_RESULT))))
    assert result.routing.date_order is DateOrder.DMY
    assert result.routing.chat_same_key is ChatSameKey.KEEP_FIRST


def test_a_result_of_an_earlier_version_with_an_upload_given_up_on_is_read() -> None:
    """Results written by the previous format kept only the id and status of such an upload."""
    document = json.loads(encode_result(FULL_RESULT))
    document["parts"][0]["uploading"] = {"id": 7, "status": GAVE_UP}
    result = decode_result(json.dumps(document).encode())
    uploading = result.parts[0].uploading
    assert uploading is not None
    assert (uploading.id, uploading.status, uploading.linked_quantity) == (7, GAVE_UP, 0)
