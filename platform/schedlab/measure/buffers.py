"""Arrays for timing: placed in memory the same way in every measuring process.

Where numpy puts an array decides which of its pages share cache sets and whether the
kernel can back it with huge pages, and that differs from one allocation to the next. A
matmul kernel measured here ran anywhere from 157 to 213 GFLOP/s depending only on where
its buffers sat. Buffers of at least one huge page therefore start on a huge-page boundary
and ask the kernel for transparent huge pages (``madvise``), so that a program measures
alike in every process and every round. Smaller buffers start on a cache line.
"""

from __future__ import annotations

import math
import mmap

import numpy as np

HUGE_PAGE_BYTES = 2 << 20
CACHE_LINE_BYTES = 64


def aligned_zeros(shape, dtype) -> np.ndarray:
    """A zeroed array on a cache-line boundary; from one huge page up, it starts on a
    huge-page boundary in memory of its own, backed by huge pages where the operating
    system allows."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < HUGE_PAGE_BYTES:
        raw = np.zeros(nbytes + CACHE_LINE_BYTES, np.uint8)
        start = -raw.ctypes.data % CACHE_LINE_BYTES
        return raw[start:start + nbytes].view(dtype).reshape(shape)
    region = mmap.mmap(-1, nbytes + HUGE_PAGE_BYTES)  # anonymous memory comes zeroed
    start = -np.frombuffer(region, np.uint8, count=1).ctypes.data % HUGE_PAGE_BYTES
    if hasattr(mmap, "MADV_HUGEPAGE"):
        try:
            region.madvise(mmap.MADV_HUGEPAGE, start, nbytes + (-nbytes % mmap.PAGESIZE))
        except OSError:  # a kernel without transparent huge pages: aligned is still alike
            pass
    flat = np.frombuffer(region, np.uint8, count=nbytes, offset=start)
    return flat.view(dtype).reshape(shape)


def aligned_copy(array: np.ndarray) -> np.ndarray:
    """``array`` copied into :func:`aligned_zeros` memory."""
    copy = aligned_zeros(array.shape, array.dtype)
    copy[...] = array
    return copy
