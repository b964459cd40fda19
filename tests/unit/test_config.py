"""Settings from the environment: parsed, checked, and never showing the token."""

from __future__ import annotations

import pytest

from metrika_offline.config import Settings
from metrika_offline.errors import ConfigError
from metrika_offline.types import ConversionType


def test_environment_then_overrides() -> None:
    env = {
        "METRIKA_TOKEN": " y0_secret ",
        "INPUT_PREFIX": "drop",
        "DEFAULT_COUNTER_ID": "123",
        "DEFAULT_TYPE": "calls",
        "MAX_PART_BYTES": "1000",
        "STRICT": "yes",
    }
    settings = Settings.from_env(env, max_invalid_ratio=0.1)
    assert settings.metrika_token == "y0_secret"
    assert settings.input_prefix == "drop/"
    assert settings.default_counter_id == 123
    assert settings.default_type is ConversionType.CALLS
    assert settings.max_part_bytes == 1000
    assert settings.strict is True
    assert settings.max_invalid_ratio == 0.1
    assert "y0_secret" not in repr(settings)


@pytest.mark.parametrize(
    "env",
    [
        {"DEFAULT_COUNTER_ID": "12x"},
        {"DEFAULT_TYPE": "sales"},
        {"MAX_PART_BYTES": "2000000000"},
        {"MAX_PART_BYTES": "big"},
        {"STRICT": "maybe"},
        {"INPUT_PREFIX": "in/", "WORK_PREFIX": "in/work/"},
    ],
)
def test_bad_settings_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_the_default_lease_outlasts_the_invocation() -> None:
    Settings().check_lease()
    Settings(lease_s=594, invocation_timeout_s=540).check_lease()


@pytest.mark.parametrize(("lease_s", "timeout_s"), [(4, 540), (540, 540), (593, 540), (30, 28)])
def test_a_lease_not_comfortably_above_the_invocation_is_refused(
    lease_s: float, timeout_s: float
) -> None:
    settings = Settings.from_env({"LEASE_S": str(lease_s), "INVOCATION_TIMEOUT_S": str(timeout_s)})
    with pytest.raises(ConfigError) as caught:
        settings.check_lease()
    message = str(caught.value)
    assert "LEASE_S" in message
    assert "INVOCATION_TIMEOUT_S" in message
    assert f"{lease_s:g} s" in message
