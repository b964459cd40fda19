"""Everything one fake holds, in one place for the request handler to reach."""

from __future__ import annotations

import dataclasses

from tests.fakes.metrika.clock import Clock
from tests.fakes.metrika.counters import Counters
from tests.fakes.metrika.faults import Script
from tests.fakes.metrika.journal import Journal
from tests.fakes.metrika.quotas import Quotas
from tests.fakes.metrika.readiness import Readiness
from tests.fakes.metrika.uploads import Uploads


@dataclasses.dataclass(frozen=True)
class State:
    clock: Clock
    counters: Counters
    readiness: Readiness
    quotas: Quotas
    script: Script
    journal: Journal
    uploads: Uploads
    max_file_bytes: int
    verbose: bool

    def reachable(self, token: str) -> set[int]:
        known = self.uploads.counters() | self.readiness.counters()
        return self.counters.reachable(token, known)
