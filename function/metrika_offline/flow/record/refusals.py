"""Which account serves a file, and what its result says when none can.

A file whose counter has no token (`METRIKA_ACCOUNTS`, `METRIKA_TOKEN_<ACCOUNT>`,
`METRIKA_TOKEN`) is rejected before it is checked, with `no-token-for-counter`: nothing is
sent under another account's token.
"""

from __future__ import annotations

from metrika_offline.check.codes import Code
from metrika_offline.errors import MetrikaAuthError, MetrikaError, NoTokenForCounter
from metrika_offline.flow.record.job import Problem
from metrika_offline.flow.record.route import Mode, Route
from metrika_offline.metrika.accounts import MetrikaAccounts

__all__ = ["NO_TOKEN_CODE", "no_token_problem", "refusal_code"]

#: The result's code for a counter whose account has no token.
NO_TOKEN_CODE = Code.NO_TOKEN_FOR_COUNTER


def no_token_problem(metrika: MetrikaAccounts, routing: Route) -> Problem | None:
    """Why a file to upload cannot be sent: no token for its counter (None if there is one)."""
    if routing.mode is not Mode.UPLOAD or routing.counter_id is None:
        return None
    try:
        metrika.client_for(routing.counter_id)
    except NoTokenForCounter as exc:
        return Problem(NO_TOKEN_CODE, str(exc))
    return None


def refusal_code(exc: MetrikaError) -> Code:
    """The part's error code for a refusal: no token, bad token or access, or Metrica's no."""
    if isinstance(exc, NoTokenForCounter):
        return NO_TOKEN_CODE
    return Code.METRIKA_AUTH if isinstance(exc, MetrikaAuthError) else Code.METRIKA_REJECTED
