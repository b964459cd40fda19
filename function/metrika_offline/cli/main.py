"""The `metrika-offline` command. Each group of subcommands lives in its own module.

Exit codes (the contract): 0 done and clean, 1 data rejected or upload failed,
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from metrika_offline import __version__
from metrika_offline.cli.display import Display, people_logs
from metrika_offline.errors import ConfigError, RetryLater

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2

#: The module (in this package) that registers each command. Only the command being run is
#: imported: `validate` and `split` then start without the storage client and HTTP libraries.
COMMAND_MODULES = {
    "validate": "check",
    "split": "check",
    "upload": "process",
    "status": "metrika",
    "process": "process",
    "doctor": "doctor",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for `command` alone when it is known, else for every command (help, a
    mistyped name)."""
    parser = _Parser(
        prog="metrika-offline",
        description="Check, split and upload CSV files of Yandex Metrica offline conversions.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    known = COMMAND_MODULES.get(command or "")
    for name in dict.fromkeys(COMMAND_MODULES.values()):
        if known in (None, name):
            importlib.import_module(f"metrika_offline.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # Options before the command take no value (--help, --version): the first word is it.
    parser = build_parser(next((word for word in argv if not word.startswith("-")), None))
    args = parser.parse_args(argv)
    args.display = Display()
    try:
        with people_logs(args.display, verbose=getattr(args, "verbose", False)):
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
