"""One tuning record: a measured program of a workload, as a line of JSON."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ..ir.steps import step_from_json
from ..measure.result import MeasureResult
from ..program import Program
from ..task import Task

SCHEMA_VERSION = 1
"""Version of the record layout; a record of another version does not load."""

_FIELDS = ("version", "workload_key", "task_name", "target", "steps", "result", "extra")

# Lines written by JSONDatabase also carry this framing key (the record's place in its
# batch); it belongs to the file, not to the record, so from_json skips it.
BATCH_KEY = "batch"


def steps_key(workload_key: str, target: str, steps: Any) -> str:
    """The canonical hash of a program: the same for equal steps whatever their key order or
    tuple/list spelling, different for different steps, workloads or targets."""
    text = json.dumps([workload_key, target, steps], sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def program_key(program: Program) -> str:
    """The key under which a database records ``program`` (see :attr:`TuningRecord.program_key`)."""
    task = program.task
    return steps_key(task.workload_key, task.target.kind, [s.to_json() for s in program.steps])


@dataclass(frozen=True, kw_only=True)
class TuningRecord:
    """A program of a task and what measuring it gave.

    Attributes:
        workload_key: the task's ``workload_key`` (for catalogue workloads, the JSON of
            ``[name, params]``; it does not include the target).
        task_name: the task's name, for people.
        target: the task's target kind (``"llvm"`` or ``"cuda"``).
        steps: the program's steps as JSON (``Step.to_json()`` of each); rebuild them with
            :meth:`to_program`.
        result: the measurement, failed or not.
        extra: JSON-ready data from the search (sampling decisions, round...), stored as it
            is; a database never looks inside. Do not mutate it.
        version: the record layout, :data:`SCHEMA_VERSION`.
    """

    workload_key: str
    task_name: str
    target: str
    steps: tuple[Any, ...]
    result: MeasureResult
    extra: dict = field(default_factory=dict)
    version: int = SCHEMA_VERSION

    def __post_init__(self):
        for name in ("workload_key", "task_name", "target"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"TuningRecord.{name} must be a non-empty string, got {value!r}")
        if isinstance(self.steps, (str, bytes, dict)):
            raise ValueError(f"TuningRecord.steps must be a sequence of step records, "
                             f"got {type(self.steps).__name__}")
        object.__setattr__(self, "steps", tuple(self.steps))
        if not isinstance(self.result, MeasureResult):
            raise ValueError(f"TuningRecord.result must be a MeasureResult, "
                             f"got {type(self.result).__name__}")
        if not isinstance(self.extra, dict):
            raise ValueError(f"TuningRecord.extra must be a dict, got {type(self.extra).__name__}")
        if self.version != SCHEMA_VERSION:
            raise ValueError(f"tuning record has schema version {self.version!r}, "
                             f"expected {SCHEMA_VERSION}")

    @classmethod
    def from_measurement(cls, program: Program, result: MeasureResult,
                         extra: dict | None = None) -> TuningRecord:
        """The record of ``program`` measured as ``result``."""
        task = program.task
        # Through JSON once, so that the record equals the one read back from a file
        # (tuples become lists).
        steps = json.loads(json.dumps([s.to_json() for s in program.steps]))
        return cls(workload_key=task.workload_key, task_name=task.name, target=task.target.kind,
                   steps=steps, result=result, extra=dict(extra or {}))

    @functools.cached_property
    def program_key(self) -> str:
        """A canonical hash of (workload_key, target, steps), equal to
        :func:`program_key` of the program; databases dedupe on it."""
        return steps_key(self.workload_key, self.target, list(self.steps))

    @property
    def ok(self) -> bool:
        """Whether the program was built, checked and timed."""
        return self.result.ok

    @property
    def latency_s(self) -> float:
        """Median seconds per call; ``math.inf`` for a failed measurement."""
        return self.result.median

    def to_program(self, task: Task) -> Program:
        """The measured program, replayed on ``task``.

        Raises:
            ValueError: ``task`` is another workload or target, or a step does not apply.
        """
        if task.workload_key != self.workload_key:
            raise ValueError(f"record of workload {self.workload_key!r} cannot be replayed on "
                             f"task {task.name!r} (workload {task.workload_key!r})")
        if task.target.kind != self.target:
            raise ValueError(f"record for target {self.target!r} cannot be replayed on task "
                             f"{task.name!r} for target {task.target.kind!r}")
        return Program(task, [step_from_json(s) for s in self.steps])

    def to_dict(self) -> dict:
        """Plain JSON-ready fields, ``version`` first."""
        return {
            "version": self.version,
            "workload_key": self.workload_key,
            "task_name": self.task_name,
            "target": self.target,
            "steps": list(self.steps),
            "result": self.result.to_dict(),
            "extra": self.extra,
        }

    def to_json(self) -> str:
        """The record as one line of JSON (no newline).

        Raises:
            ValueError: ``extra`` (or a step) holds something JSON cannot represent.
        """
        try:
            return json.dumps(self.to_dict(), separators=(",", ":"))
        except (TypeError, ValueError) as err:
            raise ValueError(f"tuning record of {self.task_name!r} is not JSON-ready: {err}") \
                from None

    @classmethod
    def from_dict(cls, data: Any) -> TuningRecord:
        """Inverse of :meth:`to_dict`; ``ValueError`` names what is missing or wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"a tuning record is a JSON object, got {type(data).__name__}")
        if "version" not in data:
            raise ValueError("tuning record has no 'version' field")
        if data["version"] != SCHEMA_VERSION:
            raise ValueError(f"tuning record has schema version {data['version']!r}, "
                             f"expected {SCHEMA_VERSION}")
        missing = [name for name in _FIELDS if name not in data and name != "extra"]
        if missing:
            raise ValueError(f"tuning record lacks field(s) {missing}")
        unknown = sorted(set(data) - set(_FIELDS) - {BATCH_KEY})
        if unknown:
            raise ValueError(f"tuning record has unknown field(s) {unknown}")
        if not isinstance(data["steps"], list):
            raise ValueError(f"tuning record 'steps' must be a list, "
                             f"got {type(data['steps']).__name__}")
        if not isinstance(data["result"], dict):
            raise ValueError(f"tuning record 'result' must be an object, "
                             f"got {type(data['result']).__name__}")
        try:
            result = MeasureResult.from_dict(data["result"])
        except (TypeError, ValueError) as err:
            raise ValueError(f"tuning record has an invalid 'result': {err}") from None
        return cls(workload_key=data["workload_key"], task_name=data["task_name"],
                   target=data["target"], steps=data["steps"], result=result,
                   extra=data.get("extra", {}), version=data["version"])

    @classmethod
    def from_json(cls, line: str | bytes) -> TuningRecord:
        """Inverse of :meth:`to_json`.

        Raises:
            ValueError: the line is not JSON, is not a record, or has another schema version.
        """
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"tuning record is not valid JSON: {err}") from None
        return cls.from_dict(data)
