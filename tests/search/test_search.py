"""Search strategies: mutations, crossover, evolution under a known cost model."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from schedlab.annotate.decisions import SplitSpace
from schedlab.database import program_key
from schedlab.search import (
    EvolutionarySearch,
    RandomSearch,
    SearchContext,
    TileSizeMutator,
    create_strategy,
    crossover,
)
from schedlab.search.candidates import CandidateFactory
from schedlab.search.evolutionary import inner_tile, spread_over_tiles
from schedlab.search.mutators import MUTATORS
from schedlab.space import sample_programs
from schedlab.testing.fake_tuning import OracleCostModel, oracle_latency
from schedlab.workloads import create


@pytest.fixture(scope="module")
def task():
    return create("matmul", M=128, N=128, K=96)


@pytest.fixture(scope="module")
def programs(task):
    return sample_programs(task, 24, seed=0)


def test_tile_size_mutation_keeps_the_product(programs):
    rng = np.random.default_rng(0)
    changed = 0
    for program in programs:
        decisions = TileSizeMutator().mutate(program, rng)
        assert decisions is not None
        diff = [k for k in decisions if decisions[k] != program.decisions[k]]
        assert len(diff) <= 1
        for key in diff:
            space = program.decision_spaces[key]
            assert isinstance(space, SplitSpace) and space.is_valid(decisions[key])
            changed += 1
    assert changed >= len(programs) // 2


def test_tile_size_mutation_moves_composite_factors_in_one_step(programs):
    # Ansor's mutation moves any divisor of a level: 16 -> 1 in one step, not four.
    rng = np.random.default_rng(0)
    moved = set()
    for program in programs:
        for _ in range(20):
            decisions = TileSizeMutator().mutate(program, rng)
            for key, new in decisions.items():
                old = program.decisions[key]
                if isinstance(program.decision_spaces[key], SplitSpace) and new != old:
                    extent = program.decision_spaces[key].extent
                    levels_old = [extent // int(np.prod(old))] + list(old)
                    levels_new = [extent // int(np.prod(new))] + list(new)
                    moved |= {max(a, b) // min(a, b) for a, b in zip(levels_old, levels_new)}
    assert moved - {1, 2, 3, 5, 7}, f"only prime factors moved: {sorted(moved)}"


def test_tile_resample_redraws_one_split_whole(programs):
    # A factor move changes two levels of a split; a redrawn split may change them all.
    rng = np.random.default_rng(0)
    most_changed = 0
    for program in programs:
        decisions = MUTATORS["tile_resample"]().mutate(program, rng)
        diff = [k for k in decisions if decisions[k] != program.decisions[k]]
        assert len(diff) == 1
        space = program.decision_spaces[diff[0]]
        assert isinstance(space, SplitSpace) and space.is_valid(decisions[diff[0]])
        new, old = decisions[diff[0]], program.decisions[diff[0]]
        levels_old = [space.extent // math.prod(old)] + list(old)
        levels_new = [space.extent // math.prod(new)] + list(new)
        most_changed = max(most_changed, sum(a != b for a, b in zip(levels_old, levels_new)))
    assert most_changed >= 3


@pytest.mark.parametrize("name", sorted(MUTATORS))
def test_every_mutator_gives_valid_programs(name, task, programs):
    rng = np.random.default_rng(1)
    if name == "compute_location":  # a matmul has no stage to move
        task = create("layer_norm", M=6, N=40)
        programs = sample_programs(task, 24, seed=0)
    context = SearchContext(task, rng=rng)
    mutator = MUTATORS[name]()
    made = 0
    for program in programs:
        decisions = mutator.mutate(program, rng)
        if decisions is None:
            continue
        assert decisions != program.decisions
        factory = CandidateFactory(context.annotator, [program.sketch])
        child = factory.complete([(0, decisions, 0)], with_features=False)[0]
        if child is not None:
            # Moving a stage may add or drop decisions (a root stage gets a parallel loop);
            # the ones both have agree.
            for key in set(child.decisions) & set(decisions):
                assert child.decisions[key] == decisions[key], key
            made += 1
    assert made > 0


def _frozen(decisions: dict) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, (tuple, list)) else v)
                        for k, v in decisions.items()))


@pytest.mark.parametrize("name", ["tile_size", "auto_unroll", "parallel"])
def test_listed_neighbours_are_exactly_what_a_mutator_can_draw(name, programs):
    rng = np.random.default_rng(3)
    mutator = MUTATORS[name]()
    for program in programs[:4]:
        listed = [_frozen(d) for d in mutator.neighbours(program)]
        assert len(listed) == len(set(listed))
        drawn = {_frozen(mutator.mutate(program, rng)) for _ in range(3000)}
        assert set(listed) == drawn
    assert MUTATORS["tile_resample"]().neighbours(programs[0]) == []  # random: not listed


def test_crossover_takes_each_decision_from_a_parent(programs):
    rng = np.random.default_rng(2)
    pairs = [(a, b) for a in programs for b in programs
             if a is not b and a.sketch is b.sketch and a.decisions != b.decisions]
    assert pairs
    for a, b in pairs[:20]:
        child = crossover(a, b, rng)
        for key, value in child.items():
            assert value in (a.decisions.get(key), b.decisions.get(key))
    other = next(p for p in programs if p.sketch is not programs[0].sketch)
    assert crossover(programs[0], other, rng) is None


def test_evolution_beats_random_sampling_under_a_known_model(task):
    model = OracleCostModel()
    evolution = EvolutionarySearch(population=128, generations=3, eps_greedy=0.0)
    proposal = evolution.propose(SearchContext(task, rng=np.random.default_rng(3)), model, 16)
    random_pick = RandomSearch().propose(SearchContext(task, rng=np.random.default_rng(3)),
                                         model, 16)
    assert len(proposal) == 16 and len(random_pick) == 16
    evolved = np.median([oracle_latency(p) for p in proposal])
    sampled = np.median([oracle_latency(p) for p in random_pick])
    assert evolved < sampled
    assert set(evolution.last_stats) >= {"search", "features", "predict"}


@pytest.mark.parametrize("strategy", [
    EvolutionarySearch(population=64, generations=2), RandomSearch()])
def test_proposals_are_distinct_and_never_measured(task, strategy):
    context = SearchContext(task, rng=np.random.default_rng(4))
    first = strategy.propose(context, OracleCostModel(), 12)
    context.add_measured(first, [oracle_latency(p) for p in first])
    second = strategy.propose(context, OracleCostModel(), 12)
    keys = [program_key(p) for p in second]
    assert len(set(keys)) == len(keys) == 12
    assert not set(keys) & {program_key(p) for p in first}
    assert context.best_measured(3)[0] is min(first, key=oracle_latency)


def test_seeds_come_from_the_fastest_measured(task):
    context = SearchContext(task, rng=np.random.default_rng(5))
    programs = context.sample(6)
    context.add_measured(programs, [3.0, math.inf, 1.0, 2.0, 5.0, 4.0])
    assert context.best_measured(2) == [programs[2], programs[3]]
    assert programs[1] not in context.best_measured(10)


def test_a_tiny_space_runs_out():
    task = create("matmul", M=1, N=2, K=1)
    context = SearchContext(task, rng=np.random.default_rng(6))
    search = EvolutionarySearch(population=32, generations=2)
    seen = set()
    for _ in range(30):
        batch = search.propose(context, OracleCostModel(), 8)
        if not batch:
            break
        keys = {program_key(p) for p in batch}
        assert not keys & seen
        seen |= keys
        context.add_measured(batch, [oracle_latency(p) for p in batch])
    assert not batch  # exhausted, and never proposed anything twice


def test_strategy_registry_and_options():
    assert isinstance(create_strategy("random"), RandomSearch)
    search = create_strategy("evolutionary", population=100, generations=2)
    assert search.population == 100 and search.generations == 2
    with pytest.raises(ValueError, match="unknown search strategy 'annealing'.*evolutionary"):
        create_strategy("annealing")
    with pytest.raises(ValueError, match="unknown mutators"):
        EvolutionarySearch(mutation_weights={"swap": 1.0})
    with pytest.raises(ValueError, match="eps_greedy"):
        EvolutionarySearch(eps_greedy=1.5)
    with pytest.raises(ValueError, match="population"):
        EvolutionarySearch(population=1)
    with pytest.raises(TypeError):
        create_strategy(RandomSearch(), oversample=3)


def test_worker_processes_complete_candidates_like_this_process(task):
    context = SearchContext(task, rng=np.random.default_rng(8))
    requests = [(i % len(context.sketches), None, i) for i in range(300)]
    here = context.factory(0).complete(requests, with_features=True)
    pooled = context.factory(2).complete(requests, with_features=True)
    context.close()
    assert len(here) == len(pooled) == 300
    for a, b in zip(here, pooled):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.decisions == b.decisions
            np.testing.assert_array_equal(a.features, b.features)
            assert b.program is None and a.program is not None


def test_a_local_share_of_the_proposal_neighbours_the_fastest_measured(task):
    context = SearchContext(task, rng=np.random.default_rng(9))
    measured = context.sample(12)
    context.add_measured(measured, [oracle_latency(p) for p in measured])
    parents = context.best_measured(2)
    search = EvolutionarySearch(population=32, generations=1, eps_greedy=0.0,
                                local_share=1.0, local_parents=2, local_children=32,
                                per_sketch_parents=False,
                                mutation_weights={"tile_size": 1.0, "auto_unroll": 1.0})
    proposal = search.propose(context, OracleCostModel(), 6)
    assert len(proposal) == 6
    for program in proposal:
        # One mutation of a matmul's tile sizes or unroll limit changes one decision.
        assert any(program.sketch is parent.sketch and sum(
            program.decisions[k] != parent.decisions[k] for k in parent.decisions) == 1
            for parent in parents)
    with pytest.raises(ValueError, match="local_share"):
        EvolutionarySearch(local_share=-0.1)
    with pytest.raises(ValueError, match="local_parents"):
        EvolutionarySearch(local_parents=0)


def test_the_fastest_program_s_neighbours_are_all_proposed(task):
    context = SearchContext(task, rng=np.random.default_rng(9))
    measured = context.sample(12)
    context.add_measured(measured, [oracle_latency(p) for p in measured])
    best = context.best_measured(1)[0]
    search = EvolutionarySearch(population=32, generations=1, eps_greedy=0.0,
                                local_share=1.0, incumbent_share=1.0, workers=0,
                                mutation_weights={"tile_size": 1.0, "auto_unroll": 1.0,
                                                  "tile_resample": 0.0})
    expected = {_frozen(d) for name in ("tile_size", "auto_unroll")
                for d in MUTATORS[name]().neighbours(best)}
    expected -= {_frozen(p.decisions) for p in measured}
    proposal = search.propose(context, OracleCostModel(), len(expected) + 5)
    around = [p for p in proposal if p.origin == "incumbent"]
    assert {_frozen(p.decisions) for p in around} == expected
    # Best-scored first: the oracle's order.
    latencies = [oracle_latency(p) for p in around]
    assert latencies == sorted(latencies)
    assert all(p.origin == "local" for p in proposal[len(around):])
    with pytest.raises(ValueError, match="incumbent_share"):
        EvolutionarySearch(incumbent_share=1.5)


def test_each_sketch_s_fastest_program_gets_neighbours(task):
    context = SearchContext(task, rng=np.random.default_rng(9))
    assert len(context.sketches) > 1
    measured = context.sample(40)
    first = context.sketches[0]
    # Every program of the first sketch is faster than every other one.
    context.add_measured(measured, [oracle_latency(p) * (1 if p.sketch is first else 100)
                                    for p in measured])
    search = EvolutionarySearch(local_parents=2)
    parents = search._local_parents(context)
    assert parents[:2] == context.best_measured(2)
    assert all(p.sketch is first for p in parents[:2])
    sketches = {id(p.sketch) for p in measured}
    assert {id(p.sketch) for p in parents} == sketches
    assert len(parents) == 2 + len(sketches) - 1
    for program in parents[2:]:
        fastest = min((lat, i) for i, (lat, p) in enumerate(context.measured)
                      if p.sketch is program.sketch)
        assert context.measured[fastest[1]][1] is program
    assert EvolutionarySearch(local_parents=2, per_sketch_parents=False)._local_parents(
        context) == context.best_measured(2)


@pytest.mark.parametrize("fresh_share", [0.25, 1.0])
def test_later_rounds_reuse_the_first_generations_random_programs(task, fresh_share):
    context = SearchContext(task, rng=np.random.default_rng(8))
    search = EvolutionarySearch(population=64, generations=2, workers=0,
                                fresh_random_share=fresh_share)
    search.propose(context, OracleCostModel(), 8)
    first = {id(c) for c in context.random_pool}
    search.propose(context, OracleCostModel(), 8)
    reused = sum(id(c) in first for c in context.random_pool)
    assert reused == min(len(first), 64 - round(64 * fresh_share))


def test_a_child_bred_twice_in_a_generation_is_completed_once(task, monkeypatch):
    calls = []
    complete = CandidateFactory.complete

    def spy(self, requests, with_features):
        calls.append(requests)
        return complete(self, requests, with_features)

    monkeypatch.setattr(CandidateFactory, "complete", spy)
    context = SearchContext(task, rng=np.random.default_rng(9))
    # A small population bred for several generations from strong parents repeats children.
    search = EvolutionarySearch(population=256, generations=4, workers=0, local_share=0.0)
    search.propose(context, OracleCostModel(), 8)
    bred = [[(index, repr(sorted(decisions.items()))) for index, decisions, _ in requests]
            for requests in calls if requests and requests[0][1] is not None]
    assert bred and sum(len(keys) for keys in bred) > 100
    for keys in bred:
        assert len(set(keys)) == len(keys)


def _tiled(sketch, rows, cols, unroll=16):
    return SimpleNamespace(sketch=sketch, decisions={
        "split/C/0": rows, "split/C/1": cols, "unroll/C": unroll})


def test_programs_of_one_inner_tile_are_spread_out():
    first, second = object(), object()
    a = _tiled(first, [4, 8, 4], [2, 64])
    a_outer = _tiled(first, [8, 4, 4], [2, 64], unroll=64)  # moved outer factors only
    a_third = _tiled(first, [16, 2, 4], [2, 64])
    b = _tiled(first, [4, 4, 8], [2, 64])
    c = _tiled(second, [4, 8, 4], [2, 64])  # a's lengths, another sketch
    assert inner_tile(a) == inner_tile(a_outer) == inner_tile(a_third)
    assert len({inner_tile(p) for p in (a, b, c)}) == 3
    ranked = [a, a_outer, a_third, b, c]
    assert spread_over_tiles(ranked, 2) == [a, a_outer, b, c, a_third]
    assert spread_over_tiles(ranked, 1) == [a, b, c, a_outer, a_third]
    pairs = [(1.0, p) for p in ranked]
    assert spread_over_tiles(pairs, 1, program_of=lambda item: item[1]) == [
        pairs[0], pairs[3], pairs[4], pairs[1], pairs[2]]


def test_evolved_programs_and_local_parents_are_spread_over_inner_tiles(task):
    context = SearchContext(task, rng=np.random.default_rng(11))
    measured = context.sample(40)
    context.add_measured(measured, [oracle_latency(p) for p in measured])
    search = EvolutionarySearch(population=64, generations=2, eps_greedy=0.0, workers=0,
                                local_share=0.0, max_per_tile=1, parents_per_tile=1,
                                local_parents=4, per_sketch_parents=False)
    proposal = search.propose(context, OracleCostModel(), 8)
    assert len(proposal) == 8 and all(p.origin == "evolved" for p in proposal)
    assert len({inner_tile(p) for p in proposal}) == 8
    parents = search._local_parents(context)
    assert len({inner_tile(p) for p in parents}) == len(parents) == 4
    assert parents[0] is context.best_measured(1)[0]
    for parent in parents[1:]:  # each the fastest of its tile
        fastest = next(p for p in context.best_measured(40)
                       if inner_tile(p) == inner_tile(parent))
        assert fastest is parent
    uncapped = EvolutionarySearch(local_parents=4, parents_per_tile=None,
                                  per_sketch_parents=False)
    assert uncapped._local_parents(context) == context.best_measured(4)
    with pytest.raises(ValueError, match="max_per_tile"):
        EvolutionarySearch(max_per_tile=0)
