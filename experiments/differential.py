"""Differential test of the compiler: random programs of many tasks, compared with numpy.

    python experiments/differential.py --programs 2000 --seed 0 [--jobs 2] [--tasks all]

Each task (the hand-written small tasks of ``schedlab.testing.small_tasks`` and every
catalogue workload at a small shape) gets an equal share of ``--programs`` random programs
(``schedlab.testing.random_schedules``); each program is compiled, run on fresh inputs and
compared with the task's numpy reference. Programs run in worker processes, so one that
crashes is counted and the run goes on. The table gives per task: programs generated (they
lowered), candidates dropped because lowering refused them (each replaced by another),
compiled, matched, mismatched, compile errors, crashes. Exit code 1 on any mismatch, compile
error or crash.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time

from schedlab.testing.differential import run_differential
from schedlab.testing.small_tasks import catalogue_tasks, small_tasks


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=2000, help="total random programs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--tasks", choices=("small", "catalogue", "all"), default="all")
    parser.add_argument("--only", default="", help="only tasks whose name contains this")
    parser.add_argument("--max-steps", type=int, default=16)
    parser.add_argument("--show", type=int, default=3, help="failures to print per task")
    args = parser.parse_args(argv)

    tasks = []
    if args.tasks in ("small", "all"):
        tasks += small_tasks()
    if args.tasks in ("catalogue", "all"):
        tasks += catalogue_tasks()
    tasks = [t for t in tasks if args.only in t.name]
    if not tasks:
        raise SystemExit("no task selected (is there a workload catalogue?)")
    per_task = -(-args.programs // len(tasks))
    print(f"{len(tasks)} tasks x {per_task} programs, seed {args.seed}", flush=True)
    started = time.perf_counter()
    report = run_differential(tasks, per_task, seed=args.seed, jobs=args.jobs,
                              max_steps=args.max_steps)
    print(report.table())
    print(f"wall time {time.perf_counter() - started:.1f} s")
    reasons = collections.Counter()
    for t in report.tasks:
        reasons.update(t.drop_reasons)
    if reasons:
        print("candidates dropped by lowering, by reason:")
        for reason, n in reasons.most_common(8):
            print(f"  {n:6d}  {reason}")
    for t in report.tasks:
        for failure in t.failures[: args.show]:
            print(f"\n--- {t.name}: {failure}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
