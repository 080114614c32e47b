"""Comparing a kernel's outputs with the task's numpy reference."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..task import Task


def poisoned_outputs(task: Task) -> list[np.ndarray]:
    """Output buffers that hold NaN (floats) so that elements a kernel never writes fail the
    check instead of matching a reference that happens to be zero there."""
    outputs = task.empty_outputs()
    for out in outputs:
        if np.issubdtype(out.dtype, np.floating):
            out.fill(np.nan)
    return outputs


def compare_outputs(
    outputs: Sequence[np.ndarray],
    expected: Sequence[np.ndarray] | np.ndarray,
    *,
    rtol: float,
    atol: float,
) -> str | None:
    """``None`` when every output matches its reference within the tolerances (elementwise
    ``|out - ref| <= atol + rtol * |ref|``, NaN matching NaN); otherwise what differs."""
    if isinstance(expected, np.ndarray):
        expected = (expected,)
    expected = tuple(expected)
    if len(expected) != len(outputs):
        return f"the reference gives {len(expected)} outputs, the kernel {len(outputs)}"
    for index, (out, ref) in enumerate(zip(outputs, expected)):
        ref = np.asarray(ref)
        if ref.shape != out.shape:
            return f"output {index}: reference shape {ref.shape}, kernel shape {out.shape}"
        close = np.isclose(out, ref, rtol=rtol, atol=atol, equal_nan=True)
        if not close.all():
            bad = int(close.size - np.count_nonzero(close))
            where = np.unravel_index(int(np.argmin(close)), close.shape)
            return (
                f"output {index}: {bad} of {close.size} elements differ beyond rtol={rtol:g}, "
                f"atol={atol:g}; first at {tuple(int(i) for i in where)}: "
                f"got {out[where]!r}, expected {ref[where]!r}"
            )
    return None
