"""The in-memory view every database answers its queries from."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .database import Database
from .record import TuningRecord


class RecordIndex:
    """Records in commit order, indexed by workload key and by program key.

    Not thread-safe by itself; :class:`IndexedDatabase` guards it with a lock.
    """

    def __init__(self):
        self._all: list[TuningRecord] = []
        self._by_workload: dict[str, list[TuningRecord]] = {}
        self._keys: dict[str, set[str]] = {}
        # workload -> program key -> that program's fastest successful record, so best()
        # sorts one entry per program instead of every measurement.
        self._fastest: dict[str, dict[str, TuningRecord]] = {}

    def add(self, records: Iterable[TuningRecord]) -> None:
        for record in records:
            wk, key = record.workload_key, record.program_key
            self._all.append(record)
            self._by_workload.setdefault(wk, []).append(record)
            self._keys.setdefault(wk, set()).add(key)
            if record.ok:
                fastest = self._fastest.setdefault(wk, {})
                known = fastest.get(key)
                if known is None or record.latency_s < known.latency_s:
                    fastest[key] = record

    def records(self, workload_key: str | None, target: str | None) -> list[TuningRecord]:
        found = self._all if workload_key is None else self._by_workload.get(workload_key, [])
        if target is None:
            return list(found)
        return [r for r in found if r.target == target]

    def best(self, workload_key: str, k: int, target: str | None) -> list[TuningRecord]:
        if not isinstance(k, int) or isinstance(k, bool) or k < 0:
            raise ValueError(f"k must be an int >= 0, got {k!r}")
        candidates = self._fastest.get(workload_key, {}).values()
        if target is not None:
            candidates = [r for r in candidates if r.target == target]
        # sorted() is stable: equal latencies keep the order their programs were first seen.
        return sorted(candidates, key=lambda r: r.latency_s)[:k]

    def measured_keys(self, workload_key: str) -> set[str]:
        return set(self._keys.get(workload_key, ()))

    def __len__(self) -> int:
        return len(self._all)


class IndexedDatabase(Database):
    """The readers of the contract, answered from a :class:`RecordIndex` under a lock;
    subclasses store batches in :meth:`commit` and add them to ``self._index`` while
    holding ``self._lock``."""

    def __init__(self):
        self._index = RecordIndex()
        self._lock = threading.Lock()

    def records(self, workload_key: str | None = None, *,
                target: str | None = None) -> list[TuningRecord]:
        with self._lock:
            return self._index.records(workload_key, target)

    def best(self, workload_key: str, k: int = 1, *,
             target: str | None = None) -> list[TuningRecord]:
        with self._lock:
            return self._index.best(workload_key, k, target)

    def measured_keys(self, workload_key: str) -> set[str]:
        with self._lock:
            return self._index.measured_keys(workload_key)

    def __len__(self) -> int:
        with self._lock:
            return len(self._index)
