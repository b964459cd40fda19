"""The JSON edge of the job record: its state object, the public result JSON, and the small
orders and index entries the flow writes.

msgspec maps the frozen dataclasses to JSON and back, checking every field's type on the way
in: a state object that does not fit the record fails loudly here instead of deep in the flow.
The result JSON's shape is the contract's (`result.schema.json`, docs/contract.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import TypeVar

import msgspec

from metrika_offline.flow.jobs import Job, Part, Problem, Source, Wait
from metrika_offline.metrika.models import Uploading

SCHEMA_VERSION = 1

_T = TypeVar("_T")


def _enc_hook(value: object) -> object:
    if isinstance(value, Mapping):  # read-only mappings (MappingProxyType) in the report
        return dict(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


_STATE_ENCODER = msgspec.json.Encoder(enc_hook=_enc_hook)
_STATE_DECODER = msgspec.json.Decoder(Job)


def encode_state(job: Job) -> bytes:
    """The job as its state object holds it: every field of the record, nothing else."""
    return _STATE_ENCODER.encode(job)


def decode_state(data: bytes) -> Job:
    """The job from its state object; msgspec.ValidationError if it is not one.

    A state written in the previous format (the result JSON plus an `internal` object) is
    read too, so that jobs in flight across an upgrade carry on where they were.
    """
    try:
        return _STATE_DECODER.decode(data)
    except msgspec.ValidationError:
        document = msgspec.json.decode(data)
        if not isinstance(document, dict) or "internal" not in document:
            raise
        return msgspec.convert(_from_previous_format(document), Job, strict=False)


def _from_previous_format(document: dict[str, object]) -> dict[str, object]:
    """The fields of a state object of the previous format, as the record names them."""
    internal = _object(document["internal"])
    check = internal.get("check")
    return {
        "source": document["source"],
        "routing": document["routing"],
        "status": document["status"],
        "created_at": internal["created_at_s"],
        "updated_at": internal["updated_at_s"],
        "finished_at": internal.get("finished_at_s"),
        "revision": internal["revision"],
        "lease": internal.get("lease"),
        "split_attempts": internal.get("split_attempts", 0),
        "check": None if check is None else {**_object(check), "parts": []},
        "parts": [_previous_part(_object(part)) for part in _list(document["parts"])],
        "rejects": document.get("rejects"),
        "error": document.get("error"),
        "metrika": document.get("metrika"),
    }


def _previous_part(part: dict[str, object]) -> dict[str, object]:
    uploading = part.get("uploading")
    if uploading is None:
        return part
    # A status we gave up on was recorded as just {"id", "status"}.
    known: dict[str, object] = {field.name: None for field in dataclasses.fields(Uploading)}
    known.update(create_time="", comment="", type="", source_quantity=0, line_quantity=0)
    known.update(goal_not_found_quantity=0, user_not_found_quantity=0, linked_quantity=0)
    return {**part, "uploading": {**known, **_object(uploading)}}


def _object(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise msgspec.ValidationError(f"expected an object, got {type(value).__name__}")
    return value


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise msgspec.ValidationError(f"expected an array, got {type(value).__name__}")
    return value


def to_builtins(value: object) -> object:
    """A record as plain JSON values (dicts, lists, strings, numbers)."""
    return msgspec.to_builtins(value, enc_hook=_enc_hook)


def encode_json(value: object) -> bytes:
    """A record as a compact JSON document."""
    return msgspec.json.encode(value, enc_hook=_enc_hook)


def from_fields(fields: Mapping[str, str], kind: type[_T]) -> _T:
    """A record from string fields (object metadata): numbers are parsed, types checked."""
    return msgspec.convert(dict(fields), kind, strict=False)


def from_json(data: bytes, kind: type[_T]) -> _T:
    """A record from a JSON document, numbers written as strings accepted."""
    return msgspec.convert(msgspec.json.decode(data), kind, strict=False)


def utc_iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).isoformat(timespec="seconds")


# ------------------------------------------------------------------------------ result JSON


def problem_json(problem: Problem) -> dict[str, object]:
    """A problem with only the fields it has (Metrica's words only when it spoke)."""
    return {
        field.name: value
        for field in dataclasses.fields(problem)
        if (value := getattr(problem, field.name)) is not None
    }


def source_json(source: Source) -> dict[str, object]:
    # Generations are int64: a string, as Cloud Storage itself writes them.
    return {
        "bucket": source.bucket,
        "name": source.name,
        "generation": str(source.generation),
        "size": source.size,
    }


def part_json(part: Part) -> dict[str, object]:
    """A part as users see it: its state and Metrica's upload, not our lease."""
    return {
        "index": part.index,
        "name": part.name,
        "rows": part.rows,
        "bytes": part.bytes,
        "marker": part.marker,
        "comment": part.comment,
        "state": part.state.value,
        "attempts": part.attempts,
        "uploading": None if part.uploading is None else to_builtins(part.uploading),
        "error": None if part.error is None else problem_json(part.error),
        "wait": None if part.wait is None else wait_json(part.wait),
    }


def wait_json(wait: Wait) -> dict[str, object]:
    return {"code": wait.code, "message": wait.message, "not_before": utc_iso(wait.not_before)}


def wait_warnings(job: Job) -> list[dict[str, object]]:
    """One warning per kind of wait among the parts: a file that waits says so at the top."""
    waits: dict[str, list[Part]] = {}
    for part in job.parts:
        if part.waits and part.wait is not None:
            waits.setdefault(part.wait.code, []).append(part)
    warnings: list[dict[str, object]] = []
    for code, parts in waits.items():
        first = parts[0].wait
        assert first is not None
        warnings.append(
            {"code": code, "count": len(parts), "line": None, "column": None,
             "message": first.message}
        )  # fmt: skip
    return warnings


_NO_ROWS = {"total": 0, "valid": 0, "invalid": 0, "duplicates": 0, "already_sent": 0}


def result_json(job: Job) -> dict[str, object]:
    """The public result JSON of a job (`result.schema.json`)."""
    check: dict[str, object] = {}
    if job.check is not None:
        check = {k: v for k, v in job.check.to_json().items() if k != "parts"}
    rows = check.pop("rows", _NO_ROWS)
    errors = check.pop("errors", [])
    listed = check.pop("warnings", [])
    warnings = [*(listed if isinstance(listed, list) else []), *wait_warnings(job)]
    if job.error is not None and not errors:
        errors = [
            {"code": job.error.code, "line": None, "column": None, "message": job.error.message}
        ]
    return {
        "schema_version": SCHEMA_VERSION,
        "status": job.status.value,
        "source": source_json(job.source),
        "routing": job.routing.to_json(),
        "rows": rows,
        "errors": errors,
        "warnings": warnings,
        "check": check or None,
        "parts": [part_json(p) for p in job.parts],
        "rejects": job.rejects,
        "error": None if job.error is None else problem_json(job.error),
        "metrika": None if job.metrika is None else to_builtins(job.metrika),
        "created_at": utc_iso(job.created_at),
        "updated_at": utc_iso(job.updated_at),
        "finished_at": utc_iso(job.finished_at) if job.finished_at else None,
    }


def encode_result(job: Job) -> bytes:
    return msgspec.json.format(msgspec.json.encode(result_json(job)), indent=2)
