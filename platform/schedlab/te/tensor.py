"""Tensors and the operations that produce them: placeholders and computes."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Sequence

from .expr import (
    Expr,
    IterVar,
    Reduce,
    TensorRead,
    as_expr,
    cast,
    check_dtype,
)

_fresh = itertools.count()


def _check_shape(shape, what: str) -> tuple[int, ...]:
    if isinstance(shape, int):
        shape = (shape,)
    shape = tuple(shape)
    if not shape:
        raise ValueError(f"{what}: shape must have at least one dimension")
    for dim in shape:
        if not isinstance(dim, int) or isinstance(dim, bool) or dim <= 0:
            raise ValueError(f"{what}: every dimension must be a positive int, got shape {shape}")
    return shape


class Operation:
    """Produces one tensor. ``inputs`` are the tensors it reads, in first-read order."""

    name: str
    output: Tensor

    @property
    def inputs(self) -> list[Tensor]:
        return []


class PlaceholderOp(Operation):
    """An input tensor supplied by the caller."""

    def __init__(self, name: str, shape: tuple[int, ...], dtype: str):
        self.name = name
        self.output = Tensor(shape, dtype, name, self)

    def __repr__(self):
        return f"placeholder({self.name}, {self.output.shape}, {self.output.dtype})"


class ComputeOp(Operation):
    """``output[axes] = body`` where ``body`` may be a :class:`Reduce` at its top."""

    def __init__(self, name: str, axes: tuple[IterVar, ...], body: Expr):
        self.name = name
        self.axes = axes
        self.body = body
        shape = tuple(ax.extent for ax in axes)
        self.output = Tensor(shape, body.dtype, name, self)

    @property
    def reduce_axes(self) -> tuple[IterVar, ...]:
        return self.body.axes if isinstance(self.body, Reduce) else ()

    @property
    def all_axes(self) -> tuple[IterVar, ...]:
        """Spatial axes followed by reduction axes."""
        return self.axes + self.reduce_axes

    @property
    def inputs(self) -> list[Tensor]:
        from .visit import collect_reads

        seen: dict[int, Tensor] = {}
        for read in collect_reads(self.body):
            seen.setdefault(id(read.tensor), read.tensor)
        return list(seen.values())

    def __repr__(self):
        return f"compute({self.name}, {self.output.shape}) = {self.body!r}"


class Tensor:
    """A multi-dimensional array of ``dtype``; index it to read an element."""

    def __init__(self, shape: tuple[int, ...], dtype: str, name: str, op: Operation):
        self.shape, self.dtype, self.name, self.op = shape, dtype, name, op

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, indices) -> TensorRead:
        if not isinstance(indices, tuple):
            indices = (indices,)
        if len(indices) != len(self.shape):
            raise ValueError(
                f"tensor {self.name!r} has {len(self.shape)} dimensions, "
                f"indexed with {len(indices)}"
            )
        exprs = []
        for index in indices:
            index = as_expr(index)
            if index.dtype not in ("int32", "int64"):
                raise TypeError(f"index into {self.name!r} must be an integer, got {index.dtype}")
            exprs.append(index)
        return TensorRead(self, tuple(exprs))

    def __repr__(self):
        return f"Tensor({self.name}, {self.shape}, {self.dtype})"

    __hash__ = object.__hash__


def placeholder(shape: Sequence[int], dtype: str = "float32", name: str = "") -> Tensor:
    """An input tensor of ``shape`` and ``dtype``."""
    name = name or f"placeholder{next(_fresh)}"
    return PlaceholderOp(name, _check_shape(shape, name), check_dtype(dtype)).output


def reduce_axis(extent: int, name: str = "") -> IterVar:
    """A reduction axis ``0 <= name < extent`` to pass to :func:`sum`, :func:`max`, :func:`min`."""
    return IterVar(name or f"r{next(_fresh)}", extent, "reduce")


def compute(
    shape: Sequence[int], fcompute: Callable[..., Expr], name: str = "", dtype: str | None = None
) -> Tensor:
    """A tensor whose element at ``(i, j, ...)`` is ``fcompute(i, j, ...)``.

    ``fcompute`` receives one axis per dimension, named after its parameters, and returns
    an expression; a reduction (``te.sum(..., axis=k)``) may only appear at its top.
    """
    name = name or f"compute{next(_fresh)}"
    shape = _check_shape(shape, name)
    params = list(inspect.signature(fcompute).parameters)
    if len(params) != len(shape) and not any(
        p.kind == inspect.Parameter.VAR_POSITIONAL
        for p in inspect.signature(fcompute).parameters.values()
    ):
        raise ValueError(
            f"compute {name!r}: shape has {len(shape)} dimensions but fcompute takes "
            f"{len(params)} arguments"
        )
    axis_names = params if len(params) == len(shape) else [f"i{d}" for d in range(len(shape))]
    axes = tuple(IterVar(n, extent, "spatial") for n, extent in zip(axis_names, shape))
    body = as_expr(fcompute(*axes))
    if dtype is not None:
        body = _cast_body(body, check_dtype(dtype))
    from .visit import check_body

    check_body(name, body, axes)
    return ComputeOp(name, axes, body).output


def _cast_body(body: Expr, dtype: str) -> Expr:
    if isinstance(body, Reduce):
        return Reduce(body.combiner, cast(dtype, body.source), body.axes)
    return cast(dtype, body)
