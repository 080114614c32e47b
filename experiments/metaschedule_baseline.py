"""TVM MetaSchedule baseline: tune one catalogue workload with MetaSchedule and time the result.

The tuning benchmark runs this script as a subprocess, possibly under another interpreter (a
venv with ``pip install -e '.[tvm]'`` or any venv holding apache-tvm), so a MetaSchedule crash
cannot take the benchmark down. It does not import schedlab: the workloads are written again
with ``tvm.te``, mirroring ``schedlab.workloads`` exactly (same layouts, tensor roles, shapes,
padding as its own compute, bias+ReLU as its own compute), and so is the FLOP count
(``dag.flop_count``: 2 per multiply-add, 1 per add and 1 per max of an elementwise stage,
padding free).

    python experiments/metaschedule_baseline.py --workload matmul --trials 256 --seed 0 \\
        --work-dir /tmp/ms_matmul --json out.json [--num-cores N] [--mcpu CPU] [--export LIB]

With ``--export LIB`` the best kernel is also saved as a shared library, and

    python experiments/metaschedule_baseline.py --workload matmul --seed 0 --retime LIB \\
        --json out.json

times that library again (same inputs and timing as below, nothing tuned), so that a
benchmark can time MetaSchedule's best and its own side by side, minutes after tuning.

Workloads (fp32):
  - ``matmul``: C[i, j] = sum_k A[i, k] * B[k, j], M = N = K = 1024
  - ``conv2d`` (``conv2d_nchw``): NCHW data (1, 64, 56, 56), weight (64, 64, 3, 3), stride 1,
    pad 1 (a separate ``pad`` compute)
  - ``dense_bias_relu``: relu(data @ weight.T + bias), data (128, 768), weight (3072, 768)
  - ``batch_matmul``: C[b, i, j] = sum_k X[b, i, k] * Y[b, k, j], B = 16, M = N = K = 128

Tuning: ``tune_tir`` with ``max_trials_global = --trials``, 64 trials per iteration, the given
seed, every other setting at MetaSchedule's default (evolutionary search, XGBoost cost model,
local runner) except that the local builder runs ``--num-cores`` workers (default: the cores
this process may run on) with a build function that skips registering TVM's tensor intrinsics
(see ``build_without_intrinsics``). Target: ``{"kind": "llvm", "mcpu": <host CPU or --mcpu>,
"num-cores": N}``; ``TVM_NUM_THREADS`` is set to N too, for the measuring workers and the final
timing alike. The best schedule in the database is then built again, checked against numpy
(float64 reference; an error is allowed up to 1e-4 of the output's largest magnitude plus 1e-4
of the element, as schedlab's differential tests do) and timed with ``time_evaluator``
(repeat 3, at least 100 ms each, median).

Output: one line on stdout starting ``metaschedule:`` and, with ``--json``, an object with
``workload``, ``params``, ``trials``, ``seed``, ``best_latency_s``, ``gflops``, ``flop_count``,
``tune_wall_s`` (the ``tune_tir`` call only: search, builds and measurements, not importing
TVM nor the final check), ``trials_measured`` (records in the database),
``trials_failed`` (those without a valid run time), ``tuned_latency_s`` (the best run time
seen while tuning), ``max_abs_err``, ``num_cores``, ``target``, ``tvm_version``,
``tvm_ffi_version`` and ``error`` (null on success; otherwise whatever numbers are filled in
are for diagnosis only and must not be compared). The JSON file is written once before
tuning with an ``error`` saying the run did not finish, so a process that dies in native code
still leaves an explanation behind.

Exit codes: 0 success; 1 the run finished without a usable number (tuning raised, no valid
trial, or the tuned kernel disagrees with numpy; ``error`` in the JSON says which); 2 the run
could not start (apache-tvm is not installed, bad arguments, or ``--work-dir`` already holds a
MetaSchedule database, whose records would be reused and skew the trial budget).

Known requirements (apache-tvm 0.27): apache-tvm-ffi 0.1.14.post1 (0.1.15 crashes while the
JSON database is saved), plus xgboost, psutil and cloudpickle for the default cost model and
worker pools.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import traceback

# numpy only computes the reference here; its BLAS threads would otherwise keep spinning on the
# same two cores that the tuned kernel is timed on.
os.environ["OPENBLAS_NUM_THREADS"] = "1"

try:
    import numpy as np
except ImportError:  # reported by main() with the same message as a missing tvm
    np = None

WORKLOADS = {
    "matmul": dict(M=1024, N=1024, K=1024),
    "conv2d": dict(N=1, C=64, H=56, W=56, K=64, R=3, S=3, stride=1, pad=1),
    "dense_bias_relu": dict(M=128, N=3072, K=768),
    "batch_matmul": dict(B=16, M=128, N=128, K=128),
}
# schedlab's catalogue names for the same workloads.
ALIASES = {"conv2d_nchw": "conv2d"}

RTOL = 1e-4  # schedlab.testing.differential.RTOL
TRIALS_PER_ITER = 64
TIMING_REPEAT = 3
TIMING_MIN_REPEAT_MS = 100
DATABASE_FILES = ("database_workload.json", "database_tuning_record.json")


class RunError(Exception):
    """A failure that ends the run with a message in the JSON rather than a traceback."""


# --------------------------------------------------------------------------- workloads
# Each builder returns (tensors: inputs then output, reference(*inputs) -> output, flops).


def _matmul(te, M, N, K):
    A = te.placeholder((M, K), "float32", name="A")
    B = te.placeholder((K, N), "float32", name="B")
    k = te.reduce_axis((0, K), name="k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")

    def reference(a, b):
        return a.astype(np.float64) @ b.astype(np.float64)

    return [A, B, C], reference, 2 * M * N * K


def _batch_matmul(te, B, M, N, K):
    X = te.placeholder((B, M, K), "float32", name="X")
    Y = te.placeholder((B, K, N), "float32", name="Y")
    k = te.reduce_axis((0, K), name="k")
    C = te.compute(
        (B, M, N), lambda b, i, j: te.sum(X[b, i, k] * Y[b, k, j], axis=k), name="C"
    )

    def reference(x, y):
        return np.matmul(x.astype(np.float64), y.astype(np.float64))

    return [X, Y, C], reference, 2 * B * M * N * K


def _dense_bias_relu(te, M, N, K):
    data = te.placeholder((M, K), "float32", name="data")
    weight = te.placeholder((N, K), "float32", name="weight")
    k = te.reduce_axis((0, K), name="k")
    dense = te.compute(
        (M, N), lambda i, j: te.sum(data[i, k] * weight[j, k], axis=k), name="dense"
    )
    bias = te.placeholder((N,), "float32", name="bias")
    relu = te.compute(
        (M, N), lambda i, j: te.max(dense[i, j] + bias[j], te.const(0.0, "float32")),
        name="relu",
    )

    def reference(d, w, b):
        out = d.astype(np.float64) @ w.astype(np.float64).T
        return np.maximum(out + b.astype(np.float64), 0.0)

    # The dense reduction plus one add and one max per output element.
    return [data, weight, bias, relu], reference, 2 * M * N * K + 2 * M * N


def _conv2d(te, N, C, H, W, K, R, S, stride, pad):
    P = (H + 2 * pad - R) // stride + 1
    Q = (W + 2 * pad - S) // stride + 1
    data = te.placeholder((N, C, H, W), "float32", name="data")
    weight = te.placeholder((K, C, R, S), "float32", name="weight")
    # Padding is a compute of its own, as in schedlab, so both tuners see the same graph.
    padded = te.compute(
        (N, C, H + 2 * pad, W + 2 * pad),
        lambda n, c, h, w: te.if_then_else(
            te.all(h >= pad, h < H + pad, w >= pad, w < W + pad),
            data[n, c, h - pad, w - pad],
            te.const(0.0, "float32"),
        ),
        name="pad",
    )
    rc = te.reduce_axis((0, C), name="rc")
    ry = te.reduce_axis((0, R), name="ry")
    rx = te.reduce_axis((0, S), name="rx")
    conv = te.compute(
        (N, K, P, Q),
        lambda n, k, p, q: te.sum(
            padded[n, rc, p * stride + ry, q * stride + rx] * weight[k, rc, ry, rx],
            axis=[rc, ry, rx],
        ),
        name="conv2d",
    )

    def reference(d, w):
        x = np.pad(d.astype(np.float64), [(0, 0), (0, 0), (pad, pad), (pad, pad)])
        w64 = w.astype(np.float64)
        out = np.zeros((N, K, P, Q))
        for y in range(R):
            for z in range(S):
                tap = x[:, :, y : y + (P - 1) * stride + 1 : stride,
                        z : z + (Q - 1) * stride + 1 : stride]
                out += np.einsum("ncpq,kc->nkpq", tap, w64[:, :, y, z], optimize=True)
        return out

    # Padding selects, it does no arithmetic: schedlab counts it as free.
    return [data, weight, conv], reference, 2 * N * K * P * Q * C * R * S


BUILDERS = {
    "matmul": _matmul,
    "conv2d": _conv2d,
    "dense_bias_relu": _dense_bias_relu,
    "batch_matmul": _batch_matmul,
}


# --------------------------------------------------------------------------- helpers


def compare(out: np.ndarray, ref: np.ndarray) -> tuple[bool, float]:
    """Whether ``out`` matches ``ref`` (schedlab's rule: ``RTOL`` of the largest reference
    magnitude, at least 1, plus ``RTOL`` of each element), and the largest absolute error."""
    out64 = out.astype(np.float64)
    if out64.shape != ref.shape or not np.all(np.isfinite(out64)):
        return False, float("inf")
    err = np.abs(out64 - ref)
    scale = max(1.0, float(np.abs(ref).max()))
    return bool(np.all(err <= RTOL * scale + RTOL * np.abs(ref))), float(err.max())


def write_json(path: str | None, result: dict) -> None:
    if not path:
        return
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)  # the benchmark never reads a half-written file


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Tune one workload with TVM MetaSchedule and report the best latency."
    )
    parser.add_argument("--workload", required=True, choices=sorted([*WORKLOADS, *ALIASES]))
    parser.add_argument("--trials", type=int, help="max_trials_global")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir",
                        help="MetaSchedule's logs and database (must not hold a database)")
    parser.add_argument("--export", help="also save the best kernel as this shared library")
    parser.add_argument("--retime", metavar="LIB",
                        help="only time a library saved by --export (no tuning)")
    parser.add_argument("--json", help="write the result object here")
    parser.add_argument("--num-cores", type=int, default=len(os.sched_getaffinity(0)),
                        help="threads for the kernel and build workers (default: %(default)s)")
    parser.add_argument("--mcpu", help="LLVM CPU name for the target (default: the host's)")
    args = parser.parse_args(argv)
    args.workload = ALIASES.get(args.workload, args.workload)
    if args.retime is None and (args.trials is None or args.work_dir is None):
        parser.error("--trials and --work-dir are required unless --retime is given")
    if args.trials is not None and args.trials < 1:
        parser.error("--trials must be at least 1")
    if args.num_cores < 1:
        parser.error("--num-cores must be at least 1")
    return args


# --------------------------------------------------------------------------- the run


def build_without_intrinsics(mod, target, _params):
    """MetaSchedule's default build function without its ``import tvm.s_tir.tensor_intrin``.

    That import registers every tensor intrinsic TVM has, mostly GPU ones, by parsing
    TVMScript: about 18 s of CPU on this machine, paid again by every build worker because
    the builder starts a fresh worker pool for each batch. On two cores this pushed every
    1024^3 matmul build past the builder's 30 s timeout, and it would count as tuning time
    although no fp32 CPU kernel uses those intrinsics (tensorized code arrives here already
    expanded). Everything else is as in the default build.
    """
    from tvm.driver import build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    return build(mod, target=target)


def tune_and_time(args: argparse.Namespace, result: dict) -> None:
    """Tune, check and time; fills ``result`` as it goes and raises ``RunError`` on failure."""
    import tvm
    import tvm.s_tir.tensor_intrin  # noqa: F401  registers tensor intrinsics the rules look up
    from tvm import te
    from tvm.s_tir import meta_schedule as ms
    from tvm.target import codegen

    mcpu = args.mcpu or codegen.llvm_get_system_cpu()
    # The dict form is the one that carries num-cores; MetaSchedule reads it for the thread
    # count of its parallel loops and refuses a CPU target without it.
    target = tvm.target.Target({"kind": "llvm", "mcpu": mcpu, "num-cores": args.num_cores})
    result["target"] = str(target)

    params = WORKLOADS[args.workload]
    tensors, reference, flops = BUILDERS[args.workload](te, **params)
    result["flop_count"] = flops
    func = te.create_prim_func(tensors)

    os.makedirs(args.work_dir, exist_ok=True)

    start = time.perf_counter()
    try:
        database = ms.tune_tir(
            func,
            target,
            args.work_dir,
            max_trials_global=args.trials,
            num_trials_per_iter=TRIALS_PER_ITER,
            builder=ms.builder.LocalBuilder(
                max_workers=args.num_cores, f_build=build_without_intrinsics
            ),
            num_tuning_cores=args.num_cores,
            seed=args.seed,
        )
    except Exception as err:  # any tuner failure becomes a reported error
        raise RunError(f"tune_tir failed: {type(err).__name__}: {err}") from err
    result["tune_wall_s"] = time.perf_counter() - start

    records = database.get_all_tuning_records()
    valid = [min(float(s) for s in r.run_secs) for r in records
             if r.run_secs and all(0 < float(s) < 1e9 for s in r.run_secs)]
    result["trials_measured"] = len(records)
    result["trials_failed"] = len(records) - len(valid)
    result["tuned_latency_s"] = min(valid) if valid else None

    sch = ms.tir_integration.compile_tir(database, func, target)
    if sch is None:
        raise RunError("no valid schedule in the database (every trial failed)")
    # Built exactly as the tuner's builder built what it measured.
    rt_mod = build_without_intrinsics(sch.mod, target, None)

    if args.export:
        rt_mod.export_library(args.export)
    check_and_time(args, rt_mod, tensors, reference, flops, result)


def check_and_time(args, rt_mod, tensors, reference, flops, result: dict) -> None:
    """Check ``rt_mod`` against numpy and time it; fills ``result``."""
    import tvm

    rng = np.random.default_rng(args.seed)
    dev = tvm.cpu(0)
    inputs = [rng.uniform(-1.0, 1.0, size=[int(d) for d in t.shape]).astype("float32")
              for t in tensors[:-1]]
    out_shape = [int(d) for d in tensors[-1].shape]
    # The buffers are placed as schedlab's measuring process places its own (aligned, on huge
    # pages), so both kernels are timed on the same kind of memory.
    buffers = _schedlab_buffers()
    args_nd = [tvm.runtime.from_dlpack(buffers.aligned_copy(x)) for x in inputs]
    args_nd.append(tvm.runtime.from_dlpack(buffers.aligned_zeros(out_shape, "float32")))
    rt_mod(*args_nd)
    ok, max_err = compare(args_nd[-1].numpy(), reference(*inputs))
    result["max_abs_err"] = max_err

    # number=1 grows until one repeat lasts min_repeat_ms, as schedlab's timer does.
    timer = rt_mod.time_evaluator(rt_mod.entry_name, dev, number=1, repeat=TIMING_REPEAT,
                                  min_repeat_ms=TIMING_MIN_REPEAT_MS)
    latency = statistics.median(timer(*args_nd).results)
    result["best_latency_s"] = latency
    result["gflops"] = flops / latency / 1e9
    if not ok:
        raise RunError(f"tuned kernel disagrees with numpy: max abs error {max_err:.3g}")


def _schedlab_buffers():
    """``schedlab.measure.buffers``, loaded from its file: this interpreter has TVM and need
    not have schedlab's dependencies."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "platform",
                        "schedlab", "measure", "buffers.py")
    spec = importlib.util.spec_from_file_location("schedlab_measure_buffers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def retime(args: argparse.Namespace, result: dict) -> None:
    """Load a library saved by ``--export`` and check and time it again."""
    import tvm
    from tvm import te

    params = WORKLOADS[args.workload]
    tensors, reference, flops = BUILDERS[args.workload](te, **params)
    result["flop_count"] = flops
    check_and_time(args, tvm.runtime.load_module(args.retime), tensors, reference, flops,
                   result)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The TVM runtime sizes its thread pool from this when it starts (here and in the runner's
    # worker processes, which inherit it), so tuning and the final timing use the same cores.
    os.environ["TVM_NUM_THREADS"] = str(args.num_cores)
    try:
        if np is None:
            raise ImportError("No module named 'numpy'")
        import tvm
        import tvm_ffi
    except ImportError as err:
        print(f"metaschedule_baseline: apache-tvm is not installed in {sys.executable} ({err}); "
              "install it with: pip install -e '.[tvm]'", file=sys.stderr)
        return 2
    # Records in an existing database would count as measured, so they would shrink the
    # trial budget and could hand back a schedule found in another run.
    if args.retime is None and any(os.path.exists(os.path.join(args.work_dir, f))
                                   for f in DATABASE_FILES):
        print(f"metaschedule_baseline: {args.work_dir} already holds a MetaSchedule database; "
              "use a fresh --work-dir", file=sys.stderr)
        return 2

    result = {
        "workload": args.workload,
        "params": WORKLOADS[args.workload],
        "trials": args.trials,
        "seed": args.seed,
        "best_latency_s": None,
        "gflops": None,
        "flop_count": None,
        "tune_wall_s": None,
        "trials_measured": None,
        "trials_failed": None,
        "tuned_latency_s": None,
        "max_abs_err": None,
        "num_cores": args.num_cores,
        "target": None,
        "tvm_version": tvm.__version__,
        "tvm_ffi_version": getattr(tvm_ffi, "__version__", None),
        "error": "the run did not finish (the process died, e.g. in TVM's native code)",
    }
    write_json(args.json, result)
    try:
        if args.retime:
            retime(args, result)
        else:
            tune_and_time(args, result)
        result["error"] = None
    except RunError as err:
        result["error"] = str(err)
    except Exception as err:  # report it in the JSON rather than crash
        traceback.print_exc()
        result["error"] = f"{type(err).__name__}: {err}"
    write_json(args.json, result)

    def fmt(value, spec):
        return "n/a" if value is None else format(value, spec)

    print(f"metaschedule: workload={args.workload} trials={args.trials} seed={args.seed} "
          f"measured={result['trials_measured']} best_latency_s="
          f"{fmt(result['best_latency_s'], '.6g')} gflops={fmt(result['gflops'], '.1f')} "
          f"tune_wall_s={fmt(result['tune_wall_s'], '.1f')} tvm={result['tvm_version']} "
          f"error={result['error']}", flush=True)
    return 0 if result["error"] is None else 1


if __name__ == "__main__":
    sys.exit(main())
