"""Metrica's "not ready yet" refusal and the date in it, read in every shape it may take."""

from __future__ import annotations

import datetime as dt

import pytest

from metrika_offline.errors import MetrikaDailyQuota, MetrikaNotReady, MetrikaQuotaError
from metrika_offline.metrika.answers import error_class
from metrika_offline.metrika.readiness import available_at, is_not_ready, threshold_params

PREFIX = "Загрузить данные сейчас невозможно. Загрузка станет доступна "
MSK = dt.timezone(dt.timedelta(hours=3))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09.12.2026", dt.datetime(2026, 12, 9, tzinfo=MSK)),
        ("9.12.2026", dt.datetime(2026, 12, 9, tzinfo=MSK)),
        ("2026-12-09", dt.datetime(2026, 12, 9, tzinfo=MSK)),
        ("09.12.2026 14:30", dt.datetime(2026, 12, 9, 14, 30, tzinfo=MSK)),
        ("2026-12-09 14:30:15", dt.datetime(2026, 12, 9, 14, 30, 15, tzinfo=MSK)),
        ("2026-12-09T14:30:15", dt.datetime(2026, 12, 9, 14, 30, 15, tzinfo=MSK)),
        ("2026-12-09T11:30:15Z", dt.datetime(2026, 12, 9, 11, 30, 15, tzinfo=dt.UTC)),
        ("2026-12-09 14:30:15+03:00", dt.datetime(2026, 12, 9, 14, 30, 15, tzinfo=MSK)),
        ("09.12.2026 в 14:30.", dt.datetime(2026, 12, 9, tzinfo=MSK)),  # words between: a date
    ],
)
def test_the_date_in_metricas_message_is_read(text: str, expected: dt.datetime) -> None:
    assert available_at(PREFIX + text) == expected.timestamp()


@pytest.mark.parametrize("text", ["скоро", "31.02.2026", "", "через 3 дня"])
def test_an_unreadable_date_is_none(text: str) -> None:
    assert available_at(PREFIX + text) is None


def test_the_refusal_is_told_apart_from_other_400s() -> None:
    assert is_not_ready(400, PREFIX + "09.12.2026")
    assert not is_not_ready(400, "Неверный формат данных, ошибка в строке номер 2")
    assert not is_not_ready(403, PREFIX + "09.12.2026")
    assert error_class(400, "invalid_parameter", PREFIX + "09.12.2026") is MetrikaNotReady


@pytest.mark.parametrize(
    ("status", "error_type", "expected"),
    [
        (429, "quota_requests_by_uid", MetrikaDailyQuota),
        (429, "quota_requests_by_counter_id", MetrikaDailyQuota),
        (420, "quota_requests_by_uid", MetrikaDailyQuota),
        (403, "quota_requests_by_counter_id", MetrikaDailyQuota),
        (429, "quota_parallel_requests", MetrikaQuotaError),
        (429, "quota_requests_by_ip", MetrikaQuotaError),
    ],
)
def test_daily_quotas_are_told_apart_from_short_ones(
    status: int, error_type: str, expected: type
) -> None:
    assert error_class(status, error_type) is expected


def test_the_ignore_parameter_per_type() -> None:
    assert threshold_params("BASIC") == {"ignore_visit_join_threshold": "1"}
    assert threshold_params("CALLS") == {"ignore_calls_visit_join_threshold": "1"}
    assert threshold_params("CHATS") == {}
