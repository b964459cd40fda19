"""The result JSON Schema, for tests that check real results against it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import jsonschema
import msgspec

from metrika_offline.flow.record.result import decode_result, encode_result

SCHEMA_PATH = Path(__file__).parents[1] / "function/metrika_offline/result.schema.json"
_VALIDATOR = jsonschema.Draft202012Validator(
    json.loads(SCHEMA_PATH.read_text()),
    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
)


def check_result(result: Mapping[str, Any]) -> None:
    """Raise jsonschema.ValidationError unless `result` is a valid result JSON; and check that
    it reads back as the typed `Result` it was written from: encoded again, the same bytes."""
    _VALIDATOR.validate(result)
    written = msgspec.json.format(msgspec.json.encode(result), indent=2)
    assert encode_result(decode_result(written)) == written, "the result does not round-trip"


class _Readable(Protocol):
    def read_bytes(self, name: str, /) -> tuple[bytes, int] | None: ...


def read_result(store: _Readable, source_name: str) -> dict[str, Any]:
    """The result JSON beside `source_name` in `store`, checked against the schema."""
    found = store.read_bytes(source_name + ".result.json")
    assert found is not None, f"no result beside {source_name}"
    result: dict[str, Any] = json.loads(found[0])
    check_result(result)
    return result


def result_beside(path: Path) -> dict[str, Any]:
    """The result JSON beside a local file, checked against the schema."""
    result: dict[str, Any] = json.loads(path.with_name(path.name + ".result.json").read_text())
    check_result(result)
    return result
