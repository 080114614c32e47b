"""Transform steps: pure data that turns one schedule state into the next.

Every step names its stage by index (as it was when the step was applied), so a list of
steps replays deterministically on the task's initial state. ``apply`` raises
``ValueError`` naming the step and the reason when a step does not apply.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, fields
from typing import ClassVar

from ..te import ComputeOp, Reduce
from .rewrite import cache_write_ops, copy_op, retarget_reads, rfactor_ops
from .state import (
    ANNOTATIONS,
    Attach,
    Fuse,
    Iterator,
    Split,
    Stage,
    State,
    evolve,
    split_extents,
    stage_for,
)

STEP_TYPES: dict[str, type[Step]] = {}


class StepError(ValueError):
    """A step that does not apply to the state it was given."""


@dataclass(frozen=True)
class Step:
    """Base class: a transform on one stage (``stage_id``)."""

    kind: ClassVar[str] = ""
    stage_id: int

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.kind:
            STEP_TYPES[cls.kind] = cls

    def apply(self, state: State) -> State:
        try:
            new = self._apply(state, self._stage(state))
            return evolve(new, history=state.history + (self,))
        except StepError:
            raise
        except ValueError as exc:
            raise StepError(f"{self}: {exc}") from None

    def _apply(self, state: State, stage: Stage) -> State:  # pragma: no cover - abstract
        raise NotImplementedError

    def _stage(self, state: State) -> Stage:
        if not 0 <= self.stage_id < len(state.stages):
            raise StepError(f"{self}: no stage {self.stage_id} (state has {len(state.stages)})")
        stage = state.stages[self.stage_id]
        if stage.is_placeholder and not isinstance(self, CacheReadStep):
            raise StepError(f"{self}: stage {stage.name!r} is a placeholder and has no loops")
        return stage

    def fail(self, reason: str):
        raise StepError(f"{self}: {reason}")

    def _iter(self, stage: Stage, iter_id: int) -> Iterator:
        if not 0 <= iter_id < len(stage.iters):
            self.fail(f"stage {stage.name!r} has no iterator {iter_id} (it has {len(stage.iters)})")
        return stage.iters[iter_id]

    def to_json(self) -> list:
        return [self.kind] + [_plain(getattr(self, f.name)) for f in fields(self)]

    def __str__(self):
        args = ", ".join(f"{k}={v}" for k, v in asdict(self).items())
        return f"{self.kind}({args})"


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def step_from_json(record: list) -> Step:
    """Rebuild a step from :meth:`Step.to_json` output."""
    if not record or record[0] not in STEP_TYPES:
        raise ValueError(f"unknown step record {record!r}; kinds: {sorted(STEP_TYPES)}")
    cls = STEP_TYPES[record[0]]
    names = [f.name for f in fields(cls)]
    required = [f.name for f in fields(cls) if f.default is MISSING]
    if not len(required) <= len(record) - 1 <= len(names):
        raise ValueError(f"step {record[0]!r} needs fields {names}, got {record[1:]!r}")
    values = [tuple(v) if isinstance(v, list) else v for v in record[1:]]
    return cls(**dict(zip(names, values)))


@dataclass(frozen=True)
class SplitStep(Step):
    """Split iterator ``iter_id`` into ``len(lengths) + 1`` loops; ``lengths`` are the sizes
    of the inner loops (outermost first). Lengths that do not divide leave a guarded tail.
    A length of ``None`` is undecided: such a state is a sketch, which the annotator
    completes and which cannot be lowered before."""

    kind: ClassVar[str] = "split"
    iter_id: int
    lengths: tuple[int | None, ...]

    def _apply(self, state, stage):
        it = self._iter(stage, self.iter_id)
        if not self.lengths:
            self.fail("needs at least one length")
        for n in self.lengths:
            if n is None:
                continue
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                self.fail(f"lengths must be positive ints, got {list(self.lengths)}")
        return _split(self, state, stage, it, tuple(self.lengths))


def _split(step: Step, state: State, stage: Stage, it: Iterator, lengths: tuple) -> State:
    """Replace loop ``it`` by its split parts (shared by SplitStep and FollowSplitStep)."""
    if it.annotation != "none":
        step.fail(f"iterator {it.name!r} is annotated {it.annotation!r}; split before annotating")
    _check_not_attach_point(step, state, stage, [it.name])
    existing = {i.name for i in stage.iters}
    names = tuple(_unique(f"{it.name}.{k}", existing) for k in range(len(lengths) + 1))
    extents = split_extents(it.extent, lengths)
    children = tuple(Iterator(n, e, it.kind) for n, e in zip(names, extents))
    index = stage.iter_index(it.name)
    iters = stage.iters[:index] + children + stage.iters[index + 1 :]
    relation = Split(it.name, names, lengths)
    new = evolve(stage, iters=iters, relations=stage.relations + (relation,))
    return state.with_stage(state.stage_index(stage.name), new)


@dataclass(frozen=True)
class FollowSplitStep(Step):
    """Split iterator ``iter_id`` into ``n_parts`` loops that follow an earlier split
    (``src_step_id``, an index into the step history): the first ``n_parts - 2`` inner
    lengths are that split's, the innermost covers the rest of it. Used to tile a consumer
    like the producer it is fused with, so both stay in step when tile sizes change."""

    kind: ClassVar[str] = "follow_split"
    iter_id: int
    src_step_id: int
    n_parts: int

    def _apply(self, state, stage):
        it = self._iter(stage, self.iter_id)
        if not 0 <= self.src_step_id < len(state.history):
            self.fail(f"no step {self.src_step_id} in the history")
        src = state.history[self.src_step_id]
        if not isinstance(src, (SplitStep, FollowSplitStep)):
            self.fail(f"step {self.src_step_id} is not a split")
        src_lengths = followed_lengths(state, self.src_step_id)
        if not 2 <= self.n_parts <= len(src_lengths) + 1:
            self.fail(f"n_parts must be in 2..{len(src_lengths) + 1}")
        head = src_lengths[: self.n_parts - 2]
        tail = src_lengths[self.n_parts - 2 :]
        last = None if any(n is None for n in tail) else math.prod(tail)
        return _split(self, state, stage, it, tuple(head) + (last,))


def followed_lengths(state: State, step_id: int) -> tuple:
    """The inner lengths a split in the history produced (following FollowSplitSteps)."""
    step = state.history[step_id]
    if isinstance(step, SplitStep):
        return tuple(step.lengths)
    rel_lengths = followed_lengths(state, step.src_step_id)
    head = rel_lengths[: step.n_parts - 2]
    tail = rel_lengths[step.n_parts - 2 :]
    return tuple(head) + (None if any(n is None for n in tail) else math.prod(tail),)


def _unique(name: str, existing: set[str]) -> str:
    candidate, n = name, 0
    while candidate in existing:
        n += 1
        candidate = f"{name}_{n}"
    existing.add(candidate)
    return candidate


@dataclass(frozen=True)
class FuseStep(Step):
    """Fuse the consecutive iterators ``iter_ids`` (outermost first) into one loop.

    A stage computed at the innermost of the fused loops moves to the fused loop (its body
    is the same); one computed at an outer one would lose its place, which is an error."""

    kind: ClassVar[str] = "fuse"
    iter_ids: tuple[int, ...]

    def _apply(self, state, stage):
        ids = list(self.iter_ids)
        if len(ids) < 2:
            self.fail("needs at least two iterators")
        if ids != list(range(ids[0], ids[0] + len(ids))):
            self.fail(f"iterators must be consecutive, got {ids}")
        its = [self._iter(stage, i) for i in ids]
        kinds = {it.kind for it in its}
        if len(kinds) > 1:
            self.fail("cannot fuse spatial and reduction iterators together")
        for it in its:
            if it.annotation != "none":
                self.fail(f"iterator {it.name!r} is annotated; fuse before annotating")
        _check_not_attach_point(self, state, stage, [it.name for it in its[:-1]])
        fused_name = _unique("@".join(it.name for it in its), {i.name for i in stage.iters})
        fused = Iterator(fused_name, math.prod(it.extent for it in its), its[0].kind)
        iters = stage.iters[: ids[0]] + (fused,) + stage.iters[ids[-1] + 1 :]
        relation = Fuse(tuple(it.name for it in its), fused_name)
        new = evolve(stage, iters=iters, relations=stage.relations + (relation,))
        state = state.with_stage(self.stage_id, new)
        moved = Attach("at", stage.name, fused_name)
        for i, other in enumerate(state.stages):
            if other.attach == Attach("at", stage.name, its[-1].name):
                state = state.with_stage(i, evolve(other, attach=moved))
        return state


def _check_not_attach_point(step, state: State, stage: Stage, names: list[str]) -> None:
    for other in state.stages:
        if other.attach.kind == "at" and other.attach.target == stage.name:
            if other.attach.iterator in names:
                step.fail(
                    f"stage {other.name!r} is computed at {stage.name}.{other.attach.iterator}; "
                    "move it first"
                )


@dataclass(frozen=True)
class ReorderStep(Step):
    """Put the stage's loops in the order ``order`` (a permutation of iterator ids)."""

    kind: ClassVar[str] = "reorder"
    order: tuple[int, ...]

    def _apply(self, state, stage):
        if sorted(self.order) != list(range(len(stage.iters))):
            self.fail(f"order must be a permutation of 0..{len(stage.iters) - 1}")
        iters = tuple(stage.iters[i] for i in self.order)
        return state.with_stage(self.stage_id, evolve(stage, iters=iters))


@dataclass(frozen=True)
class AnnotateStep(Step):
    """Mark a loop parallel, vectorized, unrolled, or bound to a GPU axis."""

    kind: ClassVar[str] = "annotate"
    iter_id: int
    annotation: str

    def _apply(self, state, stage):
        it = self._iter(stage, self.iter_id)
        if self.annotation not in ANNOTATIONS:
            self.fail(f"unknown annotation {self.annotation!r}; valid: {', '.join(ANNOTATIONS)}")
        if self.annotation == "vectorize" and it.kind != "spatial":
            self.fail(f"only spatial loops can be vectorized; {it.name!r} is a reduction")
        if self.annotation == "parallel" and it.kind != "spatial":
            self.fail(f"only spatial loops can run in parallel; {it.name!r} is a reduction")
        iters = list(stage.iters)
        iters[self.iter_id] = evolve(it, annotation=self.annotation)
        return state.with_stage(self.stage_id, evolve(stage, iters=tuple(iters)))


@dataclass(frozen=True)
class AutoUnrollStep(Step):
    """Unroll every loop nest of the stage whose total trip count is at most ``max_step``."""

    kind: ClassVar[str] = "auto_unroll"
    max_step: int

    def _apply(self, state, stage):
        if not isinstance(self.max_step, int) or self.max_step < 0:
            self.fail("max_step must be a non-negative int")
        return state.with_stage(self.stage_id, evolve(stage, auto_unroll_max_step=self.max_step))


@dataclass(frozen=True)
class ComputeAtStep(Step):
    """Compute the stage inside loop ``target_iter_id`` of stage ``target_stage_id``,
    only the part that loop's body needs."""

    kind: ClassVar[str] = "compute_at"
    target_stage_id: int
    target_iter_id: int

    def _apply(self, state, stage):
        if not 0 <= self.target_stage_id < len(state.stages):
            self.fail(f"no target stage {self.target_stage_id}")
        target = state.stages[self.target_stage_id]
        it = self._iter(target, self.target_iter_id)
        if target.attach.kind == "inline":
            self.fail(f"target {target.name!r} is inlined")
        consumers = state.consumers(stage.name)
        if not consumers:
            self.fail(f"{stage.name!r} has no consumer to be computed inside of")
        if stage.name in state.arg_names:
            # An output computed at a consumer's loop would only get the region that
            # consumer reads, and lowering would give it a local buffer, not the caller's.
            self.fail(f"{stage.name!r} is an output of the computation and must stay at root")
        if not _inside(state, consumers, target.name):
            self.fail(f"not every consumer of {stage.name!r} runs inside {target.name!r}")
        if self.target_stage_id <= self.stage_id:
            self.fail(f"target {target.name!r} must come after {stage.name!r}")
        attach = Attach("at", target.name, it.name)
        return state.with_stage(self.stage_id, evolve(stage, attach=attach))


def _inside(state: State, consumers: list[int], target: str) -> bool:
    """Whether every consumer is ``target`` or computed inside it (inlined consumers count
    through their own consumers)."""
    for c in consumers:
        st = state.stages[c]
        if st.attach.kind == "inline":
            if not _inside(state, state.consumers(st.name), target):
                return False
            continue
        seen = set()
        while st.name != target and st.attach.kind == "at" and st.name not in seen:
            seen.add(st.name)
            st = state.stage(st.attach.target)
        if st.name != target:
            return False
    return True


@dataclass(frozen=True)
class ComputeRootStep(Step):
    """Compute the whole stage at the top level (undo compute_at / inline)."""

    kind: ClassVar[str] = "compute_root"

    def _apply(self, state, stage):
        return state.with_stage(self.stage_id, evolve(stage, attach=Attach()))


@dataclass(frozen=True)
class ComputeInlineStep(Step):
    """Substitute the stage's expression into its consumers; it gets no loops of its own."""

    kind: ClassVar[str] = "compute_inline"

    def _apply(self, state, stage):
        if isinstance(stage.op.body, Reduce):
            self.fail(f"{stage.name!r} is a reduction and cannot be inlined")
        if stage.name in state.arg_names:
            self.fail(f"{stage.name!r} is an output of the computation and cannot be inlined")
        for other in state.stages:
            if other.attach.kind == "at" and other.attach.target == stage.name:
                self.fail(f"stage {other.name!r} is computed inside {stage.name!r}")
        return state.with_stage(self.stage_id, evolve(stage, attach=Attach("inline")))


def _swap_ops(state: State, index: int, new_ops: list, extra_names: dict) -> State:
    """Replace stage ``index`` by fresh stages for ``new_ops`` and retarget consumers.

    ``extra_names`` maps the replaced tensor's id to the tensor consumers should now read.
    Stages after ``index`` keep their schedules; only their ops are rebuilt.
    """
    stages = list(state.stages[:index]) + [stage_for(op) for op in new_ops]
    replace_tensors = dict(extra_names)
    for st in state.stages[index + 1 :]:
        if st.is_placeholder:
            stages.append(st)
            continue
        new_op = retarget_reads(st.op, replace_tensors)
        if new_op is not st.op:
            replace_tensors[id(st.op.output)] = new_op.output
        stages.append(evolve(st, op=new_op))
    return evolve(state, stages=tuple(stages))


def _require_new_name(step: Step, state: State, name: str) -> None:
    # Stages are looked up by name (attach points, lowering); a second stage with the same
    # name (say cache_write then cache_read of one tensor, both "local") would be confused
    # with the first.
    if any(st.name == name for st in state.stages):
        step.fail(f"a stage named {name!r} already exists; use another scope")


def _require_untransformed(step: Step, stage: Stage) -> None:
    if stage.relations or any(it.annotation != "none" for it in stage.iters):
        step.fail(f"{stage.name!r} already has loop transforms; add cache stages first")


@dataclass(frozen=True)
class CacheWriteStep(Step):
    """Compute the stage into a new cache stage ``<name>.<scope>`` (inserted at
    ``stage_id``), and make the original stage a copy out of it (now ``stage_id + 1``)."""

    kind: ClassVar[str] = "cache_write"
    scope: str = "local"

    def _apply(self, state, stage):
        if not isinstance(stage.op, ComputeOp):
            self.fail("only computed stages can be cached")
        _require_untransformed(self, stage)
        if stage.attach.kind != "root":
            self.fail(f"{stage.name!r} is not at root")
        _require_new_name(self, state, f"{stage.name}.{self.scope}")
        cache, out = cache_write_ops(stage.op, self.scope)
        state = _swap_ops(state, self.stage_id, [cache, out], {id(stage.op.output): out.output})
        cached = evolve(state.stages[self.stage_id], scope=self.scope)
        return state.with_stage(self.stage_id, cached)


@dataclass(frozen=True)
class CacheReadStep(Step):
    """Copy the tensor of ``stage_id`` into a new stage ``<name>.<scope>`` (inserted at
    ``stage_id + 1``) that the stages ``reader_ids`` read instead. ``layout``, if given,
    permutes the copy's dimensions (copy dim ``d`` = source dim ``layout[d]``), so that a
    computed-at copy can pack a tile in the order the readers walk it."""

    kind: ClassVar[str] = "cache_read"
    scope: str
    reader_ids: tuple[int, ...]
    layout: tuple[int, ...] = ()

    def _apply(self, state, stage):
        consumers = state.consumers(stage.name)
        if not self.reader_ids:
            self.fail("needs at least one reader stage")
        for r in self.reader_ids:
            if r not in consumers:
                self.fail(f"stage {r} does not read {stage.name!r}")
        ndim = len(stage.op.output.shape)
        if self.layout and sorted(self.layout) != list(range(ndim)):
            self.fail(f"layout must be a permutation of 0..{ndim - 1}, got {list(self.layout)}")
        _require_new_name(self, state, f"{stage.name}.{self.scope}")
        cache = copy_op(f"{stage.name}.{self.scope}", stage.op.output, tuple(self.layout))
        readers = {state.stages[r].name for r in self.reader_ids}
        stages = list(state.stages[: self.stage_id + 1]) + [
            evolve(stage_for(cache), scope=self.scope)
        ]
        source_id = id(stage.op.output)
        replace_tensors = {source_id: (cache.output, tuple(self.layout))
                           if self.layout else cache.output}
        for st in state.stages[self.stage_id + 1 :]:
            if st.is_placeholder:
                stages.append(st)
                continue
            if st.name in readers:
                new_op = retarget_reads(st.op, replace_tensors)
            else:
                new_op = retarget_reads(st.op, {k: v for k, v in replace_tensors.items()
                                                if k != source_id})
            if new_op is not st.op:
                replace_tensors[id(st.op.output)] = new_op.output
            stages.append(evolve(st, op=new_op))
        return evolve(state, stages=tuple(stages))


@dataclass(frozen=True)
class RfactorStep(Step):
    """Factor a reduction: ``iter_id`` must be one part of a reduction axis split in two;
    that part becomes a spatial axis of a new stage ``<name>.rf`` (inserted at
    ``stage_id``) holding partial results, which the original stage then reduces."""

    kind: ClassVar[str] = "rfactor"
    iter_id: int

    def _apply(self, state, stage):
        it = self._iter(stage, self.iter_id)
        if it.kind != "reduce":
            self.fail(f"{it.name!r} is not a reduction iterator")
        split = next((r for r in stage.relations if isinstance(r, Split)
                      and it.name in r.children), None)
        if split is None or len(split.children) != 2:
            self.fail(f"{it.name!r} must come from splitting a reduction axis in two")
        root_names = {ax.name for ax in stage.op.reduce_axes}
        if split.parent not in root_names or len(stage.relations) != 1:
            self.fail("rfactor needs the stage's only transform to be that split")
        outer_len = math.ceil(
            next(ax.extent for ax in stage.op.reduce_axes if ax.name == split.parent)
            / (split.lengths[0] or 1)
        )
        _require_new_name(self, state, f"{stage.name}.rf")
        rf, out = rfactor_ops(
            stage.op, split.parent, outer_len, (split.lengths[0] or 1),
            factor_inner=it.name == split.children[1],
        )
        return _swap_ops(state, self.stage_id, [rf, out], {id(stage.op.output): out.output})


def replay(state: State, steps) -> State:
    """Apply ``steps`` in order to ``state``."""
    for step in steps:
        state = step.apply(state)
    return state
