"""The notification's content: what happened to one file, in a few lines, never its rows.

    ✅ leads.csv: uploaded
    counter 51234567 · BASIC · 1 250 rows sent, 3 left out
    errors: bad-datetime ×2, bad-phone ×1
    result: gs://bucket/incoming/leads.csv.result.json

and, when Metrica's final word comes, the same file with `linked` and `not found` counts.
Only codes, counts, names and the routing: no cell value, no token, no webhook URL.

The text is plain: a file name is whatever its dropper typed, and it stays readable as typed.
Each channel makes it safe for its own markup (`slack_text` for Slack; Telegram takes it as
plain text; the JSON webhook carries it as data).
"""

from __future__ import annotations

import dataclasses
import enum
import posixpath

__all__ = ["FileNews", "render_text", "slack_text"]

_MARKS = {
    "uploaded": "✅",
    "processed": "✅",
    "validated": "✅",
    "partially_uploaded": "⚠️",
    "partially_processed": "⚠️",
    "linkage_failure": "⚠️",
    "status_unknown": "⚠️",
    "rejected": "❌",
    "failed": "❌",
}


class NewsKind(enum.StrEnum):
    """What a notification is about: how a file ended, what Metrica made of it, or a wait."""

    FILE = "file"
    METRIKA = "metrika"
    WAIT = "wait"


class ChannelName(enum.StrEnum):
    """The channels a deployment may have, and a file's `notify` may name."""

    SLACK = "slack"
    TELEGRAM = "telegram"
    WEBHOOK = "webhook"


@dataclasses.dataclass(frozen=True)
class FileNews:
    """One outcome of one file: the file's own (`kind` "file"), Metrica's (`metrika`), or a
    wait for Metrica (`wait`: the file is not sent yet; `note` says until when and why)."""

    kind: NewsKind
    outcome: str  # the file's status, Metrica's outcome, or the wait's code
    bucket: str
    name: str
    generation: int
    counter_id: int | None
    type: str
    rows_sent: int
    rows_left_out: int
    top_errors: tuple[tuple[str, int], ...] = ()
    error: str | None = None  # the file-level error code, if any
    linked: int | None = None
    goal_not_found: int | None = None
    user_not_found: int | None = None
    result: str = ""  # where the result JSON is
    rows_already_sent: int = 0  # left out because an earlier file sent them (the ledger)
    note: str = ""  # a wait's words

    @property
    def key(self) -> str:
        """What makes this news one notification: its kind and outcome."""
        return f"{self.kind}:{self.outcome}"

    def to_json(self) -> dict[str, object]:
        data = dataclasses.asdict(self)
        data["top_errors"] = [{"code": code, "count": count} for code, count in self.top_errors]
        data["generation"] = str(self.generation)
        data["text"] = render_text(self)
        return data


def _count(number: int) -> str:
    return f"{number:,}".replace(",", " ")


def render_text(news: FileNews) -> str:
    """A few short lines a person reads in a chat."""
    mark = _MARKS.get(news.outcome, "ℹ️")
    file = posixpath.basename(news.name)
    head = (
        f"{mark} {file}: {news.outcome.replace('_', ' ')}"
        if news.kind is NewsKind.FILE
        else f"⏳ {file}: not sent yet: {news.outcome}"
        if news.kind is NewsKind.WAIT
        else f"{mark} {file}: Metrica says {news.outcome.replace('_', ' ')}"
    )
    counter = "no counter" if news.counter_id is None else f"counter {news.counter_id}"
    lines = [
        head,
        f"{counter} · {news.type} · {_count(news.rows_sent)} rows sent, "
        f"{_count(news.rows_left_out)} left out"
        + (
            f", {_count(news.rows_already_sent)} already sent before"
            if news.rows_already_sent
            else ""
        ),
    ]
    if news.error:
        lines.append(f"reason: {news.error}")
    if news.note:
        lines.append(news.note)
    if news.top_errors:
        lines.append(
            "errors: " + ", ".join(f"{code} ×{_count(count)}" for code, count in news.top_errors)
        )
    if news.linked is not None:
        lines.append(
            f"Metrica: {_count(news.linked)} linked, {_count(news.goal_not_found or 0)} goal "
            f"not found, {_count(news.user_not_found or 0)} user not found"
        )
    if news.result:
        lines.append(f"result: {news.result}")
    return "\n".join(lines)


#: What Slack reads as markup in a message's text, and how it asks for it to be escaped.
_SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def slack_text(news: FileNews) -> str:
    """The text for Slack: `&`, `<` and `>` escaped, so that a file name like
    `<!channel> <https://evil.example|report>.csv` shows as typed, not as a ping or a link."""
    return render_text(news).translate(_SLACK_ESCAPES)
