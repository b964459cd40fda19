"""Read a claimed source through the checker once: the parts into the work bucket (unless it
is a dry run), rejected rows beside the source, the ledger's view of rows sent before."""

from __future__ import annotations

from typing import BinaryIO, cast

from metrika_offline.check.checker import check_file
from metrika_offline.check.report import Report
from metrika_offline.errors import DeadlineReached, ObjectNotFound
from metrika_offline.flow.context import FlowContext
from metrika_offline.flow.deadline import Deadline
from metrika_offline.flow.ledger.turn import Turn
from metrika_offline.flow.record import machine
from metrika_offline.flow.record.job import Job
from metrika_offline.flow.record.route import Mode
from metrika_offline.flow.source.sinks import LazyRejects, StorePartSink
from metrika_offline.store.streams import ReadAhead


def run_check(
    ctx: FlowContext,
    job: Job,
    deadline: Deadline,
    rejects: LazyRejects,
    ledger: Turn,
    *,
    owner: str,
) -> Report | None:
    """Stream the source through the checker once; None when the source is gone.

    Running out of time releases `owner`'s claim (so the next delivery starts at once) and
    raises DeadlineReached.
    """
    source, routed = job.source, job.routing
    options = routed.check_options(ctx.settings, now=ctx.clock())
    sink = (
        None
        if routed.mode is Mode.DRY_RUN
        else StorePartSink(
            ctx.work, ctx.layout.parts(source.name, source.generation), ledger.staged
        )
    )

    def reopen() -> BinaryIO:  # CHATS may need a second pass (see check/chats.py)
        return cast(BinaryIO, ReadAhead(ctx.store.open_read(source.name, source.generation)))

    try:
        # The next blocks download while this one is checked.
        reader = ReadAhead(ctx.store.open_read(source.name, source.generation))
    except ObjectNotFound:
        return None
    meter = ctx.observer.phase(
        "checking" if sink is None else "checking and splitting", source.size
    )
    try:
        return check_file(
            cast(BinaryIO, reader),
            options,
            sink=sink,
            rejects=rejects,
            should_stop=deadline.reached,
            progress=meter.update,
            on_rows=lambda rows: meter.update(rows=rows),
            sent=ledger.view,
            part_keys=ledger.staged,
            reopen=reopen,
        )
    except DeadlineReached:
        ctx.jobs.update(source.name, source.generation, machine.check_ran_out(owner))
        raise
    finally:
        meter.close()
        reader.close()
