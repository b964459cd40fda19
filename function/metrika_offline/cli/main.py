"""The `metrika-offline` command. Each group of subcommands lives in its own module.

Exit codes (the contract): 0 done and clean, 1 data rejected or upload failed,
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from metrika_offline import __version__
from metrika_offline.cli import check as cli_check
from metrika_offline.cli import metrika as cli_metrika
from metrika_offline.cli import process as cli_process
from metrika_offline.errors import ConfigError, RetryLater

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="metrika-offline",
        description="Check, split and upload CSV files of Yandex Metrica offline conversions.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in (cli_check, cli_metrika, cli_process):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        sys.stderr.write(f"metrika-offline: {exc}\n")
        return EXIT_USAGE
    except RetryLater as exc:  # the work is recorded as far as it got
        sys.stderr.write(f"metrika-offline: {exc}; run the command again to resume\n")
        return EXIT_REJECTED
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
