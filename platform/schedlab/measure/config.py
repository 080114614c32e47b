"""Measurement settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class MeasureConfig:
    """How candidates are timed and checked (TVM-style).

    After ``warmup`` untimed calls, the kernel is timed ``repeat`` times; each measurement
    runs it ``number`` times back to back and reports the time per call. ``number`` grows
    until one measurement takes at least ``min_repeat_ms``, so short kernels are timed over
    many calls. Results report the median of the ``repeat`` per-call times.

    Args:
        number: calls per measurement to start with (grows to reach ``min_repeat_ms``).
        repeat: measurements per candidate.
        min_repeat_ms: the least time one measurement may take, in milliseconds.
        warmup: untimed calls before the first measurement.
        timeout_s: the longest one candidate (build, check and timing together) may take
            before its measuring process is killed and the result is a timeout.
        check_correctness: compare the output with the task's numpy reference (tasks without
            a reference are not checked).
        rtol: relative tolerance of the check.
        atol: absolute tolerance of the check.
        flush_cache: evict the CPU caches before every timed call and time each call alone,
            as in a cold-cache run. ``number`` calls per measurement, then, and ``number``
            does not grow.
        cutoff_ratio: when the first call of a candidate (the correctness check, or the
            first warm-up call) takes more than this many times the fastest time the runner
            has measured for the task, that one call is its only measurement: no warm-up
            and no repeats for a program that cannot be the best. 0 turns it off.
    """

    number: int = 1
    repeat: int = 3
    min_repeat_ms: float = 100.0
    warmup: int = 1
    timeout_s: float = 10.0
    check_correctness: bool = True
    rtol: float = 1e-3
    atol: float = 1e-3
    flush_cache: bool = False
    cutoff_ratio: float = 0.0

    def __post_init__(self):
        for name in ("number", "repeat"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"MeasureConfig.{name} must be an int >= 1, got {value!r}")
        if not isinstance(self.warmup, int) or isinstance(self.warmup, bool) or self.warmup < 0:
            raise ValueError(f"MeasureConfig.warmup must be an int >= 0, got {self.warmup!r}")
        for name in ("min_repeat_ms", "rtol", "atol", "cutoff_ratio"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"MeasureConfig.{name} must be a number >= 0, got {value!r}")
        if not isinstance(self.timeout_s, (int, float)) or not self.timeout_s > 0:
            raise ValueError(f"MeasureConfig.timeout_s must be > 0, got {self.timeout_s!r}")
