"""`metrika-offline process`: the whole pipeline on a local file or a gs:// object, no trigger.

A local file is treated as an object in a bucket-like folder: its result JSON and rejected
rows land beside it, the parts and job state under a hidden `.metrika-offline/` folder there.
Flags act as the object's custom metadata, so they win over the path and the defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from metrika_offline.config import Settings
from metrika_offline.errors import ConfigError, StoreError
from metrika_offline.flow import codec
from metrika_offline.flow.events import ObjectEvent
from metrika_offline.flow.jobs import Status
from metrika_offline.flow.layout import LOCAL_WORK_PREFIX, result_name
from metrika_offline.flow.pipeline import Deadline, Pipeline
from metrika_offline.flow.poll import Poller
from metrika_offline.flow.routing import META_COMMENT, META_COUNTER, META_MODE, META_TYPE
from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.store.base import ObjectStore
from metrika_offline.store.gcs import GcsStore
from metrika_offline.store.local import LocalStore

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
    settings.check_lease()  # `process` takes leases as the function does
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
    except StoreError as exc:
        sys.stderr.write(f"metrika-offline: {exc}; run the command again to resume\n")
        return 1
    result = codec.result_json(job)
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else summarize(result))
    clean = job.status in CLEAN_STATUSES and not (job.check and job.check.rows.invalid)
    return 0 if clean else 1


def summarize(result: Mapping[str, Any]) -> str:
    """A few lines a person reads after a run, from a result JSON."""
    rows = result["rows"]
    source = result["source"]
    lines = [
        f"{source['name']}: {result['status']}",
        f"  rows: {rows.get('total', 0)} total, {rows.get('valid', 0)} valid, "
        f"{rows.get('invalid', 0)} invalid, {rows.get('duplicates', 0)} duplicates",
    ]
    if result.get("error"):
        lines.append(f"  error: {result['error']['code']}: {result['error']['message']}")
    for error in result["errors"][:10]:
        where = f"line {error['line']}" if error.get("line") else "file"
        column = f" [{error['column']}]" if error.get("column") else ""
        lines.append(f"  {where}{column}: {error['code']}: {error['message']}")
    for part in result["parts"]:
        line = (
            f"  part {part['index']}: {part['rows']} rows, {part['bytes']} bytes, {part['state']}"
        )
        if part.get("uploading"):
            line += f", Metrica upload {part['uploading']['id']} {part['uploading']['status']}"
        if part.get("error"):
            line += f" ({part['error']['code']}: {part['error']['message']})"
        lines.append(line)
    metrika = result.get("metrika")
    if metrika:
        lines.append(
            f"  Metrica: {metrika['outcome']}, {metrika.get('linked_quantity', 0)} of "
            f"{metrika.get('rows_sent', 0)} rows linked"
        )
        lines.extend(f"  warning: {w['code']}: {w['message']}" for w in metrika["warnings"])
    if result.get("rejects"):
        lines.append(f"  rejected rows: {result['rejects']}")
    lines.append(f"  result: gs://{source['bucket']}/{result_name(source['name'])}")
    return "\n".join(lines)


def run_file_status(target: str, *, refresh: bool, as_json: bool) -> int:
    """`status FILE|gs://… [--refresh]`: the file's result, brought up to date on request."""
    store, name, settings = _open_source(target, Settings.from_env())
    found = store.read_bytes(result_name(name))
    if found is None:
        raise ConfigError(f"no result for {target} yet")
    result: dict[str, Any] = json.loads(found[0])
    if refresh:
        if not settings.metrika_token:
            raise ConfigError("--refresh asks Metrica: set METRIKA_TOKEN")
        with MetrikaClient.from_settings(settings) as client:
            poller = Poller(store=store, metrika=client, settings=settings)
            job = poller.refresh(name, int(result["source"]["generation"]))
        if job is not None:
            result = codec.result_json(job)
    print(json.dumps(result, ensure_ascii=False, indent=2) if as_json else summarize(result))
    outcome = (result.get("metrika") or {}).get("outcome", "pending")
    clean = result["status"] in CLEAN_STATUSES and outcome in {"pending", "processed"}
    return 0 if clean else 1
