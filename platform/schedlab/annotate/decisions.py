"""The random choices behind an annotated program, recorded so search can change them.

Annotating a sketch makes a handful of random choices: the lengths of each undecided
split, where a stage is computed, how many outer loops run in parallel, the auto-unroll
limit. Each choice has a key that names what it decides and the stage it belongs to:

================================  ===============================================
key                               value
================================  ===============================================
``split/<stage>/<step index>``    inner split lengths, outermost first
``at/<stage>``                    consumer loop index to compute at; -1 for root
``parallel/<stage>``              how many leading loops are fused and parallel
``unroll/<stage>``                the auto-unroll limit
================================  ===============================================

Replaying a sketch with a dictionary of decisions gives the same program again; a
decision that is missing or no longer valid is drawn at random. Mutation and crossover
(``schedlab.search``) work on these dictionaries, MetaSchedule-style, instead of editing
step lists.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SplitSpace:
    """What a split decision may be: ``parts`` inner lengths whose product divides
    ``extent``, the innermost at most ``max_innermost``."""

    extent: int
    parts: int
    max_innermost: int

    def is_valid(self, lengths: Any) -> bool:
        if not isinstance(lengths, (tuple, list)) or len(lengths) != self.parts:
            return False
        if not all(isinstance(x, (int, np.integer)) and x >= 1 for x in lengths):
            return False
        return self.extent % math.prod(lengths) == 0 and lengths[-1] <= self.max_innermost


@dataclass(frozen=True)
class ChoiceSpace:
    """A decision that takes one of ``options``."""

    options: tuple

    def is_valid(self, value: Any) -> bool:
        return value in self.options


def stage_of(key: str) -> str:
    """The stage a decision key belongs to."""
    return key.split("/")[1]


class Decider:
    """Makes the annotator's choices: from ``fixed`` where it holds a valid value, at random
    otherwise, recording every choice and the space it was drawn from."""

    def __init__(self, rng: np.random.Generator, fixed: dict[str, Any] | None = None):
        self.rng = rng
        self.fixed = fixed or {}
        self.made: dict[str, Any] = {}
        self.spaces: dict[str, SplitSpace | ChoiceSpace] = {}

    def split(self, key: str, space: SplitSpace, sample: Callable[[], tuple]) -> tuple:
        value = self.fixed.get(key)
        if value is None or not space.is_valid(value):
            value = sample()
        value = tuple(int(x) for x in value)
        self.made[key], self.spaces[key] = value, space
        return value

    def choice(self, key: str, options: Sequence, sample: Callable[[], Any] | None = None):
        """One of ``options``: the fixed value if it is one, else ``sample()`` (default: a
        uniform draw)."""
        space = ChoiceSpace(tuple(options))
        value = self.fixed.get(key)
        if key not in self.fixed or not space.is_valid(value):
            value = sample() if sample else options[int(self.rng.integers(len(options)))]
        self.made[key], self.spaces[key] = value, space
        return value
