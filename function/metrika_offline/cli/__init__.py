"""The `metrika-offline` command: one module per group of subcommands, `main` the entry point."""

from metrika_offline.cli.main import main

__all__ = ["main"]
