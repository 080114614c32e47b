"""Search-space benchmark: sketches, sampling speed, and how good random programs are.

For every catalogue workload: the number of CPU and GPU sketches; how many complete CPU
programs the annotator samples per second on one core (no compile); how many GPU programs
were sampled and passed the verifier (``--gpu-programs``, no GPU needed); and the best of
``--programs`` random CPU programs measured (in a child process, checked against numpy) next
to numpy's time for the same workload in this run. Prints a table; ``--json PATH`` writes it.

    python experiments/bench_space.py [--programs 64] [--only matmul] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

import schedlab
from schedlab.annotate import Annotator
from schedlab.measure import LocalRunner, MeasureConfig, time_kernel
from schedlab.space import generate_sketches, sample_programs

# Sizes as in the codegen benchmark where they exist; the others at their catalogue defaults.
SHAPES = {
    "matmul": dict(M=1024, N=1024, K=1024),
    "conv2d_nchw": dict(N=1, C=64, H=56, W=56, K=64, R=3, S=3, stride=1, pad=1),
    "dense_bias_relu": dict(M=128, N=3072, K=768),
}


def sampling_rate(task, seconds: float = 1.0) -> float:
    """Complete programs per second from the annotator alone (sketches made once)."""
    sketches = generate_sketches(task)
    annotator = Annotator()
    rng = np.random.default_rng(0)
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        sketch = sketches[count % len(sketches)]
        try:
            annotator.complete(sketch, rng)
        except ValueError:
            pass
        count += 1
    return count / (time.perf_counter() - start)


def numpy_seconds(task) -> float:
    """Median seconds of the workload's numpy reference on fresh inputs."""
    inputs = task.random_inputs(seed=0)
    config = MeasureConfig(repeat=3, min_repeat_ms=100)
    return statistics.median(time_kernel(lambda: task.reference(*inputs), (), config))


def gpu_programs(name: str, count: int) -> tuple[int, int]:
    """(GPU sketches, GPU programs sampled that pass the verifier) for a workload."""
    from schedlab.annotate import verify_gpu

    task = schedlab.workloads.create(name, target="cuda", **SHAPES.get(name, {}))
    sketches = generate_sketches(task)
    sampled = sample_programs(task, count, seed=0, sketches=sketches) if count else []
    return len(sketches), sum(1 for p in sampled if not verify_gpu(p))


def run(names: list[str], programs: int, gpu_count: int) -> dict:
    rows = []
    config = MeasureConfig(repeat=3, min_repeat_ms=50, timeout_s=30)
    with LocalRunner(config=config) as runner:
        for name in names:
            task = schedlab.workloads.create(name, **SHAPES.get(name, {}))
            sketches = generate_sketches(task)
            rate = sampling_rate(task)
            gpu_sketches, gpu_ok = gpu_programs(name, gpu_count)
            candidates = sample_programs(task, programs, seed=0, sketches=sketches)
            results = runner.run(candidates)
            ok = [r for r in results if r.ok]
            best = min((r.median for r in ok), default=float("inf"))
            time.sleep(0.3)
            reference = numpy_seconds(task)
            flops = task.flop_count
            rows.append({
                "workload": task.name, "sketches": len(sketches), "samples_per_s": rate,
                "gpu_sketches": gpu_sketches, "gpu_verified": gpu_ok, "gpu_sampled": gpu_count,
                "measured": len(results), "valid": len(ok),
                "errors": sorted({str(r.error_kind) for r in results if not r.ok}),
                "best_gflops": flops / best / 1e9 if ok else 0.0,
                "numpy_gflops": flops / reference / 1e9,
                "best_vs_numpy": reference / best if ok else 0.0,
            })
            print_row(rows[-1])
    return {"programs": programs, "gpu_programs": gpu_count, "rows": rows}


def print_header() -> None:
    print(f"{'workload':<46} {'cpu/gpu':>7} {'samples/s':>9} {'gpu ok':>9} {'valid':>7} "
          f"{'best':>7} {'numpy':>7} {'best/np':>8}")


def print_row(r: dict) -> None:
    sketches = f"{r['sketches']}/{r['gpu_sketches']}"
    print(f"{r['workload'][:46]:<46} {sketches:>7} {r['samples_per_s']:>9.0f} "
          f"{r['gpu_verified']:>4}/{r['gpu_sampled']:<4} {r['valid']:>3}/{r['measured']:<3} "
          f"{r['best_gflops']:>7.1f} {r['numpy_gflops']:>7.1f} {r['best_vs_numpy']:>7.2f}x",
          flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=64, help="random programs per workload")
    parser.add_argument("--gpu-programs", type=int, default=100,
                        help="GPU programs to sample and verify per workload")
    parser.add_argument("--only", nargs="*", help="workload names (default: all)")
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args(argv)
    names = args.only or schedlab.workloads.list_workloads()
    print_header()
    results = run(names, args.programs, args.gpu_programs)
    print("(GFLOP/s of the best valid random program and of numpy, measured in this run)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
