"""Interval analysis of index expressions, for bounds inference.

An index read inside a loop nest depends on loops that are *fixed* (outside the point where
a producer is computed) and loops that *range* over their extents. The range of the index
is ``[lo, hi]`` where ``lo`` and ``hi`` are linear forms over expressions of fixed loops
only, so that ``hi - lo`` is usually a constant: the size of the region to compute.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..te.expr import BinOp, Const, Expr, Var, const
from ..te.visit import collect_vars, simplify_binop


@dataclass(frozen=True)
class Linear:
    """``sum(coef * atom) + constant`` where every atom is an expression of fixed loops."""

    terms: tuple[tuple[str, Expr, int], ...] = ()
    constant: int = 0

    @staticmethod
    def of_const(value: int) -> Linear:
        return Linear((), int(value))

    @staticmethod
    def of_atom(atom: Expr) -> Linear:
        if isinstance(atom, Const):
            return Linear.of_const(atom.value)
        return Linear(((repr(atom), atom, 1),), 0)

    def _as_dict(self):
        return {key: (atom, coef) for key, atom, coef in self.terms}

    def plus(self, other: Linear, sign: int = 1) -> Linear:
        terms = self._as_dict()
        for key, atom, coef in other.terms:
            old = terms.get(key, (atom, 0))[1]
            terms[key] = (atom, old + sign * coef)
        return Linear(
            tuple(sorted((k, a, c) for k, (a, c) in terms.items() if c != 0)),
            self.constant + sign * other.constant,
        )

    def scaled(self, factor: int) -> Linear:
        if factor == 0:
            return Linear.of_const(0)
        return Linear(tuple((k, a, c * factor) for k, a, c in self.terms), self.constant * factor)

    @property
    def is_const(self) -> bool:
        return not self.terms

    def to_expr(self, dtype: str = "int32") -> Expr:
        expr: Expr = const(self.constant, dtype)
        for _, atom, coef in self.terms:
            expr = simplify_binop("add", expr, simplify_binop("mul", atom, const(coef, dtype)))
        return expr

    def bounds(self, var_extent: dict[Var, int]) -> tuple[int, int] | None:
        """Numeric [min, max] over every value the fixed loops can take, if derivable."""
        lo = hi = self.constant
        for _, atom, coef in self.terms:
            r = numeric_range(atom, var_extent)
            if r is None:
                return None
            a, b = r[0] * coef, r[1] * coef
            lo, hi = lo + min(a, b), hi + max(a, b)
        return lo, hi


def numeric_range(expr: Expr, var_extent: dict[Var, int]) -> tuple[int, int] | None:
    """Numeric [min, max] of an integer expression given the extent of every variable."""
    if isinstance(expr, Const):
        return expr.value, expr.value
    if isinstance(expr, Var):
        ext = var_extent.get(expr)
        return None if ext is None else (0, ext - 1)
    if isinstance(expr, BinOp):
        a = numeric_range(expr.a, var_extent)
        b = numeric_range(expr.b, var_extent)
        if a is None or b is None:
            return None
        if expr.op == "add":
            return a[0] + b[0], a[1] + b[1]
        if expr.op == "sub":
            return a[0] - b[1], a[1] - b[0]
        if expr.op == "mul":
            prods = [x * y for x in a for y in b]
            return min(prods), max(prods)
        if expr.op == "floordiv" and b[0] == b[1] and b[0] > 0:
            return a[0] // b[0], a[1] // b[0]
        if expr.op == "floormod" and b[0] == b[1] and b[0] > 0:
            if a[0] // b[0] == a[1] // b[0]:
                return a[0] % b[0], a[1] % b[0]
            return 0, b[0] - 1
        if expr.op == "min":
            return min(a[0], b[0]), min(a[1], b[1])
        if expr.op == "max":
            return max(a[0], b[0]), max(a[1], b[1])
    return None


def interval(expr: Expr, ranging: dict[Var, int]) -> tuple[Linear, Linear] | None:
    """``(lo, hi)`` of ``expr`` when the variables in ``ranging`` take every value in
    ``0..extent-1`` and all other variables are fixed; None if it cannot be bounded."""
    if isinstance(expr, Const):
        return Linear.of_const(expr.value), Linear.of_const(expr.value)
    if isinstance(expr, Var):
        if expr in ranging:
            return Linear.of_const(0), Linear.of_const(ranging[expr] - 1)
        point = Linear.of_atom(expr)
        return point, point
    if not (collect_vars(expr) & ranging.keys()):
        point = linear_form(expr)
        return point, point
    if not isinstance(expr, BinOp):
        return None
    a = interval(expr.a, ranging)
    b = interval(expr.b, ranging)
    if a is None or b is None:
        return None
    if expr.op == "add":
        return a[0].plus(b[0]), a[1].plus(b[1])
    if expr.op == "sub":
        return a[0].plus(b[1], -1), a[1].plus(b[0], -1)
    if expr.op == "mul":
        for x, y in ((a, b), (b, a)):
            if y[0].is_const and y[0] == y[1]:
                c = y[0].constant
                lo, hi = x[0].scaled(c), x[1].scaled(c)
                return (lo, hi) if c >= 0 else (hi, lo)
        return None
    if expr.op in ("floordiv", "floormod", "min", "max"):
        if all(f.is_const for f in a + b):
            r = numeric_range(expr, {v: e for v, e in ranging.items()})
            if r is not None:
                return Linear.of_const(r[0]), Linear.of_const(r[1])
        if expr.op == "floordiv" and b[0].is_const and b[0] == b[1] and b[0].constant > 0:
            c = b[0].constant
            if a[0].is_const and a[1].is_const:
                return Linear.of_const(a[0].constant // c), Linear.of_const(a[1].constant // c)
        if expr.op == "floormod" and b[0].is_const and b[0] == b[1] and b[0].constant > 0:
            return Linear.of_const(0), Linear.of_const(b[0].constant - 1)
    return None


def linear_form(expr: Expr) -> Linear:
    """Any integer expression as a linear form: sums and constant products are split, every
    other node is an atom (so equal sub-expressions cancel when forms are subtracted)."""
    if isinstance(expr, Const):
        return Linear.of_const(expr.value)
    if isinstance(expr, BinOp):
        if expr.op == "add":
            return linear_form(expr.a).plus(linear_form(expr.b))
        if expr.op == "sub":
            return linear_form(expr.a).plus(linear_form(expr.b), -1)
        if expr.op == "mul":
            if isinstance(expr.b, Const):
                return linear_form(expr.a).scaled(expr.b.value)
            if isinstance(expr.a, Const):
                return linear_form(expr.b).scaled(expr.a.value)
    return Linear.of_atom(expr)
