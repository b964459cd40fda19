"""`metrika-offline doctor` against the fake Metrica: a good setup, and each thing it finds
wrong, with what to do. The outputs are the README's."""

from __future__ import annotations

import time

import pytest

from metrika_offline import cli
from tests import samples
from tests.fakes.metrika import FAKE_TOKEN, FakeMetrika

COUNTER = 51234567


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, fake_metrika: FakeMetrika) -> FakeMetrika:
    monkeypatch.setenv("METRIKA_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("METRIKA_API_URL", fake_metrika.url)
    monkeypatch.delenv("METRIKA_ACCOUNTS", raising=False)
    fake_metrika.set_counter(COUNTER, name="Shop", site="shop.example.ru",
                             owner_login="shop-owner")  # fmt: skip
    fake_metrika.set_goals(COUNTER, samples.GOALS)
    return fake_metrika


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(["doctor", *args])
    return code, capsys.readouterr().out


def test_a_good_setup_passes_every_check(
    env: FakeMetrika, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = doctor(capsys, "--counter", str(COUNTER))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "✓ token: works (account shop-owner): it reaches 1 counter(s)"
    assert lines[1] == (
        f"✓ counter: {COUNTER} (Shop, shop.example.ru) is reachable with own rights, owned by "
        "shop-owner"
    )
    assert lines[2].startswith("✓ uploads: accepted now; conversions link to visits from ")
    assert lines[3] == (
        "✓ goals: JavaScript-event goals, Target names one of: lead_form_sent (Заявка с сайта, "
        "exact); order_paid (Оплата заказа, exact)"
    )
    assert "✗" not in out


def test_a_token_metrica_refuses(
    env: FakeMetrika, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRIKA_TOKEN", "an-old-rotated-token")
    code, out = doctor(capsys, "--counter", str(COUNTER))
    assert code == 1
    assert out.startswith("✗ token: Metrica refuses it: 403 invalid_token (Invalid oauth_token)")
    assert "https://oauth.yandex.ru" in out
    assert "counter:" not in out  # not asked with a token Metrica refuses


def test_a_counter_the_token_cannot_reach(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeMetrika(counters={COUNTER + 1}) as fake:
        monkeypatch.setenv("METRIKA_TOKEN", FAKE_TOKEN)
        monkeypatch.setenv("METRIKA_API_URL", fake.url)
        code, out = doctor(capsys, "--counter", str(COUNTER))
    assert code == 1
    assert (
        f"✗ counter: counter {COUNTER} is not reachable with this token: 403 access_denied" in out
    )
    assert "ask the owner for edit access" in out


def test_a_counter_with_view_rights_only(
    env: FakeMetrika, capsys: pytest.CaptureFixture[str]
) -> None:
    env.set_counter(COUNTER, name="Shop", site="shop.example.ru", owner_login="shop-owner",
                    permission="view")  # fmt: skip
    code, out = doctor(capsys, "--counter", str(COUNTER))
    assert code == 1
    assert f"✗ counter: {COUNTER} (Shop, shop.example.ru) is reachable with view rights only" in out
    assert "ask the owner (shop-owner) for edit access" in out


def test_a_new_counter_not_ready_yet(env: FakeMetrika, capsys: pytest.CaptureFixture[str]) -> None:
    opens = time.time() + 2 * 86_400
    env.set_not_ready(COUNTER, opens)
    code, out = doctor(capsys, "--counter", str(COUNTER))
    assert code == 1
    shown = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(opens))
    assert f"✗ uploads: Metrica takes offline conversions for counter {COUNTER} from {shown}" in out
    assert "--ignore-visit-join-threshold" in out


def test_a_counter_without_javascript_event_goals(
    env: FakeMetrika, capsys: pytest.CaptureFixture[str]
) -> None:
    env.set_goals(COUNTER, [g for g in samples.GOALS if g["type"] != "action"])
    code, out = doctor(capsys, "--counter", str(COUNTER))
    assert code == 1
    assert f"✗ goals: counter {COUNTER} has no JavaScript-event goal" in out
    assert "JavaScript event with an exact identifier" in out


def test_without_a_counter_only_the_token_is_checked(
    env: FakeMetrika, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = doctor(capsys)
    assert code == 0
    assert out.splitlines() == ["✓ token: works (account shop-owner): it reaches 1 counter(s)"]
