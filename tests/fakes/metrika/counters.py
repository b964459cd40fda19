"""The counters: which a token reaches, what `counter/{id}` and `goals` answer.

A token not named in `access` reaches `counters` (every counter when None); one named reaches
only its own, and another account's counter is `403 access_denied`, as Metrica answers.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Any


class Counters:
    def __init__(
        self,
        tokens: Collection[str],
        counters: Collection[int] | None,
        access: Mapping[str, Collection[int]] | None,
    ) -> None:
        self._tokens = frozenset(tokens)
        self._counters = None if counters is None else frozenset(counters)
        self._access = {token: frozenset(c) for token, c in (access or {}).items()}
        self._goals: dict[int, list[dict[str, Any]]] = {}
        self._info: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def token_ok(self, token: str) -> bool:
        return token in self._tokens

    def counter_ok(self, token: str, counter_id: int) -> bool:
        if token in self._access:
            return counter_id in self._access[token]
        return self._counters is None or counter_id in self._counters

    def reachable(self, token: str, known: set[int]) -> set[int]:
        """The counters a token's account reaches, of those the fake knows (`known`, and
        the ones scripted here) when no list was given."""
        if token in self._access:
            return set(self._access[token])
        if self._counters is not None:
            return set(self._counters)
        with self._lock:
            return known | set(self._goals) | set(self._info)

    def set_goals(self, counter_id: int, goals: Sequence[Mapping[str, Any]]) -> None:
        with self._lock:
            self._goals[counter_id] = [dict(goal) for goal in goals]

    def goals(self, counter_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(goal) for goal in self._goals.get(counter_id, [])]

    def set_info(self, counter_id: int, fields: Mapping[str, Any]) -> None:
        with self._lock:
            self._info[counter_id] = dict(fields)

    def info(self, counter_id: int, offline_options: Mapping[str, int]) -> dict[str, Any]:
        """`GET counter/{id}`'s counter: the defaults, under what the test set."""
        with self._lock:
            extra = dict(self._info.get(counter_id, {}))
        return {
            "id": counter_id,
            "name": f"Counter {counter_id}",
            "site": "example.ru",
            "owner_login": "metrika-owner",
            "permission": "own",
            "offline_options": dict(offline_options),
            **extra,
        }
