"""Layer normalization over the last axis."""

from __future__ import annotations

import numpy as np

from .. import te
from ._shapes import require_positive
from .registry import register_workload


def layer_norm_reference(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, *, eps: float, **_
) -> tuple[np.ndarray]:
    x = x.astype(np.float64)
    mean = x.mean(axis=1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    return ((x - mean) / np.sqrt(var + eps) * gamma + beta,)


@register_workload("layer_norm", reference=layer_norm_reference)
def layer_norm(M: int = 128, N: int = 768, eps: float = 1e-5) -> list[te.Tensor]:
    """``(x - mean) / sqrt(var + eps) * gamma + beta`` over the rows of x (M, N).

    Three computes: row mean, row variance (two-pass, around the mean), and the normalized
    output; gamma and beta are (N,). The defaults are one BERT-base sequence.
    """
    require_positive(M=M, N=N)
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    x = te.placeholder((M, N), "float32", name="x")
    gamma = te.placeholder((N,), "float32", name="gamma")
    beta = te.placeholder((N,), "float32", name="beta")
    inv_n = 1.0 / N
    k = te.reduce_axis(N, name="k")
    mean = te.compute((M,), lambda i: te.sum(x[i, k] * inv_n, axis=k), name="mean")
    k2 = te.reduce_axis(N, name="k")
    var = te.compute(
        (M,),
        lambda i: te.sum((x[i, k2] - mean[i]) * (x[i, k2] - mean[i]) * inv_n, axis=k2),
        name="var",
    )
    out = te.compute(
        (M, N),
        lambda i, j: (x[i, j] - mean[i]) / te.sqrt(var[i] + eps) * gamma[j] + beta[j],
        name="layer_norm",
    )
    return [x, gamma, beta, out]
