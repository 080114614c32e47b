"""The timing loop, on any callable: used by the measuring process and by benchmarks."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from .config import MeasureConfig

_GROWTH = 1.618  # as TVM's time evaluator: overshoot so the next try is long enough
_FALLBACK_CACHE_BYTES = 64 << 20


def time_kernel(
    fn: Callable[..., object], args: Sequence = (), config: MeasureConfig | None = None,
    loop: Callable[[int], object] | None = None,
) -> list[float]:
    """Time ``fn(*args)`` and return seconds per call, one value per measurement.

    Calls ``fn`` ``config.warmup`` times untimed, then takes ``config.repeat`` measurements of
    ``number`` back-to-back calls, growing ``number`` until one measurement lasts at least
    ``config.min_repeat_ms`` (a grown ``number`` is kept for the later measurements). With
    ``config.flush_cache`` the caches are evicted before every call and only the calls are
    timed; ``number`` then stays as configured.

    ``loop(number)``, where given, makes the ``number`` calls of a measurement in native code
    (``CompiledKernel.repeat``): a Python loop adds microseconds per call.
    """
    config = config or MeasureConfig()
    for _ in range(config.warmup):
        fn(*args)
    if config.flush_cache:
        return [_time_flushed(fn, args, config.number) for _ in range(config.repeat)]

    min_s = config.min_repeat_ms / 1e3
    number = config.number
    costs = []
    for _ in range(config.repeat):
        while True:
            start = time.perf_counter()
            if loop is not None:
                loop(number)
            else:
                for _ in range(number):
                    fn(*args)
            elapsed = time.perf_counter() - start
            if elapsed >= min_s:
                break
            per_call = max(elapsed / number, 1e-7)
            number = max(math.ceil(min_s / per_call * _GROWTH), math.floor(number * _GROWTH))
        costs.append(elapsed / number)
    return costs


def _time_flushed(fn, args, number: int) -> float:
    total = 0.0
    for _ in range(number):
        flush_cpu_cache()
        start = time.perf_counter()
        fn(*args)
        total += time.perf_counter() - start
    return total / number


def flush_cpu_cache() -> None:
    """Evict the data caches by writing a buffer twice the size of the last-level cache.

    Only the caches of the core that calls this are reliably evicted (and the shared last
    level); a parallel kernel's other cores keep their private caches.
    """
    buffer = _flush_buffer()
    buffer += 1


@functools.cache
def _flush_buffer() -> np.ndarray:
    return np.zeros(2 * _last_level_cache_bytes(), dtype=np.uint8)


def _last_level_cache_bytes() -> int:
    """Size of the largest CPU cache that Linux reports, or 64 MiB where it reports none."""
    import glob

    sizes = []
    for path in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*/size"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        digits = text[:-1] if text[-1:].isalpha() else text
        if digits.isdigit():
            sizes.append(int(digits) * scale)
    return max(sizes, default=_FALLBACK_CACHE_BYTES)
