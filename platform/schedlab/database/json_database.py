"""Tuning records in an append-only JSON-lines file that survives a killed writer."""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

from .database import check_batch
from .index import IndexedDatabase
from .record import BATCH_KEY, TuningRecord


class JSONDatabase(IndexedDatabase):
    """Records in a ``.jsonl`` file: one JSON object per line, opened and read back whole.

    Each line is :meth:`TuningRecord.to_json` plus ``"batch": [i, n]``, the record's place
    in the batch it was committed with. A batch is appended with one ``write`` of all its
    lines and then ``fsync`` ed (the file descriptor is unbuffered, so there is nothing to
    flush), so a writer killed mid-commit leaves, at the end of the file, only part of the
    last batch: some whole lines and perhaps a torn one. Opening the file drops such a
    batch with a ``RuntimeWarning``, and the first commit cuts it off before appending.
    Anything wrong before the last batch (a line that does not parse, a batch that stops
    early, another schema version) is a ``ValueError`` naming the line: that is damage, not
    an interrupted write. A line without ``"batch"`` (written by hand) is a batch of one;
    a last line that is whole but lacks its newline is kept.

    The file has one writer: commits take an exclusive ``flock`` and raise ``RuntimeError``
    if the file changed size since this object last read or wrote it. Other processes may open
    it to read at any time.

    Args:
        path: the records file; missing parent folders are created, a missing file is
            created by the first commit.
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"{self.path} is a folder; a JSONDatabase takes the records file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._existed = self.path.exists()
        data = self.path.read_bytes() if self._existed else b""
        with _gc_paused():
            records, self._whole_size = _read_records(data, str(self.path))
            self._index.add(records)
        # Bytes in the file as this object last saw it; more than _whole_size while an
        # interrupted batch is still to be cut off.
        self._size = len(data)
        # A whole last line without its newline (written by hand, or a write that stopped
        # just before it) gets one before the next batch.
        self._open_line = data[self._whole_size - 1:self._whole_size] not in (b"", b"\n")

    def commit(self, records: Sequence[TuningRecord]) -> None:
        batch, lines = check_batch(records)
        if not batch:
            return
        n = len(lines)
        # Each line is a JSON object: the framing goes in before its closing brace.
        payload = "".join(f'{line[:-1]},"{BATCH_KEY}":[{i},{n}]}}\n'
                          for i, line in enumerate(lines)).encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                size = os.fstat(fd).st_size
                if size != self._size:
                    raise RuntimeError(
                        f"{self.path} is {size} bytes, but this database left it at "
                        f"{self._size}: another writer uses it (a records file has one writer)")
                if self._whole_size < size:
                    os.ftruncate(fd, self._whole_size)
                    self._size = self._whole_size
                if self._open_line:
                    payload = b"\n" + payload
                try:
                    _write_all(fd, payload)
                    os.fsync(fd)
                except BaseException:
                    # Leave whole batches only, even when the disk is full.
                    os.ftruncate(fd, self._whole_size)
                    raise
            finally:
                os.close(fd)
            if not self._existed:
                _fsync_folder(self.path.parent)
                self._existed = True
            self._size = self._whole_size = self._whole_size + len(payload)
            self._open_line = False
            self._index.add(batch)

    def __repr__(self):
        return f"JSONDatabase({str(self.path)!r}, {len(self)} records)"


def read_records(data: bytes, name: str = "records") -> tuple[list[TuningRecord], int]:
    """The records of a JSONDatabase file's bytes ``data``, and how many leading bytes hold
    whole batches. An interrupted last batch is dropped with a ``RuntimeWarning``; other
    damage is a ``ValueError`` naming the line (``name`` says which file)."""
    with _gc_paused():
        return _read_records(data, name)


@contextlib.contextmanager
def _gc_paused():
    # Loading makes millions of small objects; each batch of them would set off a full
    # garbage collection over an ever larger heap, which takes longer than parsing.
    # Records hold no reference cycles, so nothing is lost by waiting.
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _read_records(data: bytes, name: str) -> tuple[list[TuningRecord], int]:
    lines = data.split(b"\n")
    # Only the last line with content may be torn (written in part), whether the write
    # stopped before its newline or not.
    last = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].strip()), -1)
    torn = False
    records: list[TuningRecord] = []
    batch: list[TuningRecord] = []
    batch_size = batch_line = batch_start = 0
    whole_size = pos = 0
    for i, raw in enumerate(lines):
        # The final piece has no newline after it.
        lineno, start, pos = i + 1, pos, min(pos + len(raw) + 1, len(data))
        if not raw.strip():
            if not batch:
                whole_size = pos
            continue
        try:
            fields = json.loads(raw)
        except ValueError as err:
            if i == last:
                torn = True
                break
            raise ValueError(f"{name}: line {lineno} is not valid JSON: {err}") from None
        try:
            record = TuningRecord.from_dict(fields)
            index, size = _framing(fields.get(BATCH_KEY, [0, 1]))
        except ValueError as err:
            raise ValueError(f"{name}: line {lineno}: {err}") from None
        if index != len(batch) or (batch and size != batch_size):
            where = f"record {index} of a batch of {size}"
            had = (f"{len(batch)} record(s) of a batch of {batch_size} from line {batch_line}"
                   if batch else "no open batch")
            raise ValueError(f"{name}: line {lineno} is {where}, but before it there is {had}; "
                             f"only the last batch of a file can be incomplete")
        if index == 0:
            batch_size, batch_line, batch_start = size, lineno, start
        batch.append(record)
        if index == size - 1:
            records.extend(batch)
            batch = []
            whole_size = pos
    if batch or torn:
        parts = []
        if batch:
            parts.append(f"{len(batch)} of the {batch_size} records of the batch from line "
                         f"{batch_line}")
        if torn:
            parts.append("a torn last line")
        warnings.warn(f"{name}: dropped {' and '.join(parts)}, left by a writer that stopped "
                      f"mid-commit; the next commit cuts them off", RuntimeWarning,
                      stacklevel=3)
        if batch:
            whole_size = batch_start
    return records, whole_size


def _framing(value) -> tuple[int, int]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            or not 0 <= value[0] < value[1]):
        raise ValueError(f"'{BATCH_KEY}' must be [index, size] with 0 <= index < size, "
                         f"got {value!r}")
    return value[0], value[1]


def _write_all(fd: int, data: bytes) -> None:
    # One write() for the whole batch; the loop only matters if the kernel writes less.
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_folder(folder: Path) -> None:
    # A new file's name is durable only once its folder is synced.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
