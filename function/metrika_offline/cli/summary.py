"""A result JSON told to a person in a few lines: what went, what was left out, and why."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from metrika_offline.check.report import WarningSummary
from metrika_offline.flow.record.job import Problem
from metrika_offline.flow.record.layout import result_name
from metrika_offline.flow.record.result import Result, ResultPart
from metrika_offline.metrika.models import Uploading

#: Errors listed in a summary; the result JSON and `--json` hold up to `--max-errors`.
SHOWN_ERRORS = 10


def summarize(result: Result, show: Callable[[str], str]) -> str:
    """The result for a person; `show` turns an object name into a path or URI."""
    routing, rows, parts, error = result.routing, result.rows, result.parts, result.error
    name = show(result.source.name)
    if error is not None and not parts:
        lines = [f"{name}: {result.status}: {error.code}: {error.message}"]
    else:
        where = (
            f" to counter {routing.counter_id} ({routing.type})"
            if routing.counter_id is not None
            else f" ({routing.type})"
        )
        lines = [
            f"{name}: {result.status}, {rows.valid} of {rows.total} rows in "
            f"{len(parts)} part(s){where}"
        ]
    lines.append(
        f"  rows: {rows.total} total, {rows.valid} valid, "
        f"{rows.invalid} invalid, {rows.duplicates} duplicates"
        + (f", {rows.already_sent} already sent" if rows.already_sent else "")
    )
    lines += _errors(result, error)
    lines += _warnings(result.warnings)
    lines += [f"  part {p.index}: {p.rows} rows, {_part_line(p)}" for p in parts]
    metrika = result.metrika
    if metrika:
        lines.append(
            f"  Metrica: {metrika.outcome}, {metrika.linked_quantity} of "
            f"{metrika.rows_sent} rows linked"
        )
        lines.extend(f"  warning: {w.code}: {w.message}" for w in metrika.warnings)
    if result.rejects:
        lines.append(f"  rejected rows: {show(result.rejects)}")
    lines.append(f"  result: {show(result_name(result.source.name))}")
    return "\n".join(lines) + "\n"


def _errors(result: Result, error: Problem | None) -> list[str]:
    listed = [e for e in result.errors if error is None or (e.code, e.line) != (error.code, None)]
    if not listed:
        return []
    lines = ["  errors:"]
    for issue in listed[:SHOWN_ERRORS]:
        where = f"line {issue.line}" if issue.line else "file"
        column = f" {issue.column}:" if issue.column else ""
        lines.append(f"    {where:>11}  {issue.code}{column} {issue.message}")
    counts = result.check.error_counts if result.check is not None else {}
    total = sum(counts.values()) if counts else len(listed)
    if total > min(len(listed), SHOWN_ERRORS):
        in_all = ", ".join(f"{code} {n}" for code, n in sorted(counts.items()))
        lines.append(f"    (the first {min(len(listed), SHOWN_ERRORS)} shown; in all: {in_all})")
    return lines


def _warnings(warnings: Sequence[WarningSummary]) -> list[str]:
    if not warnings:
        return []
    lines = ["  warnings:"]
    for warning in warnings:
        where = f", first on line {warning.line}" if warning.line is not None else ""
        column = f" {warning.column}" if warning.column else ""
        count = f" x{warning.count}" if warning.count else ""
        lines.append(f"    {warning.code}{column}{count}{where}: {warning.message}")
    return lines


def _part_line(part: ResultPart) -> str:
    if part.uploading:
        return uploading_line(part.uploading)
    if part.error:
        return f"not uploaded: {part.error.code}: {part.error.message}"
    if part.wait:
        return f"waiting ({part.wait.code}), not before {part.wait.not_before}"
    return f"{part.state}, not sent yet"


def uploading_line(uploading: Uploading) -> str:
    line = (
        f"upload {uploading.id} {uploading.status}: {uploading.line_quantity} of "
        f"{uploading.source_quantity} rows accepted"
    )
    if uploading.is_final:
        line += (
            f", {uploading.linked_quantity} linked, {uploading.user_not_found_quantity} "
            f"users not found, {uploading.goal_not_found_quantity} goals not found"
        )
    return line
