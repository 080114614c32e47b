"""Traversal, substitution and light simplification of expressions."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from .expr import (
    BinOp,
    Call,
    Cast,
    Cmp,
    Const,
    Expr,
    Load,
    Logic,
    Reduce,
    Select,
    TensorRead,
    Var,
    const,
)


def children(expr: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``expr``."""
    if isinstance(expr, (BinOp, Cmp)):
        return (expr.a, expr.b)
    if isinstance(expr, Logic):
        return expr.args
    if isinstance(expr, Select):
        return (expr.cond, expr.true_value, expr.false_value)
    if isinstance(expr, Call):
        return (expr.arg,)
    if isinstance(expr, Cast):
        return (expr.value,)
    if isinstance(expr, TensorRead):
        return expr.indices
    if isinstance(expr, Reduce):
        return (expr.source,)
    if isinstance(expr, Load):
        return (expr.index,)
    return ()


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of ``expr``, parents before children."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def collect_reads(expr: Expr) -> list[TensorRead]:
    return [node for node in walk(expr) if isinstance(node, TensorRead)]


def collect_vars(expr: Expr) -> set[Var]:
    return {node for node in walk(expr) if isinstance(node, Var)}


def rebuild(expr: Expr, new_children: tuple[Expr, ...]) -> Expr:
    """A node like ``expr`` with its children replaced (simplified where cheap)."""
    if isinstance(expr, BinOp):
        return simplify_binop(expr.op, *new_children)
    if isinstance(expr, Cmp):
        return Cmp(expr.op, *new_children)
    if isinstance(expr, Logic):
        return Logic(expr.op, new_children)
    if isinstance(expr, Select):
        return Select(*new_children)
    if isinstance(expr, Call):
        return Call(expr.func, new_children[0])
    if isinstance(expr, Cast):
        return Cast(expr.dtype, new_children[0])
    if isinstance(expr, TensorRead):
        return TensorRead(expr.tensor, new_children)
    if isinstance(expr, Reduce):
        return Reduce(expr.combiner, new_children[0], expr.axes)
    if isinstance(expr, Load):
        return Load(expr.buffer, new_children[0])
    return expr


def transform(expr: Expr, fn: Callable[[Expr], Expr | None]) -> Expr:
    """Rewrite bottom-up-ish: ``fn(node)`` returns a replacement or None to recurse."""
    replaced = fn(expr)
    if replaced is not None:
        return replaced
    kids = children(expr)
    if not kids:
        return expr
    new_kids = tuple(transform(k, fn) for k in kids)
    if all(a is b for a, b in zip(kids, new_kids)):
        return expr
    return rebuild(expr, new_kids)


def substitute(expr: Expr, mapping: dict[Var, Expr]) -> Expr:
    """Replace variables by expressions."""
    if not mapping:
        return expr
    return transform(expr, lambda node: mapping.get(node) if isinstance(node, Var) else None)


def simplify_binop(op: str, a: Expr, b: Expr) -> Expr:
    """``op(a, b)`` with constants folded and identities (x+0, x*1, x*0 for ints) removed."""
    if isinstance(a, Const) and isinstance(b, Const) and a.dtype == b.dtype:
        folded = _fold(op, a.value, b.value, a.dtype)
        if folded is not None:
            return const(folded, a.dtype)
    is_int = a.dtype in ("int32", "int64") and b.dtype == a.dtype
    if isinstance(b, Const):
        if op in ("add", "sub") and b.value == 0:
            return a
        if op in ("mul", "floordiv") and b.value == 1:
            return a
        if is_int and op == "mul" and b.value == 0:
            return b
        if is_int and op == "floormod" and b.value == 1:
            return const(0, a.dtype)
    if isinstance(a, Const):
        if op == "add" and a.value == 0:
            return b
        if op == "mul" and a.value == 1:
            return b
        if is_int and op == "mul" and a.value == 0:
            return a
    return BinOp(op, a, b)


def _fold(op, x, y, dtype):
    try:
        if op == "add":
            return x + y
        if op == "sub":
            return x - y
        if op == "mul":
            return x * y
        if op == "div":
            return x / y
        if op == "floordiv":
            return x // y if dtype != "float32" else math.floor(x / y)
        if op == "floormod":
            return x % y
        if op == "min":
            return min(x, y)
        if op == "max":
            return max(x, y)
    except ZeroDivisionError:
        return None
    return None


def check_body(name: str, body: Expr, axes: tuple) -> None:
    """Raise ``ValueError`` if a compute body is malformed.

    A reduction may appear only at the top, and every variable must be one of the
    compute's axes or one of its reduction axes.
    """
    allowed = set(axes)
    source = body
    if isinstance(body, Reduce):
        allowed |= set(body.axes)
        source = body.source
        if len(set(body.axes)) != len(body.axes):
            raise ValueError(f"compute {name!r}: a reduction axis appears twice")
    for node in walk(source):
        if isinstance(node, Reduce):
            raise ValueError(
                f"compute {name!r}: a reduction may only be the outermost expression of a "
                "compute; split it into two computes"
            )
        if isinstance(node, Var) and node not in allowed:
            raise ValueError(
                f"compute {name!r}: uses variable {node.name!r}, which is neither one of its "
                "axes nor one of its reduction axes"
            )


# Float operations an expression node costs (used for FLOP counts).
_FLOP_COST = {"add": 1, "sub": 1, "mul": 1, "div": 1, "min": 1, "max": 1, "pow": 1}


def count_flops(expr: Expr) -> int:
    """Floating-point operations evaluating ``expr`` once costs (index math excluded)."""
    total = 0
    for node in walk(expr):
        if node.dtype not in ("float32", "float64"):
            continue
        if isinstance(node, BinOp):
            total += _FLOP_COST.get(node.op, 1)
        elif isinstance(node, Call):
            total += 1
        elif isinstance(node, Reduce):
            total += 1
    return total
