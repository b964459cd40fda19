"""Where a dropped file goes: counter, type, comment and mode.

Object custom metadata wins (`counter-id`, `type`, `comment`, `mode`), then the path below the
input prefix (an all-digit folder is the counter id; a folder named basic, calls or chats, any
case, is the type), then the defaults. Each value remembers where it came from, so the result
JSON can tell a user why their file went where it went.
"""

from __future__ import annotations

import dataclasses
import enum
import posixpath
from collections.abc import Mapping
from typing import Any

from metrika_offline.config import Settings
from metrika_offline.types import ConversionType

META_COUNTER = "counter-id"
META_TYPE = "type"
META_COMMENT = "comment"
META_MODE = "mode"


class Mode(enum.StrEnum):
    UPLOAD = "upload"
    DRY_RUN = "dry-run"


@dataclasses.dataclass(frozen=True)
class RoutingProblem:
    """Why a file cannot be routed; becomes the result's error."""

    code: str
    message: str


@dataclasses.dataclass(frozen=True)
class Route:
    counter_id: int | None
    type: ConversionType
    comment: str
    mode: Mode
    sources: Mapping[str, str]  # field -> "metadata" | "path" | "default"
    problem: RoutingProblem | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "counter_id": self.counter_id,
            "type": self.type.value,
            "comment": self.comment,
            "mode": self.mode.value,
            "sources": dict(self.sources),
        }


def _path_hints(name: str, input_prefix: str) -> tuple[int | None, ConversionType | None]:
    relative = name[len(input_prefix) :] if name.startswith(input_prefix) else name
    counter: int | None = None
    kind: ConversionType | None = None
    for folder in relative.split("/")[:-1]:
        if folder.isdigit() and folder.isascii() and counter is None:
            counter = int(folder)
        elif kind is None and folder.upper() in ConversionType.__members__:
            kind = ConversionType(folder.upper())
    return counter, kind


def default_comment(name: str) -> str:
    """The file's base name without extension: how a person finds the upload in Metrica."""
    stem, _ = posixpath.splitext(posixpath.basename(name))
    return stem


def route(name: str, metadata: Mapping[str, str], settings: Settings) -> Route:
    """Work out where `name` goes. Never raises: a problem is returned in `Route.problem`."""
    meta = {key.strip().lower(): value.strip() for key, value in metadata.items()}
    path_counter, path_type = _path_hints(name, settings.input_prefix)
    sources: dict[str, str] = {}
    problem: RoutingProblem | None = None

    counter: int | None
    if meta.get(META_COUNTER):
        raw = meta[META_COUNTER]
        sources["counter_id"] = "metadata"
        counter = int(raw) if raw.isdigit() and raw.isascii() else None
        if counter is None:
            problem = RoutingProblem(
                "bad-counter-id", f"metadata {META_COUNTER} must be digits, got {raw!r}"
            )
    elif path_counter is not None:
        counter, sources["counter_id"] = path_counter, "path"
    else:
        counter, sources["counter_id"] = settings.default_counter_id, "default"

    kind = settings.default_type
    sources["type"] = "default"
    if meta.get(META_TYPE):
        sources["type"] = "metadata"
        try:
            kind = ConversionType.parse(meta[META_TYPE])
        except ValueError as exc:
            problem = problem or RoutingProblem("bad-type", f"metadata {META_TYPE}: {exc}")
    elif path_type is not None:
        kind, sources["type"] = path_type, "path"

    if META_COMMENT in meta:
        comment, sources["comment"] = meta[META_COMMENT], "metadata"
    else:
        comment, sources["comment"] = default_comment(name), "default"

    mode = Mode.UPLOAD
    sources["mode"] = "default"
    if meta.get(META_MODE):
        sources["mode"] = "metadata"
        try:
            mode = Mode(meta[META_MODE].lower())
        except ValueError:
            choices = ", ".join(m.value for m in Mode)
            problem = problem or RoutingProblem(
                "bad-mode", f"metadata {META_MODE} must be one of {choices}"
            )

    if counter is None and problem is None and mode is Mode.UPLOAD:
        problem = RoutingProblem(
            "no-counter",
            "no counter id: set metadata counter-id, put the file under a folder named by the "
            "counter id (incoming/51234567/…), or set DEFAULT_COUNTER_ID",
        )
    return Route(counter, kind, comment, mode, sources, problem)
