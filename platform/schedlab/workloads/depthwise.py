"""Depthwise 2-D convolution (channel multiplier 1), as in MobileNet."""

from __future__ import annotations

import numpy as np

from .. import te
from ._shapes import (
    pad_array,
    pad_nchw,
    require_nonnegative,
    require_positive,
    window_output_size,
    windows,
)
from .registry import register_workload


def depthwise_conv2d_nchw_reference(
    data: np.ndarray, weight: np.ndarray, *, stride: int, pad: int, **_
) -> tuple[np.ndarray]:
    _, _, R, S = weight.shape
    x = pad_array(data.astype(np.float64), pad)
    w = weight.astype(np.float64)[:, 0]  # (C, R, S)
    P = (x.shape[2] - R) // stride + 1
    Q = (x.shape[3] - S) // stride + 1
    out = np.zeros(data.shape[:2] + (P, Q))
    for ry in range(R):
        for rx in range(S):
            out += windows(x, ry, rx, P, Q, stride) * w[None, :, ry, rx, None, None]
    return (out,)


@register_workload("depthwise_conv2d_nchw", reference=depthwise_conv2d_nchw_reference)
def depthwise_conv2d_nchw(
    N: int = 1, C: int = 128, H: int = 56, W: int = 56, R: int = 3, S: int = 3,
    stride: int = 1, pad: int = 1,
) -> list[te.Tensor]:
    """Depthwise convolution of data (N, C, H, W) with weight (C, 1, R, S) into (N, C, P, Q).

    Each channel is convolved with its own R x S filter; zero padding ``pad`` on every side.
    """
    require_positive(N=N, C=C, H=H, W=W, R=R, S=S, stride=stride)
    require_nonnegative(pad=pad)
    P = window_output_size("H", H, R, stride, pad)
    Q = window_output_size("W", W, S, stride, pad)
    data = te.placeholder((N, C, H, W), "float32", name="data")
    weight = te.placeholder((C, 1, R, S), "float32", name="weight")
    padded = pad_nchw(data, pad)
    ry = te.reduce_axis(R, name="ry")
    rx = te.reduce_axis(S, name="rx")
    conv = te.compute(
        (N, C, P, Q),
        lambda n, c, p, q: te.sum(
            padded[n, c, p * stride + ry, q * stride + rx] * weight[c, 0, ry, rx],
            axis=[ry, rx],
        ),
        name="depthwise_conv2d",
    )
    return [data, weight, conv]
