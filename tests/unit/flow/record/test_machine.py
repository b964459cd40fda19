"""The job's state machine, one transition at a time: what each writes, when it has nothing to
do (None), and when it refuses (ClaimHeld). No store, no clock: a job in, a job (or None) out."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from metrika_offline.check.report import Report, RowCounts
from metrika_offline.errors import ClaimHeld
from metrika_offline.flow.record import machine
from metrika_offline.flow.record.job import (
    GAVE_UP,
    Job,
    Lease,
    Part,
    PartState,
    Problem,
    Source,
    Status,
    Wait,
)
from metrika_offline.flow.record.machine import UploadNews
from metrika_offline.flow.record.metrika_report import outcome_of
from metrika_offline.flow.record.route import Mode, Route
from metrika_offline.metrika.models import Uploading
from metrika_offline.types import ConversionType

NOW = 1_796_000_000.0  # 2026-11-29
UNTIL = NOW + 600
ME, OTHER = "me", "other"
ROWS = RowCounts(total=4, valid=4, invalid=0, duplicates=0)
PROBLEM = Problem("source-missing", "the source is gone")


def report(*, parts: tuple[object, ...] = ()) -> Report:
    rows = ROWS
    return Report(
        valid=True, rejected_reason=None, type=ConversionType.BASIC, encoding="utf-8",
        delimiter=",", columns=("ClientId", "Target", "DateTime"), rows=rows, errors=(),
        error_counts={}, errors_truncated=False, warnings=(), parts=parts,  # type: ignore[arg-type]
        dedupe_tracking_stopped_at_line=None, bytes_read=100,
    )  # fmt: skip


def job(**changes: object) -> Job:
    routing = Route(51234567, ConversionType.BASIC, "crm", Mode.UPLOAD, {})
    base = Job(source=Source("in", "incoming/leads.csv", 7, 10), routing=routing, key="k1")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def part(index: int, state: PartState = PartState.PENDING, **changes: object) -> Part:
    base = Part(index, f"work/p{index}", 2, 20, f"mo{index}", f"crm mo{index}", state)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def uploading(uploading_id: int, status: str = "MATCHED", linked: int = 0) -> Uploading:
    return Uploading(
        uploading_id, "2026-11-29 10:00:00", 2, 2, "crm", "BASIC", None, status, 0, 0, linked
    )


def lease(owner: str, until: float = UNTIL) -> Lease:
    return Lease(owner, until)


def split(*parts: Part, **changes: object) -> Job:
    return job(parts=parts, check=report(), **changes)


# ------------------------------------------------------------------------------- claim_check


def never(_: Job) -> bool:
    return False


def always(_: Job) -> bool:
    return True


FRESH = job(lease=lease(ME), split_attempts=1, key="k2")


@pytest.mark.parametrize(
    "current",
    [split(part(1)), job(status=Status.REJECTED, error=PROBLEM)],
    ids=["split", "final"],
)
def test_claim_check_leaves_a_split_or_final_job_alone(current: Job) -> None:
    assert machine.claim_check(FRESH, ME, NOW, UNTIL, start_over=never)(current) is None


def test_claim_check_takes_an_abandoned_check_over_counting_an_attempt() -> None:
    current = job(lease=lease(OTHER, until=NOW - 1), split_attempts=2, restarted=1)
    claimed = machine.claim_check(FRESH, ME, NOW, UNTIL, start_over=never)(current)
    assert claimed == dataclasses.replace(current, lease=Lease(ME, UNTIL), split_attempts=3)


def test_claim_check_refuses_while_another_owner_holds_the_check() -> None:
    current = job(lease=lease(OTHER, until=NOW + 1))
    with pytest.raises(ClaimHeld, match=r"incoming/leads\.csv@7"):
        machine.claim_check(FRESH, ME, NOW, UNTIL, start_over=never)(current)


def test_claim_check_takes_its_own_live_lease_again() -> None:
    current = job(lease=lease(ME, until=NOW + 1), split_attempts=1)
    claimed = machine.claim_check(FRESH, ME, NOW, UNTIL, start_over=never)(current)
    assert claimed is not None
    assert claimed.split_attempts == 2


def test_claim_check_starting_over_puts_the_fresh_job_in_place() -> None:
    current = split(part(1, PartState.UPLOADED), restarted=2, created_at=NOW - 99)
    seen: list[Job] = []

    def start_over(given: Job) -> bool:
        seen.append(given)
        return True

    claimed = machine.claim_check(FRESH, ME, NOW, UNTIL, start_over=start_over)(current)
    assert claimed == dataclasses.replace(FRESH, created_at=NOW, restarted=3)
    assert seen == [current]


def test_claim_check_starting_over_waits_for_a_part_held_elsewhere() -> None:
    current = split(part(1, PartState.SENDING, lease=lease(OTHER, until=NOW + 1)))
    with pytest.raises(ClaimHeld):
        machine.claim_check(FRESH, ME, NOW, UNTIL, start_over=always)(current)


def test_claim_check_minds_part_leases_only_when_starting_over() -> None:
    current = job(parts=(part(1, PartState.SENDING, lease=lease(OTHER)),), split_attempts=1)
    claimed = machine.claim_check(FRESH, ME, NOW, UNTIL, start_over=never)(current)
    assert claimed is not None
    assert claimed.lease == Lease(ME, UNTIL)


# ------------------------------------------------------------------------ the rest of the check


def test_step_back_gives_the_claim_back_without_counting_the_attempt() -> None:
    current = job(lease=lease(ME), split_attempts=2)
    assert machine.step_back(ME)(current) == job(lease=None, split_attempts=1)


def test_step_back_never_counts_below_zero() -> None:
    stepped = machine.step_back(ME)(job(lease=lease(ME), split_attempts=0))
    assert stepped is not None
    assert stepped.split_attempts == 0


@pytest.mark.parametrize("held", [None, lease(OTHER)], ids=["no lease", "another owner"])
def test_step_back_leaves_a_claim_that_is_not_ours(held: Lease | None) -> None:
    assert machine.step_back(ME)(job(lease=held, split_attempts=2)) is None


def test_check_ran_out_drops_the_jobs_lease_and_nothing_else() -> None:
    current = job(lease=lease(ME), split_attempts=2)
    assert machine.check_ran_out(ME)(current) == dataclasses.replace(current, lease=None)


@pytest.mark.parametrize("held", [None, lease(OTHER)], ids=["no lease", "another owner"])
def test_check_ran_out_leaves_a_lease_another_worker_took_over(held: Lease | None) -> None:
    assert machine.check_ran_out(ME)(job(lease=held, split_attempts=2)) is None


def _recorded(status: Status, problem: Problem | None = None) -> machine.Transition:
    return machine.record_check(
        ME, report(parts=("p",)), parts=(part(1),), rejects="incoming/leads.csv.rejects.csv",
        status=status, problem=problem, now=NOW,
    )  # fmt: skip


def test_record_check_writes_the_verdict_and_drops_the_claim() -> None:
    recorded = _recorded(Status.PROCESSING)(job(lease=lease(ME)))
    assert recorded == job(
        check=report(), parts=(part(1),), rejects="incoming/leads.csv.rejects.csv",
        lease=None, status=Status.PROCESSING, error=None, finished_at=None,
    )  # fmt: skip


def test_record_check_of_a_final_verdict_says_when_it_finished() -> None:
    recorded = _recorded(Status.REJECTED, PROBLEM)(job(lease=lease(ME)))
    assert recorded is not None
    assert (recorded.status, recorded.error, recorded.finished_at) == (
        Status.REJECTED,
        PROBLEM,
        NOW,
    )


@pytest.mark.parametrize("held", [None, lease(OTHER)], ids=["no lease", "another owner"])
def test_record_check_refuses_when_the_claim_is_no_longer_ours(held: Lease | None) -> None:
    with pytest.raises(ClaimHeld, match="took this check over"):
        _recorded(Status.PROCESSING)(job(lease=held))


def test_finish_file_ends_it_before_any_part() -> None:
    finished = machine.finish_file(Status.FAILED, PROBLEM, NOW)(job(lease=lease(ME)))
    assert finished == job(status=Status.FAILED, error=PROBLEM, lease=None, finished_at=NOW)


def test_release_all_hands_back_only_our_leases_and_keeps_every_state() -> None:
    current = split(
        part(1, PartState.SENDING, lease=lease(ME)),
        part(2, PartState.SENDING, lease=lease(OTHER)),
        part(3, PartState.SENDING, lease=lease("me too")),
        lease=lease(ME),
    )
    released = machine.release_all({ME, "me too"})(current)
    assert released == split(
        part(1, PartState.SENDING),
        part(2, PartState.SENDING, lease=lease(OTHER)),
        part(3, PartState.SENDING),
    )


def test_release_all_keeps_a_check_held_by_another() -> None:
    current = split(part(1, PartState.SENDING, lease=lease(ME)), lease=lease(OTHER))
    released = machine.release_all({ME})(current)
    assert released is not None
    assert released.lease == lease(OTHER)


def test_release_all_with_nothing_of_ours_has_nothing_to_do() -> None:
    current = split(part(1, PartState.SENDING, lease=lease(OTHER)), lease=lease(OTHER))
    assert machine.release_all({ME})(current) is None


# ------------------------------------------------------------------------------- a part


def test_claim_part_starts_one_attempt_under_our_lease() -> None:
    current = split(part(1, PartState.SENDING, attempts=1, lease=lease(OTHER, until=NOW)))
    claimed = machine.claim_part(1, ME, NOW, UNTIL)(current)
    assert claimed == split(part(1, PartState.SENDING, attempts=2, lease=Lease(ME, UNTIL)))


@pytest.mark.parametrize("state", [PartState.UPLOADED, PartState.FAILED])
def test_claim_part_leaves_a_final_part_alone(state: PartState) -> None:
    assert machine.claim_part(1, ME, NOW, UNTIL)(split(part(1, state))) is None


def test_claim_part_leaves_a_final_file_alone() -> None:
    current = split(part(1), status=Status.FAILED)
    assert machine.claim_part(1, ME, NOW, UNTIL)(current) is None


def test_claim_part_refuses_while_another_owner_sends_it() -> None:
    current = split(part(1, PartState.SENDING, lease=lease(OTHER, until=NOW + 1)))
    with pytest.raises(ClaimHeld, match="part 1"):
        machine.claim_part(1, ME, NOW, UNTIL)(current)


def test_claim_part_takes_its_own_live_lease_again() -> None:
    current = split(part(1, PartState.SENDING, attempts=1, lease=lease(ME, until=NOW + 1)))
    claimed = machine.claim_part(1, ME, NOW, UNTIL)(current)
    assert claimed == split(part(1, PartState.SENDING, attempts=2, lease=Lease(ME, UNTIL)))


def test_claim_part_waits_until_the_waits_time() -> None:
    wait = Wait("metrika-daily-quota", "the daily quota is spent", NOW + 1)
    current = split(part(1, PartState.WAITING, wait=wait))
    assert machine.claim_part(1, ME, NOW, UNTIL)(current) is None


def test_claim_part_at_the_waits_time_sends_it_and_forgets_the_wait() -> None:
    wait = Wait("metrika-daily-quota", "the daily quota is spent", NOW)
    current = split(part(1, PartState.WAITING, attempts=1, wait=wait))
    claimed = machine.claim_part(1, ME, NOW, UNTIL)(current)
    assert claimed == split(part(1, PartState.SENDING, attempts=2, lease=Lease(ME, UNTIL)))


def test_renew_part_extends_our_lease() -> None:
    current = split(part(1, PartState.SENDING, lease=lease(ME, until=NOW)))
    renewed = machine.renew_part(1, ME, UNTIL)(current)
    assert renewed == split(part(1, PartState.SENDING, lease=Lease(ME, UNTIL)))


@pytest.mark.parametrize(
    "taken",
    [
        part(1, PartState.SENDING, lease=lease(OTHER)),
        part(1, PartState.SENDING),
        part(1, PartState.UPLOADED, lease=lease(ME)),
    ],
    ids=["another owner", "no lease", "not sending"],
)
def test_renew_part_refuses_a_part_taken_over(taken: Part) -> None:
    with pytest.raises(ClaimHeld, match="part 1 was taken over"):
        machine.renew_part(1, ME, UNTIL)(split(taken))


def test_release_part_drops_our_lease_and_the_part_stays_sending() -> None:
    current = split(part(1, PartState.SENDING, lease=lease(ME)))
    assert machine.release_part(1, ME)(current) == split(part(1, PartState.SENDING))


@pytest.mark.parametrize("held", [None, lease(OTHER)], ids=["no lease", "another owner"])
def test_release_part_leaves_a_lease_that_is_not_ours(held: Lease | None) -> None:
    assert machine.release_part(1, ME)(split(part(1, PartState.SENDING, lease=held))) is None


def test_wait_part_parks_our_part_with_why_and_until_when() -> None:
    wait = Wait("metrika-not-ready", "the counter is new", NOW + 3600)
    current = split(part(1, PartState.SENDING, attempts=1, lease=lease(ME)))
    waiting = machine.wait_part(1, ME, wait)(current)
    assert waiting == split(part(1, PartState.WAITING, attempts=1, wait=wait))


@pytest.mark.parametrize(
    "other",
    [
        part(1, PartState.SENDING, lease=lease(OTHER)),
        part(1, PartState.SENDING),
        part(1, PartState.PENDING, lease=lease(ME)),
    ],
    ids=["another owner", "no lease", "not sending"],
)
def test_wait_part_leaves_a_part_that_is_not_ours(other: Part) -> None:
    wait = Wait("metrika-not-ready", "the counter is new", NOW + 3600)
    assert machine.wait_part(1, ME, wait)(split(other)) is None


def test_finish_part_uploaded_settles_the_file_once_every_part_is_final() -> None:
    current = split(part(1, PartState.SENDING, lease=lease(ME)), part(2, PartState.UPLOADED))
    done = machine.finish_part(1, uploading(11), None, NOW)(current)
    assert done == split(
        part(1, PartState.UPLOADED, uploading=uploading(11)),
        part(2, PartState.UPLOADED),
        status=Status.UPLOADED,
        finished_at=NOW,
    )


def test_finish_part_refused_keeps_metricas_words() -> None:
    current = split(part(1, PartState.SENDING, lease=lease(ME)), part(2))
    refused = Problem("metrika-rejected", "Metrica said no", http_status=400)
    done = machine.finish_part(1, None, refused, NOW)(current)
    assert done == split(part(1, PartState.FAILED, error=refused), part(2))


# ------------------------------------------------------------------------------- follow-up


def test_upload_news_takes_metricas_answer() -> None:
    news = UploadNews(11, uploading(11, "PROCESSED"), gave_up=False)
    assert news.applied_to(uploading(11)) == uploading(11, "PROCESSED")


def test_upload_news_without_an_answer_keeps_what_is_known() -> None:
    assert UploadNews(11, None, gave_up=False).applied_to(uploading(11)) == uploading(11)


def test_upload_news_that_gave_up_says_so_unless_the_answer_is_final() -> None:
    assert UploadNews(11, None, gave_up=True).applied_to(uploading(11)).status == GAVE_UP
    final = UploadNews(11, uploading(11, "PROCESSED"), gave_up=True)
    assert final.applied_to(uploading(11)).status == "PROCESSED"


def test_awaits_only_this_upload_of_this_part_while_metrica_has_not_said() -> None:
    current = split(
        part(1, PartState.UPLOADED, uploading=uploading(11)),
        part(2, PartState.UPLOADED, uploading=uploading(12, "PROCESSED")),
        part(3, PartState.SENDING, uploading=uploading(13)),
    )
    assert machine.awaits(current, 1, 11)
    assert not machine.awaits(current, 1, 99)  # started over since: another upload
    assert not machine.awaits(current, 2, 12)  # final
    assert not machine.awaits(current, 3, 13)  # not uploaded
    assert not machine.awaits(current, 4, 14)  # no such part
    assert not machine.awaits(split(part(1, PartState.UPLOADED)), 1, 11)  # no upload


def test_record_metrika_news_writes_the_answers_and_the_files_outcome() -> None:
    current = split(
        part(1, PartState.UPLOADED, uploading=uploading(11)),
        part(2, PartState.UPLOADED, uploading=uploading(12)),
        status=Status.UPLOADED,
    )
    news = {
        2: UploadNews(99, uploading(99, "PROCESSED"), gave_up=False),  # not part 2's upload
        1: UploadNews(11, uploading(11, "PROCESSED", linked=2), gave_up=False),
    }
    recorded = machine.record_metrika_news(news, NOW)(current)
    expected = split(
        part(1, PartState.UPLOADED, uploading=uploading(11, "PROCESSED", linked=2)),
        part(2, PartState.UPLOADED, uploading=uploading(12)),
        status=Status.UPLOADED,
    )
    assert recorded == dataclasses.replace(expected, metrika=outcome_of(expected, NOW))


def test_record_metrika_news_that_gave_up_marks_the_upload_it_knows() -> None:
    current = split(part(1, PartState.UPLOADED, uploading=uploading(11)))
    recorded = machine.record_metrika_news({1: UploadNews(11, None, gave_up=True)}, NOW)(current)
    assert recorded is not None
    assert recorded.part(1).uploading == uploading(11, GAVE_UP)


def test_record_metrika_news_that_changes_nothing_writes_nothing() -> None:
    current = split(part(1, PartState.UPLOADED, uploading=uploading(11)))
    news = {1: UploadNews(11, uploading(11), gave_up=False)}
    assert machine.record_metrika_news(news, NOW)(current) is None


def test_claim_news_claims_once() -> None:
    claimed = machine.claim_news("file:uploaded")(job(notified=("wait",)))
    assert claimed == job(notified=("wait", "file:uploaded"))
    assert claimed is not None
    assert machine.claim_news("file:uploaded")(claimed) is None


def test_the_machine_reads_no_clock_and_touches_no_store() -> None:
    code = inspect.getsource(machine).split('"""', 2)[2]  # after the module's docstring
    for word in ("import time", "time.", "metrika_offline.store", "jobstore", "notify"):
        assert word not in code
