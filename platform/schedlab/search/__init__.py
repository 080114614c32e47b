"""Search strategies: which programs to measure next."""

from __future__ import annotations

from ..registry import create
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
    return create("search strategy", strategy, SearchStrategy, STRATEGIES, kwargs)


__all__ = [
    "DEFAULT_MUTATION_WEIGHTS", "MUTATORS", "AutoUnrollMutator", "ComputeLocationMutator",
    "EvolutionarySearch", "Mutator", "ParallelMutator", "RandomSearch", "SearchContext",
    "SearchStrategy", "STRATEGIES", "TileSizeMutator", "create_strategy", "crossover",
    "decision_key",
]
