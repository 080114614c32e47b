"""Search strategies: which programs to measure next."""

from __future__ import annotations

from .base import SearchContext, SearchStrategy, decision_key
from .evolutionary import EvolutionarySearch
from .mutators import (
    DEFAULT_MUTATION_WEIGHTS,
    MUTATORS,
    AutoUnrollMutator,
    ComputeLocationMutator,
    Mutator,
    ParallelMutator,
    TileSizeMutator,
    crossover,
)
from .random_search import RandomSearch

STRATEGIES: dict[str, type[SearchStrategy]] = {
    "evolutionary": EvolutionarySearch,
    "random": RandomSearch,
}


def create_strategy(strategy: str | SearchStrategy = "evolutionary", **kwargs) -> SearchStrategy:
    """A strategy by name (``"evolutionary"``, ``"random"``) with constructor keyword
    arguments; a :class:`SearchStrategy` object is returned as it is."""
    if isinstance(strategy, SearchStrategy):
        if kwargs:
            raise TypeError("options go with a strategy name, not with a strategy object")
        return strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown search strategy {strategy!r}; "
                         f"valid: {', '.join(sorted(STRATEGIES))}")
    return STRATEGIES[strategy](**kwargs)


__all__ = [
    "DEFAULT_MUTATION_WEIGHTS", "MUTATORS", "AutoUnrollMutator", "ComputeLocationMutator",
    "EvolutionarySearch", "Mutator", "ParallelMutator", "RandomSearch", "SearchContext",
    "SearchStrategy", "STRATEGIES", "TileSizeMutator", "create_strategy", "crossover",
    "decision_key",
]
