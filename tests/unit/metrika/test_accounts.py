"""The pure parts of accounts: settings parsing, token names, the account serving a counter."""

from __future__ import annotations

import pytest

from metrika_offline.config import Settings, account_token_var
from metrika_offline.errors import ConfigError, NoTokenForCounter
from metrika_offline.metrika.accounts import MetrikaAccounts


@pytest.mark.parametrize(
    ("account", "variable"),
    [
        ("client-a", "METRIKA_TOKEN_CLIENT_A"),
        ("Client B", "METRIKA_TOKEN_CLIENT_B"),
        ("ООО Ромашка", "METRIKA_TOKEN____________"),
        ("acme.ru", "METRIKA_TOKEN_ACME_RU"),
    ],
)
def test_each_accounts_token_variable_is_spelled_as_the_infrastructure_spells_it(
    account: str, variable: str
) -> None:
    assert account_token_var(account) == variable


def test_accounts_are_read_with_their_tokens_and_bad_maps_refused() -> None:
    env = {
        "METRIKA_ACCOUNTS": '{"51234567": "client-a", " 0062345678 ": "client-b"}',
        "METRIKA_TOKEN_CLIENT_A": " y0_a ",
    }
    settings = Settings.from_env(env)
    assert settings.metrika_accounts == {"51234567": "client-a", "62345678": "client-b"}
    assert settings.metrika_account_tokens == {"client-a": "y0_a"}
    assert "y0_a" not in repr(settings)
    for bad in ("[1, 2]", "{not json", '{"abc": "x"}', '{"1": ""}', '{"1": 2}'):
        with pytest.raises(ConfigError, match="METRIKA_ACCOUNTS"):
            Settings.from_env({"METRIKA_ACCOUNTS": bad})
    with pytest.raises(ConfigError, match="UNKNOWN_GOALS"):
        Settings.from_env({"UNKNOWN_GOALS": "maybe"})


def test_a_counter_is_served_by_its_account_or_by_no_one() -> None:
    accounts = MetrikaAccounts({}, {7: "client-a"})
    assert accounts.account_of(7) == "client-a"
    assert accounts.account_of(8) == "default"
    assert not accounts.has_token(7)
    with pytest.raises(NoTokenForCounter, match="METRIKA_TOKEN_CLIENT_A is not set"):
        accounts.client_for(7)
    with pytest.raises(NoTokenForCounter, match="set METRIKA_TOKEN"):
        accounts.client_for(8)
