"""Rules that move on or inline: Skip and Always-inline."""

from __future__ import annotations

from ..ir.steps import ComputeInlineStep
from .predicates import is_padding, is_strictly_inlinable
from .rule import Condition, SketchRule


class SkipStage(SketchRule):
    """Leave the stage as it is and move to the previous one (always applies; last)."""

    name = "skip"

    def condition(self, ctx, state, stage_id):
        return Condition.APPLY

    def apply(self, ctx, state, stage_id):
        return [(state, stage_id - 1)]


class AlwaysInline(SketchRule):
    """Inline a strictly inlinable stage into its consumers; on a CPU, padding stays a
    stage of its own.

    Inlined, padding puts a bounds check on every load of the convolution's innermost
    loop. Kept (MetaSchedule keeps it too), it is computed where the search decides: at
    root, or inside a tile of the convolution, once for all the output channels of the
    tile. On the 3x3 conv2d of ResNet-50's second stage, three runs of 64 trials found 136,
    222 and 341 GFLOP/s with padding kept against 137 and 145 inlined; with 256 trials 279,
    290 and 377 against 303 and 312, and the fastest program we have seen (410) keeps it.
    """

    name = "always_inline"

    def condition(self, ctx, state, stage_id):
        if not ctx.is_gpu and is_padding(state, stage_id):
            return Condition.SKIP
        if is_strictly_inlinable(state, stage_id):
            return Condition.APPLY_AND_SKIP_REST
        return Condition.SKIP

    def apply(self, ctx, state, stage_id):
        return [(ComputeInlineStep(stage_id).apply(state), stage_id - 1)]
