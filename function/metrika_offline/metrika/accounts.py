"""Several Yandex accounts in one deployment: each counter's calls go out with its account's
token.

`METRIKA_ACCOUNTS` maps counter ids to account names, `METRIKA_TOKEN_<ACCOUNT>` holds each
account's token, and `METRIKA_TOKEN` serves every counter the map does not name. A counter the
map gives to an account without a token is not served by the default token either (that would
send one client's conversions under another's account): its calls raise NoTokenForCounter.

One client per account, so Metrica's limit of 3 parallel requests holds per account (per
token, in `transport`), and a slow account does not hold up another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

from metrika_offline.config import (
    METRIKA_ACCOUNTS,
    METRIKA_TOKEN,
    Settings,
    account_token_var,
)
from metrika_offline.errors import NoTokenForCounter
from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.metrika.lookups import LIST_LIMIT
from metrika_offline.metrika.models import Uploading
from metrika_offline.types import ConversionType, Goal

__all__ = ["DEFAULT_ACCOUNT", "MetrikaAccounts"]

#: The account name results and logs use for the `METRIKA_TOKEN` account.
DEFAULT_ACCOUNT = "default"


class MetrikaAccounts:
    """The Metrica calls of `MetrikaClient`, each routed by its counter to the right token."""

    def __init__(
        self,
        clients: Mapping[str, MetrikaClient],
        counters: Mapping[int, str] | None = None,
    ) -> None:
        """`clients`: account name -> client (`DEFAULT_ACCOUNT` for `METRIKA_TOKEN`);
        `counters`: counter id -> account name."""
        self._clients = dict(clients)
        self._counters = dict(counters or {})

    @classmethod
    def from_settings(cls, settings: Settings, **client_options: Any) -> MetrikaAccounts:
        """A client for `METRIKA_TOKEN` (if set) and one per account with a token."""
        clients: dict[str, MetrikaClient] = {}
        if settings.metrika_token:
            clients[DEFAULT_ACCOUNT] = MetrikaClient(
                settings.metrika_token, base_url=settings.metrika_api_url, **client_options
            )
        for account, token in sorted(settings.metrika_account_tokens.items()):
            clients[account] = MetrikaClient(
                token,
                base_url=settings.metrika_api_url,
                token_name=account_token_var(account),
                **client_options,
            )
        counters = {int(counter): name for counter, name in settings.metrika_accounts.items()}
        return cls(clients, counters)

    @classmethod
    def of(cls, metrika: MetrikaAccounts | MetrikaClient | None) -> MetrikaAccounts:
        """Accounts as given; a single client serves every counter; None serves none."""
        if isinstance(metrika, MetrikaAccounts):
            return metrika
        return cls({} if metrika is None else {DEFAULT_ACCOUNT: metrika})

    def __repr__(self) -> str:
        return f"MetrikaAccounts(accounts={sorted(self._clients)!r})"

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def __enter__(self) -> MetrikaAccounts:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def accounts(self) -> Mapping[str, MetrikaClient]:
        """Account name -> its client (`default` for METRIKA_TOKEN)."""
        return dict(self._clients)

    def account_of(self, counter_id: int) -> str:
        """The account a counter belongs to (`default` when the map does not name it)."""
        return self._counters.get(int(counter_id), DEFAULT_ACCOUNT)

    def has_token(self, counter_id: int) -> bool:
        return self.account_of(counter_id) in self._clients

    def client_for(self, counter_id: int) -> MetrikaClient:
        """The client of the counter's account; NoTokenForCounter if it has no token."""
        account = self.account_of(counter_id)
        client = self._clients.get(account)
        if client is not None:
            return client
        if account == DEFAULT_ACCOUNT:
            raise NoTokenForCounter(
                f"no Metrica token for counter {counter_id}: set {METRIKA_TOKEN}, or give the "
                f"counter to an account in {METRIKA_ACCOUNTS} and set that account's token"
            )
        raise NoTokenForCounter(
            f"counter {counter_id} belongs to account {account!r} ({METRIKA_ACCOUNTS}) and "
            f"{account_token_var(account)} is not set"
        )

    # --- MetrikaClient's calls, routed by counter ---

    def upload(
        self,
        counter_id: int,
        type: ConversionType,
        comment: str,
        part: Callable[[], BinaryIO] | BinaryIO,
        size: int,
        *,
        marker: str | None = None,
        filename: str = "conversions.csv",
        deadline: float | None = None,
        since: float | None = None,
        ignore_visit_join_threshold: bool = False,
    ) -> Uploading:
        return self.client_for(counter_id).upload(
            counter_id,
            type,
            comment,
            part,
            size,
            marker=marker,
            filename=filename,
            deadline=deadline,
            since=since,
            ignore_visit_join_threshold=ignore_visit_join_threshold,
        )

    def find_by_marker(
        self,
        counter_id: int,
        marker: str,
        *,
        type: ConversionType,
        since: float | None = None,
        deadline: float | None = None,
    ) -> Uploading | None:
        return self.client_for(counter_id).find_by_marker(
            counter_id, marker, type=type, since=since, deadline=deadline
        )

    def get_uploading(self, counter_id: int, uploading_id: int) -> Uploading:
        return self.client_for(counter_id).get_uploading(counter_id, uploading_id)

    def list_uploadings(
        self,
        counter_id: int,
        *,
        type: ConversionType,
        limit: int = LIST_LIMIT,
        offset: int = 0,
    ) -> list[Uploading]:
        return self.client_for(counter_id).list_uploadings(
            counter_id, limit=limit, offset=offset, type=type
        )

    def goals(self, counter_id: int, *, max_attempts: int | None = None) -> tuple[Goal, ...]:
        return self.client_for(counter_id).goals(counter_id, max_attempts=max_attempts)
