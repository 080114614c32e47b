"""Differential testing: compile random programs and compare their outputs with numpy.

:func:`check_program` runs one program on fresh inputs and compares it with the task's
reference; :func:`check_random_program` draws a random program first (see
:mod:`schedlab.testing.random_schedules`). :func:`run_differential` checks many seeds of many
tasks in worker processes, so that a program that crashes the process (a segfault, or an
LLVM abort) is recorded as a crash and the run goes on.
"""

from __future__ import annotations

import collections
import multiprocessing as mp
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import wait

import numpy as np

from ..program import Program
from ..task import Task
from .random_schedules import GenerationStats, NoProgramError, random_program
from .small_tasks import SMALL_TASKS, catalogue_tasks, small_tasks, task_from_spec, task_spec

__all__ = [
    "SMALL_TASKS", "CheckResult", "DifferentialReport", "TaskReport", "catalogue_tasks",
    "check_program", "check_random_program", "compare", "run_differential", "small_tasks",
]

RTOL = 1e-4


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one program.

    Attributes:
        status: ``"match"``, ``"mismatch"``, ``"compile_error"`` (a lowering or code
            generation bug, or LLVM rejected the code) or ``"no_program"`` (no random
            candidate lowered).
        max_error: largest absolute difference from the reference.
        message: what went wrong, with the steps to reproduce it.
    """

    status: str
    max_error: float = 0.0
    message: str = ""


def _sentinel(dtype: np.dtype):
    return np.nan if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min


def reference_outputs(task: Task, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """The task's numpy reference, or else its unscheduled program."""
    if task.reference is not None:
        return [np.asarray(r) for r in task.reference(*inputs)]
    outputs = task.empty_outputs()
    Program(task, []).compile()(*task.call_order(inputs, outputs))
    return outputs


def compare(out: np.ndarray, ref: np.ndarray, rtol: float = RTOL) -> tuple[bool, float]:
    """Whether ``out`` matches ``ref`` within ``rtol`` of the reference's largest magnitude
    (a sum of many terms is judged by its size), plus ``rtol`` of each element; also the
    largest error. Infinities and NaNs must sit in the same places."""
    out64, ref64 = out.astype(np.float64), ref.astype(np.float64)
    if out64.shape != ref64.shape:
        return False, float("inf")
    finite = np.isfinite(ref64)
    if not np.array_equal(np.isfinite(out64), finite) or not np.array_equal(
            out64[~finite], ref64[~finite], equal_nan=True):
        return False, float("inf")
    err = np.abs(out64[finite] - ref64[finite])
    if not err.size:
        return True, 0.0
    scale = max(1.0, float(np.abs(ref64[finite]).max()))
    return bool(np.all(err <= rtol * scale + rtol * np.abs(ref64[finite]))), float(err.max())


def check_program(program: Program, seed: int = 0, rtol: float = RTOL,
                  reference: list[np.ndarray] | None = None) -> CheckResult:
    """Compile ``program``, run it on inputs from ``seed`` and compare with the reference.

    Outputs start filled with NaN (floats) or the smallest integer, so elements the
    program never writes show up as mismatches.
    """
    task = program.task
    inputs = task.random_inputs(seed)
    try:
        kernel = program.compile()
    except Exception as exc:  # noqa: BLE001 - any failure here is a compiler bug to report
        return CheckResult("compile_error", message=describe(program, exc))
    if reference is None:
        reference = reference_outputs(task, inputs)
    outputs = [np.full(t.shape, _sentinel(np.dtype(t.dtype)), t.dtype) for t in task.outputs]
    kernel(*task.call_order([a.copy() for a in inputs], outputs))
    worst = 0.0
    for tensor, out, ref in zip(task.outputs, outputs, reference):
        ok, err = compare(out, ref, rtol)
        worst = max(worst, err)
        if not ok:
            return CheckResult("mismatch", err, f"output {tensor.name!r} differs by {err:.3g}\n"
                               + describe(program))
    return CheckResult("match", worst)


def _draw(task: Task, seed: int, stats: GenerationStats | None, max_steps: int):
    """The random program for ``seed``, or the CheckResult saying why there is none."""
    try:
        return random_program(task, seed, max_steps=max_steps, stats=stats)
    except NoProgramError as exc:
        return CheckResult("no_program", message=str(exc))
    except Exception as exc:  # noqa: BLE001 - a crash in lowering is a bug to report
        return CheckResult("compile_error", message=f"task {task.name!r}, seed {seed}: "
                           + "".join(traceback.format_exception(exc)[-3:]))


def check_random_program(task: Task, seed: int, rtol: float = RTOL,
                         stats: GenerationStats | None = None,
                         max_steps: int = 16) -> CheckResult:
    """Draw the random program of ``task`` for ``seed`` and check it."""
    program = _draw(task, seed, stats, max_steps)
    if isinstance(program, CheckResult):
        return program
    return check_program(program, seed, rtol)


def describe(program: Program, exc: BaseException | None = None) -> str:
    """The program's steps and JSON (to reproduce it), and the error's last frames."""
    lines = [f"task {program.task.name!r}, steps:"] + [f"  {s}" for s in program.steps]
    lines.append("json: " + program.to_json())
    if exc is not None:
        lines.append("".join(traceback.format_exception(exc)[-3:]))
    return "\n".join(lines)


# -- many programs, crash-proof -------------------------------------------------------------------
@dataclass
class TaskReport:
    """Counts for one task of a :func:`run_differential` run.

    ``generated``: programs drawn (they lowered); ``dropped``: candidates lowering refused
    (``LoweringError``), redrawn from the next seed-derived candidate; ``compiled``: programs
    that compiled and ran; then ``matched``, ``mismatched``, ``compile_error``, ``crashed``
    (the worker process died on the program), ``timed_out`` (compiling and running it took
    longer than the time limit), ``no_program``.
    """

    name: str
    counts: collections.Counter = field(default_factory=collections.Counter)
    drop_reasons: collections.Counter = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)


COLUMNS = ("generated", "dropped", "compiled", "matched", "mismatched", "compile_error",
           "crashed", "timed_out", "no_program")


@dataclass
class DifferentialReport:
    tasks: list[TaskReport]

    @property
    def total(self) -> collections.Counter:
        total = collections.Counter()
        for t in self.tasks:
            total.update(t.counts)
        return total

    @property
    def failures(self) -> list[str]:
        return [f for t in self.tasks for f in t.failures]

    @property
    def ok(self) -> bool:
        total = self.total
        return not (total["mismatched"] or total["compile_error"] or total["crashed"]
                    or total["timed_out"])

    def table(self) -> str:
        width = max([len(t.name) for t in self.tasks] + [5])
        rows = [f"{'task':<{width}} " + " ".join(f"{c:>9.9}" for c in COLUMNS)]
        for t in self.tasks + [TaskReport("total", self.total)]:
            rows.append(f"{t.name:<{width}} " + " ".join(f"{t.counts[c]:>9}" for c in COLUMNS))
        return "\n".join(rows)


def _worker(conn, spec: tuple, seeds: list[int], max_steps: int, rtol: float,
            quiet: bool) -> None:
    if quiet:
        # LLVM's remarks about loops it declined to vectorize are not failures.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
    task = task_from_spec(spec)
    for seed in seeds:
        stats = GenerationStats()
        program = _draw(task, seed, stats, max_steps)
        described = "" if isinstance(program, CheckResult) else describe(program)
        conn.send(("start", seed, described))
        result = program if isinstance(program, CheckResult) else check_program(
            program, seed, rtol)
        conn.send(("result", seed, result.status, result.message, stats.lowering_failures,
                   dict(stats.failure_reasons)))
    conn.send(("finished",))


class _Job:
    """One task's seeds in a worker process, restarted after the seed it died on."""

    def __init__(self, ctx, task: Task, seeds: Sequence[int], max_steps: int, rtol: float,
                 quiet: bool):
        self.ctx, self.spec = ctx, task_spec(task)
        self.args = (max_steps, rtol, quiet)
        self.report = TaskReport(task.name)
        self.pending = list(seeds)
        self.current: tuple[int, str] | None = None
        self.started_at = 0.0
        self.proc = self.conn = None

    def start(self) -> None:
        parent, child = self.ctx.Pipe(duplex=False)
        self.proc = self.ctx.Process(target=_worker, daemon=True,
                                     args=(child, self.spec, self.pending, *self.args))
        self.proc.start()
        child.close()
        self.conn = parent

    def overdue(self, timeout: float) -> bool:
        return self.current is not None and time.monotonic() - self.started_at > timeout

    def lost(self, how: str) -> bool:
        """The worker died (or was killed) on the current program: count it, go on with the
        next seed in a new worker. False once the job is over."""
        self.proc.join()
        self.conn.close()
        if self.current is None:
            return False
        seed, described = self.current
        self.report.counts["generated"] += 1
        self.report.counts[how] += 1
        detail = "" if how == "timed_out" else f" (exit code {self.proc.exitcode})"
        self.report.failures.append(f"seed {seed}: {how}{detail}\n{described}")
        self.pending = self.pending[self.pending.index(seed) + 1 :]
        self.current = None
        if not self.pending:
            return False
        self.start()
        return True

    def kill(self) -> bool:
        self.proc.kill()
        return self.lost("timed_out")

    def handle(self) -> bool:
        """Take one message from the worker; False once the job is over."""
        counts = self.report.counts
        try:
            msg = self.conn.recv()
        except EOFError:
            return self.lost("crashed")
        if msg[0] == "start":
            self.current = (msg[1], msg[2])
            self.started_at = time.monotonic()
        elif msg[0] == "result":
            _, seed, status, message, dropped, reasons = msg
            self.current = None
            counts["dropped"] += dropped
            self.report.drop_reasons.update(reasons)
            counts["no_program" if status == "no_program" else "generated"] += 1
            if status in ("match", "mismatch"):
                counts["compiled"] += 1
            counts[{"match": "matched", "mismatch": "mismatched"}.get(status, status)] += 1
            if status != "match":
                self.report.failures.append(f"seed {seed}: {status}\n{message}")
        else:
            self.proc.join()
            self.conn.close()
            return False
        return True


def run_differential(tasks: Sequence[Task], programs_per_task: int, seed: int = 0,
                     jobs: int = 2, max_steps: int = 16, rtol: float = RTOL,
                     timeout_s: float = 60.0, quiet: bool = True,
                     progress: Callable[[TaskReport], None] | None = None) -> DifferentialReport:
    """Check ``programs_per_task`` random programs of each task, in ``jobs`` processes.

    Tasks must be small tasks or catalogue workloads (workers rebuild them by name).
    Program seeds are ``seed * 1_000_003 + 0, 1, ...``, so runs with different ``seed`` draw
    different programs. A program that takes longer than ``timeout_s`` to compile and run
    is killed and counted as timed out. ``progress`` is called with each task's report when
    it is done.
    """
    ctx = mp.get_context("spawn")  # a fork would copy this process's thread pools
    base = seed * 1_000_003
    seeds = range(base, base + programs_per_task)
    queue = [_Job(ctx, t, seeds, max_steps, rtol, quiet) for t in tasks]
    jobs_all, running = list(queue), []
    while queue or running:
        while queue and len(running) < max(1, jobs):
            job = queue.pop(0)
            job.start()
            running.append(job)
        now = time.monotonic()
        deadlines = [j.started_at + timeout_s for j in running if j.current is not None]
        ready = wait([j.conn for j in running],
                     timeout=max(0.0, min(deadlines + [now + 1.0]) - now))
        for job in list(running):
            if job.conn in ready:
                alive = job.handle()
            elif job.overdue(timeout_s):
                alive = job.kill()
            else:
                continue
            if not alive:
                running.remove(job)
                if progress is not None:
                    progress(job.report)
    return DifferentialReport([j.report for j in jobs_all])
