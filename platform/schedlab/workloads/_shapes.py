"""Shape checks and small numpy helpers shared by the workload families."""

from __future__ import annotations

import numpy as np

from .. import te

# Stands in for -inf where padding must never win a max (the largest finite float32).
NEG_LARGE = -3.4e38


def require_positive(**sizes: int) -> None:
    """``ValueError`` naming the first size that is not at least 1."""
    for key, value in sizes.items():
        if value < 1:
            raise ValueError(f"{key} must be positive, got {value}")


def require_nonnegative(**sizes: int) -> None:
    for key, value in sizes.items():
        if value < 0:
            raise ValueError(f"{key} must be non-negative, got {value}")


def window_output_size(
    axis: str, size: int, kernel: int, stride: int, pad: int, dilation: int = 1
) -> int:
    """Output extent of a sliding window along one axis; ``ValueError`` if the window
    (dilated kernel) does not fit in the padded input."""
    span = dilation * (kernel - 1) + 1
    padded = size + 2 * pad
    if span > padded:
        raise ValueError(
            f"kernel along {axis} spans {span} elements (kernel {kernel}, dilation "
            f"{dilation}), larger than the padded input ({size} + 2*{pad} = {padded})"
        )
    return (padded - span) // stride + 1


def pad_nchw(data: te.Tensor, pad: int, value: float = 0.0, name: str = "pad") -> te.Tensor:
    """``data`` (N, C, H, W) with ``pad`` elements of ``value`` around H and W; ``data`` itself
    when ``pad`` is 0."""
    if pad == 0:
        return data
    n_, c_, h_, w_ = data.shape
    return te.compute(
        (n_, c_, h_ + 2 * pad, w_ + 2 * pad),
        lambda n, c, h, w: te.select(
            te.all(h >= pad, h < h_ + pad, w >= pad, w < w_ + pad),
            data[n, c, h - pad, w - pad],
            value,
        ),
        name=name,
    )


def pad_nhwc(data: te.Tensor, pad: int, value: float = 0.0, name: str = "pad") -> te.Tensor:
    """``data`` (N, H, W, C) padded around H and W; ``data`` itself when ``pad`` is 0."""
    if pad == 0:
        return data
    n_, h_, w_, c_ = data.shape
    return te.compute(
        (n_, h_ + 2 * pad, w_ + 2 * pad, c_),
        lambda n, h, w, c: te.select(
            te.all(h >= pad, h < h_ + pad, w >= pad, w < w_ + pad),
            data[n, h - pad, w - pad, c],
            value,
        ),
        name=name,
    )


def windows(padded: np.ndarray, ry: int, rx: int, out_h: int, out_w: int, stride: int,
            dilation: int = 1, h_axis: int = 2) -> np.ndarray:
    """The input elements that kernel tap ``(ry, rx)`` meets at every output position:
    ``padded[..., ry*d + p*stride, rx*d + q*stride, ...]`` over all ``(p, q)``, as a view."""
    y0, x0 = ry * dilation, rx * dilation
    index = [slice(None)] * padded.ndim
    index[h_axis] = slice(y0, y0 + (out_h - 1) * stride + 1, stride)
    index[h_axis + 1] = slice(x0, x0 + (out_w - 1) * stride + 1, stride)
    return padded[tuple(index)]


def pad_array(x: np.ndarray, pad: int, value: float = 0.0, h_axis: int = 2) -> np.ndarray:
    """``x`` padded by ``pad`` on the two spatial axes starting at ``h_axis``."""
    widths = [(0, 0)] * x.ndim
    widths[h_axis] = widths[h_axis + 1] = (pad, pad)
    return np.pad(x, widths, constant_values=value)
