"""The result JSON Schema, for tests that check real results against it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).parents[1] / "function/metrika_offline/result.schema.json"
_VALIDATOR = jsonschema.Draft202012Validator(
    json.loads(SCHEMA_PATH.read_text()),
    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
)


def check_result(result: Mapping[str, Any]) -> None:
    """Raise jsonschema.ValidationError unless `result` is a valid result JSON."""
    _VALIDATOR.validate(result)
