"""Random but valid schedules of any task, for differential testing of lowering and codegen.

:func:`random_steps` builds a step list incrementally: every candidate step is applied to the
current state and kept only if it applies, so the result always replays. It draws, in order:

1. structural rewrites at the start: ``cache_write`` of reduction stages, ``cache_read`` of
   a tensor into some of its readers, ``rfactor`` of a reduction split in two;
2. ``compute_inline`` of injective stages that are not kernel arguments;
3. loop transforms: splits (with lengths that do not divide the extent, and lengths longer
   than the loop, so the guards are exercised), reorders, fuses of adjacent loops,
   ``compute_at`` of a producer into a loop of a stage it runs inside, ``compute_root``;
4. annotations: parallel outer loops (after fusing some), vectorized inner loops, unrolled
   short loops, ``auto_unroll``.

A valid step list may still fail to lower (``LoweringError``, for example a producer whose
other consumer runs outside the loop it was moved to). :func:`random_program` lowers each
candidate, drops those that fail, tries the next seed-derived one and counts the drops in a
:class:`GenerationStats`.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field

import numpy as np

from ..ir.lower import LoweringError
from ..ir.state import State
from ..ir.steps import (
    AnnotateStep,
    AutoUnrollStep,
    CacheReadStep,
    CacheWriteStep,
    ComputeAtStep,
    ComputeInlineStep,
    ComputeRootStep,
    FuseStep,
    ReorderStep,
    RfactorStep,
    SplitStep,
    Step,
    StepError,
)
from ..program import Program
from ..task import Task
from ..te import ComputeOp, Reduce

__all__ = [
    "GenerationStats", "NoProgramError", "ScheduleGenerator", "random_program", "random_steps",
]

DEFAULT_MAX_STEPS = 16


class NoProgramError(ValueError):
    """No random candidate of a task lowered."""


@dataclass
class GenerationStats:
    """What :func:`random_program` did.

    Attributes:
        programs: programs returned (they lowered).
        lowering_failures: candidates dropped because lowering raised ``LoweringError``.
        failure_reasons: the first words of each dropped candidate's error, counted.
    """

    programs: int = 0
    lowering_failures: int = 0
    failure_reasons: collections.Counter = field(default_factory=collections.Counter)

    def merge(self, other: GenerationStats) -> None:
        self.programs += other.programs
        self.lowering_failures += other.lowering_failures
        self.failure_reasons.update(other.failure_reasons)


class ScheduleGenerator:
    """Draws one random step list for ``task``; see the module docstring for the phases.

    Args:
        task: the task to schedule.
        rng: the random source.
        max_steps: upper bound on the number of loop-transform steps (phase 3).
        structural: whether to draw cache_write / cache_read / rfactor.
    """

    def __init__(self, task: Task, rng: np.random.Generator, max_steps: int = DEFAULT_MAX_STEPS,
                 structural: bool = True):
        self.task = task
        self.rng = rng
        self.max_steps = max_steps
        self.structural = structural
        self.state = State.from_dag(task.dag)
        self.steps: list[Step] = []

    # -- helpers ----------------------------------------------------------------------------
    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def pick(self, items):
        return items[int(self.rng.integers(len(items)))]

    def apply(self, step: Step) -> bool:
        """Apply ``step`` if it applies; report whether it was kept."""
        try:
            self.state = step.apply(self.state)
        except StepError:
            return False
        self.steps.append(step)
        return True

    def index(self, name: str) -> int:
        return self.state.stage_index(name)

    def loop_stages(self) -> list[int]:
        """Stages that get loops: computed, not inlined."""
        return [
            i for i, st in enumerate(self.state.stages)
            if isinstance(st.op, ComputeOp) and st.attach.kind != "inline" and st.iters
        ]

    # -- phases -----------------------------------------------------------------------------
    def run(self) -> list[Step]:
        if self.structural:
            self.structural_rewrites()
        self.inline()
        self.loop_transforms()
        self.annotate()
        return self.steps

    def structural_rewrites(self) -> None:
        computed = [st for st in self.state.stages if isinstance(st.op, ComputeOp)]
        for st in computed:
            if self.chance(0.35 if isinstance(st.op.body, Reduce) else 0.08):
                self.apply(CacheWriteStep(self.index(st.name), "local"))
        for _ in range(2):
            if self.chance(0.2):
                self.cache_read()
        for st in list(self.state.stages):
            if (isinstance(st.op, ComputeOp) and isinstance(st.op.body, Reduce)
                    and not st.relations and self.chance(0.15)):
                self.rfactor(st.name)

    def cache_read(self) -> None:
        candidates = [i for i, st in enumerate(self.state.stages)
                      if st.attach.kind != "inline" and self.state.consumers(st.name)]
        if not candidates:
            return
        source = self.pick(candidates)
        consumers = self.state.consumers(self.state.stages[source].name)
        count = int(self.rng.integers(1, len(consumers) + 1))
        readers = tuple(sorted(self.rng.choice(consumers, size=count, replace=False).tolist()))
        ndim = len(self.state.stages[source].op.output.shape)
        layout = ()
        if ndim > 1 and self.chance(0.3):
            layout = tuple(self.rng.permutation(ndim).tolist())
        # A second cache of one tensor needs a scope of its own.
        scope = self.pick(["local", "shared"])
        self.apply(CacheReadStep(source, scope, readers, layout))

    def rfactor(self, name: str) -> None:
        sid = self.index(name)
        stage = self.state.stages[sid]
        reduce_ids = [i for i, it in enumerate(stage.iters) if it.kind == "reduce"]
        if not reduce_ids:
            return
        iter_id = self.pick(reduce_ids)
        length = self.split_length(stage.iters[iter_id].extent)
        if not self.apply(SplitStep(sid, iter_id, (length,))):
            return
        # Factor the outer or the inner part; if that does not apply, the split stays.
        self.apply(RfactorStep(sid, iter_id + int(self.rng.integers(2))))

    def inline(self) -> None:
        for st in list(self.state.stages):
            if (isinstance(st.op, ComputeOp) and not isinstance(st.op.body, Reduce)
                    and st.name not in self.state.arg_names and self.chance(0.5)):
                self.apply(ComputeInlineStep(self.index(st.name)))

    def loop_transforms(self) -> None:
        budget = int(self.rng.integers(0, self.max_steps + 1))
        actions = (self.split, self.reorder, self.fuse, self.compute_at, self.compute_root)
        weights = np.array([4.0, 2.0, 1.0, 2.5, 0.2])
        done = 0
        for _ in range(budget * 4):
            if done >= budget:
                break
            stages = self.loop_stages()
            if not stages:
                return
            action = actions[int(self.rng.choice(len(actions), p=weights / weights.sum()))]
            if action(self.pick(stages)):
                done += 1

    def annotate(self) -> None:
        for sid in self.loop_stages():
            stage = self.state.stages[sid]
            root = stage.attach.kind == "root"
            if self.chance(0.35 if root else 0.1):
                self.parallel(sid)
            if self.chance(0.5):
                self.vectorize(sid)
            if self.chance(0.3):
                self.unroll(sid)
            if self.chance(0.2):
                max_step = int(self.pick([0, 4, 16, 64, 512]))
                self.apply(AutoUnrollStep(sid, max_step))

    # -- loop transforms --------------------------------------------------------------------
    def split_length(self, extent: int) -> int:
        """A proper divisor of ``extent``, or any length (often not dividing), or, rarely,
        one that covers the whole loop or more."""
        r = self.rng.random()
        if r < 0.45:
            divisors = [d for d in range(2, extent) if extent % d == 0]
            if divisors:
                return int(self.pick(divisors))
        if r < 0.92 and extent > 2:
            return int(self.rng.integers(2, extent))
        return int(self.rng.integers(1, 2 * extent + 2))

    def split(self, sid: int) -> bool:
        stage = self.state.stages[sid]
        # Loops of extent 1 are split rarely: that only adds more loops of extent 1.
        long = [i for i, it in enumerate(stage.iters) if it.extent > 1]
        if long and self.chance(0.95):
            iter_id = self.pick(long)
        else:
            iter_id = int(self.rng.integers(len(stage.iters)))
        extent = stage.iters[iter_id].extent
        parts = 1 if self.chance(0.6) else 2
        lengths = []
        for _ in range(parts):
            lengths.append(self.split_length(extent))
            extent = max(1, math.ceil(extent / lengths[-1]))
        return self.apply(SplitStep(sid, iter_id, tuple(lengths)))

    def reorder(self, sid: int) -> bool:
        n = len(self.state.stages[sid].iters)
        if n < 2:
            return False
        order = list(range(n))
        if self.chance(0.5):
            order = self.rng.permutation(n).tolist()
        else:
            a, b = self.rng.choice(n, size=2, replace=False).tolist()
            order[a], order[b] = order[b], order[a]
        return self.apply(ReorderStep(sid, tuple(order)))

    def fuse(self, sid: int) -> bool:
        iters = self.state.stages[sid].iters
        if len(iters) < 2:
            return False
        count = 2 if self.chance(0.7) or len(iters) < 3 else 3
        start = int(self.rng.integers(0, len(iters) - count + 1))
        return self.apply(FuseStep(sid, tuple(range(start, start + count))))

    def compute_at(self, sid: int) -> bool:
        stage = self.state.stages[sid]
        if not self.state.consumers(stage.name):
            return False
        targets = [i for i in self.loop_stages() if i > sid]
        direct = [i for i in self.consumer_stages(stage.name) if i in targets]
        if direct and self.chance(0.75):
            targets = direct
        if not targets:
            return False
        target = self.pick(targets)
        iter_id = int(self.rng.integers(len(self.state.stages[target].iters)))
        return self.apply(ComputeAtStep(sid, target, iter_id))

    def consumer_stages(self, name: str) -> list[int]:
        """Non-inlined stages reading ``name``, looking through inlined ones."""
        found = []
        for c in self.state.consumers(name):
            st = self.state.stages[c]
            if st.attach.kind == "inline":
                found.extend(self.consumer_stages(st.name))
            else:
                found.append(c)
        return found

    def compute_root(self, sid: int) -> bool:
        if self.state.stages[sid].attach.kind != "at":
            return False
        return self.apply(ComputeRootStep(sid))

    # -- annotations ------------------------------------------------------------------------
    def parallel(self, sid: int) -> None:
        iters = self.state.stages[sid].iters
        if self.chance(0.3) and len(iters) >= 2 and self.apply(FuseStep(sid, (0, 1))):
            iters = self.state.stages[sid].iters
        spatial = [i for i, it in enumerate(iters[:2]) if it.kind == "spatial"]
        if spatial:
            self.apply(AnnotateStep(sid, spatial[0], "parallel"))

    def vectorize(self, sid: int) -> None:
        iters = self.state.stages[sid].iters
        spatial = [i for i, it in enumerate(iters) if it.kind == "spatial"
                   and it.annotation == "none"]
        if not spatial:
            return
        innermost = len(iters) - 1
        if innermost in spatial and self.chance(0.8):
            choice = innermost
        else:
            choice = self.pick(spatial)
        self.apply(AnnotateStep(sid, choice, "vectorize"))

    def unroll(self, sid: int) -> None:
        iters = self.state.stages[sid].iters
        short = [i for i, it in enumerate(iters) if it.extent <= 16 and it.annotation == "none"]
        if short:
            self.apply(AnnotateStep(sid, self.pick(short), "unroll"))


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def random_steps(task: Task, rng: np.random.Generator | int | None = None,
                 max_steps: int = DEFAULT_MAX_STEPS, structural: bool = True) -> list[Step]:
    """A random step list that applies to ``task`` (it may still fail to lower).

    Args:
        task: the task to schedule.
        rng: a numpy ``Generator`` or a seed.
        max_steps: at most this many loop transforms (splits, reorders, fuses, compute_at);
            structural rewrites, inlining and annotations come on top.
        structural: draw cache_write / cache_read / rfactor as well.
    """
    return ScheduleGenerator(task, _as_rng(rng), max_steps, structural).run()


def random_program(task: Task, seed: int, max_steps: int = DEFAULT_MAX_STEPS,
                   max_attempts: int = 50, stats: GenerationStats | None = None) -> Program:
    """A random program of ``task`` that lowers, determined by ``seed``.

    Candidates that raise ``LoweringError`` are dropped (and counted in ``stats``); the
    next candidate comes from ``(seed, attempt)``. Any other exception is a bug and
    propagates.

    Raises:
        NoProgramError: no candidate lowered in ``max_attempts`` tries.
    """
    stats = stats if stats is not None else GenerationStats()
    for attempt in range(max_attempts):
        rng = np.random.default_rng([seed, attempt])
        program = Program(task, random_steps(task, rng, max_steps))
        try:
            program.func  # noqa: B018 - lowering is what may fail
        except LoweringError as exc:
            stats.lowering_failures += 1
            stats.failure_reasons[_reason(str(exc))] += 1
            continue
        stats.programs += 1
        return program
    raise NoProgramError(f"no random program of {task.name!r} lowered in {max_attempts} attempts "
                     f"(seed {seed})")


def _reason(message: str) -> str:
    """The message with names stripped, so that similar failures count together."""
    words = message.split()
    return " ".join(w for w in words if "'" not in w and not any(c.isdigit() for c in w))[:80]
