"""Rewrites of the computation that some steps need: cache stages and rfactor.

Each returns new ops; consumers are rebuilt to read the new tensors, so the rewritten ops
form a DAG of their own and the original task's tensors are left untouched.
"""

from __future__ import annotations

from ..te import ComputeOp, IterVar, Reduce, Select, Tensor, TensorRead
from ..te.visit import substitute, transform


def fresh_axes(op: ComputeOp) -> tuple[dict, tuple[IterVar, ...], tuple[IterVar, ...]]:
    """New axis variables for a copy of ``op``: (old -> new map, spatial, reduce)."""
    spatial = tuple(IterVar(ax.name, ax.extent, "spatial") for ax in op.axes)
    reduce = tuple(IterVar(ax.name, ax.extent, "reduce") for ax in op.reduce_axes)
    mapping = dict(zip(op.axes + op.reduce_axes, spatial + reduce))
    return mapping, spatial, reduce


def copy_op(name: str, source: Tensor, layout: tuple[int, ...] = ()) -> ComputeOp:
    """``name[i...] = source[i...]``; with ``layout`` (a permutation of the dimensions) the
    copy's dimension ``d`` is the source's dimension ``layout[d]`` (a transposing copy)."""
    layout = layout or tuple(range(len(source.shape)))
    axes = tuple(
        IterVar(f"ax{d}", source.shape[src], "spatial") for d, src in enumerate(layout)
    )
    indices = [None] * len(layout)
    for d, src in enumerate(layout):
        indices[src] = axes[d]
    return ComputeOp(name, axes, TensorRead(source, tuple(indices)))


def retarget_reads(op: ComputeOp, replace_tensors: dict[int, Tensor | tuple]) -> ComputeOp:
    """A copy of ``op`` whose reads of some tensors (keyed by id) go to other tensors.

    A value may be ``(tensor, layout)``: the new tensor's dimension ``d`` is the old one's
    dimension ``layout[d]``, and the read indices are permuted to match.
    """

    def swap(node):
        if isinstance(node, TensorRead) and id(node.tensor) in replace_tensors:
            indices = tuple(transform(i, swap) for i in node.indices)
            new = replace_tensors[id(node.tensor)]
            if isinstance(new, tuple):
                new, layout = new
                indices = tuple(indices[src] for src in layout)
            return TensorRead(new, indices)
        return None

    body = transform(op.body, swap)
    if body is op.body:
        return op
    return ComputeOp(op.name, op.axes, body)


def cache_write_ops(op: ComputeOp, scope: str) -> tuple[ComputeOp, ComputeOp]:
    """``op`` split into a stage computing into a cache and a copy out of it."""
    mapping, spatial, _ = fresh_axes(op)
    body = substitute(op.body, mapping)
    if isinstance(op.body, Reduce):
        body = Reduce(body.combiner, body.source, tuple(mapping[a] for a in op.reduce_axes))
    cache = ComputeOp(f"{op.name}.{scope}", spatial, body)
    out_axes = tuple(IterVar(ax.name, ax.extent, "spatial") for ax in op.axes)
    out = ComputeOp(op.name, out_axes, TensorRead(cache.output, out_axes))
    return cache, out


def rfactor_ops(
    op: ComputeOp, axis_name: str, outer_len: int, inner_len: int, factor_inner: bool
) -> tuple[ComputeOp, ComputeOp]:
    """Factor the reduction of ``op`` over ``axis_name`` = outer * inner_len + inner.

    The factored part (``inner`` if ``factor_inner`` else ``outer``) becomes the leading
    spatial axis of a new op ``<name>.rf`` that reduces over the other part; ``op`` then
    reduces the partial results over the factored part.
    """
    body = op.body
    assert isinstance(body, Reduce)
    mapping, spatial, _ = fresh_axes(op)
    axis = next(ax for ax in op.reduce_axes if ax.name == axis_name)
    factor_len = inner_len if factor_inner else outer_len
    rest_len = outer_len if factor_inner else inner_len
    factored = IterVar(f"{axis_name}.f", factor_len, "spatial")
    rest = IterVar(f"{axis_name}.r", rest_len, "reduce")
    outer, inner = (rest, factored) if factor_inner else (factored, rest)
    value = outer * inner_len + inner
    mapping[axis] = value
    source = substitute(body.source, mapping)
    if outer_len * inner_len != axis.extent:
        source = Select(value < axis.extent, source, body.identity())
    rf_reduce = tuple(rest if ax is axis else mapping[ax] for ax in op.reduce_axes)
    rf = ComputeOp(f"{op.name}.rf", (factored,) + spatial, Reduce(body.combiner, source, rf_reduce))
    out_axes = tuple(IterVar(ax.name, ax.extent, "spatial") for ax in op.axes)
    r = IterVar(f"{axis_name}.v", factor_len, "reduce")
    out = ComputeOp(
        op.name, out_axes, Reduce(body.combiner, TensorRead(rf.output, (r,) + out_axes), (r,))
    )
    return rf, out
