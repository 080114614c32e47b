"""The search-strategy interface, and what a strategy knows about one task's tuning."""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..annotate import Annotator
from ..program import Program
from ..space.sketch import Sketch, generate_sketches

# A completion that does not lower is redrawn this many times before sampling gives up.
_SAMPLE_TRIES = 20


def decision_key(program: Program) -> tuple:
    """A cheap identity of an annotated program: its sketch and its decisions. Two programs
    with equal keys have the same steps."""
    return sketch_decisions_key(program.sketch, program.decisions)


def sketch_decisions_key(sketch, decisions: dict) -> tuple:
    """:func:`decision_key` of a program not made yet."""
    return (id(sketch), tuple(sorted(decisions.items())))


def tag_origin(programs: list[Program], origin: str) -> list[Program]:
    """``programs``, each marked with how the search found it (the tuner keeps
    ``program.origin`` in its record)."""
    for program in programs:
        program.origin = origin
    return programs


@dataclass
class SearchContext:
    """One task's search state, shared by the rounds of a tuning run.

    Attributes:
        task: the task being tuned.
        sketches: its sketches (``generate_sketches(task)`` unless given).
        annotator: completes sketches into programs.
        rng: the run's random generator (seeded: a run is reproducible).
        measured_keys: program keys (``schedlab.database.program_key``) of every program
            measured so far, including earlier runs on the same records; strategies never
            propose these again.
        measured: ``(latency_s, program)`` of measured programs that carry decisions,
            fastest first; failed ones have ``math.inf``. Evolution seeds from these.
        features: feature matrices by :func:`decision_key`, kept across rounds because
            evolution meets the same programs again and again.
        random_pool: completed random candidates of the last round's first generation,
            which a strategy may reuse in the next round instead of completing new ones.
        candidates: every completed candidate of earlier rounds, by :func:`decision_key`:
            evolution breeds many of the same children round after round, and completing
            a child is the costliest step of a generation.
    """

    task: object
    sketches: list[Sketch] = field(default_factory=list)
    annotator: Annotator = field(default_factory=Annotator)
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    measured_keys: set[str] = field(default_factory=set)
    measured: list[tuple[float, Program]] = field(default_factory=list)
    features: dict[tuple, np.ndarray] = field(default_factory=dict)
    random_pool: list = field(default_factory=list)
    candidates: dict[tuple, object] = field(default_factory=dict)
    _factory: object = field(default=None, repr=False)

    def __post_init__(self):
        if not self.sketches:
            self.sketches = generate_sketches(self.task)
        if not self.sketches:
            raise ValueError(f"task {self.task.name!r} has no sketches")

    def factory(self, workers: int | None = None):
        """The :class:`~schedlab.search.candidates.CandidateFactory` of this task, with a
        pool of ``workers`` processes (0: none; ``None``: whatever the current one has),
        kept until :meth:`close`."""
        from .candidates import CandidateFactory

        if self._factory is not None and workers is None:
            return self._factory
        workers = workers or 0
        if self._factory is None or self._factory.workers != workers:
            self.close()
            self._factory = CandidateFactory(self.annotator, self.sketches, workers)
        return self._factory

    def close(self) -> None:
        """Stop the worker processes, if any."""
        if self._factory is not None:
            self._factory.close()
            self._factory = None

    def sample(self, n: int) -> list[Program]:
        """``n`` random programs, sketches taken in random order; fewer if completions
        keep failing."""
        programs = []
        for _ in range(n):
            for _ in range(_SAMPLE_TRIES):
                sketch = self.sketches[int(self.rng.integers(len(self.sketches)))]
                try:
                    programs.append(self.annotator.complete(sketch, self.rng))
                    break
                except ValueError:
                    continue
        return programs

    def unmeasured(self, programs, n: int, taken: set[str] | None = None) -> list[Program]:
        """The first ``n`` of ``programs`` (any iterable, consumed lazily) whose keys are
        neither measured nor in ``taken``; the keys chosen are added to ``taken``."""
        from ..database import program_key

        taken = set() if taken is None else taken
        chosen = []
        for program in programs:
            if len(chosen) >= n:
                break
            key = program_key(program)
            if key in self.measured_keys or key in taken:
                continue
            taken.add(key)
            chosen.append(program)
        return chosen

    def add_measured(self, programs: Sequence[Program], latencies: Sequence[float]) -> None:
        """Record measured programs (``math.inf`` for a failure)."""
        from ..database import program_key

        for program, latency in zip(programs, latencies):
            self.measured_keys.add(program_key(program))
            if program.decisions is not None:
                self.measured.append((float(latency), program))
        self.measured.sort(key=lambda item: item[0])

    def best_measured(self, k: int) -> list[Program]:
        """Up to ``k`` fastest measured programs that carry decisions."""
        return [p for latency, p in self.measured[:k] if math.isfinite(latency)]


class SearchStrategy(abc.ABC):
    """Proposes the programs to measure next for one task.

    Contract: the tuning loop calls :meth:`propose` once per round with the task's
    :class:`SearchContext` and the cost model, measures what it returns, and records the
    results in the context (``add_measured``) before the next call. A proposal holds at
    most ``n`` distinct programs, none of them in ``context.measured_keys``; fewer (even
    none) when the space has no more. Strategies keep no state between calls that the
    context does not hold, so one object serves many tasks. :attr:`last_stats` holds the
    seconds the last call spent in its phases (``"search"``, ``"features"``, ``"predict"``).
    """

    def __init__(self):
        self.last_stats: dict[str, float] = {}

    @abc.abstractmethod
    def propose(self, context: SearchContext, cost_model, n: int) -> list[Program]:
        """Up to ``n`` new programs of ``context.task`` to measure."""
