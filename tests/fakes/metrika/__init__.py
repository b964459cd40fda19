"""A fake Yandex Metrica offline conversions API: a real HTTP server, strict where Metrica is.

Built from docs/metrika-api.md (Yandex's reference pages and the public copy of Metrica's own
API tests, `OfflineConversionUploadTest` and its neighbours), independently of the package's
own checker, so that it catches the package's mistakes rather than sharing them.

    api.py        the routes, and the order a request meets auth, quotas, faults and gates
    upload.py     POST upload: the body streamed, checked as Metrica checks it, kept
    uploads.py    accepted uploads, their statuses over time, the `uploadings` list
    counters.py   which counters a token reaches; `counter/{id}` and `goals`
    readiness.py  counters not ready yet, `visit_join_threshold`, the extended window
    quotas.py     requests in flight per token, daily requests per token and per counter
    faults.py     scripted faults (5xx, made-then-5xx, slow, dropped) and gates (`hold()`)
    journal.py    every request that arrived, never the token
    rules.py      Metrica's limits, required columns and Russian words
    multipart.py, csvfile.py   the streaming body parsers
    server.py, state.py, clock.py, fake.py   the HTTP plumbing and `FakeMetrika` itself
    fixtures.py   the pytest fixtures (`fake_metrika`, `metrika_client`, …)

Run alone: `python -m tests.fakes.metrika --port 8765 [--token T] [--step-seconds S]`.
"""

from tests.fakes.metrika.csvfile import CsvInspector
from tests.fakes.metrika.fake import FakeMetrika
from tests.fakes.metrika.faults import Fault, Gate
from tests.fakes.metrika.journal import JournalEntry
from tests.fakes.metrika.multipart import (
    MultipartError,
    MultipartStream,
    PartSink,
    content_disposition,
)
from tests.fakes.metrika.rules import (
    FAKE_TOKEN,
    METRIKA_MAX_FILE_BYTES,
    check_columns,
    comment_problem,
    header_columns,
)
from tests.fakes.metrika.uploads import FakeUpload, Outcome

__all__ = [
    "FAKE_TOKEN",
    "METRIKA_MAX_FILE_BYTES",
    "CsvInspector",
    "FakeMetrika",
    "FakeUpload",
    "Fault",
    "Gate",
    "JournalEntry",
    "MultipartError",
    "MultipartStream",
    "Outcome",
    "PartSink",
    "check_columns",
    "comment_problem",
    "content_disposition",
    "header_columns",
]
