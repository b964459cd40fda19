"""The ledger: the keys of the rows each counter and type was sent, so no row is sent twice.

Per counter and type, under `WORK/ledger/<counter>/<TYPE>/` (names from `layout.LedgerLayout`):

    keys/<source>/<generation>/<job key>/part-00001.keys
        the part's row keys (sorted runs of uint64), written beside the part while it is split
    sent/<source>/<generation>/<job key>/part-00001.json
        tiny, create-only: the part's upload was recorded (when, which upload); this is what
        makes its keys count as sent
    lock.json
        who is checking a file against the ledger

A part's keys count as sent once its upload is recorded in its job: the `sent/` entry is
written by the worker that recorded it, again by a redelivered event that finds the part
uploaded, and by any reader that finds keys whose job says uploaded but no entry (a worker
killed between the two steps). Keys whose part is still pending, being sent or waiting for
Metrica (a new counter, a daily quota) are *reserved*:
a file that needs any of them waits (`ClaimHeld`, retried) until that part is final, so two
files racing for the same rows never both send them. The lock makes "read the ledger, check,
write the keys, record the parts" one step per counter and type. See `docs/ledger.md`.

Entries are read newest first within the window, at most `max_keys` of them (8 bytes a key,
sorted once in place); older ones are left out and the report says so (`ledger-limited`).
"""
