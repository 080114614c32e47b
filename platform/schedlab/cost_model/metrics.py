"""How well scores rank programs: metrics for comparing cost models offline."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pairwise_accuracy(
    scores: Sequence[float] | np.ndarray,
    throughputs: Sequence[float] | np.ndarray,
    groups: Sequence[str] | None = None,
) -> float:
    """Fraction of program pairs that ``scores`` order like ``throughputs``.

    Only pairs within one group (task) with different throughputs count; a pair whose
    scores tie counts as half right. All pairs of all groups weigh the same. ``nan`` when
    there is no such pair.
    """
    scores, throughputs, group_ids = _check(scores, throughputs, groups)
    right = total = 0.0
    for g in np.unique(group_ids):
        s = scores[group_ids == g]
        t = throughputs[group_ids == g]
        ds = np.sign(s[:, None] - s[None, :])
        dt = np.sign(t[:, None] - t[None, :])
        upper = np.triu(np.ones_like(dt, dtype=bool), k=1) & (dt != 0)
        total += upper.sum()
        right += (ds[upper] == dt[upper]).sum() + 0.5 * (ds[upper] == 0).sum()
    return float(right / total) if total else float("nan")


def top_k_throughput(
    scores: Sequence[float] | np.ndarray,
    throughputs: Sequence[float] | np.ndarray,
    groups: Sequence[str] | None = None,
    k: int = 1,
) -> float:
    """Mean over groups of the best normalised throughput among the ``k`` top-scored programs.

    This is what a search that measures the model's ``k`` favourites of a task would find,
    as a fraction of the best program in the set (1.0 = the model's picks include it).
    Groups whose programs all failed (best throughput 0) are skipped; ``nan`` when none is
    left.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    scores, throughputs, group_ids = _check(scores, throughputs, groups)
    values = []
    for g in np.unique(group_ids):
        s = scores[group_ids == g]
        t = throughputs[group_ids == g]
        if t.max() <= 0:
            continue
        # Stable order on -score: ties go to the earlier program, as in a search.
        picks = np.argsort(-s, kind="stable")[:k]
        values.append(t[picks].max() / t.max())
    return float(np.mean(values)) if values else float("nan")


def _check(scores, throughputs, groups):
    scores = np.asarray(scores, dtype=np.float64)
    throughputs = np.asarray(throughputs, dtype=np.float64)
    if scores.ndim != 1 or scores.shape != throughputs.shape:
        raise ValueError(f"scores {scores.shape} and throughputs {throughputs.shape} must be "
                         "1-D of one length")
    if groups is None:
        group_ids = np.zeros(len(scores), np.int64)
    else:
        if len(groups) != len(scores):
            raise ValueError(f"got {len(groups)} group keys for {len(scores)} scores")
        _, group_ids = np.unique(np.asarray(groups, dtype=object).astype(str),
                                 return_inverse=True)
    return scores, throughputs, group_ids
