"""Fully connected layers: ``data @ weight.T``, optionally with bias and ReLU."""

from __future__ import annotations

import numpy as np

from .. import te
from ._shapes import require_positive
from .registry import register_workload


def _dense(M: int, N: int, K: int) -> tuple[te.Tensor, te.Tensor, te.Tensor]:
    require_positive(M=M, N=N, K=K)
    data = te.placeholder((M, K), "float32", name="data")
    weight = te.placeholder((N, K), "float32", name="weight")
    k = te.reduce_axis(K, name="k")
    out = te.compute(
        (M, N), lambda i, j: te.sum(data[i, k] * weight[j, k], axis=k), name="dense"
    )
    return data, weight, out


def dense_reference(data: np.ndarray, weight: np.ndarray, **_) -> tuple[np.ndarray]:
    return (data.astype(np.float64) @ weight.astype(np.float64).T,)


@register_workload("dense", reference=dense_reference)
def dense(M: int = 128, N: int = 768, K: int = 768) -> list[te.Tensor]:
    """Dense layer ``out[i, j] = sum_k data[i, k] * weight[j, k]``; data (M, K), weight (N, K)."""
    return list(_dense(M, N, K))


def dense_bias_relu_reference(
    data: np.ndarray, weight: np.ndarray, bias: np.ndarray, **_
) -> tuple[np.ndarray]:
    (out,) = dense_reference(data, weight)
    return (np.maximum(out + bias.astype(np.float64), 0.0),)


@register_workload("dense_bias_relu", reference=dense_bias_relu_reference)
def dense_bias_relu(M: int = 128, N: int = 768, K: int = 768) -> list[te.Tensor]:
    """Dense layer then ``relu(x + bias[j])`` as a second compute; bias is (N,)."""
    data, weight, out = _dense(M, N, K)
    bias = te.placeholder((N,), "float32", name="bias")
    relu = te.compute((M, N), lambda i, j: te.max(out[i, j] + bias[j], 0.0), name="relu")
    return [data, weight, bias, relu]
