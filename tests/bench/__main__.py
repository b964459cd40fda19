"""`make bench`: every benchmark in turn, each printing ratios against a baseline of its run."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("bench_core", "bench_upload", "bench_e2e", "bench_ledger", "bench_burst")


def main() -> int:
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(f"tests.bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"tests.bench.{name}":
                raise
            print(f"## {name}: not written yet", flush=True)
            continue
        print(f"## {name}", flush=True)
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
