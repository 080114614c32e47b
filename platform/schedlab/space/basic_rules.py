"""Rules that move on or inline: Skip and Always-inline."""

from __future__ import annotations

from ..ir.steps import ComputeInlineStep
from .predicates import is_strictly_inlinable
from .rule import Condition, SketchRule


class SkipStage(SketchRule):
    """Leave the stage as it is and move to the previous one (always applies; last)."""

    name = "skip"

    def condition(self, ctx, state, stage_id):
        return Condition.APPLY

    def apply(self, ctx, state, stage_id):
        return [(state, stage_id - 1)]


class AlwaysInline(SketchRule):
    """Inline a strictly inlinable stage into its consumers."""

    name = "always_inline"

    def condition(self, ctx, state, stage_id):
        if is_strictly_inlinable(state, stage_id):
            return Condition.APPLY_AND_SKIP_REST
        return Condition.SKIP

    def apply(self, ctx, state, stage_id):
        return [(ComputeInlineStep(stage_id).apply(state), stage_id - 1)]
