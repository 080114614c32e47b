"""Feature-extraction benchmark: programs per second on one core.

For each workload, ``--programs`` random complete programs are sampled and lowered first
(``program.func`` is cached, as in a search, where the same lowered program is built,
measured and featurized); then the extraction alone is timed, median of ``--repeat`` runs:
``extract_batch`` over all programs at once, and ``extract_features`` called once per program.
Prints a table (workload, programs/s batched and one by one, rows per program); ``--json
PATH`` writes it.

    python experiments/bench_features.py [--programs 500] [--only matmul] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

import schedlab
from schedlab.features import FEATURE_NAMES, extract_batch, extract_features
from schedlab.space import sample_programs

# The catalogue's large shapes: a 1024 matmul, a ResNet-50 3x3 layer, BERT's dense layer and
# attention scores, and a target option for GPU programs.
SHAPES = {
    "matmul": dict(M=1024, N=1024, K=1024),
    "conv2d_nchw": dict(N=1, C=64, H=56, W=56, K=64, R=3, S=3, stride=1, pad=1),
    "dense_bias_relu": dict(M=128, N=3072, K=768),
    "batch_matmul": dict(B=12, M=128, N=128, K=64),
}


def _median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(name: str, target: str, count: int, repeat: int) -> dict:
    task = schedlab.workloads.create(name, target=target, **SHAPES.get(name, {}))
    try:
        programs = sample_programs(task, count, seed=0)
    except ValueError as exc:  # GPU limits can reject every completion of a sketch
        return {"workload": name, "target": target, "error": str(exc)}
    for program in programs:
        program.func  # noqa: B018 - lower once, outside the timed region
    matrices = extract_batch(programs)
    batch_s = _median_seconds(lambda: extract_batch(programs), repeat)
    single_s = _median_seconds(lambda: [extract_features(p) for p in programs], repeat)
    rows = [len(m) for m in matrices]
    assert all(np.isfinite(m).all() for m in matrices)
    return {
        "workload": name,
        "target": target,
        "programs": count,
        "batch_programs_per_s": count / batch_s,
        "single_programs_per_s": count / single_s,
        "rows_per_program": float(np.mean(rows)),
        "max_rows": int(max(rows)),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", action="append", help="workload name (repeatable)")
    parser.add_argument("--target", action="append", choices=["llvm", "cuda"],
                        help="target (repeatable; default llvm)")
    parser.add_argument("--json", metavar="PATH", help="write the table as JSON")
    args = parser.parse_args(argv)
    names = args.only or list(SHAPES)
    targets = args.target or ["llvm"]
    results = []
    print(f"{len(FEATURE_NAMES)} features per row; {args.programs} programs per workload, "
          f"median of {args.repeat} runs")
    header = f"{'workload':<18} {'target':<6} {'batch prog/s':>13} {'single prog/s':>14} " \
             f"{'rows/prog':>10}"
    print(header)
    print("-" * len(header))
    for target in targets:
        for name in names:
            r = bench(name, target, args.programs, args.repeat)
            results.append(r)
            if "error" in r:
                print(f"{name:<18} {target:<6} sampling failed: {r['error'][:60]}")
                continue
            print(f"{name:<18} {target:<6} {r['batch_programs_per_s']:>13.0f} "
                  f"{r['single_programs_per_s']:>14.0f} {r['rows_per_program']:>10.2f}",
                  flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"num_features": len(FEATURE_NAMES), "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
