"""Random search: the baseline of search ablations."""

from __future__ import annotations

import time

from ..program import Program
from .base import SearchContext, SearchStrategy, tag_origin


class RandomSearch(SearchStrategy):
    """Proposes random programs never measured before; ignores the cost model.

    Args:
        oversample: random programs drawn per wanted one, so duplicates and measured
            programs can be skipped.
    """

    def __init__(self, *, oversample: float = 2.0):
        super().__init__()
        if oversample < 1:
            raise ValueError(f"oversample must be >= 1, got {oversample!r}")
        self.oversample = oversample

    def propose(self, context: SearchContext, cost_model, n: int) -> list[Program]:
        start = time.perf_counter()
        chosen = tag_origin(context.unmeasured(context.sample(int(n * self.oversample) + 1), n),
                            "random")
        self.last_stats = {"search": time.perf_counter() - start, "features": 0.0,
                           "predict": 0.0}
        return chosen
