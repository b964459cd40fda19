"""The local Cloud Storage stack: emulator, precondition proxy, and the local trigger.

    client (real google-cloud-storage) ──► PreconditionProxy ──► gcp-storage-emulator
                                              │ every finalize
                                              ▼
                                          EventSource ──► subscriber URLs (CloudEvents)

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
from types import FrameType

from .gcs_emulator import EmulatorProcess, free_port
from .gcs_events import (
    FINALIZED_TYPE,
    CloudEvent,
    Delivery,
    EventSource,
    RetryPolicy,
    event_payload,
    finalized_event,
    post_event,
)
from .gcs_proxy import Fault, PreconditionProxy, Preconditions, error_body

__all__ = [
    "FINALIZED_TYPE",
    "CloudEvent",
    "Delivery",
    "EmulatorProcess",
    "EventSource",
    "Fault",
    "LocalGcs",
    "PreconditionProxy",
    "Preconditions",
    "RetryPolicy",
    "error_body",
    "event_payload",
    "finalized_event",
    "free_port",
    "post_event",
]


class LocalGcs:
    """Emulator + proxy + event source, started and stopped together.

    Give `data_dir` when objects are big: in memory, the emulator keeps every object in RAM.
    """

    def __init__(
        self,
        *,
        buckets: Iterable[str] = (),
        subscribers: Iterable[str] = (),
        port: int = 0,
        host: str = "127.0.0.1",
        data_dir: Path | None = None,
        duplicates: int = 1,
        retry: RetryPolicy | None = None,
        delivery_timeout_s: float = 600.0,
    ) -> None:
        self._buckets = list(buckets)
        self.emulator = EmulatorProcess(host=host, data_dir=data_dir)
        self.events = EventSource(
            subscribers, retry=retry, duplicates=duplicates, timeout_s=delivery_timeout_s
        )
        self._host, self._port = host, port
        self.proxy: PreconditionProxy | None = None

    @property
    def url(self) -> str:
        if self.proxy is None:
            raise RuntimeError("not started")
        return self.proxy.url

    def start(self) -> LocalGcs:
        self.emulator.start()
        try:
            for bucket in self._buckets:
                self.emulator.create_bucket(bucket)
            self.proxy = PreconditionProxy(
                self.emulator.url, events=self.events, host=self._host, port=self._port
            ).start()
        except BaseException:
            self.emulator.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        self.events.close()
        self.emulator.stop()

    def __enter__(self) -> LocalGcs:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.gcs", description="Local Cloud Storage with a trigger."
    )
    parser.add_argument("--port", type=int, default=0, help="proxy port (default: any free)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--bucket", action="append", default=[], help="bucket to create")
    parser.add_argument(
        "--subscriber", action="append", default=[], help="URL to POST finalize events to"
    )
    parser.add_argument("--data-dir", type=Path, help="keep objects on disk here")
    parser.add_argument("--duplicates", type=int, default=1, help="deliver every event N times")
    parser.add_argument("--max-attempts", type=int, default=8)
    parser.add_argument("--max-delay-s", type=float, default=10.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    retry = RetryPolicy(max_attempts=args.max_attempts, initial_s=0.5, max_delay_s=args.max_delay_s)
    stack = LocalGcs(
        buckets=args.bucket,
        subscribers=args.subscriber,
        port=args.port,
        host=args.host,
        data_dir=args.data_dir,
        duplicates=args.duplicates,
        retry=retry,
    )
    with stack:
        print(stack.url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
