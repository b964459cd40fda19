"""Storage events: decode what the trigger sends, and decide what (if anything) to do with it.

The trigger is on the input bucket, where our results and rejected rows land beside the files
and trigger us too (the work state lives in the work bucket, which has none): everything that
is not a user's CSV under the input prefix is skipped here with its reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import posixpath
from collections.abc import Mapping
from typing import Any

from metrika_offline.config import Settings
from metrika_offline.flow.record.layout import ROLE_KEY, WorkLayout, is_own_output_name
from metrika_offline.flow.source.folder_settings import SETTINGS_FILE


@dataclasses.dataclass(frozen=True)
class ObjectEvent:
    """One `google.cloud.storage.object.v1.finalized` event, decoded."""

    bucket: str
    name: str
    generation: int
    size: int
    metadata: Mapping[str, str]
    event_id: str = ""
    event_time: float | None = None  # Unix seconds, from the CloudEvent `time`

    @classmethod
    def from_cloud_event(
        cls, attributes: Mapping[str, Any], data: Mapping[str, Any]
    ) -> ObjectEvent:
        """From CloudEvent attributes and the GCS object resource (size/generation as strings)."""
        return cls(
            bucket=str(data["bucket"]),
            name=str(data["name"]),
            generation=int(data["generation"]),
            size=int(data.get("size") or 0),
            metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
            event_id=str(attributes.get("id", "")),
            event_time=parse_time(attributes.get("time")),
        )


def parse_time(value: object) -> float | None:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, str) and value:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


class EventKind(enum.Enum):
    SOURCE = "source"  # a user's CSV: check, split, queue the parts
    SKIP = "skip"


@dataclasses.dataclass(frozen=True)
class Decision:
    kind: EventKind
    reason: str = ""


def classify(event: ObjectEvent, settings: Settings) -> Decision:
    """What to do with an event; the reason is logged for every skip."""
    name = event.name
    role = event.metadata.get(ROLE_KEY)
    work = WorkLayout(settings.work_prefix)
    if work.owns(name):
        return Decision(EventKind.SKIP, f"own working object ({role or 'unmarked'})")
    if role:
        return Decision(EventKind.SKIP, f"own output ({role})")
    if is_own_output_name(name):
        return Decision(EventKind.SKIP, "own output, by name")
    if not name.startswith(settings.input_prefix):
        return Decision(EventKind.SKIP, f"outside the input prefix {settings.input_prefix!r}")
    if posixpath.basename(name) == SETTINGS_FILE:
        return Decision(EventKind.SKIP, "folder settings, read with the files beside it")
    if not name.lower().endswith(".csv"):
        return Decision(EventKind.SKIP, "not a .csv file")
    if name.endswith("/"):
        return Decision(EventKind.SKIP, "a folder placeholder")
    return Decision(EventKind.SOURCE)
