"""Sketch generation: apply the rules from the last stage to the first."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from ..ir.state import State
from ..ir.steps import SplitStep, Step, StepError
from .registry import create_rule, default_rules
from .rule import Condition, SketchContext, SketchRule

MAX_SKETCHES = 64


@dataclass(frozen=True)
class Sketch:
    """A partial program: its structure is fixed, tile sizes (split lengths of ``None``)
    and annotations are left to the annotator."""

    task: object
    state: State

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.state.history

    @functools.cached_property
    def decided_prefix(self) -> tuple[int, State]:
        """``(n, state)``: the first ``n`` steps need no decision (no undecided split before
        them), and replaying them on the task's initial state gives ``state``.

        Completing a program starts from here: replaying these steps (a cache_write
        rewrites the computation) was a tenth of completing one, and search completes
        thousands per sketch. States are immutable, so every program shares this one.
        """
        state = State.from_dag(self.task.dag)
        fixed = 0
        for step in self.steps:
            if isinstance(step, SplitStep) and None in step.lengths:
                break
            try:
                state = step.apply(state)
            except StepError:  # the annotator replays it and reports the failure
                break
            fixed += 1
        return fixed, state

    def __str__(self) -> str:
        return "\n".join(str(s) for s in self.steps) or "(no steps)"


def generate_sketches(
    task,
    rules: Iterable[str | SketchRule] | None = None,
    disabled: Iterable[str] = (),
    extra_rules: Iterable[str | SketchRule] = (),
) -> list[Sketch]:
    """Every sketch the rules derive for ``task``.

    Args:
        task: a :class:`schedlab.Task`.
        rules: rule names or objects in the order they are tried; defaults to the
            target's list (``registry.CPU_RULES`` / ``GPU_RULES``).
        disabled: rule names to leave out (for ablations); ``skip`` cannot be left out.
        extra_rules: user rules tried before the defaults.
    """
    disabled = set(disabled)
    if "skip" in disabled:
        raise ValueError("the 'skip' rule cannot be disabled: the generator needs it to move on")
    names = list(rules) if rules is not None else list(default_rules(task.target.kind))
    chosen = [create_rule(r) for r in list(extra_rules) + names]
    unknown = disabled - {r.name for r in chosen}
    if unknown:
        raise ValueError(f"cannot disable unknown rules {sorted(unknown)}; "
                         f"rules in use: {[r.name for r in chosen]}")
    chosen = [r for r in chosen if r.name not in disabled]
    ctx = SketchContext(task.target)
    start = State.from_dag(task.dag)
    frontier = [(start, len(start.stages) - 1)]
    done: list[State] = []
    while frontier:
        following = []
        for state, stage_id in frontier:
            if stage_id < 0:
                done.append(state)
                continue
            for rule in chosen:
                condition = rule.condition(ctx, state, stage_id)
                if condition is Condition.SKIP:
                    continue
                following.extend(rule.apply(ctx, state, stage_id))
                if condition is Condition.APPLY_AND_SKIP_REST:
                    break
        frontier = following
        if len(done) + len(frontier) > MAX_SKETCHES:
            raise ValueError(f"{task.name}: more than {MAX_SKETCHES} sketches; check the rules")
    return [Sketch(task, state) for state in done]
