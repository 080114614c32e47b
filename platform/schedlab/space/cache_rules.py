"""Rules that add cache stages."""

from __future__ import annotations

from ..ir.steps import CacheWriteStep
from .predicates import fusible_consumer, has_data_reuse
from .rule import Condition, SketchRule


class AddCacheWrite(SketchRule):
    """Give a stage with data reuse but no fusible consumer a cache stage to accumulate
    in, which then fuses into the original (now an element-wise copy). On CPU the sketch
    without the cache stage is kept too; on GPU the cache (registers) is required."""

    name = "add_cache_write"

    def condition(self, ctx, state, stage_id):
        stage = state.stages[stage_id]
        if (has_data_reuse(state, stage_id) and stage.attach.kind == "root"
                and not stage.relations and fusible_consumer(state, stage_id) is None):
            return Condition.APPLY_AND_SKIP_REST if ctx.is_gpu else Condition.APPLY
        return Condition.SKIP

    def apply(self, ctx, state, stage_id):
        # The cache stage takes index stage_id; visit it next so tiling with fusion applies.
        return [(CacheWriteStep(stage_id, "local").apply(state), stage_id)]
