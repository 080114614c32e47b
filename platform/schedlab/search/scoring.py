"""Cost-model scores of candidate programs, with their features cached in the context."""

from __future__ import annotations

import time

import numpy as np

from .base import SearchContext, decision_key

# Feature matrices kept per task; beyond this the cache starts again (memory stays bounded).
MAX_CACHED_FEATURES = 200_000


def score_programs(context: SearchContext, cost_model, programs, stats: dict) -> np.ndarray:
    """Scores (higher is faster) of ``programs``; adds seconds spent to ``stats["features"]``
    and ``stats["predict"]``."""
    if not programs:
        return np.zeros(0, np.float32)
    if not getattr(cost_model, "uses_features", True):
        start = time.perf_counter()
        scores = cost_model.predict(programs)
        stats["predict"] = stats.get("predict", 0.0) + time.perf_counter() - start
        return np.asarray(scores, np.float32)
    from ..features import extract_features

    start = time.perf_counter()
    cache = context.features
    if len(cache) > MAX_CACHED_FEATURES:
        cache.clear()
    matrices = []
    for program in programs:
        key = decision_key(program)
        matrix = cache.get(key)
        if matrix is None:
            matrix = cache[key] = extract_features(program)
        matrices.append(matrix)
    middle = time.perf_counter()
    scores = np.asarray(cost_model.predict_features(matrices), np.float32)
    stats["features"] = stats.get("features", 0.0) + middle - start
    stats["predict"] = stats.get("predict", 0.0) + time.perf_counter() - middle
    return scores
