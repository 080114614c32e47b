"""What a tuning run gives back: the best programs, the rounds, the tuning curve."""

from __future__ import annotations

import functools
import statistics
from dataclasses import dataclass, field

from ..codegen.cpu import CompiledKernel
from ..database import TuningRecord
from ..ir.steps import Step
from ..program import Program
from ..task import Task


@dataclass(frozen=True)
class RoundStats:
    """One tuning round.

    Attributes:
        round: its number, from 0 in this run.
        task: the name of the task it tuned.
        trials: programs measured in this round.
        total_trials: programs of all tasks measured so far (earlier runs' records
            included).
        best_gflops: the task's best throughput after this round.
        elapsed_s: seconds since the run started.
        times: seconds spent in this round's phases: ``search`` (evolution, sampling,
            mutation), ``features``, ``predict``, ``model_update``, ``build`` and
            ``measure`` (in the runner: checking and timing).
        errors: failed candidates by error kind.
    """

    round: int
    task: str
    trials: int
    total_trials: int
    best_gflops: float
    elapsed_s: float
    times: dict[str, float]
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def outside_measurement_s(self) -> float:
        """Seconds in search, features, prediction and model update."""
        return sum(self.times.get(k, 0.0) for k in ("search", "features", "predict",
                                                      "model_update"))


@dataclass(frozen=True)
class BestProgram:
    """The fastest measured program of a task.

    Attributes:
        task: the task.
        record: the program's tuning record.
        confirmed_s: seconds per call of each re-timing that chose it among the run's
            fastest programs (see ``Tuner``'s ``confirm_top``); empty when it was not
            re-timed.
    """

    task: Task
    record: TuningRecord
    confirmed_s: tuple[float, ...] = ()

    @property
    def latency_s(self) -> float:
        """Median seconds per call: of the re-timings where there are some, else as
        measured while tuning."""
        return statistics.median(self.confirmed_s) if self.confirmed_s else self.tuned_latency_s

    @property
    def tuned_latency_s(self) -> float:
        """Median seconds per call as measured while tuning."""
        return self.record.latency_s

    @property
    def gflops(self) -> float:
        return self.task.flop_count / self.latency_s / 1e9

    @property
    def steps(self) -> tuple[Step, ...]:
        """The program's transform steps."""
        return self.program.steps

    @functools.cached_property
    def program(self) -> Program:
        return self.record.to_program(self.task)

    @property
    def source(self) -> str:
        """The generated code (LLVM IR)."""
        return self.program.source

    def compile(self) -> CompiledKernel:
        """The kernel: a callable on numpy arrays in argument order, outputs written in
        place."""
        return self.program.compile()

    def __repr__(self):
        return (f"BestProgram({self.task.name}, {self.latency_s * 1e3:.3f} ms, "
                f"{self.gflops:.1f} GFLOP/s)")


@dataclass
class TuneResult:
    """The outcome of :func:`schedlab.tune`.

    Attributes:
        tasks: the tuned tasks.
        bests: the best program of each task (by task name) that has one.
        rounds: every round of this run, in order.
        curves: per task name, ``(trials of the task, best GFLOP/s so far)`` after each
            measured program, earlier runs' records included.
        work_dir: where the records are, or ``None`` for an in-memory run.
        wall_s: seconds the run took.
        confirm_s: seconds of ``wall_s`` spent re-timing each task's fastest programs to
            choose its best.
    """

    tasks: list[Task]
    bests: dict[str, BestProgram]
    rounds: list[RoundStats]
    curves: dict[str, list[tuple[int, float]]]
    work_dir: str | None
    wall_s: float
    confirm_s: float = 0.0

    @property
    def best(self) -> BestProgram:
        """The best program of the (first) task; ``ValueError`` if nothing ran correctly."""
        name = self.tasks[0].name
        if name not in self.bests:
            raise ValueError(f"no program of task {name!r} was measured successfully")
        return self.bests[name]

    @property
    def curve(self) -> list[tuple[int, float]]:
        """The tuning curve of the (first) task."""
        return self.curves.get(self.tasks[0].name, [])

    def time_split(self) -> dict[str, float]:
        """Seconds per phase, summed over the rounds."""
        total: dict[str, float] = {}
        for stats in self.rounds:
            for phase, seconds in stats.times.items():
                total[phase] = total.get(phase, 0.0) + seconds
        return total

    @property
    def outside_measurement_share(self) -> float:
        """Share of the run's wall time spent in search, features, prediction and model
        update."""
        outside = sum(stats.outside_measurement_s for stats in self.rounds)
        return outside / self.wall_s if self.wall_s > 0 else 0.0
