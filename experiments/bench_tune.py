"""Tuning benchmark: schedlab.tune vs numpy and TVM's MetaSchedule, in one run.

For each workload and trial budget (and seed), in this order:
  1. ``schedlab.tune`` in a fresh work dir: best GFLOP/s, tuning wall time, and the share of
     it spent outside measurement (search, features, cost model);
  2. MetaSchedule on the same workload and budget (``metaschedule_baseline.py`` in a
     subprocess, with ``--tvm-python``'s interpreter), when apache-tvm is installed there;
  3. right after, numpy (float32, OpenBLAS; conv2d as im2col + matmul) and schedlab's best
     program timed again, back to back, so the ratios come from the same minutes.

The machine's speed drifts over minutes: only ratios within one run mean anything.

    python experiments/bench_tune.py [--workloads matmul,conv2d,dense_bias_relu,batch_matmul]
        [--trials 64,256] [--seeds 0] [--tvm-python PATH] [--no-metaschedule] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

from bench_codegen import SETTLE_S, im2col_conv, time_call  # noqa: E402

import schedlab  # noqa: E402
from schedlab.measure import LocalRunner, MeasureConfig  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (catalogue workload, shape, numpy equivalent of the reference in float32)
WORKLOADS = {
    "matmul": ("matmul", {"M": 1024, "N": 1024, "K": 1024}, lambda a, b: a @ b),
    "conv2d": ("conv2d_nchw", {"N": 1, "C": 64, "H": 56, "W": 56, "K": 64, "R": 3, "S": 3,
                               "stride": 1, "pad": 1},
               lambda d, w: im2col_conv(d, w, pad=1, stride=1)),
    "dense_bias_relu": ("dense_bias_relu", {"M": 128, "N": 3072, "K": 768},
                        lambda x, w, b: np.maximum(x @ w.T + b, 0)),
    "batch_matmul": ("batch_matmul", {"B": 16, "M": 128, "N": 128, "K": 128},
                     lambda a, b: np.matmul(a, b)),
}

MEASURE = MeasureConfig(repeat=3, min_repeat_ms=100)


def tvm_available(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import tvm"], capture_output=True)
    return probe.returncode == 0


def run_metaschedule(python: str, workload: str, trials: int, seed: int) -> dict:
    """MetaSchedule's result for one workload and budget, or ``{"error": ...}``."""
    with tempfile.TemporaryDirectory(prefix="ms_") as work:
        out = os.path.join(work, "result.json")
        cmd = [python, os.path.join(HERE, "metaschedule_baseline.py"), "--workload", workload,
               "--trials", str(trials), "--seed", str(seed),
               "--work-dir", os.path.join(work, "db"), "--json", out]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if os.path.exists(out):
            with open(out) as f:
                result = json.load(f)
        else:
            result = {"error": f"exit code {proc.returncode}: {proc.stderr[-500:]}"}
        if proc.returncode != 0 and not result.get("error"):
            result["error"] = f"exit code {proc.returncode}"
        return result


def time_numpy_and_best(task, fn, best) -> tuple[float, float]:
    """Seconds per call of numpy's equivalent and of schedlab's best program, timed back to
    back (the best in the measuring process, as during tuning)."""
    inputs = [np.ascontiguousarray(a) for a in task.random_inputs(seed=0)]
    numpy_s = time_call(lambda: fn(*inputs))
    time.sleep(SETTLE_S)
    with LocalRunner(config=MEASURE) as runner:
        result = runner.run([best.program])[0]
    return numpy_s, result.median


def run_case(name: str, trials: int, seed: int, tvm_python: str | None) -> dict:
    workload, params, numpy_fn = WORKLOADS[name]
    task = schedlab.workloads.create(workload, **params)
    gflop = task.flop_count / 1e9
    with tempfile.TemporaryDirectory(prefix="sl_") as work_dir:
        # Timed as the tuner times by default; only the final re-timing uses MEASURE.
        result = schedlab.tune(task, trials=trials, work_dir=work_dir, seed=seed)
    split = result.time_split()
    row = {
        "workload": name, "trials": trials, "seed": seed,
        "schedlab_tuned_gflops": result.best.gflops,
        "schedlab_wall_s": result.wall_s,
        "outside_measurement_share": result.outside_measurement_share,
        "time_split_s": split,
    }
    if tvm_python:
        time.sleep(SETTLE_S)
        ms = run_metaschedule(tvm_python, name, trials, seed)
        row["metaschedule"] = ms
        row["metaschedule_gflops"] = ms.get("gflops") if not ms.get("error") else None
        row["metaschedule_wall_s"] = ms.get("tune_wall_s")
    time.sleep(SETTLE_S)
    numpy_s, best_s = time_numpy_and_best(task, numpy_fn, result.best)
    row["numpy_gflops"] = gflop / numpy_s
    row["schedlab_gflops"] = gflop / best_s
    row["vs_numpy"] = numpy_s / best_s
    if row.get("metaschedule_gflops"):
        row["vs_metaschedule"] = row["schedlab_gflops"] / row["metaschedule_gflops"]
        row["wall_vs_metaschedule"] = row["schedlab_wall_s"] / row["metaschedule_wall_s"]
    print(format_row(row), flush=True)
    return row


HEADER = (f"{'workload':<16}{'trials':>7}{'seed':>5}{'schedlab':>10}{'numpy':>8}"
          f"{'vs np':>7}{'MS':>8}{'vs MS':>7}{'sl wall':>9}{'MS wall':>9}{'outside':>9}")


def format_row(row: dict) -> str:
    ms = row.get("metaschedule_gflops")
    ms_wall = row.get("metaschedule_wall_s")
    return (f"{row['workload']:<16}{row['trials']:>7}{row['seed']:>5}"
            f"{row['schedlab_gflops']:>10.1f}{row['numpy_gflops']:>8.1f}"
            f"{row['vs_numpy']:>6.2f}x"
            + (f"{ms:>8.1f}{row['vs_metaschedule']:>6.2f}x" if ms else f"{'-':>8}{'-':>7}")
            + f"{row['schedlab_wall_s']:>8.0f}s"
            + (f"{ms_wall:>8.0f}s" if ms_wall else f"{'-':>9}")
            + f"{row['outside_measurement_share'] * 100:>8.0f}%")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--trials", default="64,256", help="comma-separated trial budgets")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--tvm-python", default=sys.executable,
                        help="interpreter with apache-tvm for MetaSchedule")
    parser.add_argument("--no-metaschedule", action="store_true")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    names = args.workloads.split(",")
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; valid: {', '.join(WORKLOADS)}")
    tvm_python = None
    if not args.no_metaschedule:
        if tvm_available(args.tvm_python):
            tvm_python = args.tvm_python
        else:
            print(f"apache-tvm is not importable by {args.tvm_python}: MetaSchedule skipped "
                  "(pip install -e '.[tvm]' or pass --tvm-python)", file=sys.stderr)
    print(HEADER, flush=True)
    rows = []
    for trials in [int(t) for t in args.trials.split(",")]:
        for seed in [int(s) for s in args.seeds.split(",")]:
            for name in names:
                rows.append(run_case(name, trials, seed, tvm_python))
                if args.json:  # after every row: a long run stopped midway keeps its rows
                    with open(args.json, "w") as f:
                        json.dump({"rows": rows, "cores": len(os.sched_getaffinity(0))}, f,
                                  indent=2)
    print(HEADER)
    for row in rows:
        print(format_row(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
