"""`metrika-offline doctor [--counter N]`: is this setup ready to send? For the first run and
after a token rotation.

One line per check, ✓ or ✗, and for each ✗ what to do:

    token        METRIKA_TOKEN (and each account's) works: the counters it reaches, whose
    counter      the counter is reachable with edit rights (own or edit, not view)
    uploads      Metrica takes offline conversions now, or from which date (a new counter)
    goals        the JavaScript-event goals and their identifiers (what Target must name)

Exit codes: 0 every check passed; 1 some check failed; 2 usage or configuration.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from metrika_offline.cli import options

if TYPE_CHECKING:
    from metrika_offline.metrika.accounts import MetrikaAccounts
    from metrika_offline.metrika.client import MetrikaClient
    from metrika_offline.types import Goal

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_HOW_TO_REPLACE_IT = (
    "make a token at https://oauth.yandex.ru for an application with the Metrica access "
    "(metrika:read and metrika:write), as the account that owns or edits the counter, and set "
    "METRIKA_TOKEN (in the cloud: the Secret Manager secret; then redeploy)"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `doctor` to the parser."""
    doctor = sub.add_parser(
        "doctor",
        help="check the token, the counter, whether Metrica takes uploads now, and the goals",
        description="Check that METRIKA_TOKEN (and each account's token) works, that the "
        "counter is reachable with edit rights, whether Metrica takes offline conversions for "
        "it now or from which date, and list its JavaScript-event goals with the identifiers a "
        "Target names. Each line says ✓ or ✗ and what to do; exit 0 when all is well.",
    )
    doctor.add_argument("--counter", type=options.counter_id, help="Metrica counter id")
    options.add_output_options(doctor)
    doctor.set_defaults(handler=run_doctor)


@dataclasses.dataclass(frozen=True)
class DoctorCheck:
    name: str
    ok: bool
    text: str
    fix: str = ""

    def line(self) -> str:
        mark = "✓" if self.ok else "✗"
        return f"{mark} {self.name}: {self.text}" + (f"\n    → {self.fix}" if self.fix else "")


def run_doctor(args: argparse.Namespace) -> int:
    from metrika_offline.config import Settings
    from metrika_offline.errors import ConfigError
    from metrika_offline.metrika.accounts import MetrikaAccounts
    from metrika_offline.metrika.retry import RetryPolicy

    settings = Settings.from_env()
    if not settings.metrika_token and not settings.metrika_account_tokens:
        raise ConfigError("set METRIKA_TOKEN (or METRIKA_ACCOUNTS and its accounts' tokens)")
    # A first look, not a long wait: two attempts each.
    with MetrikaAccounts.from_settings(settings, retry=RetryPolicy(max_attempts=2)) as accounts:
        checks = diagnose(accounts, args.counter, now=time.time)
    if args.json:
        sys.stdout.write(
            json.dumps([dataclasses.asdict(c) for c in checks], ensure_ascii=False, indent=2) + "\n"
        )
    else:
        sys.stdout.write("\n".join(c.line() for c in checks) + "\n")
    return EXIT_OK if all(c.ok for c in checks) else EXIT_FAILED


def diagnose(
    accounts: MetrikaAccounts, counter: int | None, *, now: Callable[[], float]
) -> list[DoctorCheck]:
    """Every check, in order; a check that cannot run after a failed one is left out."""
    tokens = {name: _token(name, client) for name, client in sorted(accounts.accounts.items())}
    checks = list(tokens.values())
    if counter is None:
        return checks
    token = tokens.get(accounts.account_of(counter))
    if token is not None and not token.ok:
        return checks  # the counter cannot be asked about with a token Metrica refuses
    if not accounts.has_token(counter):
        account = accounts.account_of(counter)
        checks.append(
            DoctorCheck(
                "counter",
                False,
                f"no token for counter {counter}'s account {account!r}",
                "set the account's token (METRIKA_TOKEN_<ACCOUNT>)",
            )
        )
        return checks
    client = accounts.client_for(counter)
    reach = _counter(client, counter)
    checks.append(reach)
    if not reach.ok:
        return checks
    checks.append(_uploads(client, counter, now()))
    checks.append(_goals(client, counter))
    return checks


def _why(exc: Exception) -> str:
    from metrika_offline.errors import MetrikaError

    if isinstance(exc, MetrikaError):
        said = f" ({exc.metrika_message})" if exc.metrika_message else ""
        return f"{exc.status or 'no answer'} {exc.error_type}".strip() + said
    return type(exc).__name__


def _fix_for(exc: Exception) -> str:
    from metrika_offline.errors import MetrikaAuthError, MetrikaDailyQuota, MetrikaError

    if isinstance(exc, MetrikaDailyQuota):
        return "the account's daily request quota is spent: try again tomorrow"
    if isinstance(exc, MetrikaAuthError) and exc.error_type != "access_denied":
        return _HOW_TO_REPLACE_IT
    if isinstance(exc, MetrikaError) and not exc.status:
        return "Metrica did not answer: check the network (and METRIKA_API_URL), then again"
    return "try again in a few minutes; if it stays, see the message Metrica gave"


def _token(account: str, client: MetrikaClient) -> DoctorCheck:
    from metrika_offline.errors import MetrikaError

    name = "token" if account == "default" else f"token ({account})"
    try:
        reached = client.counters()
    except MetrikaError as exc:
        return DoctorCheck(name, False, f"Metrica refuses it: {_why(exc)}", _fix_for(exc))
    owners = sorted({c.owner_login for c in reached if c.permission == "own" and c.owner_login})
    whose = f" (account {', '.join(owners)})" if owners else ""
    return DoctorCheck(name, True, f"works{whose}: it reaches {len(reached)} counter(s)")


def _counter(client: MetrikaClient, counter: int) -> DoctorCheck:
    from metrika_offline.errors import MetrikaError

    try:
        info = client.counter(counter)
    except MetrikaError as exc:
        if exc.error_type == "access_denied" or exc.status == 403:
            return DoctorCheck(
                "counter", False, f"counter {counter} is not reachable with this token: "
                f"{_why(exc)}", "use a token of the counter's owner, or ask the owner for edit "
                "access (Settings → Access) for the token's account",
            )  # fmt: skip
        if exc.status == 404:
            return DoctorCheck("counter", False, f"counter {counter} does not exist: {_why(exc)}",
                         "check the counter id (the number in Metrica's address bar)")  # fmt: skip
        return DoctorCheck("counter", False, f"counter {counter}: {_why(exc)}", _fix_for(exc))
    named = f"{counter} ({info.name}{', ' + info.site if info.site else ''})"
    if info.permission not in ("own", "edit"):
        return DoctorCheck(
            "counter", False, f"{named} is reachable with {info.permission or 'no'} rights only",
            f"uploading needs edit rights: ask the owner ({info.owner_login or 'see Metrica'}) "
            "for edit access for the token's account",
        )  # fmt: skip
    owner = f", owned by {info.owner_login}" if info.owner_login else ""
    return DoctorCheck(
        "counter", True, f"{named} is reachable with {info.permission} rights{owner}"
    )


def _parse_date(text: str) -> float | None:
    value = text.strip().replace("Z", "+00:00")
    for candidate in (value, value.replace(" ", "T")):
        try:
            when = dt.datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return when.timestamp()
    return None


def _uploads(client: MetrikaClient, counter: int, now: float) -> DoctorCheck:
    from metrika_offline.errors import MetrikaError

    try:
        threshold = client.visit_join_threshold(counter)
    except MetrikaError as exc:
        return DoctorCheck("uploads", False, f"could not ask Metrica: {_why(exc)}", _fix_for(exc))
    when = _parse_date(threshold)
    if when is not None and when > now:
        shown = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(when))
        return DoctorCheck(
            "uploads", False, f"Metrica takes offline conversions for counter {counter} from "
            f"{shown} (a new counter): files sent before then wait and go by themselves",
            "to send now, set ignore_visit_join_threshold (IGNORE_VISIT_JOIN_THRESHOLD=true, "
            "metadata ignore-visit-join-threshold, the folder settings key, or "
            "--ignore-visit-join-threshold): conversions before that date do not link",
        )  # fmt: skip
    return DoctorCheck(
        "uploads", True, f"accepted now; conversions link to visits from {threshold.strip()}"
    )


def _goal_lines(goals: Sequence[Goal]) -> list[str]:
    lines = []
    for goal in goals:
        if not goal.is_javascript_event:
            continue
        for condition in goal.conditions:
            if condition.url:
                kind = "exact" if condition.type in ("exact", "action") else condition.type
                lines.append(f"{condition.url} ({goal.name}, {kind})")
    return lines


def _goals(client: MetrikaClient, counter: int) -> DoctorCheck:
    from metrika_offline.errors import MetrikaError

    try:
        goals = client.goals(counter)
    except MetrikaError as exc:
        return DoctorCheck("goals", False, f"could not read them: {_why(exc)}", _fix_for(exc))
    found = _goal_lines(goals)
    if not found:
        return DoctorCheck(
            "goals", False, f"counter {counter} has no JavaScript-event goal",
            "BASIC conversions name a goal by its identifier: create a goal of type "
            "JavaScript event with an exact identifier (Goals → Add goal) and put that "
            "identifier in Target (CALLS and CHATS files need no goal)",
        )  # fmt: skip
    loose = [line for line in found if not line.endswith(", exact)")]
    text = "JavaScript-event goals, Target names one of: " + "; ".join(found)
    if loose:  # sent with a warning, not refused: a note, not a failure
        return DoctorCheck(
            "goals", True, text,
            "a goal matched by contain, start or regexp may count rows as goal not found: "
            "give it an exact condition",
        )  # fmt: skip
    return DoctorCheck("goals", True, text)
