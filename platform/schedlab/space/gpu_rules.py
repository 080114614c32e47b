"""GPU-only rules: shared-memory cache reads and cross-thread reduction."""

from __future__ import annotations

from ..ir.steps import AnnotateStep, CacheReadStep, ComputeAtStep, FuseStep, SplitStep
from .predicates import has_data_reuse, needs_cross_thread_reduction
from .rule import Condition, SketchRule


def _tiled_reader(state, stage_id: int) -> int | None:
    """The multi-level-tiled stage that reads this tensor, if it is its only reader."""
    readers = state.consumers(state.stages[stage_id].name)
    if len(readers) != 1:
        return None
    reader = state.stages[readers[0]]
    if not has_data_reuse(state, readers[0]) or not reader.relations:
        return None
    return readers[0]


class AddCacheReadShared(SketchRule):
    """Stage an input of a tiled reduction in shared memory (cooperative fetch): a
    ``shared`` copy computed at the reader's outermost reduction tile, which the annotator
    spreads over the block's threads."""

    name = "add_cache_read_shared"

    def condition(self, ctx, state, stage_id):
        if not ctx.is_gpu or state.stages[stage_id].name.endswith(".shared"):
            return Condition.SKIP
        reader = _tiled_reader(state, stage_id)
        if reader is None or not any(it.kind == "reduce" for it in state.stages[reader].iters):
            return Condition.SKIP
        return Condition.APPLY_AND_SKIP_REST

    def apply(self, ctx, state, stage_id):
        reader = _tiled_reader(state, stage_id)
        state = CacheReadStep(stage_id, "shared", (reader,)).apply(state)
        reader += 1  # the copy was inserted before it
        iters = state.stages[reader].iters
        first_reduce = next(i for i, it in enumerate(iters) if it.kind == "reduce")
        n_reduce = sum(1 for it in state.stages[reader].op.reduce_axes)
        # Inside the outermost reduction tile: the copy holds one tile of the input.
        attach = first_reduce + n_reduce - 1
        state = ComputeAtStep(stage_id + 1, reader, attach).apply(state)
        return [(state, stage_id - 1)]


class CrossThreadReduction(SketchRule):
    """Reduce with the threads of a block (``needs_cross_thread_reduction``): the
    reduction loops are fused, split, and the inner part bound to ``threadIdx.x``."""

    name = "cross_thread_reduction"

    def condition(self, ctx, state, stage_id):
        stage = state.stages[stage_id]
        if (ctx.is_gpu and not stage.relations and stage.attach.kind == "root"
                and needs_cross_thread_reduction(state, stage_id,
                                                 ctx.target.max_threads_per_block)):
            return Condition.APPLY_AND_SKIP_REST
        return Condition.SKIP

    def apply(self, ctx, state, stage_id):
        iters = state.stages[stage_id].iters
        reduce = [i for i, it in enumerate(iters) if it.kind == "reduce"]
        if len(reduce) > 1:
            state = FuseStep(stage_id, tuple(reduce)).apply(state)
        k = reduce[0]
        state = SplitStep(stage_id, k, (None,)).apply(state)
        state = AnnotateStep(stage_id, k + 1, "threadIdx.x").apply(state)
        return [(state, stage_id - 1)]
