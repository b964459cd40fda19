"""The JSON edge of the job record: its state object, the public result JSON, and the small
orders and index entries the flow writes.

msgspec maps the frozen dataclasses to JSON and back, checking every field's type on the way
in: a state object that does not fit the record fails loudly here instead of deep in the flow.
The result JSON's records and codec are in `flow/record/result.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import msgspec

from metrika_offline.flow.record import result
from metrika_offline.flow.record.job import Job

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

    A state written in the previous format (the result JSON plus an `internal` object), or
    with a routing choice spelt as the environment had it, is read too, so that jobs in flight
    across an upgrade carry on where they were.
    """
    try:
        return _STATE_DECODER.decode(data)
    except msgspec.ValidationError:
        document = result.earlier_record(msgspec.json.decode(data))
        if not isinstance(document, dict) or "internal" not in document:
            return msgspec.convert(document, Job)
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
        "parts": _list(document["parts"]),
        "rejects": document.get("rejects"),
        "error": document.get("error"),
        "metrika": document.get("metrika"),
    }


def _object(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise msgspec.ValidationError(f"expected an object, got {type(value).__name__}")
    return value


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise msgspec.ValidationError(f"expected an array, got {type(value).__name__}")
    return value


def encode_json(value: object) -> bytes:
    """A record as a compact JSON document."""
    return msgspec.json.encode(value, enc_hook=_enc_hook)


def from_fields(fields: Mapping[str, str], kind: type[_T]) -> _T:
    """A record from string fields (object metadata): numbers are parsed, types checked."""
    return msgspec.convert(dict(fields), kind, strict=False)


def from_json(data: bytes, kind: type[_T]) -> _T:
    """A record from a JSON document, numbers written as strings accepted."""
    return msgspec.convert(msgspec.json.decode(data), kind, strict=False)


def encode_result(job: Job) -> bytes:
    """The public result JSON of a job (`flow/record/result.py`)."""
    return result.encode_result(result.result_of(job))
