"""Every object the function writes: its name, and the role it is marked with.

Beside a dropped `<name>.csv`, for its users:

    <name>.csv.result.json          the result JSON (role `result`)
    <name>.csv.rejected.csv         the rows left out, with the reason (role `rejects`)

In the work bucket (`WORK_BUCKET`, which has no trigger: these writes fire no event; the
input bucket itself when it is not set, as for the CLI), under the work prefix (`WORK_PREFIX`,
`metrika-offline/` by default), for the function alone:

    jobs/<name>/<generation>.json               a job's state (role `state`)
    parts/<name>/<generation>/part-00001.csv    the parts to upload (role `part`)
    pending/<counter>/<uploading id>.json       an upload whose final status Metrica has not
                                                told us yet (role `pending`)
    goals/<counter>.json                        the counter's goals as last read, shared by
                                                every instance (role `goals`)
    goals/<counter>.lock                        who reads them from Metrica now (`goals-lock`)
    ledger/<counter>/<TYPE>/                    the rows sent (see `flow/ledger/`):
        keys/<name>/<generation>/<job key>/part-00001.keys  a part's row keys (`ledger-keys`)
        sent/<name>/<generation>/<job key>/part-00001.json  its upload was recorded
                                                (role `ledger-sent`)
        lock.json                               who checks against it (role `ledger-lock`)

Every object we write carries the custom metadata `ROLE_KEY: <role>`, so that the events our
own writes trigger are recognised and skipped, whatever their names. A part's own file name
(`part-00001.csv`, `.keys`, `.json`) is spelt once, by `check.report.part_name`, since the
checker that writes the parts knows nothing of the flow.
"""

from __future__ import annotations

import dataclasses
import enum

from metrika_offline.check.report import part_name

#: Custom metadata key set on every object the function writes; its value is the `Role`.
ROLE_KEY = "metrika-offline-output"

#: The work prefix of `metrika-offline process` on a local file: a hidden folder beside it.
LOCAL_WORK_PREFIX = ".metrika-offline/"

RESULT_SUFFIX = ".result.json"
REJECTS_SUFFIX = ".rejected.csv"

_JOBS = "jobs/"
_PARTS = "parts/"
_PENDING = "pending/"
_GOALS = "goals/"
_LEDGER = "ledger/"
#: What the work state is made of: deleted after `work_retention_days` by the bucket's
#: lifecycle rule (infra/main.tf lists the same folders); the ledger is kept longer.
STATE_FOLDERS = (_JOBS, _PARTS, _PENDING, _GOALS)
LEDGER_FOLDER = _LEDGER


class Role(enum.StrEnum):
    """What an object we wrote is, as its `ROLE_KEY` metadata says."""

    RESULT = "result"
    REJECTS = "rejects"
    STATE = "state"
    PART = "part"
    PENDING = "pending"
    GOALS = "goals"
    GOALS_LOCK = "goals-lock"
    LEDGER_KEYS = "ledger-keys"
    LEDGER_SENT = "ledger-sent"
    LEDGER_LOCK = "ledger-lock"


def marked(role: Role, **extra: str) -> dict[str, str]:
    """The custom metadata for an object of `role`, with any further fields."""
    return {ROLE_KEY: role.value, **extra}


def result_name(source: str) -> str:
    return source + RESULT_SUFFIX


def rejects_name(source: str) -> str:
    return source + REJECTS_SUFFIX


def is_own_output_name(name: str) -> bool:
    """True for a name that only our own outputs beside a source have."""
    return name.endswith((RESULT_SUFFIX, REJECTS_SUFFIX))


@dataclasses.dataclass(frozen=True)
class WorkLayout:
    """The names under one work prefix (it ends with `/`, or is empty)."""

    prefix: str

    def owns(self, name: str) -> bool:
        return name.startswith(self.prefix)

    def state(self, source: str, generation: int) -> str:
        return f"{self.prefix}{_JOBS}{source}/{generation}.json"

    def parts(self, source: str, generation: int) -> str:
        """The prefix every part of one generation is written under."""
        return f"{self.prefix}{_PARTS}{source}/{generation}/"

    @property
    def pending_prefix(self) -> str:
        return self.prefix + _PENDING

    def pending(self, counter_id: int, uploading_id: int) -> str:
        return f"{self.pending_prefix}{counter_id}/{uploading_id}.json"

    def goals(self, counter_id: int) -> str:
        return f"{self.prefix}{_GOALS}{counter_id}.json"

    def goals_lock(self, counter_id: int) -> str:
        return f"{self.prefix}{_GOALS}{counter_id}.lock"

    def ledger(self, counter_id: int, kind: str) -> LedgerLayout:
        """The names of one counter's and type's ledger."""
        return LedgerLayout(f"{self.prefix}{_LEDGER}{counter_id}/{kind}/")


@dataclasses.dataclass(frozen=True)
class LedgerLayout:
    """The names under one ledger's prefix."""

    prefix: str

    @property
    def lock(self) -> str:
        return self.prefix + "lock.json"

    def keys(self, source: str, generation: int, index: int, job: str = "") -> str:
        """A part's keys; `job` is the job's key (a rerun with other settings is another job,
        whose parts are other parts)."""
        return f"{self.prefix}keys/{source}/{generation}/{job or '-'}/{part_name(index, '.keys')}"

    def sent(self, source: str, generation: int, index: int, job: str = "") -> str:
        return f"{self.prefix}sent/{source}/{generation}/{job or '-'}/{part_name(index, '.json')}"

    def part_of(self, name: str) -> tuple[str, str] | None:
        """("keys" or "sent", the part's path) for a name under this ledger; else None."""
        rest = name[len(self.prefix) :] if name.startswith(self.prefix) else ""
        for kind, suffix in (("keys", ".keys"), ("sent", ".json")):
            if rest.startswith(kind + "/") and rest.endswith(suffix):
                return kind, rest[len(kind) + 1 : -len(suffix)]
        return None
