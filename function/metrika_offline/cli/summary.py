"""A result JSON told to a person in a few lines: what went, what was left out, and why."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from metrika_offline.flow.layout import result_name
from metrika_offline.metrika.models import Uploading

#: Errors listed in a summary; the result JSON and `--json` hold up to `--max-errors`.
SHOWN_ERRORS = 10


def summarize(result: Mapping[str, Any], show: Callable[[str], str]) -> str:
    """The result for a person; `show` turns an object name into a path or URI."""
    source = result["source"]
    routing = result["routing"]
    rows = result["rows"]
    parts = result["parts"]
    status = result["status"]
    error = result.get("error")
    name = show(source["name"])
    if error is not None and not parts:
        lines = [f"{name}: {status}: {error['code']}: {error['message']}"]
    else:
        where = (
            f" to counter {routing['counter_id']} ({routing['type']})"
            if routing.get("counter_id") is not None
            else f" ({routing['type']})"
        )
        lines = [
            f"{name}: {status}, {rows.get('valid', 0)} of {rows.get('total', 0)} rows in "
            f"{len(parts)} part(s){where}"
        ]
    sent_before = rows.get("already_sent", 0)
    lines.append(
        f"  rows: {rows.get('total', 0)} total, {rows.get('valid', 0)} valid, "
        f"{rows.get('invalid', 0)} invalid, {rows.get('duplicates', 0)} duplicates"
        + (f", {sent_before} already sent" if sent_before else "")
    )
    lines += _errors(result, error)
    lines += _warnings(result)
    lines += [f"  part {p['index']}: {p['rows']} rows, {_part_line(p)}" for p in parts]
    metrika = result.get("metrika")
    if metrika:
        lines.append(
            f"  Metrica: {metrika['outcome']}, {metrika.get('linked_quantity', 0)} of "
            f"{metrika.get('rows_sent', 0)} rows linked"
        )
        lines.extend(f"  warning: {w['code']}: {w['message']}" for w in metrika["warnings"])
    if result.get("rejects"):
        lines.append(f"  rejected rows: {show(result['rejects'])}")
    lines.append(f"  result: {show(result_name(source['name']))}")
    return "\n".join(lines) + "\n"


def _errors(result: Mapping[str, Any], error: Mapping[str, Any] | None) -> list[str]:
    listed = [
        e
        for e in result["errors"]
        if error is None or (e.get("code"), e.get("line")) != (error["code"], None)
    ]
    if not listed:
        return []
    lines = ["  errors:"]
    for issue in listed[:SHOWN_ERRORS]:
        where = f"line {issue['line']}" if issue.get("line") else "file"
        column = f" {issue['column']}:" if issue.get("column") else ""
        lines.append(f"    {where:>11}  {issue['code']}{column} {issue['message']}")
    counts = (result.get("check") or {}).get("error_counts") or {}
    total = sum(int(n) for n in counts.values()) if counts else len(listed)
    if total > min(len(listed), SHOWN_ERRORS):
        in_all = ", ".join(f"{code} {n}" for code, n in sorted(counts.items()))
        lines.append(f"    (the first {min(len(listed), SHOWN_ERRORS)} shown; in all: {in_all})")
    return lines


def _warnings(result: Mapping[str, Any]) -> list[str]:
    warnings = result.get("warnings") or []
    if not warnings:
        return []
    lines = ["  warnings:"]
    for warning in warnings:
        where = f", first on line {warning['line']}" if warning.get("line") is not None else ""
        column = f" {warning['column']}" if warning.get("column") else ""
        count = f" x{warning['count']}" if warning.get("count") else ""
        lines.append(f"    {warning['code']}{column}{count}{where}: {warning['message']}")
    return lines


def _part_line(part: Mapping[str, Any]) -> str:
    if part.get("uploading"):
        return uploading_line(Uploading.from_json(part["uploading"]))
    if part.get("error"):
        return f"not uploaded: {part['error']['code']}: {part['error']['message']}"
    wait = part.get("wait")
    if wait:
        return f"waiting ({wait['code']}), not before {wait['not_before']}"
    return f"{part['state']}, not sent yet"


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
