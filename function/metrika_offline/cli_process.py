"""`metrika-offline process`: the whole pipeline on a local file or a gs:// object, no trigger.

A local file is treated as an object in a bucket-like folder: its result JSON and rejected
rows land beside it, the parts and job state under a hidden `.metrika-offline/` folder there.
Flags act as the object's custom metadata, so they win over the path and the defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import ClaimHeld, ConfigError, MetrikaRetryableError, StoreError
from .events import ObjectEvent
from .jobs import Job, Status
from .metrika import MetrikaClient
from .pipeline import Deadline, Pipeline
from .routing import META_COMMENT, META_COUNTER, META_MODE, META_TYPE
from .storage import ObjectStore
from .storage_gcs import GcsStore
from .storage_local import LocalStore

LOCAL_WORK_PREFIX = ".metrika-offline/"
CLEAN_STATUSES = frozenset({Status.UPLOADED, Status.VALIDATED})


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add `process` to the parser."""
    parser = sub.add_parser(
        "process",
        help="run the whole pipeline on a local file or gs://BUCKET/OBJECT",
        description="Check, split and upload one file as the function would, and write its "
        "result JSON beside it.",
    )
    parser.add_argument("source", help="a local CSV file or gs://BUCKET/OBJECT")
    parser.add_argument("--counter", help="counter id (wins over the path and defaults)")
    parser.add_argument("--type", help="BASIC, CALLS or CHATS")
    parser.add_argument("--comment", help="comment for the upload")
    parser.add_argument("--dry-run", action="store_true", help="check and report; send nothing")
    parser.add_argument("--json", action="store_true", help="print the result JSON")
    parser.set_defaults(handler=run)


def _open_source(source: str, settings: Settings) -> tuple[ObjectStore, str, Settings]:
    if source.startswith("gs://"):
        bucket, _, name = source[len("gs://") :].partition("/")
        if not bucket or not name:
            raise ConfigError(f"expected gs://BUCKET/OBJECT, got {source!r}")
        return GcsStore.from_env(bucket), name, settings
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"no such file: {source}")
    local = Settings.from_env(input_prefix="", work_prefix=LOCAL_WORK_PREFIX)
    return LocalStore(path.resolve().parent), path.name, local


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    store, name, settings = _open_source(args.source, settings)
    info = store.stat(name)
    if info is None:
        raise ConfigError(f"no such object: {args.source}")
    flags = {
        META_COUNTER: args.counter,
        META_TYPE: args.type,
        META_COMMENT: args.comment,
        META_MODE: "dry-run" if args.dry_run else None,
    }
    metadata = {**info.metadata, **{k: v for k, v in flags.items() if v is not None}}
    event = ObjectEvent(store.bucket, name, info.generation, info.size, metadata)
    token = settings.metrika_token
    pipeline = Pipeline(
        store=store,
        settings=settings,
        metrika=MetrikaClient.from_settings(settings) if token else None,
        dispatch="inline",
    )
    try:
        job = pipeline.process_source(event, Deadline())
    except (ClaimHeld, MetrikaRetryableError, StoreError) as exc:
        sys.stderr.write(f"metrika-offline: {exc}; run the command again to resume\n")
        return 1
    if args.json:
        print(json.dumps(job.to_result_json(), ensure_ascii=False, indent=2))
    else:
        print(summarize(job, store.bucket))
    clean = job.status in CLEAN_STATUSES and not job.to_result_json()["rows"].get("invalid")
    return 0 if clean else 1


def summarize(job: Job, bucket: str) -> str:
    """A few lines a person reads after a run."""
    result = job.to_result_json()
    rows = result["rows"]
    lines = [
        f"{job.source.name}: {job.status.value}",
        f"  rows: {rows.get('total', 0)} total, {rows.get('valid', 0)} valid, "
        f"{rows.get('invalid', 0)} invalid, {rows.get('duplicates', 0)} duplicates",
    ]
    if job.error is not None:
        lines.append(f"  error: {job.error.code}: {job.error.message}")
    for error in result["errors"][:10]:
        where = f"line {error['line']}" if error.get("line") else "file"
        column = f" [{error['column']}]" if error.get("column") else ""
        lines.append(f"  {where}{column}: {error['code']}: {error['message']}")
    for part in job.parts:
        uploading = part.uploading or {}
        lines.append(
            f"  part {part.index}: {part.rows} rows, {part.bytes} bytes, {part.state.value}"
            + (
                f", Metrica upload {uploading.get('id')} {uploading.get('status')}"
                if uploading
                else ""
            )
            + (f" ({part.error.code}: {part.error.message})" if part.error else "")
        )
    if job.rejects:
        lines.append(f"  rejected rows: {job.rejects}")
    lines.append(f"  result: {job.source.name}.result.json in {bucket}")
    return "\n".join(lines)
