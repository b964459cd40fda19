"""`make demo`: the whole flow on this machine, nothing from the internet.

Starts the topology as deployed: fake-gcs-server, the Cloud Storage emulator, behind our tap
(the trigger, on the input bucket only: every object finalized there, the results we write
beside the files included, posts a CloudEvent) with a work bucket beside it that triggers
nothing; gcloud-tasks-emulator behind our REST front, one queue per Metrica account, its tasks
delivered through our task tap; the fake Metrica; and the real functions under
functions-framework (`on_object_finalized` checks and queues, `upload_part` uploads,
`poll_uploads` follows up). Drops sample files of each type, one bad and one big enough to
split, waits for every event and task, lets the fake Metrica's clock run two hours, polls for
the final status, prints the results and the events each file cost, and stops everything.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import requests

from tests import samples
from tests.fakes.function import FunctionServer
from tests.fakes.gcs import LocalGcs, RetryPolicy
from tests.fakes.gcs_fixtures import make_client
from tests.fakes.metrika import FAKE_TOKEN, FakeMetrika
from tests.fakes.tasks import LOCATION, LocalTasks, TaskTap, wait_until_idle

BUCKET = "demo-bucket"
WORK_BUCKET = "demo-work"
UPLOAD_QUEUE = f"{LOCATION}/queues/metrika-upload-{{account}}"
QUEUES = [UPLOAD_QUEUE.replace("{account}", "default")]
WORK = Path(".demo")
PART_BYTES = 16 * 1024  # small, so the big sample is split into several parts
FILES: list[tuple[str, bytes, dict[str, str], str]] = [
    ("incoming/51234567/basic/leads.csv", samples.basic_csv(6), {},
     "BASIC, counter and type from the path; an ISO date and a decimal comma repaired"),
    ("incoming/calls/crm-export.csv", samples.calls_cp1251_csv(5),
     {"counter-id": "51234567", "comment": "CRM export"},
     "CALLS from Excel: Windows-1251, semicolons, phones with spaces; counter from metadata"),
    ("incoming/chats/chats.csv", samples.chats_csv(), {},
     "CHATS, the seed's sample; counter from DEFAULT_COUNTER_ID"),
    ("incoming/51234567/calls/big.csv", samples.big_calls_csv(600), {},
     f"CALLS, 600 rows, split into parts of at most {PART_BYTES} bytes"),
    ("incoming/51234567/basic/broken.csv", samples.broken_csv(), {},
     "BASIC without its Target column: rejected"),
    ("incoming/51234567/basic/check-only.csv", samples.basic_csv(3), {"mode": "dry-run"},
     "a dry run: validated, nothing sent"),
    ("incoming/crm/bitrix24/calls-2026-11-29.csv", samples.bitrix24_calls_csv(6), {},
     "Bitrix24's call detail (Windows-1251, ;, its own headers, 29.11.2026 14:30:00 in Moscow "
     "time, durations as 1 мин, 35 сек) read through the folder's metrika-offline.json"),
]  # fmt: skip
#: Folder settings dropped before the files: the nightly CRM export's folder says how to read it.
SETTINGS_FILES: list[tuple[str, bytes]] = [
    ("incoming/crm/bitrix24/metrika-offline.json", samples.bitrix24_settings(51234567)),
]


def read_result(gcs: Any, name: str) -> dict[str, Any]:
    blob = gcs.bucket(BUCKET).blob(name + ".result.json")
    result: dict[str, Any] = json.loads(blob.download_as_bytes())
    return result


def describe(result: dict[str, Any]) -> str:
    rows = result["rows"]
    line = (
        f"{result['status']:<18} rows {rows['valid']}/{rows['total']} valid"
        f", {len(result['parts'])} part(s)"
    )
    if result.get("error"):
        line += f"; {result['error']['code']}: {result['error']['message']}"
    if result["warnings"]:
        counts: dict[str, int] = {}
        for warning in result["warnings"]:  # one entry per code and column: one per code here
            counts[warning["code"]] = counts.get(warning["code"], 0) + warning["count"]
        line += "; " + ", ".join(f"{code} x{count}" for code, count in counts.items())
    if result.get("metrika"):
        metrika = result["metrika"]
        line += f"; Metrica: {metrika['outcome']}, {metrika.get('linked_quantity', 0)} linked"
    return line


def describe_repairs(result: dict[str, Any]) -> str:
    """Where a file's routing came from, and every repair made, as the result says them."""
    routing = result["routing"]
    lines = [
        f"{result['status']}, routed by {routing['settings_file'] or 'no settings file'}: "
        + ", ".join(f"{key} from {source}" for key, source in routing["sources"].items())
    ]
    lines += [
        f"  {w['code']} x{w['count']} ({w['column'] or 'file'}): {w['message']}"
        for w in result["warnings"]
    ]
    return "\n".join(lines)


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    retry = RetryPolicy(max_attempts=30, initial_s=0.1, max_delay_s=1.0)
    with (
        LocalGcs(buckets=[BUCKET], retry=retry) as gcs,
        LocalTasks(QUEUES) as tasks,
        TaskTap() as tap,
        FakeMetrika() as metrika,
    ):
        gcs.server.create_bucket(WORK_BUCKET)  # no trigger on it
        env = {
            "STORAGE_EMULATOR_HOST": gcs.url,
            "METRIKA_API_URL": metrika.url,
            "METRIKA_TOKEN": FAKE_TOKEN,
            "DEFAULT_COUNTER_ID": "51234567",
            "MAX_PART_BYTES": str(PART_BYTES),
            "BUCKET": BUCKET,
            "WORK_BUCKET": WORK_BUCKET,
            "UPLOAD_QUEUE": UPLOAD_QUEUE,
            "UPLOAD_URL": tap.url,
            "CLOUD_TASKS_EMULATOR_HOST": tasks.host,
        }
        checker = FunctionServer(env, log_path=WORK / "on_object_finalized.log")
        uploader = FunctionServer(
            env, target="upload_part", signature_type="http", log_path=WORK / "upload_part.log"
        )
        poller = FunctionServer(
            env, target="poll_uploads", signature_type="http", log_path=WORK / "poll.log"
        )
        with checker, uploader, poller:
            gcs.events.add_subscriber(checker.url)
            tap.target = uploader.url

            def settle() -> bool:
                return wait_until_idle(tasks, tap, lambda: QUEUES, gcs.events.wait_idle, 180)

            print(f"Cloud Storage (fake-gcs-server, the trigger on gs://{BUCKET}): {gcs.url}")
            print(f"Cloud Tasks (gcloud-tasks-emulator, REST front): {tasks.url}")
            print(f"fake Metrica: {metrika.url}")
            print(
                f"functions: checker {checker.url}, upload_part {uploader.url} (logs in {WORK}/)\n"
            )
            client = make_client(gcs.url)
            for name, data in SETTINGS_FILES:
                blob = client.bucket(BUCKET).blob(name)
                blob.upload_from_string(data, content_type="application/json")
                print(f"dropped gs://{BUCKET}/{name}\n  folder settings (docs/folder-settings/)")
            for name, data, metadata, what in FILES:
                blob = client.bucket(BUCKET).blob(name)
                blob.metadata = metadata or None
                blob.upload_from_string(data, content_type="text/csv")
                print(f"dropped gs://{BUCKET}/{name}\n  {what}")
            if not settle():
                print("events or tasks are still in flight after 3 minutes", file=sys.stderr)
                return 1
            print("\nafter upload:")
            for name, *_ in FILES:
                print(f"  {name:<42} {describe(read_result(client, name))}")

            metrika.advance(2 * 3600)  # Metrica processes uploads within two hours
            summary = requests.post(poller.url, timeout=60).json()
            print(f"\npoll_uploads: {summary}")
            settle()
            print("\nafter Metrica's final word:")
            for name, *_ in FILES:
                print(f"  {name:<42} {describe(read_result(client, name))}")
            uploads = [e for e in metrika.journal if e.endpoint == "upload" and e.recorded]
            deliveries = gcs.events.deliveries
            print(
                f"\nMetrica received {len(uploads)} uploads, "
                f"{sum(u.rows for u in uploads)} rows, at most {metrika.max_in_flight} at once; "
                f"the trigger delivered {len(deliveries)} events (the results we wrote "
                f"included, and skipped), the queue {len(tap.deliveries)} tasks"
            )
            print("events per dropped file (its drop, then each result written beside it):")
            for name, *_ in FILES:
                beside = (name, name + ".result.json", name + ".rejected.csv")
                count = sum(d.name in beside for d in deliveries)
                print(f"  {name:<42} {count}")
            example = read_result(client, FILES[0][0])
            print(f"\n{FILES[0][0]}.result.json:\n{json.dumps(example, indent=2)}")
            crm = FILES[-1][0]
            print(f"\n{crm}: {describe_repairs(read_result(client, crm))}")
            client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
