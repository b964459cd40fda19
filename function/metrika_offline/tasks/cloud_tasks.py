"""Cloud Tasks over its REST API: one HTTP task per part, to the `upload_part` function.

REST with `requests` (a timeout on every call) and google-auth's session, both already here
for Cloud Storage, rather than the gRPC client library: that one adds grpcio (about 24 MB
installed) and about 50 ms to every cold start, for one call per part.

`UPLOAD_QUEUE` is a queue path with `{account}` in it; each Metrica account gets its own queue
(`queue_id`), so that queue's cap on concurrent dispatches is Metrica's per-user limit. With
`CLOUD_TASKS_EMULATOR_HOST` set, calls go there over plain HTTP without credentials.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from typing import Any, Protocol

import requests

from metrika_offline.config import Settings
from metrika_offline.errors import ConfigError, RetryLater
from metrika_offline.logs import get_logger

log = get_logger("tasks")

API_URL = "https://cloudtasks.googleapis.com"
TIMEOUT_S = (5.0, 30.0)
_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class QueueUnavailable(RetryLater):
    """Cloud Tasks did not take the task (throttled, down, or no answer): try again later."""


class _Body(Protocol):
    def to_json(self) -> bytes: ...


def queue_id(account: str) -> str:
    """An account name as a queue id's part: lower case, runs of anything else one `-`.

    infra/ computes the same (`local.account_queue_ids`)."""
    return re.sub(r"[^a-z0-9]+", "-", account.lower()).strip("-") or "default"


def rfc3339(epoch_s: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch_s, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CloudTasksQueue:
    """`UploadQueue` on Cloud Tasks (or its emulator)."""

    def __init__(
        self,
        *,
        queue: str,
        url: str,
        invoker: str = "",
        emulator_host: str = "",
        session: requests.Session | None = None,
        api_url: str = API_URL,
    ) -> None:
        """`session`: an authorised session to use (built from the default credentials when
        not given); `api_url`: where the API is when no emulator is named."""
        if "{account}" not in queue or not url:
            raise ConfigError("UPLOAD_QUEUE (with {account}) and UPLOAD_URL must be set")
        self.queue = queue
        self.url = url
        self.invoker = invoker
        self.base = f"http://{emulator_host}" if emulator_host else api_url
        self.emulated = bool(emulator_host)
        self._session = session

    @classmethod
    def from_settings(cls, settings: Settings) -> CloudTasksQueue:
        return cls(
            queue=settings.upload_queue,
            url=settings.upload_url,
            invoker=settings.upload_invoker,
            emulator_host=settings.cloud_tasks_emulator_host,
        )

    def session(self) -> requests.Session:
        if self._session is None:
            if self.emulated:
                self._session = requests.Session()
            else:
                import google.auth  # noqa: PLC0415 (only outside the local stack)
                from google.auth.transport.requests import AuthorizedSession  # noqa: PLC0415

                credentials, _ = google.auth.default(scopes=[_SCOPE])
                self._session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        return self._session

    def queue_path(self, account: str) -> str:
        return self.queue.replace("{account}", queue_id(account))

    def enqueue(
        self, account: str, task: _Body, name: str, *, not_before: float | None = None
    ) -> bool:
        parent = self.queue_path(account)
        request: dict[str, Any] = {
            "url": self.url,
            "httpMethod": "POST",
            "headers": {"Content-Type": "application/json"},
            "body": base64.b64encode(task.to_json()).decode(),
        }
        if self.invoker and not self.emulated:
            request["oidcToken"] = {"serviceAccountEmail": self.invoker, "audience": self.url}
        body: dict[str, Any] = {"name": f"{parent}/tasks/{name}", "httpRequest": request}
        if not_before is not None:
            body["scheduleTime"] = rfc3339(not_before)
        try:
            answer = self.session().post(
                f"{self.base}/v2/{parent}/tasks",
                data=json.dumps({"task": body}),
                headers={"Content-Type": "application/json"},
                timeout=TIMEOUT_S,
            )
        except requests.RequestException as exc:
            raise QueueUnavailable(f"Cloud Tasks did not answer: {type(exc).__name__}") from None
        if answer.status_code == 409:  # ALREADY_EXISTS: queued before, by us
            log.info("task exists already", extra={"task": name})
            return False
        if answer.status_code == 429 or answer.status_code >= 500:
            raise QueueUnavailable(f"Cloud Tasks answered {answer.status_code}")
        if not answer.ok:
            raise ConfigError(
                f"Cloud Tasks refused the task ({answer.status_code}): {answer.text[:300]}"
            )
        log.info("task queued", extra={"task": name, "queue": parent})
        return True
