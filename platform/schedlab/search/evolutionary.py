"""Evolutionary search guided by a cost model (Ansor's search policy, with crossover)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

import numpy as np

from ..program import Program
from .base import (
    SearchContext,
    SearchStrategy,
    decision_key,
    sketch_decisions_key,
    tag_origin,
)
from .candidates import Candidate
from .diversity import farthest_point_subset, program_vectors
from .mutators import DEFAULT_MUTATION_WEIGHTS, MUTATORS, crossover
from .scoring import score_candidates, uses_features

# Candidates kept per task across rounds; beyond this the cache starts again.
MAX_KNOWN_CANDIDATES = 100_000


class EvolutionarySearch(SearchStrategy):
    """Evolves a population of programs under the cost model; proposes the best unmeasured.

    Each round starts from the fastest measured programs plus random samples, then for
    ``generations`` generations scores the population with the cost model and breeds the
    next one: parents are drawn in proportion to their score and either crossed (two
    parents of the same sketch) or mutated. The best-scored programs never measured make
    the proposal, except an ``eps_greedy`` share of fresh random programs that keeps the
    cost model learning about parts of the space it scores badly. While the cost model is
    untrained (its ``trained`` is false), the proposal is random programs spread over the
    space (see ``initial_pool``). Each proposed program's ``origin`` names the part of the
    proposal it came from: ``"incumbent"`` (a neighbour of the fastest measured program),
    ``"local"`` (a neighbour of a fast measured program),
    ``"evolved"`` (the population's best, at most ``max_per_tile`` of one inner tile before
    the others), ``"random"`` (the ε-greedy share) or
    ``"spread"`` (the untrained model's spread-out proposal).

    Args:
        population: programs per generation (Ansor: 2048).
        generations: rounds of breeding (Ansor: 4).
        mutation_weights: mutator name to relative probability; names are those of
            ``schedlab.search.mutators.MUTATORS`` (tile_size, tile_resample, auto_unroll,
            compute_location, parallel). A weight of 0 switches a mutation off.
        crossover_probability: share of children made by crossover instead of mutation;
            0 switches crossover off.
        eps_greedy: share of each proposal drawn at random instead of by score.
        init_measured_ratio: at most this share of the first generation are the fastest
            measured programs; random samples fill the rest.
        local_share: share of each proposal taken from the neighbours of the fastest
            measured programs; 0 switches it off (Ansor's and MetaSchedule's proposal).
            Neighbours are one mutation from a program known to be fast, so the model's
            errors cost less there than among programs bred over four generations: with
            256 trials, raising the share from 0.25 to 0.5 lifted conv2d's best over
            three seeds from 175-183 to 182-213 GFLOP/s and matched or lifted the other
            workloads (0.75: 191-211 on conv2d).
        incumbent_share: share of the local proposal reserved for the neighbours of the
            fastest measured program, all of them (every move of one factor between two
            levels of a split, every other value of every other decision), best-scored
            first; the rest of the local share goes to random mutations of the
            ``local_parents``. 0 by default: on conv2d, the best program of one run had
            4 faster (by up to 7%) among its 60 neighbours, none measured in the two
            rounds after it was found, yet with 256 trials a share of 0.5 gave 207, 215
            and 191 GFLOP/s over three seeds against 213, 190 and 183 without it, and
            dense+bias+relu 193 and 159 against 201 and 210 over two.
        local_parents: how many of the fastest measured programs have neighbours made.
        local_children: mutations tried per such program.
        per_sketch_parents: also make neighbours of the fastest measured program of each
            sketch that has none among the ``local_parents``: once the fastest are all of
            one sketch, the others would otherwise get only what the cost model and random
            draws give them.
        max_per_tile: at most this many programs of one inner tile (``inner_tile``: the
            sketch and the innermost length of every split) in the evolved part of a
            proposal before any more of it; ``None`` ranks by score alone (Ansor's and
            MetaSchedule's proposal). The model's top scores tend to be variations of one
            register-level loop nest, and a round spent on one nest shows the model
            nothing about the others: on matmul 1024^3 with 256 trials, a cap of 3 gave
            508, 504, 542 and 467 GFLOP/s over four seeds against 466, 402, 515 and 467
            without it.
        parents_per_tile: at most this many of the ``local_parents`` share an inner tile
            (the next fastest of other tiles take their place); ``None``: the fastest,
            whatever their tiles.
        initial_pool: while the cost model is untrained (the first round), the proposal
            is the programs farthest apart in feature space among this many times as many
            random ones (``schedlab.search.diversity``); 1 proposes plain random programs.
        fresh_random_share: share of the first generation's random programs drawn anew
            each round; the rest are the previous round's, reused. Completing a program
            is most of the search's time, and a random program's features do not change
            between rounds, only the model's score of it does (1: all drawn anew, as in
            Ansor and MetaSchedule).
        retries: attempts to vary a parent before it is copied instead.
        workers: processes that complete and featurize candidates (0: this process only;
            ``None``: one per core of this machine). They run between measurements, never
            during one.
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
        local_share: float = 0.5,
        incumbent_share: float = 0.0,
        local_parents: int = 8,
        local_children: int = 32,
        per_sketch_parents: bool = True,
        max_per_tile: int | None = 3,
        parents_per_tile: int | None = 2,
        initial_pool: int = 4,
        fresh_random_share: float = 0.5,
        retries: int = 3,
        workers: int | None = None,
    ):
        super().__init__()
        if not isinstance(population, int) or population < 2:
            raise ValueError(f"population must be an int >= 2, got {population!r}")
        if not isinstance(generations, int) or generations < 1:
            raise ValueError(f"generations must be an int >= 1, got {generations!r}")
        for name, value in (("crossover_probability", crossover_probability),
                            ("eps_greedy", eps_greedy),
                            ("init_measured_ratio", init_measured_ratio),
                            ("local_share", local_share),
                            ("incumbent_share", incumbent_share),
                            ("fresh_random_share", fresh_random_share)):
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
        # Drawing by the cumulative sum: Generator.choice with p= checks its arguments at
        # a cost that thousands of draws per generation notice.
        self._mutator_cdf = np.cumsum(self.mutator_probs)
        self.crossover_probability = crossover_probability
        self.eps_greedy = eps_greedy
        self.init_measured_ratio = init_measured_ratio
        self.local_share = local_share
        self.incumbent_share = incumbent_share
        self.local_parents = local_parents
        self.local_children = local_children
        self.per_sketch_parents = bool(per_sketch_parents)
        self.max_per_tile = max_per_tile
        self.parents_per_tile = parents_per_tile
        self.initial_pool = initial_pool
        self.fresh_random_share = fresh_random_share
        for name, value in (("local_parents", local_parents),
                            ("local_children", local_children),
                            ("initial_pool", initial_pool),
                            ("max_per_tile", 1 if max_per_tile is None else max_per_tile),
                            ("parents_per_tile",
                             1 if parents_per_tile is None else parents_per_tile)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        self.retries = retries
        self.workers = len(os.sched_getaffinity(0)) if workers is None else int(workers)
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers!r}")

    def propose(self, context: SearchContext, cost_model, n: int) -> list[Program]:
        stats = {"search": 0.0, "features": 0.0, "predict": 0.0}
        start = time.perf_counter()
        if not getattr(cost_model, "trained", True):
            # An untrained model scores at random: evolving under it is random search at
            # a hundred times the cost.
            chosen = tag_origin(self._spread_out(context, n, stats), "spread")
            stats["search"] = time.perf_counter() - start - stats["features"]
            self.last_stats = stats
            return chosen
        # Workers return features; a model that scores programs needs them made here.
        features_wanted = uses_features(cost_model)
        factory = context.factory(self.workers if features_wanted else 0)
        known = context.candidates  # every candidate completed so far, by decisions
        if len(known) > MAX_KNOWN_CANDIDATES:
            known.clear()
        admitted: set[tuple] = set()  # keys already in this round's population

        def admit(candidates):
            unique = []
            for candidate in candidates:
                if candidate is None:
                    continue
                key = candidate.key
                candidate = known.setdefault(key, candidate)
                if key not in admitted:
                    admitted.add(key)
                    unique.append(candidate)
            return unique

        seeds = [_candidate(p)
                 for p in context.best_measured(int(self.population * self.init_measured_ratio))]
        randoms = self._random_candidates(context, factory, self.population - len(seeds),
                                          features_wanted)
        population = admit(seeds + randoms)
        best: dict[tuple, tuple[float, Candidate]] = {}  # candidates by score
        for generation in range(self.generations):
            scores = score_candidates(context, cost_model, population, stats)
            for candidate, score in zip(population, scores):
                best[candidate.key] = (float(score), candidate)
            if generation == self.generations - 1 or not population:
                break
            population = self._breed(context, factory, population, scores, known,
                                     features_wanted)
            admit(population)

        taken: set[str] = set()
        chosen = []

        def best_scored(candidates, k: int, origin: str) -> list[Program]:
            scores = score_candidates(context, cost_model, candidates, stats)
            programs = (factory.program(candidates[i])
                        for i in np.argsort(-scores, kind="stable"))
            return tag_origin(context.unmeasured((p for p in programs if p is not None),
                                                 k, taken), origin)

        n_local = min(n, int(round(n * self.local_share)))
        n_incumbent = min(n_local, int(round(n_local * self.incumbent_share)))
        if n_incumbent:
            chosen += best_scored(self._incumbent_neighbours(context, factory, known,
                                                             features_wanted),
                                  n_incumbent, "incumbent")
        if n_local > len(chosen):
            chosen += best_scored(self._neighbours(context, factory, known, features_wanted),
                                  n_local - len(chosen), "local")
        ranked = sorted(best.values(), key=lambda item: -item[0])
        n_random = min(n - len(chosen), int(round(n * self.eps_greedy)))
        if self.max_per_tile:
            measured = {decision_key(p) for _, p in context.measured}
            ranked = spread_over_tiles([item for item in ranked if item[1].key not in measured],
                                       self.max_per_tile, program_of=lambda item: item[1])
        programs = (factory.program(c) for _, c in ranked)
        chosen += tag_origin(context.unmeasured((p for p in programs if p is not None),
                                                n - n_random - len(chosen), taken), "evolved")
        chosen += tag_origin(context.unmeasured(context.sample(2 * (n - len(chosen))),
                                                n - len(chosen), taken), "random")
        stats["search"] = time.perf_counter() - start - stats["features"] - stats["predict"]
        self.last_stats = stats
        return chosen

    def _random_candidates(self, context, factory, n: int, features_wanted) -> list[Candidate]:
        """``n`` random candidates for a first generation: a ``fresh_random_share`` drawn
        anew, the rest reused from the previous round's first generation."""
        rng = context.rng
        pool = context.random_pool
        reused = min(len(pool), n - int(round(n * self.fresh_random_share)))
        kept = [pool[i] for i in rng.choice(len(pool), size=reused, replace=False)] \
            if reused > 0 else []
        requests = [(int(rng.integers(len(context.sketches))), None, _seed(rng))
                    for _ in range(n - reused)]
        fresh = [c for c in factory.complete(requests, features_wanted) if c is not None]
        context.random_pool = kept + fresh
        return context.random_pool

    def _spread_out(self, context, n: int, stats: dict) -> list[Program]:
        """``n`` unmeasured random programs, spread over the space: the farthest apart in
        feature space of ``initial_pool`` times as many."""
        pool = context.unmeasured(context.sample((self.initial_pool + 1) * n),
                                  self.initial_pool * n)
        if len(pool) <= n:
            return pool
        from ..features import extract_batch

        start = time.perf_counter()
        matrices = extract_batch(pool)
        # Kept, so that the model update after this round does not extract them again.
        for program, matrix in zip(pool, matrices):
            context.features[decision_key(program)] = matrix
        vectors = program_vectors(matrices)
        stats["features"] += time.perf_counter() - start
        return [pool[i] for i in farthest_point_subset(vectors, n, context.rng)]

    def _breed(self, context, factory, population, scores, known, features_wanted):
        """The next generation: one child per slot, the parent itself where no child
        could be made."""
        rng = context.rng
        weights = np.maximum(np.asarray(scores, float), 0.0)
        # Scores may all be zero (an untrained model): then parents are drawn uniformly.
        weights = weights + (weights.max() * 1e-3 if weights.max() > 0 else 1.0)
        weights /= weights.sum()
        by_sketch: dict[int, list[int]] = {}
        for i, candidate in enumerate(population):
            by_sketch.setdefault(id(candidate.sketch), []).append(i)
        sketch_index = _sketch_index(context)
        children: list = []
        requests, slots = [], []  # slots: (child slot, its request)
        requested: dict[tuple, int] = {}  # a child bred twice in a generation: one request
        for parent_index in rng.choice(len(population), size=self.population, p=weights):
            parent = population[parent_index]
            decisions = None
            for _ in range(self.retries):
                decisions = self._vary(parent, population, by_sketch, weights, rng)
                if decisions is not None:
                    break
            if decisions is None:
                children.append(parent)
                continue
            key = sketch_decisions_key(parent.sketch, decisions)
            if key in known:
                children.append(known[key])
                continue
            children.append(parent)  # replaced below if the child completes
            if key not in requested:
                requested[key] = len(requests)
                requests.append((sketch_index[id(parent.sketch)], decisions, _seed(rng)))
            slots.append((len(children) - 1, requested[key]))
        completed = factory.complete(requests, features_wanted)
        for slot, request in slots:
            child = completed[request]
            if child is not None:
                children[slot] = known.setdefault(child.key, child)
        return children

    def _neighbours(self, context, factory, known, features_wanted) -> list[Candidate]:
        """Children one mutation away from the fastest measured programs, each once."""
        rng = context.rng
        if not self.mutators:
            return []

        def children():
            for program in self._local_parents(context):
                parent = _candidate(program)
                for _ in range(self.local_children):
                    decisions = self._mutate(parent, rng)
                    if decisions is not None:
                        yield parent.sketch, decisions

        return _complete_once(context, factory, known, features_wanted, children())

    def _incumbent_neighbours(self, context, factory, known,
                              features_wanted) -> list[Candidate]:
        """Every neighbour of the fastest measured program that the mutators with a
        weight above 0 can list."""
        best = context.best_measured(1)
        if not best or best[0].decisions is None:
            return []
        parent = _candidate(best[0])
        children = ((parent.sketch, decisions)
                    for mutator, probability in zip(self.mutators, self.mutator_probs)
                    if probability > 0 for decisions in mutator.neighbours(parent))
        return _complete_once(context, factory, known, features_wanted, children)

    def _local_parents(self, context) -> list[Program]:
        """The ``local_parents`` fastest measured programs, at most ``parents_per_tile`` of
        one inner tile, then the fastest of each sketch that has none among them (with
        ``per_sketch_parents``)."""
        if self.parents_per_tile:
            parents = spread_over_tiles(context.best_measured(len(context.measured)),
                                        self.parents_per_tile)[:self.local_parents]
        else:
            parents = context.best_measured(self.local_parents)
        if not self.per_sketch_parents:
            return parents
        covered = {id(p.sketch) for p in parents}
        for program in context.best_measured(len(context.measured)):
            if id(program.sketch) not in covered:
                covered.add(id(program.sketch))
                parents.append(program)
        return parents

    def _vary(self, parent, population, by_sketch, weights, rng) -> dict | None:
        if rng.random() < self.crossover_probability:
            mates = by_sketch[id(parent.sketch)]
            if len(mates) > 1:
                mate_weights = weights[mates] / weights[mates].sum()
                mate = population[mates[int(rng.choice(len(mates), p=mate_weights))]]
                return crossover(parent, mate, rng)
        if not len(self.mutators):
            return None
        return self._mutate(parent, rng)

    def _mutate(self, parent, rng) -> dict | None:
        """One mutation of ``parent`` by a mutator drawn by weight."""
        draw = rng.random() * self._mutator_cdf[-1]  # below the last bound, never at it
        mutator = self.mutators[int(np.searchsorted(self._mutator_cdf, draw, side="right"))]
        return mutator.mutate(parent, rng)


def inner_tile(program) -> tuple:
    """The innermost tile of a program (or candidate): its sketch and the innermost length
    of each of its splits. Programs that share it differ only in how their tiles are
    nested and annotated around the same register-level loop nest."""
    return (id(program.sketch),) + tuple(
        lengths[-1] for key, lengths in sorted(program.decisions.items())
        if key.startswith("split/") and lengths)


def spread_over_tiles(items: list, cap: int, program_of=lambda item: item) -> list:
    """``items`` reordered so that at most ``cap`` of each :func:`inner_tile` come first,
    in their order, and the others after them, in their order."""
    counts: dict[tuple, int] = {}
    first, after = [], []
    for item in items:
        tile = inner_tile(program_of(item))
        counts[tile] = counts.get(tile, 0) + 1
        (first if counts[tile] <= cap else after).append(item)
    return first + after


def _candidate(program: Program) -> Candidate:
    return Candidate(program.sketch, program.decisions, program.decision_spaces, None, program)


def _complete_once(context, factory, known, features_wanted, children) -> list[Candidate]:
    """Candidates of ``children`` ((sketch, decisions) pairs, consumed lazily): those
    already in ``known`` as they are, the others completed (each once) and added to it."""
    sketch_index = _sketch_index(context)
    found, requests = [], {}
    for sketch, decisions in children:
        key = sketch_decisions_key(sketch, decisions)
        if key in known:
            found.append(known[key])
            continue
        seed = _seed(context.rng)
        if key not in requests:  # a child made twice is kept once
            requests[key] = (sketch_index[id(sketch)], decisions, seed)
    for child in factory.complete(list(requests.values()), features_wanted):
        if child is not None:
            found.append(known.setdefault(child.key, child))
    return list({id(c): c for c in found}.values())


def _sketch_index(context: SearchContext) -> dict[int, int]:
    """Position of each of the context's sketches, by identity (as requests name them)."""
    return {id(s): i for i, s in enumerate(context.sketches)}


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**63))
