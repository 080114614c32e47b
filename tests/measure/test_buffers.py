import numpy as np
import pytest

from schedlab.measure.buffers import (
    CACHE_LINE_BYTES,
    HUGE_PAGE_BYTES,
    aligned_copy,
    aligned_zeros,
)


@pytest.mark.parametrize("shape, dtype, boundary", [
    ((3, 5), "float32", CACHE_LINE_BYTES),
    ((7,), "bool", CACHE_LINE_BYTES),
    ((1024, 1024), "float32", HUGE_PAGE_BYTES),  # 4 MiB: on a huge page
    ((600, 1000), "float64", HUGE_PAGE_BYTES),
])
def test_aligned_zeros_start_on_their_boundary(shape, dtype, boundary):
    array = aligned_zeros(shape, dtype)
    assert array.shape == shape and array.dtype == np.dtype(dtype)
    assert array.ctypes.data % boundary == 0
    assert array.flags.c_contiguous and array.flags.writeable
    assert not array.any()
    array[...] = 1  # the whole extent is ours to write
    assert array.sum() == array.size


def test_aligned_copy_keeps_values():
    source = np.random.default_rng(0).uniform(-1, 1, (700, 800)).astype(np.float32)
    copy = aligned_copy(source)
    assert copy.ctypes.data % HUGE_PAGE_BYTES == 0
    np.testing.assert_array_equal(copy, source)
