"""A database that lives in memory only: tests, ablations, throw-away runs."""

from __future__ import annotations

from collections.abc import Sequence

from .database import check_batch
from .index import IndexedDatabase
from .record import TuningRecord


class MemoryDatabase(IndexedDatabase):
    """The :class:`~schedlab.database.Database` contract without a file; nothing outlives
    the object.

    Batches are checked as :class:`~schedlab.database.JSONDatabase` checks them (every
    record must be JSON-ready), so code tried against this one behaves the same on disk.
    """

    def commit(self, records: Sequence[TuningRecord]) -> None:
        batch, _ = check_batch(records)
        with self._lock:
            self._index.add(batch)

    def __repr__(self):
        return f"MemoryDatabase({len(self)} records)"
