"""Sketch generation rules: the base class and the context they run in."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..ir.state import State
from ..target import Target


class Condition(enum.Enum):
    """What a rule says about a stage: pass, add its sketches and let later rules add more
    (``APPLY``), or add its sketches and stop there (``APPLY_AND_SKIP_REST``)."""

    SKIP = "skip"
    APPLY = "apply"
    APPLY_AND_SKIP_REST = "apply_and_skip_rest"


@dataclass(frozen=True)
class SketchContext:
    """What rules may consult besides the state: the target and its limits."""

    target: Target

    @property
    def is_gpu(self) -> bool:
        return self.target.kind == "cuda"


class SketchRule(ABC):
    """One derivation rule (Ansor, OSDI 2020, Table 1).

    The generator visits stages from the last to the first. For each (state, stage) it asks
    every enabled rule in order for :meth:`condition`; a rule that applies returns from
    :meth:`apply` new ``(state, next_stage_id)`` pairs: the state with the rule's steps
    appended to its history, and the stage the generator visits next in that state (usually
    ``stage_id - 1``; the same ``stage_id`` to let other rules look at it again). Rules are
    pure: they never change the state they are given.
    """

    name: str = ""

    @abstractmethod
    def condition(self, ctx: SketchContext, state: State, stage_id: int) -> Condition:
        """Whether the rule applies to stage ``stage_id`` of ``state``."""

    @abstractmethod
    def apply(self, ctx: SketchContext, state: State, stage_id: int) -> list[tuple[State, int]]:
        """The sketches the rule derives, each with the next stage to visit."""
