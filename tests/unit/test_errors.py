"""The exception tree: what asks for another delivery is one kind of thing, and Cloud Storage's
client errors are mapped onto the package's in one place."""

from __future__ import annotations

import argparse
import importlib

import pytest
import requests
from google.api_core import exceptions as api_exceptions

from metrika_offline.errors import (
    ClaimHeld,
    DeadlineReached,
    MetrikaAmbiguousError,
    MetrikaAuthError,
    MetrikaError,
    MetrikaQuotaError,
    MetrikaRejectedError,
    ObjectNotFound,
    PreconditionFailed,
    RetryLater,
    StoreError,
)
from metrika_offline.store.gcs_errors import mapped

# The package `metrika_offline.cli` exports the function `main`, which hides the module.
cli_main = importlib.import_module("metrika_offline.cli.main")


@pytest.mark.parametrize(
    "error",
    [
        ClaimHeld("held"),
        DeadlineReached("late"),
        MetrikaQuotaError("quota", status=429, retry_after_s=3.0),
        MetrikaAmbiguousError("no answer"),
    ],
)
def test_what_asks_for_another_delivery_is_retry_later(error: Exception) -> None:
    assert isinstance(error, RetryLater)


@pytest.mark.parametrize(
    "error",
    [
        MetrikaAuthError("bad token", status=401),
        MetrikaRejectedError("bad file", status=400),
        StoreError("outage"),
        PreconditionFailed("lost a race"),
    ],
)
def test_what_must_not_be_retried_as_is_is_not(error: Exception) -> None:
    assert not isinstance(error, RetryLater)


def test_a_retryable_metrica_error_is_still_a_metrica_error() -> None:
    error = MetrikaQuotaError("quota", status=429, error_type="quota_requests_by_ip")
    assert isinstance(error, MetrikaError)
    assert (error.status, error.error_type) == (429, "quota_requests_by_ip")


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (api_exceptions.PreconditionFailed("412"), PreconditionFailed),
        (api_exceptions.NotFound("404"), ObjectNotFound),
        (api_exceptions.ServiceUnavailable("503"), StoreError),
        (requests.ConnectionError("reset by peer"), StoreError),
    ],
)
def test_client_errors_are_mapped_with_their_cause(
    raised: Exception, expected: type[StoreError]
) -> None:
    with pytest.raises(expected) as caught, mapped("read gs://b/incoming/a.csv"):
        raise raised
    assert type(caught.value) is expected
    assert caught.value.__cause__ is raised
    assert str(caught.value).startswith("read gs://b/incoming/a.csv: ")


def test_other_errors_pass_through_unmapped() -> None:
    with pytest.raises(KeyError), mapped("stat gs://b/x"):
        raise KeyError("ours")


def test_the_cli_says_to_run_again_when_asked_to_retry(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def held(_: argparse.Namespace) -> int:
        raise ClaimHeld("incoming/a.csv is being checked elsewhere")

    def parser(_command: str | None = None) -> argparse.ArgumentParser:
        built = argparse.ArgumentParser()
        built.set_defaults(handler=held)
        return built

    monkeypatch.setattr(cli_main, "build_parser", parser)
    assert cli_main.main([]) == 1
    assert capsys.readouterr().err == (
        "metrika-offline: incoming/a.csv is being checked elsewhere; "
        "run the command again to resume\n"
    )
