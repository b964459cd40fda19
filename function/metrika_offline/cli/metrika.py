"""`metrika-offline status`: one upload's status, or a file's result, brought up to date.

    metrika-offline status ID --counter N          Metrica's status and counters of one upload
    metrika-offline status FILE|gs://… [--refresh]  the file's result (after process or upload)

Exit codes: 0 the upload or file is fine so far; 1 it failed, was rejected, or rows were left
out; 2 usage or configuration (no result yet, no token, a token Metrica refuses).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import TYPE_CHECKING

from metrika_offline.cli import options
from metrika_offline.cli.target import Target, open_target
from metrika_offline.config import Settings
from metrika_offline.errors import ConfigError
from metrika_offline.flow.record.layout import LOCAL_WORK_PREFIX, result_name

if TYPE_CHECKING:
    from metrika_offline.flow.record.result import Result

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `status` to the parser."""
    status = sub.add_parser(
        "status",
        help="print the status of one upload, or of a processed file",
        description="Print Metrica's status and counters for one upload (ID --counter N), or "
        "a file's result (FILE or gs://BUCKET/OBJECT, after process or upload), asking Metrica "
        "again with --refresh.",
    )
    status.add_argument(
        "target", metavar="ID|FILE", help="an upload's id, a local CSV or gs://BUCKET/OBJECT"
    )
    status.add_argument(
        "--counter", type=options.counter_id, help="Metrica counter id (with an ID)"
    )
    status.add_argument(
        "--refresh", action="store_true", help="ask Metrica now and update the file's result"
    )
    options.add_output_options(status)
    status.set_defaults(handler=run_status)


def run_status(args: argparse.Namespace) -> int:
    target: str = args.target.strip()
    if target.isdigit():
        if args.counter is None:
            raise ConfigError("an upload id needs --counter")
        return _status_of_uploading(args, int(target))
    return _status_of_file(target, refresh=args.refresh, as_json=args.json)


def _status_of_file(source: str, *, refresh: bool, as_json: bool) -> int:
    import msgspec

    from metrika_offline.cli.process import exit_code
    from metrika_offline.cli.summary import summarize
    from metrika_offline.flow.record.job import MetrikaOutcome
    from metrika_offline.flow.record.result import decode_result, result_builtins

    target = open_target(source)
    settings = (
        Settings.from_env(input_prefix="", work_prefix=LOCAL_WORK_PREFIX)
        if target.is_local
        else Settings.from_env()
    )
    found = target.store.read_bytes(result_name(target.name))
    if found is None:
        raise ConfigError(
            f"no result for {target.shown} yet: run metrika-offline upload or process on it"
        )
    try:
        result = decode_result(found[0])
    except msgspec.ValidationError as exc:
        raise ConfigError(f"the result beside {target.shown} cannot be read: {exc}") from None
    if refresh:
        result = _refreshed(target, settings, result)
    sys.stdout.write(
        json.dumps(result_builtins(result), ensure_ascii=False, indent=2) + "\n"
        if as_json
        else summarize(result, target.show)
    )
    outcome = result.metrika.outcome if result.metrika is not None else MetrikaOutcome.PENDING
    return (
        exit_code(result)
        if outcome in {MetrikaOutcome.PENDING, MetrikaOutcome.PROCESSED}
        else EXIT_FAILED
    )


def _refreshed(target: Target, settings: Settings, result: Result) -> Result:
    from metrika_offline.flow.context import FlowContext
    from metrika_offline.flow.followup.poll import Poller
    from metrika_offline.flow.record.result import result_of
    from metrika_offline.metrika.accounts import MetrikaAccounts

    counter = result.routing.counter_id
    with MetrikaAccounts.from_settings(settings) as accounts:
        if counter is None or not accounts.has_token(counter):
            raise ConfigError(
                "--refresh asks Metrica: set METRIKA_TOKEN (or the token of the counter's "
                "account, METRIKA_ACCOUNTS)"
            )
        poller = Poller(FlowContext.build(store=target.store, settings=settings, metrika=accounts))
        job = poller.refresh(target.name, int(result.source.generation))
    return result_of(job) if job is not None else result


def _status_of_uploading(args: argparse.Namespace, uploading_id: int) -> int:
    from metrika_offline.cli.summary import uploading_line
    from metrika_offline.errors import MetrikaAuthError, MetrikaError
    from metrika_offline.metrika.accounts import MetrikaAccounts

    settings = Settings.from_env()
    with MetrikaAccounts.from_settings(settings) as accounts:
        try:  # a counter without a token: NoTokenForCounter, an auth error (exit 2)
            uploading = accounts.get_uploading(args.counter, uploading_id)
        except MetrikaError as exc:
            if args.json:
                error = {
                    "class": type(exc).__name__,
                    "http_status": exc.status,
                    "error_type": exc.error_type,
                    "message": str(exc),
                }
                print(json.dumps({"uploading": None, "error": error}, indent=2))
            else:
                sys.stderr.write(f"metrika-offline: {exc}\n")
            return EXIT_USAGE if isinstance(exc, MetrikaAuthError) else EXIT_FAILED
    if args.json:
        print(json.dumps({"uploading": dataclasses.asdict(uploading), "error": None}, indent=2))
    else:
        print(uploading_line(uploading))
        if uploading.dropped_quantity:
            print(f"  Metrica dropped {uploading.dropped_quantity} rows in its own validation")
    return EXIT_OK
