"""Where a message goes: a Slack-style incoming webhook, the Telegram Bot API, or a generic
JSON webhook. Each is one POST with a timeout; a refusal or a network fault raises
NotifyError, whose text names the channel and the HTTP status, never the URL or the token
(both are secrets: the URL of an incoming webhook is its credential).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import requests

from metrika_offline.config import Secret
from metrika_offline.notify.message import ChannelName, FileNews, render_text, slack_text

__all__ = ["Channel", "NotifyError", "SlackChannel", "TelegramChannel", "WebhookChannel"]

#: Seconds to connect, and to wait for the answer.
TIMEOUTS = (5.0, 10.0)


class NotifyError(Exception):
    """A channel refused a message or could not be reached."""


class Channel(Protocol):
    @property
    def name(self) -> ChannelName: ...

    def send(self, session: requests.Session, news: FileNews) -> None: ...


def _post(session: requests.Session, channel: str, url: str, body: dict[str, object]) -> None:
    failure: str | None = None
    try:
        response = session.post(url, json=body, timeout=TIMEOUTS, allow_redirects=False)
    except requests.RequestException as exc:
        # The exception's text can hold the URL: only its kind is kept.
        failure = f"{channel}: no answer ({type(exc).__name__})"
    else:
        if not 200 <= response.status_code < 300:
            failure = f"{channel}: refused with HTTP {response.status_code}"
    if failure is not None:
        raise NotifyError(failure)


@dataclasses.dataclass(frozen=True)
class SlackChannel:
    """A Slack-style incoming webhook: `{"text": …, "mrkdwn": false}`, the text escaped as
    Slack asks (`&`, `<`, `>`) and its mrkdwn off, so a name's `*` or `_` stays as typed."""

    url: Secret = dataclasses.field(repr=False)
    name: ChannelName = ChannelName.SLACK

    def send(self, session: requests.Session, news: FileNews) -> None:
        _post(session, self.name, self.url, {"text": slack_text(news), "mrkdwn": False})


@dataclasses.dataclass(frozen=True)
class TelegramChannel:
    """The Bot API's `sendMessage` to one chat, as plain text: no `parse_mode`, so neither
    HTML nor Markdown in a file name is read as markup."""

    api_url: str
    token: Secret = dataclasses.field(repr=False)
    chat_id: str = ""
    name: ChannelName = ChannelName.TELEGRAM

    def send(self, session: requests.Session, news: FileNews) -> None:
        url = f"{self.api_url.rstrip('/')}/bot{self.token}/sendMessage"
        body = {
            "chat_id": self.chat_id,
            "text": render_text(news),
            "disable_web_page_preview": True,
        }
        _post(session, self.name, url, body)


@dataclasses.dataclass(frozen=True)
class WebhookChannel:
    """A generic JSON webhook: the news as fields, plus the same plain `text`. It carries
    data, not markup: a receiver that renders it escapes it for its own markup."""

    url: Secret = dataclasses.field(repr=False)
    name: ChannelName = ChannelName.WEBHOOK

    def send(self, session: requests.Session, news: FileNews) -> None:
        _post(
            session,
            self.name,
            self.url,
            {"event": "metrika_offline." + news.kind, **news.to_json()},
        )
