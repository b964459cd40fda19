"""`metrika-offline process` and `upload`: one pipeline, the function's, on one file.

`process` takes a local file or gs://BUCKET/OBJECT; `upload` is its friendly name for a local
file whose routing the flags give. Both run the same job: claim, check and split, upload each
part once, and write the result JSON (and the rejected rows) beside the file. The flags act
as the object's custom metadata and the check settings; together they are the job's identity
on this generation of the file, so

- a rerun with the same file and settings resumes the job, or reuses its result and says so;
- a rerun with other settings starts a new job (parts Metrica may already have, from an
  earlier job with the same settings, are looked up by their marker before sending);
- `--force` starts over on purpose, looking every part's marker up first;
- Ctrl-C releases every claim and part this run holds and says where it stopped; the next
  run resumes at once, and a part whose POST was in flight is looked up by its marker.

Exit codes: 0 every row went (or, with --dry-run, every row is valid); 1 rows were left out,
the file was rejected or an upload failed; 2 usage or configuration (no token, no such file,
a token Metrica refuses); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from metrika_offline.cli import options
from metrika_offline.cli.display import Display
from metrika_offline.cli.target import Target, open_target
from metrika_offline.errors import ConfigError
from metrika_offline.flow.record.layout import LOCAL_WORK_PREFIX

if TYPE_CHECKING:
    from metrika_offline.config import Settings
    from metrika_offline.flow.deadline import Deadline
    from metrika_offline.flow.pipeline import Pipeline
    from metrika_offline.flow.record.job import Job
    from metrika_offline.flow.record.result import Result
    from metrika_offline.flow.source.events import ObjectEvent

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `process` and `upload` to the parser."""
    process = sub.add_parser(
        "process",
        help="run the whole pipeline on a local file or gs://BUCKET/OBJECT",
        description="Check, split and upload one file as the function would, and write its "
        "result JSON (and rejected rows) beside it. Flags win over the object's metadata, "
        "its path and the defaults.",
    )
    process.add_argument("source", metavar="FILE|gs://BUCKET/OBJECT")
    _common(process)
    process.set_defaults(handler=run, local_only=False)

    upload = sub.add_parser(
        "upload",
        help="check, split and upload a local CSV file to Metrica",
        description="process for a local file: check and split FILE with the function's rules, "
        "upload each part once (METRIKA_TOKEN, METRIKA_API_URL), write FILE.result.json and "
        "the rejected rows beside it. The counter comes from --counter, --settings, a "
        "metrika-offline.json beside the file, or DEFAULT_COUNTER_ID.",
    )
    upload.add_argument("source", metavar="FILE")
    _common(upload)
    upload.set_defaults(handler=run, local_only=True)


def _common(parser: argparse.ArgumentParser) -> None:
    options.add_routing_options(parser, required=False)
    options.add_run_options(parser)
    options.add_check_options(parser)
    options.add_output_options(parser)


def run(args: argparse.Namespace) -> int:
    from metrika_offline.errors import MetrikaAuthError, RetryLater, StoreError
    from metrika_offline.flow.record.result import result_of

    display: Display = args.display
    target = open_target(args.source, local_only=args.local_only)
    fixed = {"input_prefix": "", "work_prefix": LOCAL_WORK_PREFIX} if target.is_local else {}
    settings = options.settings_with(args, **fixed)
    settings.check_lease()  # `process` takes leases as the function does
    pipeline = _pipeline(target, settings, display, args)
    event = _event(target, options.flag_metadata(args), dry_run=args.dry_run, resend=args.resend)
    started = time.time()
    try:
        job = pipeline.process_source(event, _no_deadline(), force=args.force)
    except KeyboardInterrupt:
        with _no_interrupts():
            pipeline.release(event)
            display.note(_where_it_stopped(pipeline.find_job(event), target))
        return EXIT_INTERRUPTED
    except MetrikaAuthError as exc:
        display.note(f"{exc}; fix METRIKA_TOKEN and run the same command again to resume")
        return EXIT_USAGE
    except (RetryLater, StoreError) as exc:
        display.note(f"{exc}; run the same command again to resume")
        return EXIT_FAILED
    if job.finished_at is not None and job.finished_at < started:
        display.note(
            f"{target.shown}: this file was done with the same settings on "
            f"{_local_time(job.finished_at)}; its result is shown again (--force starts over)"
        )
    if args.rejects and job.rejects:
        _copy_rejects(target, job.rejects, Path(args.rejects))
    result = result_of(job)
    _print(args, result, target)
    return exit_code(result)


def _pipeline(
    target: Target, settings: Settings, display: Display, args: argparse.Namespace
) -> Pipeline:
    from metrika_offline.flow.context import FlowContext
    from metrika_offline.flow.pipeline import Pipeline
    from metrika_offline.flow.source.routing import NO_COUNTER_HINT
    from metrika_offline.flow.source.run import SourceChoices
    from metrika_offline.metrika.accounts import MetrikaAccounts

    metrika = None
    if not args.dry_run:
        # Before the check: no token at all fails at once, not after a gigabyte. A counter
        # whose account has no token is rejected (no-token-for-counter) before the check.
        if not settings.metrika_token and not settings.metrika_account_tokens:
            raise ConfigError("set METRIKA_TOKEN (or METRIKA_ACCOUNTS and its accounts' tokens)")
        metrika = MetrikaAccounts.from_settings(settings)
    ctx = FlowContext.build(
        store=target.store, settings=settings, metrika=metrika, inline=True, observer=display
    )
    choices = SourceChoices(
        restart="on_change",
        folder_settings=options.settings_file(args),
        counter_hint=(
            "give --counter (or counter_id in --settings or in a metrika-offline.json beside "
            "the file, or set DEFAULT_COUNTER_ID)"
            if target.is_local
            else NO_COUNTER_HINT
        ),
    )
    return Pipeline(ctx, choices=choices)


def _event(target: Target, flags: Mapping[str, str], *, dry_run: bool, resend: bool) -> ObjectEvent:
    """The object's finalize event, as if it had just been dropped: the flags are its custom
    metadata, over what it already has."""
    from metrika_offline.flow.source.events import ObjectEvent
    from metrika_offline.flow.source.routing import META_MODE

    info = target.store.stat(target.name)
    if info is None:
        raise ConfigError(f"no such object: {target.shown}")
    metadata = {**info.metadata, **flags}
    if dry_run:
        metadata[META_MODE] = "dry-run"
    elif resend:
        metadata[META_MODE] = "resend"
    return ObjectEvent(target.store.bucket, target.name, info.generation, info.size, metadata)


def _no_deadline() -> Deadline:
    from metrika_offline.flow.deadline import Deadline

    return Deadline()


@contextmanager
def _no_interrupts() -> Iterator[None]:
    """A second Ctrl-C must not cut the release of the claims short."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _where_it_stopped(job: Job | None, target: Target) -> str:
    again = "run the same command again to resume"
    if job is None or not job.is_split:
        return f"interrupted while checking {target.shown}; nothing was sent; {again}"
    done = sum(1 for p in job.parts if p.uploading is not None)
    return (
        f"interrupted while uploading {target.shown}: {done} of {len(job.parts)} part(s) "
        f"uploaded; {again} (a part that was being sent is looked up in Metrica first)"
    )


def _local_time(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch_s))


def _copy_rejects(target: Target, name: str, to: Path) -> None:
    if to.is_dir():
        raise ConfigError(f"--rejects {to} is a folder, not a file")
    to.parent.mkdir(parents=True, exist_ok=True)
    reader = target.store.open_read(name)
    try:
        with to.open("wb") as out:
            shutil.copyfileobj(reader, out)
    finally:
        reader.close()


def _print(args: argparse.Namespace, result: Result, target: Target) -> None:
    from metrika_offline.cli.summary import summarize
    from metrika_offline.flow.record.result import result_builtins

    if args.json:
        sys.stdout.write(json.dumps(result_builtins(result), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(summarize(result, target.show))


def exit_code(result: Result) -> int:
    """0 when every row went (or is valid, in a dry run), else 1."""
    from metrika_offline.flow.record.job import Status

    clean = result.status in {Status.UPLOADED, Status.VALIDATED} and not result.rows.invalid
    return EXIT_OK if clean else EXIT_FAILED
