"""Differential test of the compiler: random programs of many tasks, compared with numpy.

    python experiments/differential.py --programs 2000 --seed 0 [--jobs 2] [--tasks small]

Each task gets an equal share of ``--programs`` random programs (see
``schedlab.testing.random_schedules``); every program is compiled, run on fresh inputs and
compared with the task's numpy reference. The table gives, per task: programs generated
(that lowered), candidates dropped because lowering refused them, programs compiled,
matched, mismatched, and crashed (the process died running it). Programs run in worker
processes, so a crash is recorded and the run goes on. Exit code 1 on any mismatch, compile
error or crash.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import sys
import time
from multiprocessing.connection import wait

from schedlab.testing.differential import (
    SMALL_TASKS,
    catalogue_tasks,
    check_random_program,
    small_tasks,
)
from schedlab.testing.random_schedules import GenerationStats

COLUMNS = ("generated", "dropped", "compiled", "matched", "mismatched", "compile_error",
           "crashed", "no_program")


def _tasks(which: str):
    tasks = []
    if which in ("small", "all"):
        tasks += small_tasks()
    if which in ("catalogue", "all"):
        tasks += catalogue_tasks()
    if not tasks and which == "catalogue":
        raise SystemExit("there is no workload catalogue yet; use --tasks small")
    return tasks


def _task_by_name(which: str, name: str):
    if name in SMALL_TASKS:
        return SMALL_TASKS[name]()
    return next(t for t in _tasks(which) if t.name == name)


def _worker(conn, which: str, name: str, seeds: list[int], max_steps: int) -> None:
    import os

    # LLVM's remarks about loops it declined to vectorize are not failures.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    task = _task_by_name(which, name)
    for seed in seeds:
        conn.send(("start", seed))
        stats = GenerationStats()
        result = check_random_program(task, seed, stats=stats, max_steps=max_steps)
        conn.send(("result", seed, result.status, result.message, stats.lowering_failures,
                   dict(stats.failure_reasons)))
    conn.send(("finished",))


class _Job:
    """One task's seeds, run by a worker process that is restarted after a crash."""

    def __init__(self, ctx, which, name, seeds, max_steps):
        self.ctx, self.which, self.name, self.max_steps = ctx, which, name, max_steps
        self.pending = list(seeds)
        self.current = None
        self.counts = collections.Counter()
        self.reasons = collections.Counter()
        self.failures: list[str] = []
        self.proc = None
        self.conn = None

    def start(self):
        parent, child = self.ctx.Pipe(duplex=False)
        self.proc = self.ctx.Process(
            target=_worker, args=(child, self.which, self.name, self.pending, self.max_steps),
            daemon=True,
        )
        self.proc.start()
        child.close()
        self.conn = parent

    def handle(self) -> bool:
        """Read one message; return False once this job is over."""
        try:
            msg = self.conn.recv()
        except EOFError:
            self.proc.join()
            if self.current is None:
                return False
            self.counts["generated"] += 1
            self.counts["crashed"] += 1
            self.failures.append(f"seed {self.current}: worker died (exit code "
                                 f"{self.proc.exitcode})")
            self.pending = self.pending[self.pending.index(self.current) + 1 :]
            self.current = None
            if not self.pending:
                return False
            self.start()
            return True
        if msg[0] == "start":
            self.current = msg[1]
        elif msg[0] == "result":
            _, seed, status, message, dropped, reasons = msg
            self.current = None
            self.counts["dropped"] += dropped
            self.reasons.update(reasons)
            if status == "no_program":
                self.counts["no_program"] += 1
            else:
                self.counts["generated"] += 1
            if status in ("match", "mismatch"):
                self.counts["compiled"] += 1
            key = {"match": "matched", "mismatch": "mismatched"}.get(status, status)
            self.counts[key] += 1
            if status not in ("match",):
                self.failures.append(f"seed {seed}: {status}\n{message}")
        elif msg[0] == "finished":
            self.proc.join()
            return False
        return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=2000, help="total random programs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--tasks", choices=("small", "catalogue", "all"), default="all")
    parser.add_argument("--only", default="", help="run only tasks whose name contains this")
    parser.add_argument("--max-steps", type=int, default=16)
    parser.add_argument("--show", type=int, default=3, help="failures to print per task")
    args = parser.parse_args(argv)

    tasks = [t for t in _tasks(args.tasks) if args.only in t.name]
    if not tasks:
        raise SystemExit("no task selected")
    per_task = -(-args.programs // len(tasks))
    ctx = mp.get_context("fork")
    base = args.seed * 1_000_003
    queue = [_Job(ctx, args.tasks, t.name, range(base, base + per_task), args.max_steps)
             for t in tasks]
    jobs, running = list(queue), []
    started = time.perf_counter()
    while queue or running:
        while queue and len(running) < args.jobs:
            job = queue.pop(0)
            job.start()
            running.append(job)
        ready = wait([j.conn for j in running])
        for job in [j for j in running if j.conn in ready]:
            if not job.handle():
                running.remove(job)

    width = max(len(j.name) for j in jobs)
    header = f"{'task':<{width}} " + " ".join(f"{c:>13}" for c in COLUMNS)
    print(header)
    total = collections.Counter()
    for job in jobs:
        total.update(job.counts)
        print(f"{job.name:<{width}} " + " ".join(f"{job.counts[c]:>13}" for c in COLUMNS))
    print(f"{'total':<{width}} " + " ".join(f"{total[c]:>13}" for c in COLUMNS))
    print(f"wall time {time.perf_counter() - started:.1f} s")
    reasons = collections.Counter()
    for job in jobs:
        reasons.update(job.reasons)
    if reasons:
        print("candidates dropped by lowering, by reason:")
        for reason, n in reasons.most_common(8):
            print(f"  {n:6d}  {reason}")
    bad = 0
    for job in jobs:
        for failure in job.failures[: args.show]:
            print(f"\n--- {job.name}: {failure}")
        bad += len(job.failures)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
