"""ComputeDAG: the operations of a computation in topological order, plus analysis."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .expr import Call, IterVar, Reduce, TensorRead, Var
from .tensor import ComputeOp, Operation, PlaceholderOp, Tensor
from .visit import collect_reads, collect_vars, count_flops, walk

# Intrinsics that make an op too costly to recompute by inlining it into several consumers.
EXPENSIVE_CALLS = ("exp", "log", "sqrt", "tanh", "sigmoid")


@dataclass(frozen=True)
class OpAccess:
    """What the sketch rules need to know about one compute op.

    Attributes:
        reads: input tensor name -> every index tuple the body reads it with.
        is_injective: no reduction (each output element depends on a fixed set of inputs).
        is_elementwise: injective and every read uses exactly the op's axes, in order.
        has_expensive_op: calls exp/log/sqrt/tanh/sigmoid.
        is_strictly_inlinable: injective without expensive ops: inlining it into its
            consumers never costs more than storing it.
        has_data_reuse: has a reduction and some input is read with indices that miss one of
            the spatial axes, so tiling can reuse loaded data (Ansor's "needs multi-level
            tiling").
        num_spatial: number of spatial axes; num_reduce: number of reduction axes.
        spatial_size / reduce_size: products of the spatial / reduction extents.
    """

    reads: dict[str, list[tuple]]
    is_injective: bool
    is_elementwise: bool
    has_expensive_op: bool
    is_strictly_inlinable: bool
    has_data_reuse: bool
    num_spatial: int
    num_reduce: int
    spatial_size: int
    reduce_size: int


class ComputeDAG:
    """The operations reachable from a task's outputs, inputs first.

    Args:
        tensors: every argument of the computation, inputs and outputs, in the order the
            compiled kernel takes them.
    """

    def __init__(self, tensors: list[Tensor]):
        if not tensors:
            raise ValueError("a computation needs at least one tensor argument")
        for t in tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"arguments must be tensors, got {type(t).__name__}")
        names = [t.name for t in tensors]
        if len(set(names)) != len(names):
            raise ValueError(f"argument names must be unique, got {names}")
        self.tensors = list(tensors)
        self.outputs = [t for t in tensors if isinstance(t.op, ComputeOp)]
        if not self.outputs:
            raise ValueError("a computation needs at least one computed (output) tensor")
        self.ops: list[Operation] = _topological_order([t.op for t in self.outputs])
        op_names = [op.name for op in self.ops]
        if len(set(op_names)) != len(op_names):
            raise ValueError(f"every tensor in a computation needs its own name, got {op_names}")
        arg_ids = {id(t) for t in tensors}
        for op in self.ops:
            if isinstance(op, PlaceholderOp) and id(op.output) not in arg_ids:
                raise ValueError(
                    f"placeholder {op.name!r} is read by the computation but is not one of "
                    "its arguments"
                )
        self.consumers: dict[str, list[ComputeOp]] = {op.name: [] for op in self.ops}
        for op in self.ops:
            for t in op.inputs:
                self.consumers[t.name].append(op)
        self.access = {op.name: _analyze(op) for op in self.compute_ops}

    @property
    def compute_ops(self) -> list[ComputeOp]:
        return [op for op in self.ops if isinstance(op, ComputeOp)]

    @property
    def placeholders(self) -> list[PlaceholderOp]:
        return [op for op in self.ops if isinstance(op, PlaceholderOp)]

    def op(self, name: str) -> Operation:
        for op in self.ops:
            if op.name == name:
                return op
        raise ValueError(f"no op named {name!r}; ops: {[o.name for o in self.ops]}")

    def is_output(self, op: Operation) -> bool:
        return any(t.op is op for t in self.outputs)

    @property
    def flop_count(self) -> int:
        """Floating-point operations of one evaluation of the whole computation."""
        return sum(op_flops(op) for op in self.compute_ops)

    def __repr__(self):
        return "\n".join(repr(op) for op in self.ops)


def op_flops(op: ComputeOp) -> int:
    spatial = math.prod(ax.extent for ax in op.axes)
    body = op.body
    if isinstance(body, Reduce):
        reduce = math.prod(ax.extent for ax in body.axes)
        # count_flops counts the combine step itself, like every other node, only for
        # floating-point reductions (an int32 matmul has no FLOPs, not M*N*K).
        return spatial * reduce * count_flops(body)
    return spatial * count_flops(body)


def _topological_order(roots: list[Operation]) -> list[Operation]:
    order: list[Operation] = []
    state: dict[int, int] = {}  # 1 = visiting, 2 = done

    def visit(op: Operation):
        mark = state.get(id(op))
        if mark == 2:
            return
        if mark == 1:
            raise ValueError(f"the computation has a cycle through {op.name!r}")
        state[id(op)] = 1
        for t in op.inputs:
            visit(t.op)
        state[id(op)] = 2
        order.append(op)

    for root in roots:
        visit(root)
    return order


def _analyze(op: ComputeOp) -> OpAccess:
    reads: dict[str, list[tuple]] = {}
    for read in collect_reads(op.body):
        reads.setdefault(read.tensor.name, []).append(read.indices)
    is_injective = not isinstance(op.body, Reduce)
    axes = tuple(op.axes)
    is_elementwise = is_injective and all(
        len(idx) == len(axes) and all(a is b for a, b in zip(idx, axes))
        for idx_list in reads.values()
        for idx in idx_list
    )
    has_expensive = any(
        isinstance(node, Call) and node.func in EXPENSIVE_CALLS for node in walk(op.body)
    )
    spatial = set(axes)
    has_reuse = False
    if not is_injective:
        for idx_list in reads.values():
            for idx in idx_list:
                used: set[Var] = set()
                for e in idx:
                    used |= collect_vars(e)
                if spatial - used:
                    has_reuse = True
    reduce_axes: tuple[IterVar, ...] = op.reduce_axes
    return OpAccess(
        reads=reads,
        is_injective=is_injective,
        is_elementwise=is_elementwise,
        has_expensive_op=has_expensive,
        is_strictly_inlinable=is_injective and not has_expensive,
        has_data_reuse=has_reuse,
        num_spatial=len(axes),
        num_reduce=len(reduce_axes),
        spatial_size=math.prod(ax.extent for ax in axes),
        reduce_size=math.prod(ax.extent for ax in reduce_axes) if reduce_axes else 1,
    )


__all__ = ["ComputeDAG", "OpAccess", "TensorRead", "op_flops"]
