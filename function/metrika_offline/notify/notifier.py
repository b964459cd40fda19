"""Sends one piece of news to every configured channel, each retried a few times.

A channel that keeps failing is logged (its name and the HTTP status) and given up on: a
notification never changes a file's outcome and never raises into the pipeline.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

import requests

from metrika_offline.config import Settings
from metrika_offline.logs import get_logger
from metrika_offline.notify.channels import (
    Channel,
    NotifyError,
    SlackChannel,
    TelegramChannel,
    WebhookChannel,
)
from metrika_offline.notify.message import ChannelName, FileNews

__all__ = ["ATTEMPTS", "Notifier"]

log = get_logger("notify")

#: Tries per channel and message; the waits between them.
ATTEMPTS = 3
_WAITS_S = (1.0, 3.0)


class Notifier:
    """The channels of one deployment (or one folder)."""

    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.channels = tuple(channels)
        self._session = session
        self._sleep = sleep

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Notifier:
        """The channels the environment names (none: a notifier that tells no one)."""
        channels: list[Channel] = []
        if settings.notify_slack_webhook_url:
            channels.append(SlackChannel(settings.notify_slack_webhook_url))
        if settings.notify_telegram_bot_token:  # its chat: the default, or a folder's
            channels.append(
                TelegramChannel(
                    settings.telegram_api_url,
                    settings.notify_telegram_bot_token,
                    settings.notify_telegram_chat_id,
                )
            )
        if settings.notify_webhook_url:
            channels.append(WebhookChannel(settings.notify_webhook_url))
        return cls(channels, session=session, sleep=sleep)

    def __bool__(self) -> bool:
        return bool(self._usable(self.channels))

    @staticmethod
    def _usable(channels: Sequence[Channel]) -> tuple[Channel, ...]:
        return tuple(c for c in channels if not (isinstance(c, TelegramChannel) and not c.chat_id))

    def narrowed(self, notify: str, telegram_chat_id: str | None) -> Notifier:
        """The channels one file is told on: `all`, `none` or a list of channel names, and
        the Telegram chat its folder names (over the deployment's)."""
        names = (
            None if notify == "all" else {ChannelName(n) for n in notify.split(",") if n != "none"}
        )
        channels = [
            dataclasses.replace(c, chat_id=telegram_chat_id)
            if isinstance(c, TelegramChannel) and telegram_chat_id
            else c
            for c in self.channels
            if names is None or c.name in names
        ]
        return Notifier(channels, session=self._session, sleep=self._sleep)

    def _session_for_now(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            session.trust_env = False  # no proxy variables deciding where a secret URL goes
            self._session = session
        return self._session

    def send(self, news: FileNews) -> dict[str, str]:
        """Each channel's end: `sent`, or `failed` after ATTEMPTS tries."""
        ends: dict[str, str] = {}
        for channel in self._usable(self.channels):
            ends[channel.name] = "sent" if self._send_one(channel, news) else "failed"
        return ends

    def _send_one(self, channel: Channel, news: FileNews) -> bool:
        session = self._session_for_now()
        for attempt in range(1, ATTEMPTS + 1):
            try:
                channel.send(session, news)
            except NotifyError as exc:
                log.warning(
                    "notification not delivered",
                    extra={"channel": channel.name, "attempt": attempt, "error": str(exc)},
                )
                if attempt < ATTEMPTS:
                    self._sleep(_WAITS_S[min(attempt, len(_WAITS_S)) - 1])
                continue
            log.info("notification sent", extra={"channel": channel.name, "news": news.key})
            return True
        log.error("notification given up", extra={"channel": channel.name, "attempts": ATTEMPTS})
        return False
