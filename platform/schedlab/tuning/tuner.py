"""The tuning loop: rounds of propose -> measure -> record -> update the cost model."""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..annotate import Annotator
from ..cost_model.base import measured_throughputs
from ..database import Database, JSONDatabase, MemoryDatabase, TuningRecord, create_database
from ..measure import MeasureConfig
from ..measure.result import MeasureResult
from ..measure.runner import Runner, create_runner
from ..program import Program
from ..search import SearchContext, SearchStrategy, create_strategy
from ..search.scoring import features_of, uses_features
from ..space.sketch import generate_sketches
from ..task import Task
from .result import BestProgram, RoundStats, TuneResult

RECORDS_FILE = "records.jsonl"

# How candidates are timed by default while tuning: one measurement of at least 100 ms after
# a warm-up call, MetaSchedule's default budget per candidate (its runner: number=3,
# repeat=1, min_repeat_ms=100); a candidate whose first call is 10x slower than the task's
# best is not timed further. Timing the final best more carefully is the caller's choice.
TUNING_MEASURE = MeasureConfig(repeat=1, min_repeat_ms=100, cutoff_ratio=10.0)

# A round's progress line, and anything else the loop reports, goes here by default.
Logger = Callable[[str], None]


def _print(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Tuner:
    """Tunes tasks round by round; each phase is its own method so that a distributed
    driver can place it elsewhere.

    A round picks a task (in turn), asks the search strategy for up to ``batch_size``
    programs never measured (:meth:`propose`), builds, checks and times them
    (:meth:`measure`), appends their records to the database (:meth:`commit`) and trains
    the cost model on them (:meth:`update_model`). Records already in the database (an
    earlier run on the same ``work_dir``) count towards ``trials``, are never measured
    again, train the cost model and seed the search.

    Args:
        tasks: the tasks to tune.
        trials: programs to measure in all, over every task (earlier records included).
        work_dir: folder of the run's records (``records.jsonl``); ``None`` keeps them in
            memory.
        search: a strategy name (``"evolutionary"``, ``"random"``) or object.
        search_options: keyword arguments of the strategy's constructor.
        cost_model: a model name (``"mlp"``, ``"xgboost"``, ``"random"``) or an object
            with ``update(programs, results)`` and ``predict(programs)`` (a
            ``schedlab.cost_model.CostModel``).
        cost_model_options: keyword arguments of the model's constructor. A model the
            tuner makes from a name is not trained on the last round's measurements, which
            no search would use; a model object is trained on every round.
        runner: a runner name (``"local"``) or object.
        measure: how candidates are timed and checked (``MeasureConfig`` or a dict of its
            fields); used when ``runner`` is a name. ``TUNING_MEASURE`` by default.
        batch_size: programs measured per round; a task's first round measures at most
            half of the task's even share of ``trials``.
        confirm_top: after the last round, this many of each task's fastest measured
            programs are timed again (:meth:`confirm`) and the fastest by these re-timings is
            the task's best; one measurement per program while tuning may catch it in a
            quiet moment or a noisy one. 0 or 1: the tuning measurements decide. A run that
            measured nothing re-times nothing.
        confirm_passes: times each of them is re-timed, all in turn, pass after pass.
        seed: seed of the search (sampling, mutation); a run is reproducible up to timing
            noise.
        disabled_rules: sketch rules to switch off (ablations).
        annotator: completes sketches (``Annotator()`` by default).
        database: a database object instead of the one ``work_dir`` implies.
        callbacks: functions called as ``callback(tuner, stats, programs, results)`` after
            every round (loggers, trackers).
        log: where progress lines go (``None`` for silence); stderr by default.
    """

    def __init__(
        self,
        tasks: Task | Sequence[Task],
        *,
        trials: int,
        work_dir: str | os.PathLike | None = None,
        search: str | SearchStrategy = "evolutionary",
        search_options: dict | None = None,
        cost_model="mlp",
        cost_model_options: dict | None = None,
        runner: str | Runner = "local",
        measure: MeasureConfig | dict | None = None,
        batch_size: int = 64,
        confirm_top: int = 8,
        confirm_passes: int = 3,
        seed: int = 0,
        disabled_rules: Sequence[str] = (),
        annotator: Annotator | None = None,
        database: Database | None = None,
        callbacks: Sequence[Callable] = (),
        log: Logger | None = _print,
    ):
        self.tasks = _check_tasks(tasks)
        if not isinstance(trials, int) or isinstance(trials, bool) or trials < 0:
            raise ValueError(f"trials must be an int >= 0, got {trials!r}")
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        for name, value in (("confirm_top", confirm_top), ("confirm_passes", confirm_passes)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        if isinstance(measure, dict):
            measure = MeasureConfig(**measure)
        self.trials = trials
        self.batch_size = batch_size
        self.confirm_top = confirm_top
        self.confirm_passes = confirm_passes
        self.seed = int(seed)
        self.work_dir = None if work_dir is None else Path(work_dir)
        self.strategy = create_strategy(search, **(search_options or {}))
        # A model made here is seen by nothing but the search.
        self._own_model = isinstance(cost_model, str)
        if isinstance(cost_model, str):
            from ..cost_model import create_cost_model  # loads JAX: only when asked for

            cost_model = create_cost_model(cost_model, **(cost_model_options or {}))
        elif cost_model_options:
            raise TypeError("cost_model_options go with a model name, not a model object")
        self.cost_model = cost_model
        self.callbacks = list(callbacks)
        self.log = log
        sketches = [generate_sketches(task, disabled=disabled_rules) for task in self.tasks]
        if database is not None:
            self.database = create_database(database)
        elif self.work_dir is not None:
            self.database = JSONDatabase(self.work_dir / RECORDS_FILE)
        else:
            self.database = MemoryDatabase()
        self._own_runner = not isinstance(runner, Runner)
        self.runner = (runner if isinstance(runner, Runner)
                       else create_runner(runner, config=measure or TUNING_MEASURE))
        annotator = annotator or Annotator()
        earlier = self.trials_done()
        self.contexts = [
            SearchContext(task, sketches=task_sketches, annotator=annotator,
                          rng=np.random.default_rng([self.seed, index, earlier]))
            for index, (task, task_sketches) in enumerate(zip(self.tasks, sketches))
        ]
        self.rounds: list[RoundStats] = []
        self._exhausted: set[int] = set()
        self._resume()

    # -- the phases of a round ---------------------------------------------------------

    def propose(self, task_index: int, n: int) -> list[Program]:
        """Up to ``n`` programs of task ``task_index`` that were never measured."""
        return self.strategy.propose(self.contexts[task_index], self.cost_model, n)

    def measure(self, programs: Sequence[Program]) -> list[MeasureResult]:
        """Build, check and time ``programs``; failures are results with an error kind."""
        return self.runner.run(list(programs))

    def commit(self, task_index: int, programs: Sequence[Program],
               results: Sequence[MeasureResult], round_index: int) -> None:
        """Append the round's records to the database (durable on return) and tell the
        search what was measured."""
        records = [
            TuningRecord.from_measurement(program, result, _extra(program, self.contexts[
                task_index], round_index))
            for program, result in zip(programs, results)
        ]
        self.database.commit(records)
        self.contexts[task_index].add_measured(programs, [r.median for r in results])

    def update_model(self, programs: Sequence[Program], results: Sequence[MeasureResult],
                     context: SearchContext | None = None) -> None:
        """Train the cost model on the round's measurements. With the task's ``context``,
        features the search already extracted are reused."""
        if not programs:
            return
        if context is None or not uses_features(self.cost_model) \
                or not hasattr(self.cost_model, "update_features"):
            self.cost_model.update(list(programs), list(results))
            return
        throughputs, groups = measured_throughputs(programs, results)
        self.cost_model.update_features(features_of(context, programs), throughputs, groups)

    def confirm(self) -> dict[str, BestProgram]:
        """The best program of each task that has one, chosen again: its ``confirm_top``
        fastest measured programs are timed ``confirm_passes`` times, all of them in each
        pass (in a rotated order, so that none is always first), and the one with the
        fastest median re-timing wins. Re-timings that fail are left out; a program whose
        every re-timing failed cannot win."""
        bests = self.bests()
        if self.confirm_top < 2 or self.confirm_passes < 1:
            return bests
        for task in self.tasks:
            confirmed = self._confirm_task(task)
            if confirmed is not None:
                bests[task.name] = confirmed
        return bests

    def _confirm_task(self, task: Task) -> BestProgram | None:
        """``task``'s best by re-timing (see :meth:`confirm`); ``None`` when fewer than two
        programs can be re-timed or every re-timing failed."""
        top, programs = [], []
        for record in self.database.best(task.workload_key, self.confirm_top,
                                         target=task.target.kind):
            try:
                programs.append(record.to_program(task))
            except ValueError:  # an earlier run's record these steps no longer fit
                continue
            top.append(record)
        if len(top) < 2:
            return None
        order = [(i + turn) % len(top) for turn in range(self.confirm_passes)
                 for i in range(len(top))]
        timings: list[list[float]] = [[] for _ in top]
        for i, result in zip(order, self.measure([programs[i] for i in order])):
            if result.ok:
                timings[i].append(result.median)
        retimed = [(statistics.median(t), i) for i, t in enumerate(timings) if t]
        if not retimed:
            return None
        _, winner = min(retimed)
        best = BestProgram(task, top[winner], tuple(timings[winner]))
        self._say(f"{task.name}: best of the {len(top)} fastest, re-timed "
                  f"{self.confirm_passes}x: {best.gflops:.1f} GFLOP/s (measured at "
                  f"{top[winner].latency_s * 1e3:.3f} ms while tuning, "
                  f"{top[0].latency_s * 1e3:.3f} ms the fastest)")
        return best

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> TuneResult:
        """Tune until ``trials`` programs are measured or no task has new programs."""
        start = time.perf_counter()
        task_index = 0
        confirm_s = 0.0
        try:
            while self.trials_done() < self.trials and len(self._exhausted) < len(self.tasks):
                if task_index in self._exhausted:
                    task_index = (task_index + 1) % len(self.tasks)
                    continue
                self._round(task_index, start)
                task_index = (task_index + 1) % len(self.tasks)
            tick = time.perf_counter()
            bests = self.confirm() if self.rounds else self.bests()
            confirm_s = time.perf_counter() - tick
        finally:
            for context in self.contexts:
                context.close()  # the search's worker processes
            if self._own_runner:
                self.runner.close()
        return TuneResult(
            tasks=self.tasks,
            bests=bests,
            rounds=list(self.rounds),
            curves={task.name: self.curve(task) for task in self.tasks},
            work_dir=None if self.work_dir is None else str(self.work_dir),
            wall_s=time.perf_counter() - start,
            confirm_s=confirm_s,
        )

    def _round_size(self, task_index: int) -> int:
        """Programs to measure in this round of task ``task_index``: ``batch_size`` or what
        is left of ``trials``, and in a task's first round at most half of its even share
        of ``trials``, so that a model trained on that round guides at least one more.
        (With 64 trials and rounds of 64, one round of random programs was the whole run.)"""
        n = min(self.batch_size, self.trials - self.trials_done())
        if not self.contexts[task_index].measured_keys:
            n = min(n, max(1, math.ceil(self.trials / (2 * len(self.tasks)))))
        return n

    def _round(self, task_index: int, start: float) -> None:
        task = self.tasks[task_index]
        n = self._round_size(task_index)
        times = {}
        tick = time.perf_counter()
        programs = self.propose(task_index, n)
        times.update(self.strategy.last_stats)
        times.setdefault("search", time.perf_counter() - tick)
        if not programs:
            self._exhausted.add(task_index)
            self._say(f"{task.name}: the search space has no unmeasured programs left")
            return
        tick = time.perf_counter()
        results = self.measure(programs)
        runner_s = time.perf_counter() - tick
        times["build"] = (self.runner.last_build_s if self.runner.last_build_s is not None
                          else sum(r.build_s for r in results))
        times["measure"] = max(runner_s - times["build"], 0.0)
        self.commit(task_index, programs, results, len(self.rounds))
        tick = time.perf_counter()
        if not (self._own_model and self.trials_done() >= self.trials):
            self.update_model(programs, results, self.contexts[task_index])
        times["model_update"] = time.perf_counter() - tick
        errors: dict[str, int] = {}
        for result in results:
            if not result.ok:
                errors[result.error_kind.value] = errors.get(result.error_kind.value, 0) + 1
        best = self.bests().get(task.name)
        stats = RoundStats(
            round=len(self.rounds), task=task.name, trials=len(programs),
            total_trials=self.trials_done(), best_gflops=best.gflops if best else 0.0,
            elapsed_s=time.perf_counter() - start, times=times, errors=errors,
        )
        self.rounds.append(stats)
        outside = stats.outside_measurement_s
        self._say(
            f"[round {stats.round}] {task.name}: trials {stats.total_trials}/{self.trials}, "
            f"best {stats.best_gflops:.1f} GFLOP/s, elapsed {stats.elapsed_s:.1f}s "
            f"(search+model {outside:.1f}s, build {times['build']:.1f}s, "
            f"measure {times['measure']:.1f}s"
            + (f", failed {sum(errors.values())}" if errors else "") + ")")
        for callback in self.callbacks:
            callback(self, stats, programs, results)

    # -- what the records say ----------------------------------------------------------

    def trials_done(self) -> int:
        """Programs of these tasks measured so far, earlier runs' records included."""
        return sum(len(self.database.records(t.workload_key, target=t.target.kind))
                   for t in self.tasks)

    def bests(self) -> dict[str, BestProgram]:
        """The best measured program of each task that has one."""
        bests = {}
        for task in self.tasks:
            top = self.database.best(task.workload_key, 1, target=task.target.kind)
            if top:
                bests[task.name] = BestProgram(task, top[0])
        return bests

    def curve(self, task: Task) -> list[tuple[int, float]]:
        """``(trials, best GFLOP/s so far)`` after each measured program of ``task``."""
        best, points = 0.0, []
        records = self.database.records(task.workload_key, target=task.target.kind)
        for i, record in enumerate(records, start=1):
            if record.ok:
                best = max(best, task.flop_count / record.latency_s / 1e9)
            points.append((i, best))
        return points

    def _resume(self) -> None:
        """Feed records of earlier runs to the search contexts and the cost model."""
        programs, results = [], []
        for task, context in zip(self.tasks, self.contexts):
            records = self.database.records(task.workload_key, target=task.target.kind)
            for record in records:
                program = _rebuild(record, task, context)
                if program is None:
                    context.measured_keys.add(record.program_key)
                    continue
                context.add_measured([program], [record.latency_s])
                programs.append(program)
                results.append(record.result)
            if records:
                self._say(f"{task.name}: resuming from {len(records)} records")
        self.update_model(programs, results)

    def _say(self, line: str) -> None:
        if self.log is not None:
            self.log(line)


def _extra(program: Program, context: SearchContext, round_index: int) -> dict:
    """What the search needs to rebuild a record's decisions on resume, and where the
    search found the program."""
    extra = {"round": round_index}
    if program.origin is not None:
        extra["origin"] = program.origin
    if program.decisions is not None and program.sketch in context.sketches:
        extra["sketch"] = context.sketches.index(program.sketch)
        extra["decisions"] = json.loads(json.dumps(program.decisions))
    return extra


def _rebuild(record: TuningRecord, task: Task, context: SearchContext) -> Program | None:
    """The record's program, with its decisions when they still reproduce its steps."""
    try:
        program = record.to_program(task)
    except ValueError:
        return None
    sketch_index, decisions = record.extra.get("sketch"), record.extra.get("decisions")
    if isinstance(sketch_index, int) and 0 <= sketch_index < len(context.sketches) \
            and isinstance(decisions, dict):
        try:
            again = context.annotator.complete(context.sketches[sketch_index], context.rng,
                                               decisions)
        except ValueError:
            return program
        if again.steps == program.steps:
            return again
    return program


def _check_tasks(tasks) -> list[Task]:
    tasks = [tasks] if isinstance(tasks, Task) else list(tasks)
    if not tasks:
        raise ValueError("tune needs at least one task")
    for i, task in enumerate(tasks):
        if not isinstance(task, Task):
            raise TypeError(f"task {i} is a {type(task).__name__}; expected a schedlab.Task")
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"task names must differ, got {names}")
    return tasks


def tune(task_or_tasks: Task | Sequence[Task], trials: int = 256,
         work_dir: str | os.PathLike | None = None, **options) -> TuneResult:
    """Tune one task or several: search, build and measure until ``trials`` programs of
    them have been measured, and return the best ones.

    ``options`` are the keyword arguments of :class:`Tuner` (search, cost_model, measure,
    batch_size, seed, ...). Called again with the same ``work_dir``, it continues where the
    earlier run stopped: nothing recorded there is measured again.

    Raises:
        ValueError / TypeError: an invalid task, option or option value, named.
    """
    return Tuner(task_or_tasks, trials=trials, work_dir=work_dir, **options).run()

