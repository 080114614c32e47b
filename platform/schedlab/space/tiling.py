"""Multi-level tiling, alone or fused with an element-wise consumer.

A structure string says how loops nest: ``S`` a level of every spatial loop, ``R`` a level
of every reduction loop. CPU uses ``SSRSRS``: tiles for threads and caches outside, the
innermost spatial level a register tile. GPU uses ``SSSRRSRS``: its first three spatial
levels are later bound to blocks, virtual threads and threads. Tile sizes are left undecided
(``None``) for the annotator.
"""

from __future__ import annotations

from ..ir.state import State
from ..ir.steps import ComputeAtStep, FollowSplitStep, ReorderStep, SplitStep
from .predicates import fusible_consumer, has_data_reuse
from .rule import Condition, SketchContext, SketchRule

CPU_STRUCTURE = "SSRSRS"
GPU_STRUCTURE = "SSSRRSRS"
CPU_FUSION_LEVELS = (1, 2)
GPU_FUSION_LEVELS = (3,)


def structure_for(ctx: SketchContext) -> str:
    return GPU_STRUCTURE if ctx.is_gpu else CPU_STRUCTURE


def multi_level_tile(state: State, stage_id: int, structure: str) -> tuple[State, list[int]]:
    """Tile every loop of a root stage by ``structure``.

    Returns the new state and, for each spatial axis in order, the history index of the
    split that tiled it (consumers follow those splits).
    """
    stage = state.stages[stage_id]
    n_s, n_r = structure.count("S"), structure.count("R")
    spatial = [it.name for it in stage.iters if it.kind == "spatial"]
    reduce = [it.name for it in stage.iters if it.kind == "reduce"]
    parts: dict[str, list[str]] = {}
    split_ids: list[int] = []
    for name in spatial + reduce:
        levels = n_s if name in spatial else n_r
        current = state.stages[stage_id]
        iter_id = current.iter_index(name)
        if name in spatial:
            split_ids.append(len(state.history))
        state = SplitStep(stage_id, iter_id, (None,) * (levels - 1)).apply(state)
        new_iters = state.stages[stage_id].iters
        parts[name] = [it.name for it in new_iters[iter_id : iter_id + levels]]
    order: list[str] = []
    s_level = r_level = 0
    for letter in structure:
        if letter == "S":
            order += [parts[n][s_level] for n in spatial]
            s_level += 1
        else:
            order += [parts[n][r_level] for n in reduce]
            r_level += 1
    names = [it.name for it in state.stages[stage_id].iters]
    state = ReorderStep(stage_id, tuple(names.index(n) for n in order)).apply(state)
    return state, split_ids


def fuse_consumer(state: State, stage_id: int, consumer_id: int, split_ids: list[int],
                  level: int) -> State:
    """Tile the consumer like the producer down to ``level`` and compute the producer
    inside the consumer's last loop of that level."""
    consumer = state.stages[consumer_id]
    spatial = [it.name for it in consumer.iters if it.kind == "spatial"]
    parts: dict[str, list[str]] = {}
    for name, src in zip(spatial, split_ids):
        iter_id = state.stages[consumer_id].iter_index(name)
        state = FollowSplitStep(consumer_id, iter_id, src, level + 1).apply(state)
        new_iters = state.stages[consumer_id].iters
        parts[name] = [it.name for it in new_iters[iter_id : iter_id + level + 1]]
    order = [parts[n][lv] for lv in range(level + 1) for n in spatial]
    names = [it.name for it in state.stages[consumer_id].iters]
    rest = [n for n in names if n not in order]
    state = ReorderStep(consumer_id, tuple(names.index(n) for n in order + rest)).apply(state)
    attach = state.stages[consumer_id].iter_index(parts[spatial[-1]][level - 1])
    return ComputeAtStep(stage_id, consumer_id, attach).apply(state)


class MultiLevelTiling(SketchRule):
    """Tile a stage with data reuse (``has_data_reuse``) by the target's structure."""

    name = "multi_level_tiling"

    def condition(self, ctx, state, stage_id):
        if has_data_reuse(state, stage_id) and state.stages[stage_id].attach.kind == "root":
            return Condition.APPLY_AND_SKIP_REST
        return Condition.SKIP

    def apply(self, ctx, state, stage_id):
        tiled, _ = multi_level_tile(state, stage_id, structure_for(ctx))
        return [(tiled, stage_id - 1)]


class MultiLevelTilingWithFusion(SketchRule):
    """Tile a stage with data reuse and fuse it into its element-wise consumer
    (``fusible_consumer``): on CPU at tile level 1 or 2 (two sketches), on GPU at level 3."""

    name = "multi_level_tiling_with_fusion"

    def condition(self, ctx, state, stage_id):
        if not has_data_reuse(state, stage_id) or state.stages[stage_id].attach.kind != "root":
            return Condition.SKIP
        consumer = fusible_consumer(state, stage_id)
        if consumer is None or state.stages[consumer].relations:
            return Condition.SKIP
        return Condition.APPLY_AND_SKIP_REST

    def apply(self, ctx, state, stage_id):
        consumer = fusible_consumer(state, stage_id)
        tiled, split_ids = multi_level_tile(state, stage_id, structure_for(ctx))
        levels = GPU_FUSION_LEVELS if ctx.is_gpu else CPU_FUSION_LEVELS
        return [
            (fuse_consumer(tiled, stage_id, consumer, split_ids, level), stage_id - 1)
            for level in levels
        ]
