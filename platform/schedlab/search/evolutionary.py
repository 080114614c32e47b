"""Evolutionary search guided by a cost model (Ansor's search policy, with crossover)."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from ..database import program_key
from ..program import Program
from .base import SearchContext, SearchStrategy, decision_key
from .mutators import DEFAULT_MUTATION_WEIGHTS, MUTATORS, crossover
from .scoring import score_programs


class EvolutionarySearch(SearchStrategy):
    """Evolves a population of programs under the cost model; proposes the best unmeasured.

    Each round starts from the fastest measured programs plus random samples, then for
    ``generations`` generations scores the population with the cost model and breeds the
    next one: parents are drawn in proportion to their score and either crossed (two
    parents of the same sketch) or mutated. The best-scored programs never measured make
    the proposal, except an ``eps_greedy`` share of fresh random programs that keeps the
    cost model learning about parts of the space it scores badly.

    Args:
        population: programs per generation (Ansor: 2048).
        generations: rounds of breeding (Ansor: 4).
        mutation_weights: mutator name to relative probability; names are those of
            ``schedlab.search.mutators.MUTATORS`` (tile_size, auto_unroll,
            compute_location, parallel). A weight of 0 switches a mutation off.
        crossover_probability: share of children made by crossover instead of mutation;
            0 switches crossover off.
        eps_greedy: share of each proposal drawn at random instead of by score.
        init_measured_ratio: at most this share of the first generation are the fastest
            measured programs; random samples fill the rest.
        retries: attempts to make one child before its parent is copied instead.
    """

    def __init__(
        self,
        *,
        population: int = 2048,
        generations: int = 4,
        mutation_weights: Mapping[str, float] | None = None,
        crossover_probability: float = 0.1,
        eps_greedy: float = 0.05,
        init_measured_ratio: float = 0.2,
        retries: int = 3,
    ):
        super().__init__()
        if not isinstance(population, int) or population < 2:
            raise ValueError(f"population must be an int >= 2, got {population!r}")
        if not isinstance(generations, int) or generations < 1:
            raise ValueError(f"generations must be an int >= 1, got {generations!r}")
        for name, value in (("crossover_probability", crossover_probability),
                            ("eps_greedy", eps_greedy),
                            ("init_measured_ratio", init_measured_ratio)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value!r}")
        weights = dict(DEFAULT_MUTATION_WEIGHTS if mutation_weights is None
                       else mutation_weights)
        unknown = set(weights) - set(MUTATORS)
        if unknown:
            raise ValueError(f"unknown mutators {sorted(unknown)}; valid: {sorted(MUTATORS)}")
        if any(w < 0 for w in weights.values()) or (
                sum(weights.values()) <= 0 and crossover_probability < 1):
            raise ValueError(f"mutation weights must be >= 0 and not all 0, got {weights}")
        self.population = population
        self.generations = generations
        self.mutators = [MUTATORS[name]() for name in weights]
        self.mutator_probs = np.array(list(weights.values()), float)
        self.mutator_probs /= max(self.mutator_probs.sum(), 1e-12)
        self.crossover_probability = crossover_probability
        self.eps_greedy = eps_greedy
        self.init_measured_ratio = init_measured_ratio
        self.retries = retries

    def propose(self, context: SearchContext, cost_model, n: int) -> list[Program]:
        stats = {"search": 0.0, "features": 0.0, "predict": 0.0}
        start = time.perf_counter()
        known: dict[tuple, Program] = {}  # every program seen this round, by decisions

        def admit(programs):
            unique = []
            for program in programs:
                key = decision_key(program)
                if key not in known:
                    known[key] = program
                    unique.append(program)
            return unique

        seeds = context.best_measured(int(self.population * self.init_measured_ratio))
        population = admit(seeds + context.sample(self.population - len(seeds)))
        best: dict[tuple, tuple[float, Program]] = {}  # unmeasured candidates by score
        for generation in range(self.generations):
            scores = score_programs(context, cost_model, population, stats)
            for program, score in zip(population, scores):
                best[decision_key(program)] = (float(score), program)
            if generation == self.generations - 1:
                break
            population = self._breed(context, population, scores, known, admit)
        stats["search"] = time.perf_counter() - start - stats["features"] - stats["predict"]

        ranked = sorted(best.values(), key=lambda item: -item[0])
        n_random = min(n, int(round(n * self.eps_greedy)))
        chosen = _unmeasured(context, (p for _, p in ranked), n - n_random)
        chosen += _unmeasured(context, context.sample(2 * (n - len(chosen))), n - len(chosen),
                              {program_key(p) for p in chosen})
        self.last_stats = stats
        return chosen

    def _breed(self, context, population, scores, known, admit) -> list[Program]:
        rng = context.rng
        weights = np.maximum(np.asarray(scores, float), 0.0)
        # Scores may all be zero (an untrained model): then parents are drawn uniformly.
        weights = weights + (weights.max() * 1e-3 if weights.max() > 0 else 1.0)
        weights /= weights.sum()
        by_sketch: dict[int, list[int]] = {}
        for i, program in enumerate(population):
            by_sketch.setdefault(id(program.sketch), []).append(i)
        children = []
        parents = rng.choice(len(population), size=self.population, p=weights)
        for parent_index in parents:
            parent = population[parent_index]
            child = None
            for _ in range(self.retries):
                decisions = self._vary(parent, population, by_sketch, weights, rng)
                if decisions is None:
                    continue
                key = (id(parent.sketch), tuple(sorted(decisions.items())))
                child = known.get(key) or context.replay(parent, decisions)
                if child is not None:
                    break
            children.append(child or parent)
        admit(children)
        return children

    def _vary(self, parent, population, by_sketch, weights, rng) -> dict | None:
        if rng.random() < self.crossover_probability:
            mates = by_sketch[id(parent.sketch)]
            if len(mates) > 1:
                mate_weights = weights[mates] / weights[mates].sum()
                mate = population[mates[int(rng.choice(len(mates), p=mate_weights))]]
                return crossover(parent, mate, rng)
        if not len(self.mutators):
            return None
        mutator = self.mutators[int(rng.choice(len(self.mutators), p=self.mutator_probs))]
        return mutator.mutate(parent, rng)


def _unmeasured(context: SearchContext, programs, n: int, taken: set | None = None):
    """The first ``n`` programs whose keys are neither measured nor in ``taken``."""
    taken = set() if taken is None else taken
    chosen = []
    for program in programs:
        if len(chosen) >= n:
            break
        key = program_key(program)
        if key in context.measured_keys or key in taken:
            continue
        taken.add(key)
        chosen.append(program)
    return chosen

