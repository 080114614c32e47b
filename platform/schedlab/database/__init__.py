"""Tuning records: every measured program with its result, appended to a store that a
resumed run reads back (nothing measured twice) and the cost model trains on.

A :class:`TuningRecord` is one measured program; a :class:`Database` stores batches of them
(:class:`JSONDatabase` in a JSON-lines file, :class:`MemoryDatabase` in memory) and answers
the search's questions: what is measured already, which programs are fastest.
"""

from .database import DATABASES, Database, create_database
from .json_database import JSONDatabase, read_records
from .memory_database import MemoryDatabase
from .record import SCHEMA_VERSION, TuningRecord, program_key

__all__ = [
    "DATABASES", "SCHEMA_VERSION", "Database", "JSONDatabase", "MemoryDatabase",
    "TuningRecord", "create_database", "program_key", "read_records",
]
