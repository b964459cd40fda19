"""`python -m tests.fakes.metrika`: the fake alone, for `make fake-metrika` and the benchmarks
that run it in its own process. Its uploads move on with real time, one status a step."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Sequence

from tests.fakes.metrika.fake import FakeMetrika
from tests.fakes.metrika.rules import FAKE_TOKEN, METRIKA_MAX_FILE_BYTES


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.metrika", description="A fake Yandex Metrica API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument(
        "--token", action="append", help=f"an accepted token (repeatable; default {FAKE_TOKEN})"
    )
    parser.add_argument("--max-file-bytes", type=int, default=METRIKA_MAX_FILE_BYTES)
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=5.0,
        help="real seconds each status lasts before the next (default 5)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    tokens = args.token or [FAKE_TOKEN]
    fake = FakeMetrika(
        tokens=tokens,
        max_file_bytes=args.max_file_bytes,
        clock=time.monotonic,
        step_s=args.step_seconds,
        host=args.host,
        port=args.port,
        verbose=not args.quiet,
    )
    fake.start()
    # The first line says where it listens: scripts (and tests) read the port from it.
    print(f"fake Metrica listening on {fake.url}", flush=True)
    print(
        f"it accepts the token {', '.join(tokens)}; in another terminal:\n"
        f"  export METRIKA_TOKEN={tokens[0]} METRIKA_API_URL={fake.url}",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
