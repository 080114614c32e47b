"""Cost-model scores of candidates, with their features cached in the search context."""

from __future__ import annotations

import time

import numpy as np

from .base import SearchContext, decision_key

# Feature matrices kept per task; beyond this the cache starts again (memory stays bounded).
MAX_CACHED_FEATURES = 200_000


def uses_features(cost_model) -> bool:
    """Whether ``cost_model`` scores feature matrices (else it scores programs)."""
    return getattr(cost_model, "uses_features", True)


def score_candidates(context: SearchContext, cost_model, candidates, stats: dict) -> np.ndarray:
    """Scores (higher is faster) of ``candidates``; adds the seconds spent extracting
    features here to ``stats["features"]`` and predicting to ``stats["predict"]``."""
    if not candidates:
        return np.zeros(0, np.float32)
    if not uses_features(cost_model):
        factory = context.factory()
        start = time.perf_counter()
        scores = cost_model.predict([factory.program(c) for c in candidates])
        stats["predict"] = stats.get("predict", 0.0) + time.perf_counter() - start
        return np.asarray(scores, np.float32)
    from ..features import extract_features

    start = time.perf_counter()
    cache = context.features
    if len(cache) > MAX_CACHED_FEATURES:
        cache.clear()
    matrices = []
    for candidate in candidates:
        key = candidate.key
        matrix = candidate.features
        if matrix is None:
            matrix = cache.get(key)
        if matrix is None:
            matrix = extract_features(context.factory().program(candidate))
        candidate.features = cache[key] = matrix
        matrices.append(matrix)
    middle = time.perf_counter()
    scores = np.asarray(cost_model.predict_features(matrices), np.float32)
    stats["features"] = stats.get("features", 0.0) + middle - start
    stats["predict"] = stats.get("predict", 0.0) + time.perf_counter() - middle
    return scores


def features_of(context: SearchContext, programs) -> list[np.ndarray]:
    """Feature matrices of ``programs``: from the context's cache where the search already
    extracted them, extracted (as one batch) for the rest."""
    from ..features import extract_batch

    matrices = [context.features.get(decision_key(p)) if p.decisions is not None else None
                for p in programs]
    missing = [i for i, m in enumerate(matrices) if m is None]
    for i, matrix in zip(missing, extract_batch([programs[i] for i in missing])):
        matrices[i] = matrix
    return matrices
