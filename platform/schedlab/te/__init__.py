"""Tensor expressions: describe a computation as math, independent of any schedule.

Example::

    A = te.placeholder((M, K), "float32", name="A")
    B = te.placeholder((K, N), "float32", name="B")
    k = te.reduce_axis(K, name="k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
"""

from __future__ import annotations

from .dag import ComputeDAG, OpAccess, op_flops
from .expr import (
    BinOp,
    Call,
    Cast,
    Cmp,
    Const,
    Expr,
    IterVar,
    Logic,
    Reduce,
    Select,
    TensorRead,
    Var,
    as_expr,
    binop,
    const,
)
from .expr import cast as _cast
from .tensor import ComputeOp, Operation, PlaceholderOp, Tensor, compute, placeholder, reduce_axis


def _axes(axis) -> tuple:
    if axis is None:
        raise TypeError("a reduction needs axis=<reduce_axis or list of them>")
    return tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)


def sum(expr, axis=None) -> Reduce:  # noqa: A001 - mirrors the math name on purpose
    """Sum of ``expr`` over the reduction axis (or axes) ``axis``."""
    return Reduce("sum", as_expr(expr), _axes(axis))


def max(a, b=None, axis=None) -> Expr:  # noqa: A001
    """Element-wise ``max(a, b)``, or the maximum of ``a`` over ``axis``."""
    if axis is not None:
        return Reduce("max", as_expr(a), _axes(axis))
    if b is None:
        raise TypeError("te.max needs two operands or axis=")
    return binop("max", a, b)


def min(a, b=None, axis=None) -> Expr:  # noqa: A001
    """Element-wise ``min(a, b)``, or the minimum of ``a`` over ``axis``."""
    if axis is not None:
        return Reduce("min", as_expr(a), _axes(axis))
    if b is None:
        raise TypeError("te.min needs two operands or axis=")
    return binop("min", a, b)


def exp(x) -> Call:
    return Call("exp", as_expr(x))


def log(x) -> Call:
    return Call("log", as_expr(x))


def sqrt(x) -> Call:
    return Call("sqrt", as_expr(x))


def tanh(x) -> Call:
    return Call("tanh", as_expr(x))


def sigmoid(x) -> Call:
    return Call("sigmoid", as_expr(x))


def abs(x) -> Call:  # noqa: A001
    return Call("abs", as_expr(x))


def select(cond, true_value, false_value) -> Select:
    """``true_value`` where ``cond`` holds, else ``false_value``; only one side is read."""
    true_value, false_value = as_expr(true_value), as_expr(false_value)
    if isinstance(true_value, Const) and not isinstance(false_value, Const):
        true_value = _cast(false_value.dtype, true_value)
    if isinstance(false_value, Const) and not isinstance(true_value, Const):
        false_value = _cast(true_value.dtype, false_value)
    return Select(as_expr(cond), true_value, false_value)


if_then_else = select


def cast(dtype: str, x) -> Expr:
    """``x`` converted to ``dtype``."""
    return _cast(dtype, x)


def all(*conds) -> Expr:  # noqa: A001
    """Logical and of several conditions."""
    result = as_expr(conds[0])
    for c in conds[1:]:
        result = result & as_expr(c)
    return result


def equal(a, b) -> Cmp:
    return Cmp("eq", as_expr(a), as_expr(b))


def not_equal(a, b) -> Cmp:
    return Cmp("ne", as_expr(a), as_expr(b))


__all__ = [
    "BinOp", "Call", "Cast", "Cmp", "ComputeDAG", "ComputeOp", "Const", "Expr", "IterVar",
    "Logic", "OpAccess", "Operation", "PlaceholderOp", "Reduce", "Select", "Tensor",
    "TensorRead", "Var", "abs", "all", "cast", "compute", "const", "equal", "exp",
    "if_then_else", "log", "max", "min", "not_equal", "op_flops", "placeholder",
    "reduce_axis", "select", "sigmoid", "sqrt", "sum", "tanh",
]
