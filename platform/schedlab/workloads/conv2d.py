"""2-D convolutions: NCHW and NHWC layouts, and NCHW fused with bias and ReLU.

Parameters shared by every convolution: batch ``N``, input channels ``C``, input height and
width ``H``, ``W``, output channels ``K``, kernel height and width ``R``, ``S``, and ``stride``,
``pad`` (zeros on every side of H and W) and ``dilation``, each the same along H and W. The
defaults are the 3x3 convolution of ResNet-50's second stage.
"""

from __future__ import annotations

import numpy as np

from .. import te
from ._shapes import (
    pad_array,
    pad_nchw,
    pad_nhwc,
    require_nonnegative,
    require_positive,
    window_output_size,
    windows,
)
from .registry import register_workload


def _check(N, C, H, W, K, R, S, stride, pad, dilation) -> tuple[int, int]:
    require_positive(N=N, C=C, H=H, W=W, K=K, R=R, S=S, stride=stride, dilation=dilation)
    require_nonnegative(pad=pad)
    return (window_output_size("H", H, R, stride, pad, dilation),
            window_output_size("W", W, S, stride, pad, dilation))


def _conv2d_nchw(N, C, H, W, K, R, S, stride, pad, dilation):
    P, Q = _check(N, C, H, W, K, R, S, stride, pad, dilation)
    data = te.placeholder((N, C, H, W), "float32", name="data")
    weight = te.placeholder((K, C, R, S), "float32", name="weight")
    padded = pad_nchw(data, pad)
    rc = te.reduce_axis(C, name="rc")
    ry = te.reduce_axis(R, name="ry")
    rx = te.reduce_axis(S, name="rx")
    conv = te.compute(
        (N, K, P, Q),
        lambda n, k, p, q: te.sum(
            padded[n, rc, p * stride + ry * dilation, q * stride + rx * dilation]
            * weight[k, rc, ry, rx],
            axis=[rc, ry, rx],
        ),
        name="conv2d",
    )
    return data, weight, conv


def conv2d_nchw_reference(
    data: np.ndarray, weight: np.ndarray, *, stride: int, pad: int, dilation: int, **_
) -> tuple[np.ndarray]:
    K, _, R, S = weight.shape
    x = pad_array(data.astype(np.float64), pad)
    w = weight.astype(np.float64)
    P = (x.shape[2] - dilation * (R - 1) - 1) // stride + 1
    Q = (x.shape[3] - dilation * (S - 1) - 1) // stride + 1
    out = np.zeros((data.shape[0], K, P, Q))
    for ry in range(R):
        for rx in range(S):
            tap = windows(x, ry, rx, P, Q, stride, dilation)  # (N, C, P, Q)
            out += np.einsum("ncpq,kc->nkpq", tap, w[:, :, ry, rx], optimize=True)
    return (out,)


@register_workload("conv2d_nchw", reference=conv2d_nchw_reference)
def conv2d_nchw(
    N: int = 1, C: int = 64, H: int = 56, W: int = 56, K: int = 64, R: int = 3, S: int = 3,
    stride: int = 1, pad: int = 1, dilation: int = 1,
) -> list[te.Tensor]:
    """Convolution of data (N, C, H, W) with weight (K, C, R, S) into (N, K, P, Q).

    Padding is its own compute ``pad`` (absent when ``pad`` is 0), then ``conv2d`` reduces over
    ``rc``, ``ry``, ``rx``.
    """
    return list(_conv2d_nchw(N, C, H, W, K, R, S, stride, pad, dilation))


def conv2d_nhwc_reference(
    data: np.ndarray, weight: np.ndarray, *, stride: int, pad: int, dilation: int, **_
) -> tuple[np.ndarray]:
    R, S, _, K = weight.shape
    x = pad_array(data.astype(np.float64), pad, h_axis=1)
    w = weight.astype(np.float64)
    P = (x.shape[1] - dilation * (R - 1) - 1) // stride + 1
    Q = (x.shape[2] - dilation * (S - 1) - 1) // stride + 1
    out = np.zeros((data.shape[0], P, Q, K))
    for ry in range(R):
        for rx in range(S):
            tap = windows(x, ry, rx, P, Q, stride, dilation, h_axis=1)  # (N, P, Q, C)
            out += tap @ w[ry, rx]
    return (out,)


@register_workload("conv2d_nhwc", reference=conv2d_nhwc_reference)
def conv2d_nhwc(
    N: int = 1, C: int = 64, H: int = 56, W: int = 56, K: int = 64, R: int = 3, S: int = 3,
    stride: int = 1, pad: int = 1, dilation: int = 1,
) -> list[te.Tensor]:
    """Convolution of data (N, H, W, C) with weight (R, S, C, K) ("HWIO") into (N, P, Q, K)."""
    P, Q = _check(N, C, H, W, K, R, S, stride, pad, dilation)
    data = te.placeholder((N, H, W, C), "float32", name="data")
    weight = te.placeholder((R, S, C, K), "float32", name="weight")
    padded = pad_nhwc(data, pad)
    ry = te.reduce_axis(R, name="ry")
    rx = te.reduce_axis(S, name="rx")
    rc = te.reduce_axis(C, name="rc")
    conv = te.compute(
        (N, P, Q, K),
        lambda n, p, q, k: te.sum(
            padded[n, p * stride + ry * dilation, q * stride + rx * dilation, rc]
            * weight[ry, rx, rc, k],
            axis=[ry, rx, rc],
        ),
        name="conv2d",
    )
    return [data, weight, conv]


def conv2d_bias_relu_reference(
    data: np.ndarray, weight: np.ndarray, bias: np.ndarray, **params
) -> tuple[np.ndarray]:
    (conv,) = conv2d_nchw_reference(data, weight, **params)
    return (np.maximum(conv + bias.astype(np.float64)[:, None, None], 0.0),)


@register_workload("conv2d_bias_relu", reference=conv2d_bias_relu_reference)
def conv2d_bias_relu(
    N: int = 1, C: int = 64, H: int = 56, W: int = 56, K: int = 64, R: int = 3, S: int = 3,
    stride: int = 1, pad: int = 1, dilation: int = 1,
) -> list[te.Tensor]:
    """NCHW convolution, then ``relu(conv + bias[k])`` as its own compute; bias is (K,)."""
    data, weight, conv = _conv2d_nchw(N, C, H, W, K, R, S, stride, pad, dilation)
    bias = te.placeholder((K,), "float32", name="bias")
    relu = te.compute(
        conv.shape, lambda n, k, p, q: te.max(conv[n, k, p, q] + bias[k], 0.0), name="relu"
    )
    return [data, weight, bias, relu]
