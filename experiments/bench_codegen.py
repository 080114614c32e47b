"""Code-generator benchmark: expert schedules vs numpy, as fractions of the machine's peak.

Runs, in one process and one run:
  - the fp32 peak (independent vector FMAs on every core),
  - matmul 1024^3, conv2d (N1 C64 H56 W56 K64 3x3 pad 1), dense+bias+relu (128x768 . 768x3072)
    with hand-written schedlab schedules, each checked against numpy,
  - numpy on the same problems (conv2d as im2col + matmul).
Timings of schedlab and numpy alternate round by round and never overlap; each number is a
median. Prints a table; ``--json PATH`` writes the same numbers.

    python experiments/bench_codegen.py [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import expert_schedules  # noqa: E402

import schedlab  # noqa: E402
from schedlab.codegen.peak import measure_peak_gflops  # noqa: E402
from schedlab.measure import MeasureConfig, time_kernel  # noqa: E402

# numpy's BLAS threads keep spinning for a moment after a call; a pause between the two
# sides keeps one side's idle threads from slowing the other.
SETTLE_S = 0.4


TIMING = MeasureConfig(repeat=3, min_repeat_ms=100)


def time_call(fn) -> float:
    """Median seconds per call of ``fn`` (TVM-style: warm-up, repeats of >= 100 ms)."""
    return statistics.median(time_kernel(fn, (), TIMING))


def im2col_conv(data: np.ndarray, weight: np.ndarray, pad: int, stride: int) -> np.ndarray:
    """numpy's best plain conv2d: pad, gather patches into a (C*R*S, OH*OW) matrix per image
    (im2col, one strided slice copy per kernel offset), then one matmul with the
    (K, C*R*S) weights gives NCHW output directly."""
    n, c, h, w = data.shape
    k, _, r, s = weight.shape
    padded = np.zeros((n, c, h + 2 * pad, w + 2 * pad), data.dtype)  # faster than np.pad
    padded[:, :, pad : pad + h, pad : pad + w] = data
    oh = (h + 2 * pad - r) // stride + 1
    ow = (w + 2 * pad - s) // stride + 1
    flat_weight = weight.reshape(k, c * r * s)
    cols = np.empty((c, r, s, oh, ow), data.dtype)
    out = np.empty((n, k, oh, ow), data.dtype)
    for i in range(n):
        for ry in range(r):
            for rx in range(s):
                cols[:, ry, rx] = padded[i, :, ry : ry + stride * oh : stride,
                                         rx : rx + stride * ow : stride]
        out[i] = (flat_weight @ cols.reshape(c * r * s, oh * ow)).reshape(k, oh, ow)
    return out


def cases():
    """(label, task, expert program builder, numpy function of the inputs)."""
    mm = schedlab.workloads.create("matmul", M=1024, N=1024, K=1024)
    conv = schedlab.workloads.create(
        "conv2d_nchw", N=1, C=64, H=56, W=56, K=64, R=3, S=3, stride=1, pad=1
    )
    dense = schedlab.workloads.create("dense_bias_relu", M=128, N=3072, K=768)
    return [
        ("matmul 1024^3", mm, expert_schedules.matmul, lambda a, b: a @ b),
        ("conv2d 56x56x64 3x3", conv, expert_schedules.conv2d_nchw,
         lambda d, w: im2col_conv(d, w, pad=1, stride=1)),
        ("dense+bias+relu 128x768x3072", dense, expert_schedules.dense_bias_relu,
         lambda d, w, b: np.maximum(d @ w.T + b, 0)),
    ]


def compile_times(task, count: int = 9) -> list[float]:
    """Seconds to lower and compile the expert matmul from scratch, ``count`` times."""
    times = []
    for _ in range(count):
        program = expert_schedules.matmul(task)
        start = time.perf_counter()
        program.compile()
        times.append(time.perf_counter() - start)
    return times


def run(rounds: int) -> dict:
    threads = schedlab.Target.create("llvm").num_cores
    results = {"threads": threads, "cases": []}
    mm = schedlab.workloads.create("matmul", M=1024, N=1024, K=1024)
    results["matmul_compile_median_s"] = statistics.median(compile_times(mm))
    peak = measure_peak_gflops(threads)
    results["peak_gflops"] = peak
    for label, task, build, numpy_fn in cases():
        program = build(task)
        start = time.perf_counter()
        kernel = program.compile()
        compile_s = time.perf_counter() - start
        inputs = task.random_inputs(seed=0)
        outputs = task.empty_outputs()
        args = task.call_order(inputs, outputs)
        kernel(*args)
        expected = task.reference(*inputs)
        max_err = max(float(np.max(np.abs(o - e))) for o, e in zip(outputs, expected))
        ok = all(np.allclose(o, e, rtol=1e-3, atol=1e-3) for o, e in zip(outputs, expected))
        ours, theirs = [], []
        for _ in range(rounds):
            time.sleep(SETTLE_S)
            ours.append(time_call(functools.partial(kernel, *args)))
            time.sleep(SETTLE_S)
            theirs.append(time_call(functools.partial(numpy_fn, *inputs)))
        flops = task.flop_count
        g_ours = flops / statistics.median(ours) / 1e9
        g_np = flops / statistics.median(theirs) / 1e9
        results["cases"].append({
            "workload": label, "flops": flops, "compile_s": compile_s, "correct": ok,
            "max_abs_err": max_err, "schedlab_gflops": g_ours, "numpy_gflops": g_np,
            "schedlab_vs_numpy": g_ours / g_np, "schedlab_frac_peak": g_ours / peak,
            "numpy_frac_peak": g_np / peak,
        })
    return results


def print_table(results: dict) -> None:
    peak = results["peak_gflops"]
    print(f"fp32 peak ({results['threads']} threads): {peak:.1f} GFLOP/s")
    head = (f"{'workload':<30} {'schedlab':>9} {'numpy':>8} {'vs numpy':>9} "
            f"{'sl/peak':>8} {'np/peak':>8} {'compile':>8} {'correct':>8}")
    print(head)
    print("-" * len(head))
    for c in results["cases"]:
        print(
            f"{c['workload']:<30} {c['schedlab_gflops']:>9.1f} {c['numpy_gflops']:>8.1f} "
            f"{c['schedlab_vs_numpy']:>8.2f}x {c['schedlab_frac_peak']:>8.2f} "
            f"{c['numpy_frac_peak']:>8.2f} {c['compile_s'] * 1e3:>6.0f}ms {str(c['correct']):>8}"
        )
    print("(GFLOP/s; ratios measured side by side in this run)")
    print(f"median compile time, tiled+vectorized+parallel matmul: "
          f"{results['matmul_compile_median_s'] * 1e3:.0f} ms")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds")
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args(argv)
    results = run(args.rounds)
    print_table(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0 if all(c["correct"] for c in results["cases"]) else 1


if __name__ == "__main__":
    sys.exit(main())
