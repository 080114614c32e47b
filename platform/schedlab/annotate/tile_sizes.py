"""Random tile sizes: factorizations of a loop's extent."""

from __future__ import annotations

import functools
import math

import numpy as np


@functools.lru_cache(maxsize=4096)
def divisors(n: int) -> tuple[int, ...]:
    """All positive divisors of ``n``, ascending."""
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    return tuple(sorted(set(small + [n // d for d in small])))


@functools.lru_cache(maxsize=64)
def lane_filling_lengths(lanes: int, limit: int) -> tuple[int, ...]:
    """Loop lengths up to ``limit`` that fill their vectors of ``lanes`` lanes: at most an
    eighth of the lanes they occupy idle. Whole vectors, and lengths such as 14 of 16
    lanes, for extents (56) that no whole vector divides.

    On conv2d, the fastest programs found (ours and MetaSchedule's) vectorize 14 of 16
    lanes; our runs that settled on half vectors (8) stayed at 220-270 GFLOP/s, those on
    14 reached up to 410."""
    return tuple(n for n in range(1, limit + 1) if 8 * n >= 7 * lanes * math.ceil(n / lanes))


def sample_split_lengths(
    extent: int, parts: int, rng: np.random.Generator, max_innermost: int = 64,
    preferred_innermost: tuple[int, ...] = (), preference: float = 0.0,
) -> tuple[int, ...]:
    """Inner lengths (outermost first) of an exact split of ``extent`` into ``parts + 1``
    loops: each length divides what is left, the innermost is at most ``max_innermost``.

    With probability ``preference`` the innermost length is drawn among
    ``preferred_innermost`` (say, whole vectors of a loop to vectorize) where any of them
    is possible; otherwise, and always where none is, among all its possible lengths."""
    lengths = []
    remaining = extent
    for k in range(parts):
        choices = divisors(remaining)
        if k == 0:
            choices = tuple(d for d in choices if d <= max_innermost) or (1,)
            if preferred_innermost:
                preferred = tuple(d for d in choices if d in preferred_innermost)
                if preferred and rng.random() < preference:
                    choices = preferred
        d = int(choices[rng.integers(len(choices))])
        lengths.append(d)
        remaining //= d
    return tuple(reversed(lengths))
