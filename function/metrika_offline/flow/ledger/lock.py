"""The ledger's lock: one file at a time checks against one counter's and type's ledger."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from metrika_offline.errors import ClaimHeld, PreconditionFailed
from metrika_offline.flow.record.layout import LedgerLayout, Role, marked
from metrika_offline.store.base import ObjectStore


class LedgerLock:
    """One checker at a time per counter and type: a lease in `lock.json`, taken and given
    back with compare-and-swap writes (never deleted: the emulator ignores delete
    preconditions, and an expired lease is as good as none)."""

    def __init__(self, store: ObjectStore, names: LedgerLayout, *, clock: Callable[[], float]):
        self.store = store
        self.name = names.lock
        self.clock = clock

    def _write(self, owner: str, until: float, holder: str, match: int, job: str = "") -> None:
        self.store.write_bytes(
            self.name,
            json.dumps({"owner": owner, "until": until, "holder": holder, "job": job}).encode(),
            content_type="application/json",
            metadata=marked(Role.LEDGER_LOCK),
            if_generation_match=match,
        )

    def acquire(self, owner: str, lease_s: float, holder: str, job: str = "") -> None:
        """Take the lock for `lease_s`; ClaimHeld while another live owner has it. `job` names
        the check (source@generation): whoever holds its claim now may take the lock over from
        an earlier check of the same job, which gave the claim up by dying."""
        now = self.clock()
        with contextlib.suppress(PreconditionFailed):
            self._write(owner, now + lease_s, holder, 0, job)
            return
        found = self.store.read_bytes(self.name)
        if found is not None:
            data, generation = found
            current = json.loads(data)
            same_job = bool(job) and current.get("job") == job
            if current["owner"] != owner and float(current["until"]) > now and not same_job:
                raise ClaimHeld(
                    f"{current.get('holder') or 'another file'} is being checked against the "
                    "ledger of this counter and type; this file waits its turn"
                )
            with contextlib.suppress(PreconditionFailed):
                self._write(owner, now + lease_s, holder, generation, job)
                return
        raise ClaimHeld("another file took the ledger lock first; this file waits its turn")

    def release(self, owner: str) -> None:
        found = self.store.read_bytes(self.name)
        if found is None:
            return
        data, generation = found
        if json.loads(data)["owner"] != owner:
            return
        with contextlib.suppress(PreconditionFailed):
            self._write("", 0.0, "", generation)
