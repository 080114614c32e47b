"""Max pooling over 2-D windows."""

from __future__ import annotations

import numpy as np

from .. import te
from ._shapes import (
    NEG_LARGE,
    pad_array,
    pad_nchw,
    require_nonnegative,
    require_positive,
    window_output_size,
    windows,
)
from .registry import register_workload


def max_pool2d_reference(
    data: np.ndarray, *, R: int, S: int, stride: int, pad: int, **_
) -> tuple[np.ndarray]:
    x = pad_array(data.astype(np.float64), pad, value=-np.inf)
    P = (x.shape[2] - R) // stride + 1
    Q = (x.shape[3] - S) // stride + 1
    out = np.full(data.shape[:2] + (P, Q), -np.inf)
    for ry in range(R):
        for rx in range(S):
            np.maximum(out, windows(x, ry, rx, P, Q, stride), out=out)
    return (out,)


@register_workload("max_pool2d", reference=max_pool2d_reference)
def max_pool2d(
    N: int = 1, C: int = 64, H: int = 112, W: int = 112, R: int = 3, S: int = 3,
    stride: int = 2, pad: int = 1,
) -> list[te.Tensor]:
    """Maximum over R x S windows of data (N, C, H, W) into (N, C, P, Q).

    Padding never wins the maximum; ``pad`` must be smaller than the window so that every
    window overlaps the input. The defaults are ResNet-50's stem pooling.
    """
    require_positive(N=N, C=C, H=H, W=W, R=R, S=S, stride=stride)
    require_nonnegative(pad=pad)
    if pad >= R or pad >= S:
        raise ValueError(f"pad ({pad}) must be smaller than the window ({R}x{S}), or some "
                         "windows would hold padding only")
    P = window_output_size("H", H, R, stride, pad)
    Q = window_output_size("W", W, S, stride, pad)
    data = te.placeholder((N, C, H, W), "float32", name="data")
    padded = pad_nchw(data, pad, value=NEG_LARGE)
    ry = te.reduce_axis(R, name="ry")
    rx = te.reduce_axis(S, name="rx")
    pool = te.compute(
        (N, C, P, Q),
        lambda n, c, p, q: te.max(padded[n, c, p * stride + ry, q * stride + rx], axis=[ry, rx]),
        name="max_pool2d",
    )
    return [data, pool]
