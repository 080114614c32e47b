"""Reduction factorization."""

from __future__ import annotations

from ..ir.steps import RfactorStep, SplitStep
from .predicates import needs_rfactor
from .rule import Condition, SketchRule


class AddRfactor(SketchRule):
    """Split a long reduction with little spatial parallelism (``needs_rfactor``) and
    factor one of its two parts into a stage of partial results: two sketches (factor the
    outer or the inner part). Only for stages with a single reduction axis."""

    name = "add_rfactor"

    def condition(self, ctx, state, stage_id):
        stage = state.stages[stage_id]
        reduce = [it for it in stage.iters if it.kind == "reduce"]
        if (len(reduce) == 1 and not stage.relations and stage.attach.kind == "root"
                and needs_rfactor(state, stage_id, ctx.target.num_cores)):
            return Condition.APPLY
        return Condition.SKIP

    def apply(self, ctx, state, stage_id):
        stage = state.stages[stage_id]
        k = next(i for i, it in enumerate(stage.iters) if it.kind == "reduce")
        split = SplitStep(stage_id, k, (None,)).apply(state)
        # rfactor inserts the partial-result stage at stage_id; both stages are done.
        return [(RfactorStep(stage_id, k + part).apply(split), stage_id - 1)
                for part in (0, 1)]
