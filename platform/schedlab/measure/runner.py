"""The runner interface: what measures candidates, and what it is given."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

from ..program import Program
from ..registry import create
from ..task import Task
from .result import MeasureResult


@dataclass(frozen=True, kw_only=True)
class MeasureInput:
    """One candidate as a record: a task and a program record (``Program.to_json()``).

    Unlike a :class:`~schedlab.Program`, the record need not be valid; a runner reports a
    record whose steps do not apply as ``INVALID_PROGRAM``.
    """

    task: Task
    program_json: str

    @classmethod
    def from_program(cls, program: Program) -> MeasureInput:
        return cls(task=program.task, program_json=program.to_json())


class Runner(abc.ABC):
    """Builds, checks and times candidates on real hardware.

    Contract:
        - :meth:`run` takes programs (or :class:`MeasureInput` records) and returns one
          :class:`MeasureResult` per candidate, in the same order.
        - Candidates are measured one after another, never overlapping each other or a build
          on the same machine.
        - A failing candidate (invalid, does not compile, crashes, hangs, wrong output) is a
          result with an ``error_kind``; :meth:`run` raises only for misuse (an item that is
          neither a Program nor a MeasureInput).
        - A runner is used from one thread at a time. :meth:`close` releases its processes;
          runners are context managers.
    """

    last_build_s: float | None = None
    """Wall seconds the last :meth:`run` spent building before it timed anything, for
    runners that build a whole batch first (``None`` otherwise: then each result's
    ``build_s`` is its share)."""

    @abc.abstractmethod
    def run(self, candidates: Sequence[Program | MeasureInput]) -> list[MeasureResult]:
        """Measure ``candidates`` and return their results in the same order."""

    def close(self) -> None:
        """Release processes and other resources; the runner may not be used afterwards.

        The default has nothing to release."""
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def as_measure_inputs(candidates: Sequence[Program | MeasureInput]) -> list[MeasureInput]:
    """Programs and records as records; ``TypeError`` names an item that is neither."""
    inputs = []
    for i, item in enumerate(candidates):
        if isinstance(item, MeasureInput):
            inputs.append(item)
        elif isinstance(item, Program):
            inputs.append(MeasureInput.from_program(item))
        else:
            raise TypeError(
                f"candidate {i} is a {type(item).__name__}; expected a Program or a MeasureInput"
            )
    return inputs


RUNNERS = {
    "local": "schedlab.measure.local:LocalRunner",
}


def create_runner(runner: str | Runner = "local", **kwargs) -> Runner:
    """A runner by name (``"local"``), with keyword arguments for its constructor;
    a :class:`Runner` object is returned as it is."""
    return create("runner", runner, Runner, RUNNERS, kwargs)
