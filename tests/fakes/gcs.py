"""The local Cloud Storage: fake-gcs-server behind the tap, which is also the trigger.

    client (real google-cloud-storage) ──► StorageTap ──► fake-gcs-server (in memory)
                                              │ every finalize
                                              ▼
                                          EventSource ──► subscriber URLs (CloudEvents)

What we rely on in Cloud Storage, and why the tap is all we add: docs/local-storage.md.
Point a client at it with `STORAGE_EMULATOR_HOST=<LocalGcs.url>`. Run it alone:

    python -m tests.fakes.gcs --port 9090 --bucket demo --subscriber http://127.0.0.1:8080/

prints the URL to use and serves until SIGINT or SIGTERM, which also stop the emulator.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from .gcs_events import EventSource, RetryPolicy
from .gcs_server import FakeGcsServer
from .gcs_tap import StorageTap


class LocalGcs:
    """Emulator and tap, started and stopped together; `events` watches `buckets`.

    Give `data_dir` for big objects: in memory, the emulator holds every object in RAM.
    """

    def __init__(
        self,
        *,
        buckets: Iterable[str] = (),
        subscribers: Iterable[str] = (),
        port: int = 0,
        data_dir: Path | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.buckets = list(buckets)
        self.tap = StorageTap(port=port)
        self.server = FakeGcsServer(external_url=self.tap.url, data_dir=data_dir)
        self.events = EventSource(subscribers, retry=retry)

    @property
    def url(self) -> str:
        return self.tap.url

    def start(self) -> LocalGcs:
        self.server.start()
        self.tap.start(self.server.port)
        for bucket in self.buckets:
            self.server.create_bucket(bucket)
            self.tap.watchers[bucket] = self.events
        return self

    def stop(self) -> None:
        self.events.close()
        self.tap.stop()
        self.server.stop()

    def __enter__(self) -> LocalGcs:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.gcs")
    parser.add_argument("--port", type=int, default=0, help="the tap's port (default: any)")
    parser.add_argument("--bucket", action="append", default=[], help="bucket to create")
    parser.add_argument("--subscriber", action="append", default=[], help="POST events here")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    retry = RetryPolicy(max_attempts=8, initial_s=0.5, max_delay_s=10.0)
    with LocalGcs(buckets=args.bucket, subscribers=args.subscriber, port=args.port,
                  retry=retry) as stack:  # fmt: skip
        print(stack.url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
