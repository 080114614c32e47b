"""The questions sketch rules ask about a stage (Ansor, OSDI 2020, Table 1).

Each predicate looks at a stage of a schedule *state* (the computation may already have been
rewritten by earlier rules, e.g. a cache stage added), not at the original DAG.
"""

from __future__ import annotations

import math

from ..ir.lower import expand_inline
from ..ir.state import State
from ..te import ComputeOp, Reduce, TensorRead
from ..te.dag import EXPENSIVE_CALLS
from ..te.expr import Call, Const, Select
from ..te.visit import collect_vars, walk

# A reduction whose spatial part has fewer points than this many per core leaves cores idle
# unless the reduction itself is split across them (see needs_rfactor).
RFACTOR_SPATIAL_PER_CORE = 64


def _op(state: State, stage_id: int) -> ComputeOp | None:
    op = state.stages[stage_id].op
    return op if isinstance(op, ComputeOp) else None


def is_output(state: State, stage_id: int) -> bool:
    """The stage writes one of the kernel's arguments."""
    return state.stages[stage_id].name in state.arg_names


def is_strictly_inlinable(state: State, stage_id: int) -> bool:
    """Inlining the stage into its consumers never costs more than storing it.

    True for a computed, non-output stage without a reduction and without expensive
    intrinsics (exp, log, sqrt, tanh, sigmoid), which would be recomputed per use.
    """
    op = _op(state, stage_id)
    if op is None or is_output(state, stage_id) or isinstance(op.body, Reduce):
        return False
    return not any(isinstance(n, Call) and n.func in EXPENSIVE_CALLS for n in walk(op.body))


def is_padding(state: State, stage_id: int) -> bool:
    """The stage pads a tensor: its value is a read of it inside the bounds and a constant
    outside them (``select(in_bounds, data[...], 0)``)."""
    op = _op(state, stage_id)
    if op is None or not isinstance(op.body, Select):
        return False
    branches = (op.body.true_value, op.body.false_value)
    return any(isinstance(b, Const) for b in branches) and any(
        isinstance(b, TensorRead) for b in branches)


def missing_spatial_reads(op: ComputeOp) -> int:
    """Sum over the op's input reads of the spatial axes each read does not use."""
    spatial = set(op.axes)
    total = 0
    for node in walk(op.body):
        if isinstance(node, TensorRead):
            used = set()
            for index in node.indices:
                used |= collect_vars(index)
            total += len(spatial - used)
    return total


def has_data_reuse(state: State, stage_id: int) -> bool:
    """Multi-level tiling pays off: a reduction whose input reads skip spatial axes.

    When a read does not use a spatial axis, every iteration of that axis reads the same
    data, which a tile can load once. We require at least two such (read, axis) pairs, as in
    matmul (A misses j, B misses i); a reduction that reads its inputs with every spatial
    axis (row sums, pooling) has nothing to reuse.
    """
    op = _op(state, stage_id)
    if op is None or not isinstance(op.body, Reduce):
        return False
    return missing_spatial_reads(op) >= 2


def effective_consumers(state: State, stage_id: int) -> list[int]:
    """Stages that read this stage's tensor, looking through inlined stages."""
    found: list[int] = []
    for c in state.consumers(state.stages[stage_id].name):
        if state.stages[c].attach.kind == "inline":
            found.extend(x for x in effective_consumers(state, c) if x not in found)
        elif c not in found:
            found.append(c)
    return found


def fusible_consumer(state: State, stage_id: int) -> int | None:
    """The consumer this stage can be fused into, if there is exactly one.

    It must be element-wise with respect to this stage: the same output shape, and every
    read of this stage indexed by the consumer's own axes in order, so one tile of the
    consumer needs exactly the matching tile of this stage. Reads through inlined stages
    count as the consumer's own.
    """
    consumers = effective_consumers(state, stage_id)
    if len(consumers) != 1:
        return None
    producer = state.stages[stage_id]
    consumer_op = _op(state, consumers[0])
    if consumer_op is None or consumer_op.output.shape != producer.op.output.shape:
        return None
    if isinstance(consumer_op.body, Reduce):
        return None
    reads = _reads_through_inline(state, consumer_op, producer.name)
    if not reads:
        return None
    for read in reads:
        if len(read.indices) != len(consumer_op.axes):
            return None
        if not all(i is ax for i, ax in zip(read.indices, consumer_op.axes)):
            return None
    return consumers[0]


def _reads_through_inline(state: State, op: ComputeOp, name: str) -> list[TensorRead]:
    """Reads of ``name`` by ``op``, with inlined stages expanded (indices composed)."""
    body = expand_inline(state, op.body)
    return [n for n in walk(body) if isinstance(n, TensorRead) and n.tensor.name == name]


def needs_rfactor(state: State, stage_id: int, num_cores: int) -> bool:
    """Split the reduction itself across cores: a reduction without data reuse whose
    spatial part is smaller than its reduction part and too small to keep every core busy
    (fewer than ``RFACTOR_SPATIAL_PER_CORE`` points per core)."""
    op = _op(state, stage_id)
    if op is None or not isinstance(op.body, Reduce) or has_data_reuse(state, stage_id):
        return False
    spatial = math.prod(ax.extent for ax in op.axes)
    reduce = math.prod(ax.extent for ax in op.reduce_axes)
    return spatial < reduce and spatial < RFACTOR_SPATIAL_PER_CORE * num_cores


def needs_cross_thread_reduction(state: State, stage_id: int, max_threads: int) -> bool:
    """GPU: reduce with a whole thread block instead of one thread per output, for a
    reduction without data reuse whose spatial part cannot fill the GPU's threads while its
    reduction part is longer than a warp's worth of work."""
    op = _op(state, stage_id)
    if op is None or not isinstance(op.body, Reduce) or has_data_reuse(state, stage_id):
        return False
    spatial = math.prod(ax.extent for ax in op.axes)
    reduce = math.prod(ax.extent for ax in op.reduce_axes)
    return reduce >= 32 and spatial < reduce and spatial < max_threads * 4
