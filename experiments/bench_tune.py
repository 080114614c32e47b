"""Tuning benchmark: schedlab.tune vs numpy and TVM's MetaSchedule, in one run.

For each workload and trial budget (and seed), in this order:
  1. ``schedlab.tune`` in a fresh work dir: best GFLOP/s, tuning wall time, and the share of
     it spent outside measurement (search, features, cost model);
  2. MetaSchedule on the same workload and budget (``metaschedule_baseline.py`` in a
     subprocess, with ``--tvm-python``'s interpreter), when apache-tvm is installed there;
  3. right after, numpy (float32, OpenBLAS; conv2d as im2col + matmul), schedlab's best
     program and MetaSchedule's best kernel (saved as a library by the baseline and loaded
     by it again) timed again, in turn, ``RETIME_ROUNDS`` times; each gets its fastest
     round. The ratios come from the same minute, not from timings taken while each tuner
     ran, minutes apart on a machine whose speed drifts.

The machine's speed drifts over minutes: only ratios within one run mean anything.

    python experiments/bench_tune.py [--workloads matmul,conv2d,dense_bias_relu,batch_matmul]
        [--trials 64,256] [--seeds 0] [--tvm-python PATH] [--no-metaschedule] [--json PATH]
        [--keep-records DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

from bench_codegen import SETTLE_S, im2col_conv, time_call  # noqa: E402

import schedlab  # noqa: E402
from schedlab.measure import LocalRunner, MeasureConfig  # noqa: E402
from schedlab.measure.buffers import aligned_copy  # noqa: E402

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
RETIME_ROUNDS = 3


def tvm_available(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import tvm"], capture_output=True)
    return probe.returncode == 0


def run_metaschedule(python: str, workload: str, trials: int, seed: int,
                     export: str | None = None, retime: str | None = None) -> dict:
    """MetaSchedule's result for one workload and budget (its best kernel saved at
    ``export``), or the timing of a kernel saved earlier (``retime``); ``{"error": ...}``
    when it failed."""
    with tempfile.TemporaryDirectory(prefix="ms_") as work:
        out = os.path.join(work, "result.json")
        cmd = [python, os.path.join(HERE, "metaschedule_baseline.py"), "--workload", workload,
               "--seed", str(seed), "--json", out]
        if retime:
            cmd += ["--retime", retime]
        else:
            cmd += ["--trials", str(trials), "--work-dir", os.path.join(work, "db")]
        if export:
            cmd += ["--export", export]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if os.path.exists(out):
            with open(out) as f:
                result = json.load(f)
        else:
            result = {"error": f"exit code {proc.returncode}: {proc.stderr[-500:]}"}
        if proc.returncode != 0 and not result.get("error"):
            result["error"] = f"exit code {proc.returncode}"
        return result


def retime_side_by_side(task, fn, best, ms_python: str | None, workload: str, seed: int,
                        ms_library: str | None) -> dict:
    """Seconds per call of numpy's equivalent, schedlab's best program (in a measuring
    process, as during tuning) and MetaSchedule's saved best kernel (``None`` without one),
    timed in turn ``RETIME_ROUNDS`` times; the fastest round of each."""
    # Placed in memory as the measuring process places schedlab's (and the baseline
    # MetaSchedule's) buffers.
    inputs = [aligned_copy(a) for a in task.random_inputs(seed=0)]
    times: dict[str, list[float]] = {"numpy": [], "schedlab": [], "metaschedule": []}
    with LocalRunner(config=MEASURE) as runner:
        for _ in range(RETIME_ROUNDS):
            times["numpy"].append(time_call(lambda: fn(*inputs)))
            time.sleep(SETTLE_S)
            result = runner.run([best.program])[0]
            if result.ok:
                times["schedlab"].append(result.median)
            if ms_python and ms_library and os.path.exists(ms_library):
                time.sleep(SETTLE_S)
                ms = run_metaschedule(ms_python, workload, 0, seed, retime=ms_library)
                if not ms.get("error") and ms.get("best_latency_s"):
                    times["metaschedule"].append(ms["best_latency_s"])
            time.sleep(SETTLE_S)
    return {name: min(values) if values else None for name, values in times.items()}


def run_case(name: str, trials: int, seed: int, tvm_python: str | None,
             keep_records: str | None = None) -> dict:
    workload, params, numpy_fn = WORKLOADS[name]
    task = schedlab.workloads.create(workload, **params)
    gflop = task.flop_count / 1e9
    with tempfile.TemporaryDirectory(prefix="sl_") as scratch:
        work_dir = (os.path.join(keep_records, f"{name}_{trials}_seed{seed}") if keep_records
                    else scratch)
        if keep_records and os.path.exists(work_dir):  # a fresh run, never a resumed one
            shutil.rmtree(work_dir)
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
    with tempfile.TemporaryDirectory(prefix="ms_best_") as library_dir:
        library = os.path.join(library_dir, "best.so") if tvm_python else None
        if tvm_python:
            time.sleep(SETTLE_S)
            ms = run_metaschedule(tvm_python, name, trials, seed, export=library)
            row["metaschedule"] = ms
            row["metaschedule_wall_s"] = ms.get("tune_wall_s")
        time.sleep(SETTLE_S)
        seconds = retime_side_by_side(task, numpy_fn, result.best, tvm_python, name, seed,
                                      library)
    row["retimed_s"] = seconds
    if seconds["schedlab"] is None:  # the re-timing failed: the tuner's own timing
        seconds["schedlab"] = result.best.latency_s
    row["numpy_gflops"] = gflop / seconds["numpy"]
    row["schedlab_gflops"] = gflop / seconds["schedlab"]
    row["vs_numpy"] = seconds["numpy"] / seconds["schedlab"]
    if seconds["metaschedule"]:
        row["metaschedule_gflops"] = gflop / seconds["metaschedule"]
    elif tvm_python and not row["metaschedule"].get("error"):
        row["metaschedule_gflops"] = row["metaschedule"].get("gflops")  # its own timing
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
    parser.add_argument("--keep-records",
                        help="keep each tuning run's work dir (records) under this folder")
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
                rows.append(run_case(name, trials, seed, tvm_python, args.keep_records))
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
