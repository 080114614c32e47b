"""A short demonstration on embedded defaults.

Builds a matmul from a math expression, lets ``schedlab.tune`` search for a fast program
(a short run: evolutionary search with the JAX cost model, every candidate compiled by LLVM,
checked against numpy and timed), and compares the result with the unscheduled program, a
hand-written schedule and numpy. Records go to ``runs/demo`` (a second run continues there).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import expert_schedules  # noqa: E402

import schedlab  # noqa: E402
from schedlab import te  # noqa: E402

TRIALS = 64


def main() -> int:
    M = N = K = 512
    A = te.placeholder((M, K), "float32", name="A")
    B = te.placeholder((K, N), "float32", name="B")
    k = te.reduce_axis(K, name="k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    task = schedlab.Task("demo_matmul", args=[A, B, C], target="llvm")

    result = schedlab.tune(task, trials=TRIALS, work_dir=os.path.join("runs", "demo"),
                           search_options={"population": 512, "generations": 3},
                           batch_size=32, log=print)
    split = result.time_split()
    print(f"tuned {TRIALS} trials in {result.wall_s:.0f} s: "
          + ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in split.items()))
    found = result.best.program
    print("best program's steps:")
    print("  " + str(found).replace("\n", "\n  "))

    naive = schedlab.Program(task, [])
    expert = expert_schedules.matmul(task)
    a, b = task.random_inputs(seed=0)
    expected = a @ b
    rows = []
    for label, program in (("unscheduled", naive), ("tuned", found), ("hand schedule", expert)):
        start = time.perf_counter()
        kernel = program.compile()
        compile_ms = (time.perf_counter() - start) * 1e3
        c = np.zeros((M, N), "float32")
        kernel(a, b, c)
        np.testing.assert_allclose(c, expected, rtol=1e-3, atol=1e-3)
        time.sleep(0.3)
        start = time.perf_counter()
        runs = 3 if label == "unscheduled" else 20
        for _ in range(runs):
            kernel(a, b, c)
        seconds = (time.perf_counter() - start) / runs
        rows.append((label, task.flop_count / seconds / 1e9, compile_ms))
    time.sleep(0.3)
    start = time.perf_counter()
    for _ in range(20):
        a @ b
    rows.append(("numpy (OpenBLAS)", task.flop_count / ((time.perf_counter() - start) / 20) / 1e9,
                 0.0))
    print(f"\nmatmul {M}x{N}x{K}, results checked against numpy")
    print(f"{'program':<18} {'GFLOP/s':>9} {'compile ms':>11}")
    for label, gflops, compile_ms in rows:
        print(f"{label:<18} {gflops:>9.1f} {compile_ms:>11.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
