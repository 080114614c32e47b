"""Row-wise softmax."""

from __future__ import annotations

import numpy as np

from .. import te
from ._shapes import require_positive
from .registry import register_workload


def softmax_reference(x: np.ndarray, **_) -> tuple[np.ndarray]:
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True),)


@register_workload("softmax", reference=softmax_reference)
def softmax(M: int = 256, N: int = 1024) -> list[te.Tensor]:
    """Softmax over the rows of x (M, N), numerically stable, in four computes:
    row maximum, ``exp(x - max)``, row sum, division."""
    require_positive(M=M, N=N)
    x = te.placeholder((M, N), "float32", name="x")
    k = te.reduce_axis(N, name="k")
    row_max = te.compute((M,), lambda i: te.max(x[i, k], axis=k), name="row_max")
    exp = te.compute((M, N), lambda i, j: te.exp(x[i, j] - row_max[i]), name="exp")
    k2 = te.reduce_axis(N, name="k")
    row_sum = te.compute((M,), lambda i: te.sum(exp[i, k2], axis=k2), name="row_sum")
    out = te.compute((M, N), lambda i, j: exp[i, j] / row_sum[i], name="softmax")
    return [x, out]
