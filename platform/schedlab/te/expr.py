"""Scalar expression nodes of the tensor-expression language.

Expressions are immutable trees. Python operators build them (``a * b + 1``);
comparisons build boolean nodes, except ``==``/``!=`` which keep Python's identity
semantics so that nodes stay hashable; use :func:`equal` / :func:`not_equal` instead.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

FLOAT_DTYPES = ("float32", "float64")
INT_DTYPES = ("int32", "int64")
DTYPES = FLOAT_DTYPES + INT_DTYPES + ("bool",)


def check_dtype(dtype: str) -> str:
    """Return ``dtype`` if schedlab supports it, else raise ``ValueError``."""
    if dtype not in DTYPES:
        raise ValueError(f"unsupported dtype {dtype!r}; valid dtypes: {', '.join(DTYPES)}")
    return dtype


def _promote(a: str, b: str) -> str:
    if a == b:
        return a
    order = ("bool", "int32", "int64", "float32", "float64")
    return a if order.index(a) > order.index(b) else b


class Expr:
    """Base class of every scalar expression; ``dtype`` is its element type."""

    __slots__ = ()
    dtype: str

    # Arithmetic builds BinOp nodes; Python numbers on either side become constants.
    def __add__(self, other):
        return binop("add", self, other)

    def __radd__(self, other):
        return binop("add", other, self)

    def __sub__(self, other):
        return binop("sub", self, other)

    def __rsub__(self, other):
        return binop("sub", other, self)

    def __mul__(self, other):
        return binop("mul", self, other)

    def __rmul__(self, other):
        return binop("mul", other, self)

    def __truediv__(self, other):
        return binop("div", self, other)

    def __rtruediv__(self, other):
        return binop("div", other, self)

    def __floordiv__(self, other):
        return binop("floordiv", self, other)

    def __rfloordiv__(self, other):
        return binop("floordiv", other, self)

    def __mod__(self, other):
        return binop("floormod", self, other)

    def __rmod__(self, other):
        return binop("floormod", other, self)

    def __neg__(self):
        return binop("sub", const(0, self.dtype), self)

    def __lt__(self, other):
        return Cmp("lt", self, as_expr(other))

    def __le__(self, other):
        return Cmp("le", self, as_expr(other))

    def __gt__(self, other):
        return Cmp("gt", self, as_expr(other))

    def __ge__(self, other):
        return Cmp("ge", self, as_expr(other))

    def __and__(self, other):
        return Logic("and", (self, as_expr(other)))

    def __or__(self, other):
        return Logic("or", (self, as_expr(other)))

    def __invert__(self):
        return Logic("not", (self,))

    def __bool__(self):
        raise TypeError(
            "a schedlab expression has no truth value; use te.select / te.if_then_else "
            "for conditions and &, |, ~ to combine them"
        )

    __hash__ = object.__hash__


class Const(Expr):
    """A literal of a given dtype."""

    __slots__ = ("value", "dtype")

    def __init__(self, value: Any, dtype: str):
        self.value = value
        self.dtype = check_dtype(dtype)

    def __repr__(self):
        return repr(self.value)


class Var(Expr):
    """A named integer variable: a loop index or an axis of a computation."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str, dtype: str = "int32"):
        self.name = name
        self.dtype = dtype

    def __repr__(self):
        return self.name


class IterVar(Var):
    """An axis with an extent; ``kind`` is ``"spatial"`` or ``"reduce"``."""

    __slots__ = ("extent", "kind")

    def __init__(self, name: str, extent: int, kind: str):
        super().__init__(name)
        if int(extent) != extent or extent <= 0:
            raise ValueError(f"axis {name!r} needs a positive integer extent, got {extent!r}")
        self.extent = int(extent)
        self.kind = kind


BINOPS = ("add", "sub", "mul", "div", "floordiv", "floormod", "min", "max", "pow")


class BinOp(Expr):
    """``op(a, b)`` for one of :data:`BINOPS`."""

    __slots__ = ("op", "a", "b", "dtype")

    def __init__(self, op: str, a: Expr, b: Expr):
        self.op, self.a, self.b = op, a, b
        self.dtype = _promote(a.dtype, b.dtype)
        if op == "div" and self.dtype not in FLOAT_DTYPES:
            raise TypeError("'/' needs floating-point operands; use '//' for integer division")

    def __repr__(self):
        return f"{self.op}({self.a!r}, {self.b!r})"


class Cmp(Expr):
    """A comparison (lt, le, gt, ge, eq, ne); its dtype is ``bool``."""

    __slots__ = ("op", "a", "b", "dtype")

    def __init__(self, op: str, a: Expr, b: Expr):
        self.op, self.a, self.b = op, a, b
        self.dtype = "bool"

    def __repr__(self):
        return f"{self.op}({self.a!r}, {self.b!r})"


class Logic(Expr):
    """Boolean ``and`` / ``or`` / ``not``."""

    __slots__ = ("op", "args", "dtype")

    def __init__(self, op: str, args: tuple):
        for arg in args:
            if arg.dtype != "bool":
                raise TypeError(f"logical {op} needs boolean operands, got {arg.dtype}")
        self.op, self.args, self.dtype = op, tuple(args), "bool"

    def __repr__(self):
        return f"{self.op}{self.args!r}"


class Select(Expr):
    """``cond ? true_value : false_value``; only the chosen branch is evaluated."""

    __slots__ = ("cond", "true_value", "false_value", "dtype")

    def __init__(self, cond: Expr, true_value: Expr, false_value: Expr):
        if cond.dtype != "bool":
            raise TypeError(f"select needs a boolean condition, got {cond.dtype}")
        dtype = _promote(true_value.dtype, false_value.dtype)
        self.cond = cond
        self.true_value = cast(dtype, true_value)
        self.false_value = cast(dtype, false_value)
        self.dtype = dtype

    def __repr__(self):
        return f"select({self.cond!r}, {self.true_value!r}, {self.false_value!r})"


CALLS = ("exp", "log", "sqrt", "tanh", "sigmoid", "abs")


class Call(Expr):
    """An intrinsic math function applied to one floating-point argument."""

    __slots__ = ("func", "arg", "dtype")

    def __init__(self, func: str, arg: Expr):
        if func not in CALLS:
            raise ValueError(f"unknown intrinsic {func!r}; valid: {', '.join(CALLS)}")
        if func != "abs" and arg.dtype not in FLOAT_DTYPES:
            arg = cast("float32", arg)
        self.func, self.arg, self.dtype = func, arg, arg.dtype

    def __repr__(self):
        return f"{self.func}({self.arg!r})"


class Cast(Expr):
    """Conversion of ``value`` to ``dtype``."""

    __slots__ = ("value", "dtype")

    def __init__(self, dtype: str, value: Expr):
        self.value, self.dtype = value, check_dtype(dtype)

    def __repr__(self):
        return f"{self.dtype}({self.value!r})"


class TensorRead(Expr):
    """``tensor[indices]``: one element of a tensor."""

    __slots__ = ("tensor", "indices", "dtype")

    def __init__(self, tensor, indices: tuple):
        self.tensor, self.indices, self.dtype = tensor, tuple(indices), tensor.dtype

    def __repr__(self):
        return f"{self.tensor.name}[{', '.join(map(repr, self.indices))}]"


class Load(Expr):
    """``buffer[index]``: a read of a flat buffer, produced by lowering (loop IR only)."""

    __slots__ = ("buffer", "index", "dtype")

    def __init__(self, buffer, index: Expr):
        self.buffer, self.index, self.dtype = buffer, index, buffer.dtype

    def __repr__(self):
        return f"{self.buffer.name}[{self.index!r}]"


REDUCERS = ("sum", "max", "min")


class Reduce(Expr):
    """A reduction of ``source`` over ``axes`` with ``combiner`` (sum, max, min)."""

    __slots__ = ("combiner", "source", "axes", "dtype")

    def __init__(self, combiner: str, source: Expr, axes: tuple):
        for ax in axes:
            if not isinstance(ax, IterVar) or ax.kind != "reduce":
                raise TypeError(f"reduction axis must come from te.reduce_axis, got {ax!r}")
        self.combiner, self.source, self.axes = combiner, source, tuple(axes)
        self.dtype = source.dtype

    def identity(self) -> Const:
        """The value a reduction starts from."""
        if self.combiner == "sum":
            return const(0, self.dtype)
        big = math.inf if self.dtype in FLOAT_DTYPES else 2**31 - 1
        return const(-big if self.combiner == "max" else big, self.dtype)

    def __repr__(self):
        return f"{self.combiner}({self.source!r}, axes={list(self.axes)})"


# Lowering a program makes thousands of integer constants, nearly all small loop bounds
# and strides; expressions are immutable, so equal ones can be one object. (Not floats:
# -0.0 == 0.0.)
_CONSTS: dict[tuple, Const] = {}
_CONSTS_MAX = 4096


def const(value, dtype: str | None = None) -> Const:
    """A literal; the dtype defaults to int32 for ints, float32 for floats, bool for bools."""
    if type(value) is not int and type(value) is not bool:
        return _make_const(value, dtype)
    key = (type(value), value, dtype)
    hit = _CONSTS.get(key)
    if hit is not None:
        return hit
    made = _make_const(value, dtype)
    if len(_CONSTS) >= _CONSTS_MAX:
        _CONSTS.clear()
    _CONSTS[key] = made
    return made


def _make_const(value, dtype: str | None) -> Const:
    if dtype is None:
        if isinstance(value, bool):
            dtype = "bool"
        elif isinstance(value, int):
            dtype = "int32"
        elif isinstance(value, float):
            dtype = "float32"
        else:
            raise TypeError(f"cannot make a constant from {type(value).__name__}")
    if dtype in FLOAT_DTYPES:
        value = float(value)
    elif dtype == "bool":
        value = bool(value)
    else:
        value = int(value)
    return Const(value, dtype)


def as_expr(value) -> Expr:
    """Turn Python numbers into constants; pass expressions through."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float)):
        return const(value)
    raise TypeError(f"cannot use a {type(value).__name__} in a tensor expression")


def cast(dtype: str, value) -> Expr:
    """``value`` converted to ``dtype`` (no node when it already has that dtype)."""
    value = as_expr(value)
    if value.dtype == dtype:
        return value
    if isinstance(value, Const):
        return const(value.value, dtype)
    return Cast(dtype, value)


def binop(op: str, a, b) -> Expr:
    """Build ``op(a, b)``; a Python number takes the dtype of the other operand."""
    if not isinstance(a, Expr):
        a = const(a, _literal_dtype(a, b))
    if not isinstance(b, Expr):
        b = const(b, _literal_dtype(b, a))
    dtype = _promote(a.dtype, b.dtype)
    if op == "div" and dtype not in FLOAT_DTYPES:
        dtype = "float32"
    return BinOp(op, cast(dtype, a), cast(dtype, b))


def _literal_dtype(literal, other: Expr) -> str:
    if isinstance(literal, float) and other.dtype not in FLOAT_DTYPES:
        return "float32"
    return other.dtype if other.dtype != "bool" else "int32"
