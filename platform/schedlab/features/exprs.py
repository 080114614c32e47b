"""Analysis of loop-IR expressions for the features: operation counts, affine forms of index
expressions, value bounds and the selectivity of guards.

Everything here works on the expressions of one lowered program; callers cache results by
the identity of the expression node (lowering shares index expressions between the store
and the load of an update, and conditions between guards).
"""

from __future__ import annotations

from ..te.expr import BinOp, Call, Cast, Cmp, Const, Expr, Load, Logic, Select, Var
from ..te.visit import children

FLOAT_DTYPES = frozenset(("float32", "float64"))
INT_DTYPES = frozenset(("int32", "int64", "bool"))

# Slots of an op-count vector, in the order of names.OP_NAMES without float_flops (which is
# derived from the others).
(F_ADDSUB, F_MUL, F_DIV, F_MINMAX, F_MATH, F_CMP, F_SELECT, F_MAD,
 I_ADDSUB, I_MUL, I_DIVMOD, I_MINMAX, I_CMP, I_OTHER, BOOL_OP, SELECT_OP, CAST_OP) = range(17)
NUM_OP_SLOTS = 17
FLOP_SLOTS = (F_ADDSUB, F_MUL, F_DIV, F_MINMAX, F_MATH)

_FLOAT_BINOP = {
    "add": F_ADDSUB, "sub": F_ADDSUB, "mul": F_MUL, "div": F_DIV, "floordiv": F_DIV,
    "floormod": F_DIV, "min": F_MINMAX, "max": F_MINMAX, "pow": F_MATH,
}
_INT_BINOP = {
    "add": I_ADDSUB, "sub": I_ADDSUB, "mul": I_MUL, "div": I_DIVMOD, "floordiv": I_DIVMOD,
    "floormod": I_DIVMOD, "min": I_MINMAX, "max": I_MINMAX, "pow": I_OTHER,
}


def count_ops(expr: Expr, counts: list[int], loads: list[Load]) -> None:
    """Add the operations of ``expr`` to ``counts`` and append its loads to ``loads``.

    The index expressions of loads are not entered: the caller counts each distinct index
    once per store (generated code computes a shared address once).
    """
    stack = [expr]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        kind = type(node)
        if kind is BinOp:
            op = node.op
            if node.dtype in FLOAT_DTYPES:
                counts[_FLOAT_BINOP[op]] += 1
                if op == "add" or op == "sub":
                    a, b = node.a, node.b
                    if (type(a) is BinOp and a.op == "mul") or (type(b) is BinOp and b.op == "mul"):
                        counts[F_MAD] += 1
            else:
                counts[_INT_BINOP[op]] += 1
            push(node.a)
            push(node.b)
        elif kind is Const or kind is Var:
            continue
        elif kind is Load:
            loads.append(node)
        elif kind is Cmp:
            counts[F_CMP if node.a.dtype in FLOAT_DTYPES else I_CMP] += 1
            push(node.a)
            push(node.b)
        elif kind is Select:
            counts[SELECT_OP] += 1
            if node.dtype in FLOAT_DTYPES:
                counts[F_SELECT] += 1
            push(node.cond)
            push(node.true_value)
            push(node.false_value)
        elif kind is Call:
            counts[F_MATH if node.dtype in FLOAT_DTYPES else I_OTHER] += 1
            push(node.arg)
        elif kind is Cast:
            counts[CAST_OP] += 1
            push(node.value)
        elif kind is Logic:
            counts[BOOL_OP] += 1
            stack.extend(node.args)
        else:
            stack.extend(children(node))


# -- affine forms -----------------------------------------------------------------------------

class Atom:
    """A non-affine part of an index (``floordiv(f, 64)``, ``floormod(x, 8)``, ...), treated
    as one more variable: ``vars`` are the loop variables it depends on; ``counts`` and
    ``loads`` its operations and loads (as :func:`count_ops` gives them)."""

    __slots__ = ("expr", "vars", "counts", "loads")

    def __init__(self, expr: Expr):
        self.expr = expr
        seen: dict[Var, None] = {}
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, Var):
                seen[node] = None
            else:
                stack.extend(children(node))
        self.vars = tuple(seen)
        self.counts = [0] * NUM_OP_SLOTS
        self.loads: list[Load] = []
        count_ops(expr, self.counts, self.loads)


class IndexForm:
    """An index expression as ``sum(coef * term) + constant``, with the operations evaluating
    it costs and the loads inside it (indirect indexing)."""

    __slots__ = ("terms", "constant", "counts", "loads")

    def __init__(self, terms: dict, constant: int, counts: list[int], loads: list[Load]):
        self.terms, self.constant, self.counts, self.loads = terms, constant, counts, loads


def affine(expr: Expr, atoms: dict) -> IndexForm:
    """``expr`` as an :class:`IndexForm`.

    Terms are loop variables (:class:`Var`) or :class:`Atom` s for the parts that are not
    affine; equal atoms (by structure) are one term, looked up and stored in ``atoms``.
    """
    terms: dict = {}
    counts = [0] * NUM_OP_SLOTS
    constant = _accumulate(expr, 1, terms, atoms, counts)
    loads = [ld for term in terms if type(term) is Atom for ld in term.loads]
    return IndexForm({t: c for t, c in terms.items() if c != 0}, constant, counts, loads)


def _accumulate(e: Expr, scale: int, terms: dict, atoms: dict, counts: list[int]) -> int:
    kind = type(e)
    if kind is Const:
        return scale * e.value
    if kind is BinOp and e.dtype not in FLOAT_DTYPES:
        op = e.op
        if op == "add" or op == "sub":
            counts[I_ADDSUB] += 1
            return _accumulate(e.a, scale, terms, atoms, counts) + _accumulate(
                e.b, scale if op == "add" else -scale, terms, atoms, counts)
        if op == "mul":
            if type(e.b) is Const:
                counts[I_MUL] += 1
                return _accumulate(e.a, scale * e.b.value, terms, atoms, counts)
            if type(e.a) is Const:
                counts[I_MUL] += 1
                return _accumulate(e.b, scale * e.a.value, terms, atoms, counts)
    elif isinstance(e, Var):
        terms[e] = terms.get(e, 0) + scale
        return 0
    elif kind is Cast:
        counts[CAST_OP] += 1
        return _accumulate(e.value, scale, terms, atoms, counts)
    key = _structure(e)
    atom = atoms.get(key)
    if atom is None:
        atom = atoms[key] = Atom(e)
    for slot, c in enumerate(atom.counts):
        if c:
            counts[slot] += c
    terms[atom] = terms.get(atom, 0) + scale
    return 0


def _structure(e: Expr):
    """A hashable key equal for structurally equal index expressions."""
    kind = type(e)
    if kind is Const:
        return e.value
    if kind is BinOp:
        return (e.op, _structure(e.a), _structure(e.b))
    return e


# -- bounds, slopes, guards -------------------------------------------------------------------

def bounds(e: Expr, extents: dict) -> tuple[int, int]:
    """Smallest and largest value of integer expression ``e`` when each loop variable ``v``
    ranges over ``0 .. extents[v] - 1`` (conservative; unknown parts count as 0)."""
    kind = type(e)
    if kind is Const:
        return e.value, e.value
    if kind is BinOp:
        op = e.op
        alo, ahi = bounds(e.a, extents)
        if op in ("floordiv", "floormod") and type(e.b) is Const and e.b.value > 0:
            c = e.b.value
            if op == "floordiv":
                return alo // c, ahi // c
            if alo // c == ahi // c:
                return alo % c, ahi % c
            return 0, c - 1
        blo, bhi = bounds(e.b, extents)
        if op == "add":
            return alo + blo, ahi + bhi
        if op == "sub":
            return alo - bhi, ahi - blo
        if op == "mul":
            products = (alo * blo, alo * bhi, ahi * blo, ahi * bhi)
            return min(products), max(products)
        if op == "min":
            return min(alo, blo), min(ahi, bhi)
        if op == "max":
            return max(alo, blo), max(ahi, bhi)
        return 0, 0
    if isinstance(e, Var):
        return 0, extents.get(e, 1) - 1
    if kind is Cast:
        return bounds(e.value, extents)
    if kind is Select:
        tlo, thi = bounds(e.true_value, extents)
        flo, fhi = bounds(e.false_value, extents)
        return min(tlo, flo), max(thi, fhi)
    return 0, 0


def slope(e: Expr, var: Var) -> float:
    """How much ``e`` changes when ``var`` grows by one (an estimate through div and mod)."""
    kind = type(e)
    if kind is Const:
        return 0.0
    if kind is BinOp:
        op = e.op
        if op == "add":
            return slope(e.a, var) + slope(e.b, var)
        if op == "sub":
            return slope(e.a, var) - slope(e.b, var)
        if op == "mul":
            if type(e.b) is Const:
                return slope(e.a, var) * e.b.value
            if type(e.a) is Const:
                return slope(e.b, var) * e.a.value
        if type(e.b) is Const and e.b.value > 0:
            if op == "floordiv":
                return slope(e.a, var) / e.b.value
            if op == "floormod":
                s = slope(e.a, var)
                return s if abs(s) < e.b.value else 0.0
        return 0.0
    if kind is Cast:
        return slope(e.value, var)
    return 1.0 if e is var else 0.0


def guard_fraction(cond: Expr, extents: dict) -> float:
    """Estimated fraction of the iteration space in which ``cond`` holds, taking the values of
    each side of a comparison as spread evenly over their bounds."""
    kind = type(cond)
    if kind is Logic:
        parts = [guard_fraction(a, extents) for a in cond.args]
        if cond.op == "and":
            return parts[0] * parts[1]
        if cond.op == "or":
            return 1.0 - (1.0 - parts[0]) * (1.0 - parts[1])
        return 1.0 - parts[0]
    if kind is not Cmp or cond.a.dtype not in INT_DTYPES or cond.b.dtype not in INT_DTYPES:
        return 1.0
    alo, ahi = bounds(cond.a, extents)
    blo, bhi = bounds(cond.b, extents)
    lo, hi = alo - bhi, ahi - blo  # bounds of a - b
    n = hi - lo + 1
    op = cond.op
    if op == "lt":
        hit = min(hi, -1) - lo + 1
    elif op == "le":
        hit = min(hi, 0) - lo + 1
    elif op == "gt":
        hit = hi - max(lo, 1) + 1
    elif op == "ge":
        hit = hi - max(lo, 0) + 1
    elif op == "eq":
        hit = 1 if lo <= 0 <= hi else 0
    else:
        hit = n - (1 if lo <= 0 <= hi else 0)
    return min(max(hit, 0), n) / n
