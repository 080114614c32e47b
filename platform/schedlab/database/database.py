"""The database interface: where tuning records go, and how the search reads them back."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from ..registry import create
from .record import TuningRecord


class Database(abc.ABC):
    """An append-only store of :class:`TuningRecord` s.

    Contract:
        - Who writes: one process, the tuning loop, which calls :meth:`commit` once per round
          with the round's batch of measured programs. Within that process :meth:`commit` and
          the readers are thread-safe. Other processes may open a copy to read (a notebook, a
          cost-model trainer) but never commit to it.
        - When it is durable: when :meth:`commit` returns, the whole batch is stored (for a
          file, written, flushed and ``fsync`` ed). A writer killed during :meth:`commit`
          leaves either the whole batch or none of it: a run resumed on the same store loses
          at most the batch in flight.
        - A batch is checked before anything is stored: an item that is not a
          ``TuningRecord`` is a ``TypeError``, a record that is not JSON-ready a
          ``ValueError``, and then nothing of the batch is stored.
        - Ordering: :meth:`records` lists records in commit order (within a batch, in the
          order given). Nothing is ever removed or rewritten; committing a program that is
          already recorded adds a second record of it.
        - :meth:`best` returns successful records only, fastest first (ties in commit order),
          each program once with its fastest measurement.
        - :meth:`measured_keys` holds the :attr:`TuningRecord.program_key` of every recorded
          program, failed ones included: the search skips them instead of measuring again.
        - ``workload_key`` is ``Task.workload_key``, which does not name the target; the
          optional ``target`` argument keeps one target's records apart from another's.
    """

    @abc.abstractmethod
    def commit(self, records: Sequence[TuningRecord]) -> None:
        """Store a batch of records; durable when this returns."""

    @abc.abstractmethod
    def records(self, workload_key: str | None = None, *,
                target: str | None = None) -> list[TuningRecord]:
        """The records of ``workload_key`` (all workloads when ``None``), optionally of one
        ``target`` only, in commit order. The list is a copy."""

    @abc.abstractmethod
    def best(self, workload_key: str, k: int = 1, *,
             target: str | None = None) -> list[TuningRecord]:
        """Up to ``k`` fastest successful records of ``workload_key``, ascending latency,
        one per program."""

    @abc.abstractmethod
    def measured_keys(self, workload_key: str) -> set[str]:
        """The program keys already recorded for ``workload_key`` (a copy)."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """The number of records stored."""

    def workload_keys(self) -> list[str]:
        """The workloads that have records, in order of their first record."""
        return list(dict.fromkeys(r.workload_key for r in self.records()))


def check_batch(records: Sequence[TuningRecord]) -> tuple[list[TuningRecord], list[str]]:
    """A batch to commit as a list, with its records' JSON lines; ``TypeError`` names an item
    that is not a record, ``ValueError`` a record that is not JSON-ready."""
    if isinstance(records, TuningRecord):
        raise TypeError("commit() takes a sequence of TuningRecords, got a single record")
    batch = list(records)
    lines = []
    for i, record in enumerate(batch):
        if not isinstance(record, TuningRecord):
            raise TypeError(f"item {i} of the batch is a {type(record).__name__}, "
                            f"not a TuningRecord")
        lines.append(record.to_json())
    return batch, lines


DATABASES = {
    "json": "schedlab.database.json_database:JSONDatabase",
    "memory": "schedlab.database.memory_database:MemoryDatabase",
}


def create_database(database: str | Database = "json", **kwargs) -> Database:
    """A database by name (``"json"``, ``"memory"``) with keyword arguments for its
    constructor (``create_database("json", path="runs/demo/records.jsonl")``); a
    :class:`Database` object is returned as it is."""
    return create("database", database, Database, DATABASES, kwargs)
