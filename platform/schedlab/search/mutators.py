"""Mutations of an annotated program's decisions (``schedlab.annotate.decisions``).

Each mutator changes one decision of a program and returns the new decision dictionary,
or ``None`` when the program has nothing it can change. The annotator turns the result
back into a program, so a mutator only has to produce a valid value.
"""

from __future__ import annotations

import abc
import itertools

import numpy as np

from ..annotate.decisions import ChoiceSpace, SplitSpace
from ..annotate.tile_sizes import divisors, sample_split_lengths


class Mutator(abc.ABC):
    """Changes one decision of a program.

    Contract: :meth:`mutate` reads ``program.decisions`` and ``program.decision_spaces``,
    never modifies them, and returns a new dictionary whose changed value is valid in its
    space, or ``None`` if the program has no decision of this kind that can change.
    """

    name: str = ""

    @abc.abstractmethod
    def mutate(self, program, rng: np.random.Generator) -> dict | None:
        """New decisions for ``program``, or ``None``."""

    def neighbours(self, program) -> list[dict]:
        """Every decision dictionary that :meth:`mutate` can return for ``program``, each
        once; empty for a mutator whose changes cannot be listed (a random redraw)."""
        return []

    @staticmethod
    def _keys(program, prefix: str) -> list[str]:
        return [k for k in program.decisions if k.startswith(prefix)]


class _SplitMutator(Mutator):
    """Changes the lengths of one split, drawn at random among the program's splits."""

    @staticmethod
    def _split_keys(program) -> list[str]:
        """The program's split decisions that can change (of loops longer than 1)."""
        return [k for k, space in program.decision_spaces.items()
                if isinstance(space, SplitSpace) and space.extent > 1]

    def mutate(self, program, rng):
        keys = self._split_keys(program)
        if not keys:
            return None
        for _ in range(8):
            key = keys[int(rng.integers(len(keys)))]
            space: SplitSpace = program.decision_spaces[key]
            lengths = self.new_lengths(space, tuple(program.decisions[key]), rng)
            if lengths is not None and space.is_valid(lengths):
                return {**program.decisions, key: lengths}
        return None

    @abc.abstractmethod
    def new_lengths(self, space: SplitSpace, lengths: tuple, rng) -> tuple | None:
        """Other inner lengths for a split of ``space`` now at ``lengths``, or ``None``."""

    def all_lengths(self, space: SplitSpace, lengths: tuple) -> list[tuple]:
        """Every value :meth:`new_lengths` can return; empty if they cannot be listed."""
        return []

    def neighbours(self, program):
        found = []
        for key in self._split_keys(program):
            space, current = program.decision_spaces[key], tuple(program.decisions[key])
            found += [{**program.decisions, key: lengths}
                      for lengths in dict.fromkeys(self.all_lengths(space, current))
                      if lengths != current and space.is_valid(lengths)]
        return found


class TileSizeMutator(_SplitMutator):
    """Moves a factor of one tile level of a split to another level (Ansor's tile-size
    mutation); the split's product, and so its extent, stays the same.

    The factor is any divisor above 1 of the source level, not only a prime one: a tile of
    16 rows can become one of 1 row in one step, where prime moves would need four, each
    through a program the cost model must first rate well.
    """

    name = "tile_size"

    def new_lengths(self, space, lengths, rng):
        levels = _levels(space, lengths)
        sources = [i for i, x in enumerate(levels) if x > 1]
        if not sources:
            return None
        src = sources[int(rng.integers(len(sources)))]
        factors = divisors(levels[src])[1:]
        factor = factors[int(rng.integers(len(factors)))]
        dst = int(rng.integers(len(levels) - 1))
        dst += dst >= src  # any level but the source
        return _moved(levels, src, dst, factor)

    def all_lengths(self, space, lengths):
        levels = _levels(space, lengths)
        return [_moved(levels, src, dst, factor)
                for src, dst in itertools.permutations(range(len(levels)), 2)
                for factor in divisors(levels[src])[1:]]


def _levels(space: SplitSpace, lengths: tuple) -> list[int]:
    """Every level's length of a split, outermost (the part left over) first."""
    return [space.extent // int(np.prod(lengths))] + list(lengths)


def _moved(levels: list[int], src: int, dst: int, factor: int) -> tuple:
    """Inner lengths after moving ``factor`` from level ``src`` to level ``dst``."""
    levels = list(levels)
    levels[src] //= factor
    levels[dst] *= factor
    return tuple(levels[1:])


class TileResampleMutator(_SplitMutator):
    """Draws every tile length of one split anew, as a fresh program would.

    Moving one factor at a time cannot leave a tiling whose neighbours are all slower: a
    12-wide vector tile of a 3072-long loop needs a move to 4 wide (slow) before it can
    become 16 wide. A redrawn split jumps there in one step and keeps every other decision.
    """

    name = "tile_resample"

    def new_lengths(self, space, lengths, rng):
        drawn = sample_split_lengths(space.extent, space.parts, rng, space.max_innermost)
        return drawn if drawn != lengths else None


class _ChoiceMutator(Mutator):
    """Redraws one decision whose key starts with ``prefix`` among its other options."""

    prefix = ""

    def mutate(self, program, rng):
        keys = [k for k in self._keys(program, self.prefix)
                if len(program.decision_spaces[k].options) > 1]
        if not keys:
            return None
        key = keys[int(rng.integers(len(keys)))]
        space: ChoiceSpace = program.decision_spaces[key]
        value = self.pick(space.options, program.decisions[key], rng)
        return {**program.decisions, key: value}

    def neighbours(self, program):
        return [{**program.decisions, key: value}
                for key in self._keys(program, self.prefix)
                for value in self.others(program.decision_spaces[key].options,
                                         program.decisions[key])]

    def pick(self, options: tuple, current, rng):
        others = self.others(options, current)
        return others[int(rng.integers(len(others)))]

    def others(self, options: tuple, current) -> list:
        """The values :meth:`pick` may choose instead of ``current``."""
        return [o for o in options if o != current]


class AutoUnrollMutator(_ChoiceMutator):
    """Changes the auto-unroll limit of a stage."""

    name = "auto_unroll"
    prefix = "unroll/"


class ComputeLocationMutator(_ChoiceMutator):
    """Moves a stage to another loop of its consumer, or back to root."""

    name = "compute_location"
    prefix = "at/"


class ParallelMutator(_ChoiceMutator):
    """Makes parallelism one fused loop coarser or finer (Ansor's parallel mutation)."""

    name = "parallel"
    prefix = "parallel/"

    def others(self, options, current):
        return [o for o in options if abs(o - current) == 1]


MUTATORS: dict[str, type[Mutator]] = {
    cls.name: cls for cls in (TileSizeMutator, TileResampleMutator, AutoUnrollMutator,
                              ComputeLocationMutator, ParallelMutator)
}

# Ansor's mutation probabilities (tile sizes matter most), with a tenth of the tile-size
# share given to redrawing a whole split: on dense_bias_relu, over three seeds, it took the
# best of 256 trials from 163-203 to 201-210 GFLOP/s (one seed had been stuck at a 12-wide
# vector tile). On conv2d, two seeds gave 194 and 164 against 208 and 178 without it,
# within conv2d's run-to-run spread (116 to 185 on one seed with the same code).
DEFAULT_MUTATION_WEIGHTS = {
    "tile_size": 0.75, "tile_resample": 0.1, "auto_unroll": 0.05, "compute_location": 0.05,
    "parallel": 0.05,
}


def crossover(first, second, rng: np.random.Generator, by_stage: bool = False) -> dict | None:
    """Decisions of a child of two programs of the same sketch (the crossover of the Ansor
    paper, which TVM never implemented).

    Each decision comes from one parent or the other; with ``by_stage`` all decisions of a
    stage come from the same parent. Splits of different loops are independent, so mixing
    them per decision also crosses single-stage programs such as a matmul. ``None`` when
    the parents' sketches differ or their decisions are the same.
    """
    if first.sketch is not second.sketch or first.decisions == second.decisions:
        return None
    keys = sorted(set(first.decisions) | set(second.decisions))
    groups = sorted({key.split("/")[1] for key in keys}) if by_stage else keys
    from_first = {group: bool(rng.integers(2)) for group in groups}
    child = {}
    for key in keys:
        group = key.split("/")[1] if by_stage else key
        parent, other = (first, second) if from_first[group] else (second, first)
        child[key] = parent.decisions[key] if key in parent.decisions else other.decisions[key]
    return child
