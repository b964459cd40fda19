"""`FakeMetrika`: one fake, its controls and what tests assert on."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from tests.fakes.metrika.api import answer
from tests.fakes.metrika.clock import Clock
from tests.fakes.metrika.counters import Counters
from tests.fakes.metrika.faults import Fault, Gate, Script
from tests.fakes.metrika.journal import Journal, JournalEntry
from tests.fakes.metrika.quotas import Quotas
from tests.fakes.metrika.readiness import Readiness
from tests.fakes.metrika.rules import FAKE_TOKEN, METRIKA_MAX_FILE_BYTES, PARALLEL_LIMIT
from tests.fakes.metrika.server import Server
from tests.fakes.metrika.state import State
from tests.fakes.metrika.uploads import FakeUpload, Outcome, Uploads


class FakeMetrika:
    """The fake server. Use as a context manager, or `start()` / `stop()`."""

    def __init__(
        self,
        tokens: Collection[str] = (FAKE_TOKEN,),
        *,
        max_file_bytes: int = METRIKA_MAX_FILE_BYTES,
        clock: Callable[[], float] | None = None,
        step_s: float = 60.0,
        counters: Collection[int] | None = None,
        access: Mapping[str, Collection[int]] | None = None,
        parallel_limit: int = PARALLEL_LIMIT,
        newest_first: bool = False,
        daily_requests_per_token: int | None = None,
        daily_requests_per_counter: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        """`clock` is what uploads age by (still when None: only `advance` moves it), one
        status every `step_s`; `counters` the ones every token reaches (all when None),
        `access` the ones each named token reaches instead."""
        clock_ = Clock(clock)
        self._state = State(
            clock=clock_,
            counters=Counters(tokens, counters, access),
            readiness=Readiness(clock_),
            quotas=Quotas(
                clock_,
                parallel=parallel_limit,
                daily_per_token=daily_requests_per_token,
                daily_per_counter=daily_requests_per_counter,
            ),
            script=Script(),
            journal=Journal(),
            uploads=Uploads(clock_, step_s, newest_first=newest_first),
            max_file_bytes=max_file_bytes,
            verbose=verbose,
        )
        self._address = (host, port)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> FakeMetrika:
        self._server = Server(self._address, self._state, answer)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._state.script.stopping.set()  # parked and slow requests answer now
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeMetrika:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "the fake is not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    # --- controls ---

    def wall(self) -> float:
        """The fake's Unix time: the real one moved on by `advance`."""
        return self._state.clock.wall()

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on: uploads progress through their statuses."""
        self._state.clock.advance(seconds)

    def script(self, *faults: Fault) -> None:
        """Queue faults; each is used by the next request it matches."""
        self._state.script.add(*faults)

    def hold(self, endpoint: str | None = None) -> Gate:
        """Park matching requests mid-flight until the returned gate is released."""
        return self._state.script.hold(endpoint)

    def script_outcome(self, *outcomes: Outcome) -> None:
        """Queue outcomes; each is used by the next accepted upload it matches."""
        self._state.uploads.script(*outcomes)

    def seed(
        self,
        counter_id: int,
        count: int,
        *,
        type: str = "BASIC",
        comment: str = "earlier upload",
        age_s: float = 7 * 86400.0,
    ) -> None:
        """Make `count` uploads as if they had arrived `age_s` seconds ago (final already),
        without a request each: a counter with a long history."""
        self._state.uploads.seed(int(counter_id), count, type=type, comment=comment, age_s=age_s)

    def set_goals(self, counter_id: int, goals: Sequence[Mapping[str, Any]]) -> None:
        """What `GET /counter/{counter_id}/goals` lists: goal objects as Metrica spells them,
        e.g. {"id": 1, "name": "Заявка", "type": "action", "conditions": [{"type": "exact",
        "url": "lead_form"}]}. A counter without scripted goals has none."""
        self._state.counters.set_goals(int(counter_id), goals)

    def set_counter(self, counter_id: int, **fields: Any) -> None:
        """What `GET counter/{id}` answers for the counter, over the defaults (`permission`
        "own", `owner_login` "metrika-owner")."""
        self._state.counters.set_info(int(counter_id), fields)

    def set_not_ready(
        self, counter_id: int, until: float, *, date_format: str = "%d.%m.%Y"
    ) -> None:
        """Refuse the counter's BASIC and CALLS uploads until `until` (Unix seconds), as
        Metrica refuses a counter too new, naming the date in `date_format` (Moscow time)."""
        self._state.readiness.set_not_ready(int(counter_id), until, date_format)

    def offline_options(self, counter_id: int) -> dict[str, int]:
        """The counter's extended linking window per type, as `GET counter/{id}` shows it."""
        return self._state.readiness.offline_options(int(counter_id))

    # --- what happened ---

    @property
    def journal(self) -> list[JournalEntry]:
        return self._state.journal.entries

    def requests_to(self, endpoint: str) -> list[JournalEntry]:
        return [entry for entry in self.journal if entry.endpoint == endpoint]

    @property
    def uploads(self) -> list[FakeUpload]:
        return self._state.uploads.all

    def uploading_json(self, uploading_id: int) -> dict[str, Any]:
        """Metrica's `uploading` object for an accepted upload, as of the fake clock now."""
        found = self._state.uploads.uploading(uploading_id)
        assert found is not None, f"no upload {uploading_id}"
        return found

    @property
    def pending_faults(self) -> list[Fault]:
        return self._state.script.pending

    @property
    def max_in_flight(self) -> int:
        """The most requests one token ever had in flight at once."""
        return self._state.quotas.max_in_flight
