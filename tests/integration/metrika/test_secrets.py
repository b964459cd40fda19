"""The OAuth token never shows: every error path is driven with a recognizable token, and the
token is looked for in every log record (before any redaction), every exception (its text,
repr, attributes and whole chained traceback), every repr, and the CLI's output."""

from __future__ import annotations

import io
import json
import logging
import socket
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from metrika_offline import cli
from metrika_offline.config import Settings
from metrika_offline.errors import MetrikaOfflineError
from metrika_offline.logs import LOGGER_NAME, JsonFormatter
from metrika_offline.metrika.accounts import MetrikaAccounts
from metrika_offline.metrika.client import MetrikaClient
from metrika_offline.metrika.marker import make_comment, make_marker
from metrika_offline.metrika.retry import RetryPolicy
from metrika_offline.metrika.transport import Timeouts
from metrika_offline.types import ConversionType
from tests.fakes.metrika import FakeMetrika, Fault
from tests.fakes.metrika.fixtures import ManualTime

TOKEN = "y0_SECRET-7f3a9c1e-token-DoNotLeak"
FRAGMENTS = (TOKEN, "7f3a9c1e-token")  # the token, and a piece of it that survives mangling
CSV = b"ClientId,Target,DateTime\n1,lead,1700000000\n"
COUNTER = 7


class Records(logging.Handler):
    """Every record of every logger, kept raw: what the code logged, not what redaction left."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> Iterator[str]:
        for record in self.records:
            yield record.getMessage()
            yield repr(vars(record))
            yield JsonFormatter().format(record)


@pytest.fixture
def captured_logs() -> Iterator[Records]:
    handler = Records()
    loggers = [logging.getLogger(), logging.getLogger(LOGGER_NAME)]
    saved = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for logger, level in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)


def exception_texts(exc: BaseException) -> Iterator[str]:
    yield str(exc)
    yield repr(exc)
    yield repr(exc.args)
    yield repr(vars(exc))
    yield "".join(traceback.format_exception(exc))
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            yield from exception_texts(linked)


def assert_clean(texts: Iterator[str] | list[str]) -> int:
    count = 0
    for text in texts:
        count += 1
        for fragment in FRAGMENTS:
            assert fragment not in text, text[:500]
    return count


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_the_token_shows_nowhere_on_any_error_path(
    captured_logs: Records, manual_time: ManualTime
) -> None:
    seen: list[BaseException] = []
    outputs: list[str] = []

    def attempt(action: Callable[[], object]) -> None:
        try:
            outputs.append(repr(action()))
        except (MetrikaOfflineError, ValueError) as exc:
            seen.append(exc)

    def client(url: str, **overrides: object) -> MetrikaClient:
        options: dict[str, object] = {
            "base_url": url,
            "retry": RetryPolicy(max_attempts=3),
            "timeouts": Timeouts(connect_s=2, read_s=0.3),
            "sleep": manual_time.sleep,
            "clock": manual_time.clock,
        }
        options.update(overrides)
        made = MetrikaClient(TOKEN, **options)  # type: ignore[arg-type]
        outputs.extend([repr(made), repr(vars(made)), str(made)])
        return made

    def send(
        made: MetrikaClient, data: bytes = CSV, *, marker: bool = True, **kw: object
    ) -> object:
        tag = make_marker("b", "n", 1, 0)
        return made.upload(
            COUNTER,
            ConversionType.BASIC,
            make_comment("c", tag),
            lambda: io.BytesIO(data),
            len(data),
            marker=tag if marker else None,
            **kw,  # type: ignore[arg-type]
        )

    with FakeMetrika(tokens={"another-token"}) as stranger:
        attempt(lambda: send(client(stranger.url)))  # 403 invalid_token
    with FakeMetrika(tokens={TOKEN}, counters={COUNTER + 1}) as fake:
        attempt(lambda: client(fake.url).get_uploading(COUNTER, 1))  # 403 access_denied
    with FakeMetrika(tokens={TOKEN}) as fake:
        made = client(fake.url)
        attempt(lambda: send(made, b"ClientId,DateTime\n1,1\n"))  # 400 rejected
        attempt(lambda: made.get_uploading(COUNTER, 404))  # 404 rejected
        fake.script(*[Fault.quota(retry_after=1)] * 3)
        attempt(lambda: send(made))  # quota, exhausted
        fake.script(*[Fault.http(503)] * 3)
        attempt(lambda: made.list_uploadings(COUNTER, type=ConversionType.BASIC))  # transient
        fake.script(Fault.drop())
        attempt(lambda: send(made, marker=False))  # ambiguous, raised
        fake.script(Fault.drop())
        attempt(lambda: send(made))  # ambiguous, adopted
        fake.script(Fault.slow(30, endpoint="upload"))
        attempt(lambda: send(made, marker=False))  # read timeout: ambiguous
        fake.script(Fault.http(503))
        attempt(lambda: send(made, deadline=manual_time.now + 0.5))  # deadline
        attempt(lambda: made.upload(COUNTER, ConversionType.BASIC, "c", io.BytesIO(CSV), 999))
        outputs.append(json.dumps([entry.to_json() for entry in fake.journal]))
    attempt(lambda: send(client(closed_port_url())))  # nothing listening
    attempt(lambda: client("ftp://example.invalid"))  # unusable URL

    assert len(seen) == 12
    assert sum(assert_clean(exception_texts(exc)) for exc in seen) >= 12 * 5
    assert assert_clean(captured_logs.texts()) > 10
    assert assert_clean(outputs) > 5


def test_the_cli_keeps_the_token_out_of_its_output(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    captured_logs: Records,
    tmp_path: Path,
) -> None:
    source = tmp_path / "leads.csv"
    source.write_text(f"ClientId,Target,DateTime\n1,lead,{int(time.time()) - 60}\n")
    codes = []
    for env_token in (TOKEN, "wrong-" + TOKEN):
        with FakeMetrika(tokens={TOKEN}) as fake:
            monkeypatch.setenv("METRIKA_TOKEN", env_token)
            monkeypatch.setenv("METRIKA_API_URL", fake.url)
            fake.script(Fault.http(400, "invalid_uploading", endpoint="upload"))
            for json_flag in ([], ["--json"]):
                # --force: the same file again, sent again unless Metrica has it (by marker).
                upload = ["upload", str(source), "--counter", str(COUNTER), "--type", "BASIC"]
                upload.append("--force")
                codes.append(cli.main([*upload, *json_flag]))
                codes.append(cli.main(["status", "12345", "--counter", str(COUNTER), *json_flag]))
    assert codes == [1, 1, 0, 1, 2, 2, 2, 2]  # refused part, unknown upload; then a bad token
    captured = capsys.readouterr()
    assert "invalid_uploading" in captured.out
    assert "invalid_token" in captured.out + captured.err
    assert_clean([captured.out, captured.err])
    assert_clean(captured_logs.texts())


ACCOUNT_TOKENS = {
    "client-a": "y0_ACCOUNT-A-5b8d2e-token-DoNotLeak",
    "Client B": "y0_ACCOUNT-B-9c4f1a-token-DoNotLeak",
}


def test_no_accounts_token_shows_on_any_error_path(
    captured_logs: Records, manual_time: ManualTime
) -> None:
    fragments = [TOKEN, *ACCOUNT_TOKENS.values(), "5b8d2e-token", "9c4f1a-token"]
    seen: list[BaseException] = []
    outputs: list[str] = []

    def attempt(action: Callable[[], object]) -> None:
        try:
            outputs.append(repr(action()))
        except (MetrikaOfflineError, ValueError) as exc:
            seen.append(exc)

    token_a = ACCOUNT_TOKENS["client-a"]
    # The fake knows the default token and account A's; A reaches counter 7 only, the default
    # token counter 5 only; account B's token is unknown to it (invalid_token).
    with FakeMetrika(tokens={TOKEN, token_a}, access={token_a: {7}, TOKEN: {5}}) as fake:
        env = {
            "METRIKA_TOKEN": TOKEN,
            "METRIKA_API_URL": fake.url,
            "METRIKA_ACCOUNTS": json.dumps({"7": "client-a", "8": "Client B", "9": "client-c"}),
            "METRIKA_TOKEN_CLIENT_A": token_a,
            "METRIKA_TOKEN_CLIENT_B": ACCOUNT_TOKENS["Client B"],
        }
        settings = Settings.from_env(env)
        accounts = MetrikaAccounts.from_settings(
            settings,
            retry=RetryPolicy(max_attempts=2),
            timeouts=Timeouts(connect_s=2, read_s=0.3),
            sleep=manual_time.sleep,
            clock=manual_time.clock,
        )
        outputs.extend([repr(settings), str(settings), repr(accounts), repr(vars(accounts))])
        attempt(lambda: accounts.goals(8))  # B: 403 invalid_token
        attempt(lambda: accounts.get_uploading(9, 1))  # C: no token for the counter
        attempt(lambda: accounts.get_uploading(11, 1))  # default token: 403 access_denied
        attempt(lambda: accounts.get_uploading(7, 404))  # A: 404
        fake.script(*[Fault.http(503)] * 2)
        attempt(lambda: accounts.goals(7))  # A: transient, exhausted
        fake.script(Fault.quota(retry_after=1), Fault.quota(retry_after=1))
        attempt(lambda: accounts.list_uploadings(5, type=ConversionType.BASIC))  # quota
        outputs.append(json.dumps([entry.to_json() for entry in fake.journal]))
        accounts.close()
    assert len(seen) == 6
    texts = [t for exc in seen for t in exception_texts(exc)]
    texts += list(captured_logs.texts()) + outputs
    assert len(texts) > 40
    for text in texts:
        for fragment in fragments:
            assert fragment not in text, text[:500]
