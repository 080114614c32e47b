"""Check the search space end to end: random complete programs of every catalogue workload.

CPU: each program is compiled and its output compared with numpy (outputs start as NaN, so
unwritten elements count as mismatches). GPU: each program must pass the verifier. Small
shapes keep compiles and references fast. Exit code 1 on any failure.

    python experiments/check_space.py --cpu 170 --gpu 100 --seed 0
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from schedlab.annotate import verify_gpu
from schedlab.space import sample_programs
from schedlab.testing.small_tasks import SPACE_CHECK_SHAPES as SMALL
from schedlab.workloads import create, list_workloads


def check_cpu(name: str, count: int, seed: int) -> tuple[int, list[str]]:
    task = create(name, **SMALL[name])
    inputs = task.random_inputs(seed=seed)
    expected = task.reference(*inputs)
    failures = []
    programs = sample_programs(task, count, seed=seed)
    for program in programs:
        try:
            outputs = [np.full(t.shape, np.nan, t.dtype) for t in task.outputs]
            program.compile()(*task.call_order(inputs, outputs))
            for out, ref in zip(outputs, expected):
                np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops us
            failures.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}\n{program}")
    return len(programs), failures


def check_gpu(name: str, count: int, seed: int) -> tuple[int, list[str]]:
    task = create(name, target="cuda")
    programs = sample_programs(task, count, seed=seed)
    failures = [f"{name}: {problems}" for p in programs if (problems := verify_gpu(p))]
    return len(programs), failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", type=int, default=170, help="CPU programs per workload")
    parser.add_argument("--gpu", type=int, default=100, help="GPU programs per workload")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"{'workload':<24} {'cpu ok':>9} {'gpu ok':>9} {'seconds':>8}")
    totals = [0, 0, 0, 0]
    failures: list[str] = []
    assert sorted(SMALL) == list_workloads()
    for name in list_workloads():
        start = time.perf_counter()
        n_cpu, f_cpu = check_cpu(name, args.cpu, args.seed)
        n_gpu, f_gpu = check_gpu(name, args.gpu, args.seed)
        failures += f_cpu + f_gpu
        totals = [totals[0] + n_cpu, totals[1] + n_cpu - len(f_cpu),
                  totals[2] + n_gpu, totals[3] + n_gpu - len(f_gpu)]
        print(f"{name:<24} {n_cpu - len(f_cpu):>4}/{n_cpu:<4} {n_gpu - len(f_gpu):>4}/{n_gpu:<4} "
              f"{time.perf_counter() - start:>8.1f}", flush=True)
    print(f"{'total':<24} {totals[1]:>4}/{totals[0]:<4} {totals[3]:>4}/{totals[2]:<4}")
    for failure in failures[:10]:
        print("FAILED", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
