"""A spread-out subset of programs: the space-filling design of a search's first round.

Before anything is measured the cost model knows nothing, so the first round is random.
Which programs it holds still matters: the model learns only about the regions of the
space they come from, and the search rarely leaves those regions later. Drawing a larger
random pool and keeping the programs farthest apart in feature space covers more regions
with the same number of measurements.
"""

from __future__ import annotations

import numpy as np


def program_vectors(features: list[np.ndarray]) -> np.ndarray:
    """One row per program: the sum of its feature rows (as the cost models sum their
    per-store scores), each column standardised over the programs; constant columns are 0."""
    if not features:
        return np.zeros((0, 0), np.float32)
    vectors = np.stack([np.asarray(f, np.float64).sum(axis=0) for f in features])
    std = vectors.std(axis=0)
    scaled = (vectors - vectors.mean(axis=0)) / np.where(std > 1e-9, std, 1.0)
    return scaled.astype(np.float32)


def farthest_point_subset(vectors: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """Indices of ``k`` rows chosen greedily, each the farthest (Euclidean) from those
    already chosen, starting from a random row: the usual 2-approximation of the k-center
    problem. All rows if there are at most ``k``."""
    n = len(vectors)
    if k >= n:
        return list(range(n))
    if k <= 0:
        return []
    chosen = [int(rng.integers(n))]
    nearest = np.linalg.norm(vectors - vectors[chosen[0]], axis=1)
    for _ in range(k - 1):
        i = int(np.argmax(nearest))
        chosen.append(i)
        nearest = np.minimum(nearest, np.linalg.norm(vectors - vectors[i], axis=1))
    return chosen
