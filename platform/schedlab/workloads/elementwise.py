"""A chain of element-wise operations (a fusion and inlining test case)."""

from __future__ import annotations

import numpy as np

from .. import te
from ._shapes import require_positive
from .registry import register_workload


def elementwise_chain_reference(x: np.ndarray, **_) -> tuple[np.ndarray]:
    sig = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    return (np.tanh(sig * 2.0 + 1.0),)


@register_workload("elementwise_chain", reference=elementwise_chain_reference)
def elementwise_chain(M: int = 1024, N: int = 1024) -> list[te.Tensor]:
    """``tanh(sigmoid(x) * 2 + 1)`` on x (M, N), one compute per step: sigmoid, affine, tanh."""
    require_positive(M=M, N=N)
    x = te.placeholder((M, N), "float32", name="x")
    sig = te.compute((M, N), lambda i, j: te.sigmoid(x[i, j]), name="sigmoid")
    affine = te.compute((M, N), lambda i, j: sig[i, j] * 2.0 + 1.0, name="affine")
    out = te.compute((M, N), lambda i, j: te.tanh(affine[i, j]), name="tanh")
    return [x, out]
