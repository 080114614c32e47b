"""Small computations with numpy references, for differential tests of the compiler.

:data:`SMALL_TASKS` are hand-written to reach the corners of lowering and code generation:
sizes that no tile divides, padding built with ``te.select``, reduction chains, stencils,
integer and mixed-precision arithmetic, an output that another output reads.
:func:`catalogue_tasks` gives every catalogue workload at a small, odd shape. A task's
:func:`task_spec` rebuilds it in another process.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .. import te
from ..task import Task

__all__ = ["SMALL_TASKS", "catalogue_tasks", "small_tasks", "task_from_spec", "task_spec"]


# Small catalogue shapes on which sketch-derived programs compile in tens of milliseconds
# (used by the annotation tests and experiments/check_space.py).
SPACE_CHECK_SHAPES = {
    "matmul": dict(M=48, N=40, K=24),
    "batch_matmul": dict(B=2, M=16, N=24, K=8),
    "dense": dict(M=12, N=20, K=16),
    "dense_bias_relu": dict(M=12, N=20, K=16),
    "conv2d_nchw": dict(N=1, C=4, H=9, W=10, K=6, R=3, S=3, stride=1, pad=1),
    "conv2d_nhwc": dict(N=1, C=4, H=9, W=10, K=6, R=3, S=3, stride=2, pad=1),
    "conv2d_bias_relu": dict(N=1, C=4, H=8, W=8, K=8, R=3, S=3, stride=1, pad=1),
    "depthwise_conv2d_nchw": dict(N=1, C=6, H=10, W=12, R=3, S=3, stride=1, pad=1),
    "softmax": dict(M=3, N=200),
    "layer_norm": dict(M=6, N=40),
    "max_pool2d": dict(N=1, C=4, H=12, W=12, R=3, S=3, stride=2, pad=1),
    "elementwise_chain": dict(M=10, N=36),
}

def _matmul() -> Task:
    M, N, K = 37, 29, 19
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    k = te.reduce_axis(K, name="k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    return Task("matmul_37x29x19", [A, B, C], reference=lambda a, b: (a @ b,))


def _matmul_bias_relu() -> Task:
    M, N, K = 24, 20, 13
    A = te.placeholder((M, K), name="A")
    W = te.placeholder((K, N), name="W")
    bias = te.placeholder((N,), name="bias")
    k = te.reduce_axis(K, name="k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * W[k, j], axis=k), name="C")
    D = te.compute((M, N), lambda i, j: C[i, j] + bias[j], name="D")
    E = te.compute((M, N), lambda i, j: te.max(D[i, j], 0.0), name="E")
    return Task("matmul_bias_relu", [A, W, bias, E],
                reference=lambda a, w, b: (np.maximum(a @ w + b, 0),))


def _conv2d_pad() -> Task:
    N, C, H, W, K, R, S, P = 1, 3, 9, 10, 5, 3, 3, 1
    X = te.placeholder((N, C, H, W), name="X")
    Wt = te.placeholder((K, C, R, S), name="Wt")
    pad = te.compute(
        (N, C, H + 2 * P, W + 2 * P),
        lambda n, c, h, w: te.select(
            te.all(h >= P, h < H + P, w >= P, w < W + P), X[n, c, h - P, w - P], 0.0
        ),
        name="pad",
    )
    rc, rr, rs = te.reduce_axis(C, "rc"), te.reduce_axis(R, "rr"), te.reduce_axis(S, "rs")
    out = te.compute(
        (N, K, H, W),
        lambda n, k, h, w: te.sum(pad[n, rc, h + rr, w + rs] * Wt[k, rc, rr, rs],
                                  axis=[rc, rr, rs]),
        name="conv",
    )

    def reference(x, wt):
        xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
        res = np.zeros((N, K, H, W), np.float64)
        for r in range(R):
            for s in range(S):
                res += np.einsum("nchw,kc->nkhw", xp[:, :, r:r + H, s:s + W], wt[:, :, r, s])
        return (res.astype(np.float32),)

    return Task("conv2d_pad", [X, Wt, out], reference=reference)


def padded_conv_chw(H=11, W=13, C=3, F=4, R=3, P=1, name="conv") -> Task:
    """A single-image CHW conv2d whose padding is a ``select`` stage named ``pad`` (the
    conv stage is ``conv``), with a float64 numpy reference; shared by lowering and
    codegen tests."""
    X = te.placeholder((C, H, W), name="X")
    Wt = te.placeholder((F, C, R, R), name="Wt")
    pad = te.compute(
        (C, H + 2 * P, W + 2 * P),
        lambda c, h, w: te.select(te.all(h >= P, h < H + P, w >= P, w < W + P),
                                  X[c, h - P, w - P], 0.0),
        name="pad",
    )
    rc, rh, rw = te.reduce_axis(C, "rc"), te.reduce_axis(R, "rh"), te.reduce_axis(R, "rw")
    out = te.compute((F, H, W), lambda f, h, w: te.sum(
        pad[rc, h + rh, w + rw] * Wt[f, rc, rh, rw], axis=[rc, rh, rw]), name="conv")

    def reference(x, wt):
        xp = np.pad(x.astype(np.float64), ((0, 0), (P, P), (P, P)))
        res = np.zeros((F, H, W))
        for r in range(R):
            for s in range(R):
                res += np.einsum("chw,fc->fhw", xp[:, r:r + H, s:s + W], wt[:, :, r, s])
        return (res,)

    return Task(name, [X, Wt, out], reference=reference)


def _softmax() -> Task:
    M, N = 7, 23
    X = te.placeholder((M, N), name="X")
    k1 = te.reduce_axis(N, "k1")
    mx = te.compute((M,), lambda i: te.max(X[i, k1], axis=k1), name="mx")
    ex = te.compute((M, N), lambda i, j: te.exp(X[i, j] - mx[i]), name="ex")
    k2 = te.reduce_axis(N, "k2")
    sm = te.compute((M,), lambda i: te.sum(ex[i, k2], axis=k2), name="sm")
    out = te.compute((M, N), lambda i, j: ex[i, j] / sm[i], name="softmax")

    def reference(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True),)

    return Task("softmax_7x23", [X, out], reference=reference)


def _elementwise_chain() -> Task:
    shape = (13, 17)
    A = te.placeholder(shape, name="A")
    B = te.placeholder(shape, name="B")
    s1 = te.compute(shape, lambda i, j: A[i, j] * 2.0 + B[i, j], name="s1")
    s2 = te.compute(shape, lambda i, j: te.tanh(s1[i, j]), name="s2")
    s3 = te.compute(shape, lambda i, j: te.sigmoid(s2[i, j]) - te.exp(-te.abs(A[i, j])),
                    name="s3")
    out = te.compute(shape, lambda i, j: te.min(s3[i, j], B[i, j]) + s1[i, j], name="out")

    def reference(a, b):
        t1 = a * 2 + b
        t3 = 1 / (1 + np.exp(-np.tanh(t1))) - np.exp(-np.abs(a))
        return (np.minimum(t3, b) + t1,)

    return Task("elementwise_chain", [A, B, out], reference=reference)


def _batch_matmul() -> Task:
    Bt, M, N, K = 3, 11, 9, 7
    A = te.placeholder((Bt, M, K), name="A")
    B = te.placeholder((Bt, K, N), name="B")
    k = te.reduce_axis(K, "k")
    C = te.compute((Bt, M, N), lambda b, i, j: te.sum(A[b, i, k] * B[b, k, j], axis=k),
                   name="C")
    return Task("batch_matmul", [A, B, C], reference=lambda a, b: (a @ b,))


def _int_matmul() -> Task:
    M, N, K = 12, 10, 6
    A = te.placeholder((M, K), "int32", name="A")
    B = te.placeholder((K, N), "int32", name="B")
    k = te.reduce_axis(K, "k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    return Task("int32_matmul", [A, B, C], reference=lambda a, b: (a @ b,))


def _max_pool() -> Task:
    C, H, W, R, S = 2, 11, 9, 3, 3
    OH, OW = (H - R) // 2 + 1, (W - S) // 2 + 1
    X = te.placeholder((C, H, W), name="X")
    rr, rs = te.reduce_axis(R, "rr"), te.reduce_axis(S, "rs")
    out = te.compute((C, OH, OW),
                     lambda c, h, w: te.max(X[c, 2 * h + rr, 2 * w + rs], axis=[rr, rs]),
                     name="pool")

    def reference(x):
        res = np.full((C, OH, OW), -np.inf, np.float32)
        for r in range(R):
            for s in range(S):
                res = np.maximum(res, x[:, r:r + 2 * OH:2, s:s + 2 * OW:2])
        return (res,)

    return Task("max_pool", [X, out], reference=reference)


def _stencil_names() -> Task:
    # Axis "i_0" prints like split part "i.0": loop variables must still be kept apart.
    A = te.placeholder((23,), name="A")
    P = te.compute((23,), lambda x: te.exp(A[x]), name="P")
    C = te.compute((9, 12), lambda i, i_0: P[i + i_0] - P[i + i_0 + 2] * 0.5, name="C")

    def reference(a):
        e = np.exp(a.astype(np.float64))
        idx = np.arange(9)[:, None] + np.arange(12)[None, :]
        return ((e[idx] - e[idx + 2] * 0.5).astype(np.float32),)

    return Task("stencil_names", [A, C], reference=reference)


def _int_ops() -> Task:
    shape = (10, 14)
    A = te.placeholder(shape, "int32", name="A")
    B = te.placeholder(shape, "int32", name="B")
    D = te.compute(shape, lambda i, j: A[i, j] // 3 + (A[i, j] % 5) * B[j % 10, i]
                   - te.max(A[i, j], B[i, j]), name="D")
    k = te.reduce_axis(14, "k")
    E = te.compute((10,), lambda i: te.min(D[i, k] * 2 - B[i, k], axis=k), name="E")

    def reference(a, b):
        jj, ii = np.meshgrid(np.arange(14), np.arange(10))
        d = a // 3 + (a % 5) * b[jj % 10, ii] - np.maximum(a, b)
        return d, (d * 2 - b).min(axis=1)

    return Task("int_ops", [A, B, D, E], reference=reference)


def _mixed_dtypes() -> Task:
    M, N, K = 9, 11, 5
    A = te.placeholder((M, K), "float64", name="A")
    B = te.placeholder((K, N), "float32", name="B")
    bias = te.placeholder((N,), "int32", name="bias")
    k = te.reduce_axis(K, "k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * te.cast("float64", B[k, j]), axis=k),
                   name="C")
    D = te.compute((M, N), lambda i, j: te.cast("float32", C[i, j])
                   + te.cast("float32", bias[j]) * 0.25, name="D")
    T = te.compute((N, M), lambda j, i: te.sqrt(te.abs(D[i, j])) + A[i, j % K], name="T")

    def reference(a, b, bias):
        c = a @ b.astype(np.float64)
        d = c.astype(np.float32) + bias.astype(np.float32) * 0.25
        jj = np.arange(N) % K
        t = np.sqrt(np.abs(d)).T.astype(np.float64) + a[:, jj].T
        return c, t

    return Task("mixed_dtypes", [A, B, bias, C, T], reference=reference)


SMALL_TASKS: dict[str, Callable[[], Task]] = {
    "matmul_37x29x19": _matmul,
    "matmul_bias_relu": _matmul_bias_relu,
    "conv2d_pad": _conv2d_pad,
    "softmax_7x23": _softmax,
    "elementwise_chain": _elementwise_chain,
    "batch_matmul": _batch_matmul,
    "int32_matmul": _int_matmul,
    "max_pool": _max_pool,
    "stencil_names": _stencil_names,
    "int_ops": _int_ops,
    "mixed_dtypes": _mixed_dtypes,
}


def small_tasks() -> list[Task]:
    """Fresh copies of the hand-written small tasks."""
    return [build() for build in SMALL_TASKS.values()]


def catalogue_tasks(max_flops: int = 200_000) -> list[Task]:
    """Every catalogue workload at a small shape (empty if there is no catalogue yet).

    Integer parameters are halved, largest first, while the workload accepts the shape,
    until the task costs at most about ``max_flops``; then even sizes above 4 become odd
    (one less), so that few tile sizes divide them.
    """
    try:
        from .. import workloads
    except ImportError:  # pragma: no cover - the catalogue is optional
        return []
    if not hasattr(workloads, "create") or not hasattr(workloads, "list_workloads"):
        return []
    return [_shrunk(workloads, name, max_flops) for name in workloads.list_workloads()]


def _shrunk(workloads, name: str, max_flops: int) -> Task:
    params = dict(workloads.get_workload(name).defaults)
    task = workloads.create(name, **params)
    for _ in range(12):
        if _cost(task) <= max_flops:
            break
        shrunk = False
        for key, value in sorted(params.items(), key=lambda kv: -_as_int(kv[1])):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 4:
                continue
            trial = dict(params, **{key: max(3, value // 2)})
            try:
                candidate = workloads.create(name, **trial)
            except ValueError:
                continue
            params, task, shrunk = trial, candidate, True
            break
        if not shrunk:
            break
    # Odd sizes: tiles that do not divide them exercise the guards.
    for key, value in params.items():
        if isinstance(value, int) and not isinstance(value, bool) and value > 4 and value % 2 == 0:
            trial = dict(params, **{key: value - 1})
            try:
                task = workloads.create(name, **trial)
            except ValueError:
                continue
            params = trial
    return task


def _as_int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _cost(task: Task) -> int:
    """Work of one evaluation: flops, or output size for flop-free tasks (copies, ints)."""
    return max(task.flop_count,
               sum(math.prod(op.output.shape) for op in task.dag.compute_ops))


def task_spec(task: Task) -> tuple:
    """A picklable recipe for ``task``: ``("small", name)`` or ``("catalogue", name, params)``."""
    workload = getattr(task, "workload", None)
    if workload is not None:
        return ("catalogue", workload[0], dict(workload[1]))
    if task.name in SMALL_TASKS:
        return ("small", task.name)
    raise ValueError(f"task {task.name!r} is neither a small task nor from the catalogue")


def task_from_spec(spec: tuple) -> Task:
    """The task :func:`task_spec` describes."""
    if spec[0] == "small":
        return SMALL_TASKS[spec[1]]()
    from .. import workloads

    return workloads.create(spec[1], **spec[2])
