"""Matrix multiplication: plain and batched."""

from __future__ import annotations

import numpy as np

from .. import te
from ._shapes import require_positive
from .registry import register_workload


def matmul_reference(a: np.ndarray, b: np.ndarray, **_) -> tuple[np.ndarray]:
    return (a.astype(np.float64) @ b.astype(np.float64),)


@register_workload("matmul", reference=matmul_reference)
def matmul(M: int = 512, N: int = 512, K: int = 512) -> list[te.Tensor]:
    """Matrix product ``C[i, j] = sum_k A[i, k] * B[k, j]`` with A (M, K), B (K, N)."""
    require_positive(M=M, N=N, K=K)
    A = te.placeholder((M, K), "float32", name="A")
    B = te.placeholder((K, N), "float32", name="B")
    k = te.reduce_axis(K, name="k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    return [A, B, C]


def batch_matmul_reference(a: np.ndarray, b: np.ndarray, **_) -> tuple[np.ndarray]:
    return (np.matmul(a.astype(np.float64), b.astype(np.float64)),)


@register_workload("batch_matmul", reference=batch_matmul_reference)
def batch_matmul(B: int = 16, M: int = 128, N: int = 128, K: int = 64) -> list[te.Tensor]:
    """Batched product ``C[b, i, j] = sum_k X[b, i, k] * Y[b, k, j]``.

    X is (B, M, K) and Y is (B, K, N) (not transposed); the defaults match one BERT-base
    attention score product per head batch.
    """
    require_positive(B=B, M=M, N=N, K=K)
    X = te.placeholder((B, M, K), "float32", name="X")
    Y = te.placeholder((B, K, N), "float32", name="Y")
    k = te.reduce_axis(K, name="k")
    C = te.compute(
        (B, M, N), lambda b, i, j: te.sum(X[b, i, k] * Y[b, k, j], axis=k), name="C"
    )
    return [X, Y, C]
