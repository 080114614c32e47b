"""Lowering: a schedule state becomes a loop-IR kernel.

Stages are visited from consumers to producers. A stage computed at root covers its whole
output; a stage moved with ``compute_at`` covers the region its consumers read inside the
target loop (bounds inference, see :mod:`schedlab.ir.bounds`) and writes it to a local
buffer. Splits that do not divide, and regions that stick out of a tensor, become guards.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

from ..te import ComputeOp, Reduce, TensorRead, Var
from ..te.expr import Cmp, Expr, Logic, binop, const
from ..te.visit import collect_vars, simplify_binop, substitute, transform, walk
from .bounds import Linear, interval, linear_form
from .loop_ir import Allocate, Buffer, For, IfThen, Load, PrimFunc, Stmt, Store, seq
from .state import Fuse, Split, Stage, State, split_extents

# Serial loop nests that run at most this many statements are unrolled even without an
# auto-unroll pragma. TVM gets the same from LLVM's full unrolling of small constant-trip
# loops, which we leave off (see codegen.cpu); without it a small accumulator tile in a
# local buffer stays in memory instead of registers.
IMPLICIT_UNROLL_TRIPS = 16
# Lanes of one vector statement when counting unrolled statements: a 512-bit register of fp32.
VECTOR_STATEMENT_LANES = 16


class LoweringError(ValueError):
    """The schedule cannot be turned into loops (for example a consumer outside the loop a
    producer was computed at)."""


@dataclass
class _StageLoops:
    """Loops and index expressions of one stage after bounds inference."""

    stage: Stage
    loop_vars: list[Var]
    extents: list[int]
    root_values: dict[str, Expr]  # root axis name -> absolute index
    local_values: dict[str, Expr]  # spatial root axis -> index relative to the region
    offsets: list[Expr]  # region start per spatial axis
    region: list[int]  # region extent per spatial axis
    guards: list[Expr]
    path: list[tuple[Var, int]] = field(default_factory=list)  # enclosing loops, outermost first


def lower(state: State, name: str = "kernel") -> PrimFunc:
    """Turn ``state`` into a :class:`PrimFunc` whose arguments follow ``state.arg_names``."""
    return _Lowerer(state, name).run()


def expand_inline(state: State, expr: Expr) -> Expr:
    """``expr`` with every read of an inlined stage replaced by that stage's expression."""
    inlined = tuple((st.name, st.op) for st in state.stages if st.attach.kind == "inline")
    return _expand(expr, inlined)


# Search lowers thousands of programs of one computation, which differ in their loops but
# mostly not in what is inlined; expressions are immutable, so expansions are shared. Keyed
# by identity (an expression's == builds a comparison), holding the keys alive.
_EXPANDED: dict[tuple, tuple] = {}
_EXPANDED_MAX = 1024


def _expand(expr: Expr, inlined: tuple) -> Expr:
    key = (id(expr),) + tuple(id(op) for _, op in inlined)
    hit = _EXPANDED.get(key)
    if hit is None:
        if len(_EXPANDED) >= _EXPANDED_MAX:
            _EXPANDED.clear()
        hit = _EXPANDED[key] = (expr, inlined, _expand_uncached(expr, inlined))
    return hit[2]


def _expand_uncached(expr: Expr, inlined: tuple) -> Expr:
    ops = dict(inlined)

    def visit(node):
        if isinstance(node, TensorRead) and node.tensor.name in ops:
            op = ops[node.tensor.name]
            indices = [transform(i, visit) for i in node.indices]
            return substitute(_expand(op.body, inlined), dict(zip(op.axes, indices)))
        return None

    if isinstance(expr, Reduce):
        return Reduce(expr.combiner, transform(expr.source, visit), expr.axes)
    return transform(expr, visit)


@functools.lru_cache(maxsize=4096)  # the same few names, for every program lowered
def _var_name(stage: str, it: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{stage}_{it}")


class _Lowerer:
    def __init__(self, state: State, name: str):
        self.state = state
        self.name = name
        self.by_name = {st.name: st for st in state.stages}
        self.inlined = {st.name for st in state.stages if st.attach.kind == "inline"}
        self.loops: dict[str, _StageLoops] = {}
        self.buffers: dict[str, Buffer] = {}
        self.bodies: dict[str, Expr] = {}
        self.var_names: set[str] = set()
        self.thread_vars: set[Var] = set()  # loops bound to GPU threads or virtual threads
        for st in state.stages:
            if isinstance(st.op, ComputeOp):
                self.bodies[st.name] = self._expand_inline(st.op.body)

    def _expand_inline(self, expr: Expr) -> Expr:
        return expand_inline(self.state, expr)

    # -- driver -----------------------------------------------------------------------------
    def run(self) -> PrimFunc:
        args = []
        for arg in self.state.arg_names:
            st = self.by_name.get(arg)
            if st is None:
                raise LoweringError(f"argument {arg!r} has no stage")
            buf = Buffer(arg, st.op.output.dtype, st.op.output.shape, "arg")
            self.buffers[arg] = buf
            args.append(buf)
        computed = [
            st for st in self.state.stages if isinstance(st.op, ComputeOp)
            and st.name not in self.inlined
        ]
        for st in reversed(computed):
            self._infer(st)
        for st in computed:
            if st.name not in self.buffers:
                info = self.loops[st.name]
                scope = "global" if st.attach.kind == "root" else (
                    "shared" if st.scope == "shared" else "local")
                shape = tuple(info.region) if scope != "global" else st.op.output.shape
                self.buffers[st.name] = Buffer(st.name, st.op.output.dtype, shape, scope)
        body_parts = [self._build(st) for st in computed if st.attach.kind == "root"]
        body: Stmt = seq(body_parts)
        for st in reversed(computed):
            if st.attach.kind == "root" and self.buffers[st.name].scope == "global":
                body = Allocate(self.buffers[st.name], body)
        return PrimFunc(self.name, tuple(args), body)

    # -- bounds inference -------------------------------------------------------------------
    def _infer(self, st: Stage) -> None:
        op = st.op
        shape = op.output.shape
        if st.attach.kind == "root":
            offsets: list[Expr] = [const(0)] * len(shape)
            region = list(shape)
            guards_out: list[Expr] = []
            prefix: list[tuple[Var, int]] = []
        else:
            offsets, region, guards_out, prefix = self._region(st)
        root_ext = {ax.name: r for ax, r in zip(op.axes, region)}
        root_ext.update({ax.name: ax.extent for ax in op.reduce_axes})
        ext = dict(root_ext)
        for rel in st.relations:
            if isinstance(rel, Split) and None in rel.lengths:
                raise LoweringError(
                    f"stage {st.name!r} has a split of {rel.parent!r} with undecided lengths "
                    "(a sketch); fill in the tile sizes before lowering"
                )
            if isinstance(rel, Split):
                for child, e in zip(rel.children, split_extents(ext[rel.parent], rel.lengths)):
                    ext[child] = e
            else:
                ext[rel.fused] = math.prod(ext[c] for c in rel.children)
        loop_vars = [Var(self._unique_var(_var_name(st.name, it.name))) for it in st.iters]
        self.thread_vars |= {v for v, it in zip(loop_vars, st.iters)
                             if it.annotation.startswith(("threadIdx", "vthread"))}
        extents = [ext[it.name] for it in st.iters]
        values: dict[str, Expr] = {it.name: v for it, v in zip(st.iters, loop_vars)}
        guards: list[Expr] = []
        for rel in reversed(st.relations):
            if isinstance(rel, Fuse):
                fused = values[rel.fused]
                inner = 1
                for child in reversed(rel.children):
                    v = fused if inner == 1 else simplify_binop("floordiv", fused, const(inner))
                    if child != rel.children[0]:
                        v = simplify_binop("floormod", v, const(ext[child]))
                    values[child] = v
                    inner *= ext[child]
            else:
                total: Expr = const(0)
                stride = math.prod(rel.lengths)
                for k, child in enumerate(rel.children):
                    total = simplify_binop(
                        "add", total, simplify_binop("mul", values[child], const(stride))
                    )
                    if k < len(rel.lengths):
                        stride //= rel.lengths[k]
                values[rel.parent] = total
                covered = math.prod(ext[c] for c in rel.children)
                if covered != ext[rel.parent]:
                    guards.append(Cmp("lt", total, const(ext[rel.parent])))
        local_values = {ax.name: values[ax.name] for ax in op.axes}
        root_values = {
            ax.name: simplify_binop("add", off, values[ax.name])
            for ax, off in zip(op.axes, offsets)
        }
        root_values.update({ax.name: values[ax.name] for ax in op.reduce_axes})
        for ax, lo_needed in zip(op.axes, guards_out):
            if lo_needed is not None:
                v = root_values[ax.name]
                lo_ok, hi_ok = lo_needed
                if lo_ok:
                    guards.append(Cmp("ge", v, const(0)))
                if hi_ok:
                    guards.append(Cmp("lt", v, const(ax.extent)))
        path = prefix + list(zip(loop_vars, extents))
        self.loops[st.name] = _StageLoops(
            st, loop_vars, extents, root_values, local_values, offsets, region, guards, path
        )

    def _unique_var(self, name: str) -> str:
        # Bounds inference keys linear forms by the printed expression, so two loops must
        # not print alike (axis "i_0" and split part "i.0" would both be "C_i_0").
        candidate, n = name, 0
        while candidate in self.var_names:
            n += 1
            candidate = f"{name}_{n}"
        self.var_names.add(candidate)
        return candidate

    def _readers(self, name: str) -> list[tuple[str, list[TensorRead]]]:
        """Non-inlined stages reading tensor ``name`` and their reads (after inlining)."""
        found = []
        for st_name in self.loops:
            body = self.bodies[st_name]
            reads = [
                node for node in _walk_reads(body) if node.tensor.name == name
            ]
            if reads:
                found.append((st_name, reads))
        return found

    def _region(self, st: Stage):
        attach = st.attach
        target = self.loops.get(attach.target)
        if target is None:
            raise LoweringError(f"{st.name!r} is computed at {attach.target!r}, which has no loops")
        try:
            it_pos = target.stage.iter_index(attach.iterator)
        except ValueError as exc:
            raise LoweringError(str(exc)) from None
        attach_var = target.loop_vars[it_pos]
        prefix_len = next(i for i, (v, _) in enumerate(target.path) if v is attach_var) + 1
        prefix = target.path[:prefix_len]
        var_extent = {v: e for info in self.loops.values() for v, e in info.path}
        shape = st.op.output.shape
        lo_hi: list[tuple[Linear, Linear] | None] = [None] * len(shape)
        readers = self._readers(st.name)
        if not readers:
            raise LoweringError(
                f"{st.name!r} is computed at {attach.target!r} but nothing reads it"
            )
        exact = [True] * len(shape)
        for reader, reads in readers:
            info = self.loops[reader]
            pos = next((i for i, (v, _) in enumerate(info.path) if v is attach_var), None)
            if pos is None:
                raise LoweringError(
                    f"{reader!r} reads {st.name!r} outside loop {attach.target}.{attach.iterator}"
                )
            ranging = dict(info.path[pos + 1 :])
            if st.scope == "shared":
                # Shared memory serves the whole block: its region covers every thread.
                ranging.update((v, e) for v, e in info.path[: pos + 1] if v in self.thread_vars)
            for read in reads:
                for d, idx in enumerate(read.indices):
                    idx = substitute(idx, self._axis_map(reader))
                    r = interval(idx, ranging)
                    if r is None:
                        exact[d] = False
                        continue
                    lo_hi[d] = r if lo_hi[d] is None else _union(lo_hi[d], r)
                    if lo_hi[d] is None:
                        exact[d] = False
        offsets, region, guards = [], [], []
        for d, dim in enumerate(shape):
            r = lo_hi[d] if exact[d] else None
            size = r[1].plus(r[0], -1) if r is not None else None
            if r is None or not size.is_const or size.constant + 1 >= dim:
                offsets.append(const(0))
                region.append(dim)
                guards.append(None)
                continue
            offsets.append(r[0].to_expr())
            region.append(size.constant + 1)
            lo_b = r[0].bounds(var_extent)
            hi_b = r[1].bounds(var_extent)
            guards.append((lo_b is None or lo_b[0] < 0, hi_b is None or hi_b[1] > dim - 1))
        return offsets, region, guards, prefix

    def _axis_map(self, stage_name: str) -> dict[Var, Expr]:
        info = self.loops[stage_name]
        op = info.stage.op
        return {ax: info.root_values[ax.name] for ax in op.all_axes}

    # -- statements -------------------------------------------------------------------------
    def _load(self, read: TensorRead, axis_map: dict[Var, Expr]) -> Load:
        name = read.tensor.name
        buf = self.buffers[name]
        indices = [substitute(i, axis_map) for i in read.indices]
        if buf.scope in ("local", "shared"):
            # Cancel the region offset symbolically: constant offsets into a small local
            # buffer are what let LLVM keep it in registers.
            offsets = self.loops[name].offsets
            indices = [
                linear_form(i).plus(linear_form(o), -1).to_expr() for i, o in zip(indices, offsets)
            ]
        return Load(buf, _flatten(indices, buf.shape))

    def _value(self, expr: Expr, axis_map: dict[Var, Expr]) -> Expr:
        def visit(node):
            if isinstance(node, TensorRead):
                return self._load(node, axis_map)
            if isinstance(node, Var):
                return axis_map.get(node, node)
            return None

        return transform(expr, visit)

    def _build(self, st: Stage) -> Stmt:
        info = self.loops[st.name]
        op = st.op
        buf = self.buffers[st.name]
        axis_map = self._axis_map(st.name)
        values = info.local_values if buf.scope in ("local", "shared") else info.root_values
        index = _flatten([values[ax.name] for ax in op.axes], buf.shape)
        body = self.bodies[st.name]
        n = len(st.iters)
        attached = self._attached_by_iter(st)
        if isinstance(body, Reduce):
            src = self._value(body.source, axis_map)
            update = Store(buf, index, _combine(body.combiner, Load(buf, index), src))
            init = Store(buf, index, body.identity())
            first_reduce = next(i for i, it in enumerate(st.iters) if it.kind == "reduce")
            spatial_guards = [g for g in info.guards if _only_vars(g, self._spatial_vars(info))]
            init_nest = self._nest(
                info, [i for i in range(first_reduce, n) if st.iters[i].kind == "spatial"],
                _guarded(init, spatial_guards), {},
            )
            update_nest = self._nest(
                info, list(range(first_reduce, n)), _guarded(update, info.guards), attached
            )
            inner = seq([init_nest, update_nest])
            return self._nest(info, list(range(first_reduce)), inner, attached)
        value = self._value(body, axis_map)
        return self._nest(info, list(range(n)), _guarded(Store(buf, index, value), info.guards),
                          attached)

    def _spatial_vars(self, info: _StageLoops) -> set[Var]:
        return {v for v, it in zip(info.loop_vars, info.stage.iters) if it.kind == "spatial"}

    def _attached_by_iter(self, st: Stage) -> dict[str, list[Stage]]:
        found: dict[str, list[Stage]] = {}
        for other in self.state.stages:
            if other.attach.kind == "at" and other.attach.target == st.name:
                found.setdefault(other.attach.iterator, []).append(other)
        return found

    def _nest(self, info: _StageLoops, positions: list[int], body: Stmt,
              attached: dict[str, list[Stage]]) -> Stmt:
        st = info.stage
        max_step = st.auto_unroll_max_step
        for k in reversed(positions):
            it = st.iters[k]
            inner = []
            for producer in attached.get(it.name, []):
                inner.append(self._build(producer))
            stmt = seq(inner + [body])
            for producer in attached.get(it.name, []):
                stmt = Allocate(self.buffers[producer.name], stmt)
            kind = "serial" if it.annotation == "none" else it.annotation
            if kind == "serial":
                trips = _statements_run(st, info.extents, k)
                if trips <= max(max_step, IMPLICIT_UNROLL_TRIPS):
                    kind = "unroll"
            body = For(info.loop_vars[k], info.extents[k], kind, stmt)
        return body


def _statements_run(stage: Stage, extents: list[int], k: int) -> int:
    """Statements that loop ``k`` of ``stage`` runs, its inner loops included. A vectorized
    loop counts one statement per register of ``VECTOR_STATEMENT_LANES`` lanes: TVM
    vectorizes before it unrolls, so its auto-unroll limit counts vector statements, and
    a wide vector is still several machine instructions."""
    trips = 1
    for it, extent in zip(stage.iters[k:], extents[k:]):
        trips *= -(-extent // VECTOR_STATEMENT_LANES) if it.annotation == "vectorize" else extent
    return trips


def _walk_reads(expr: Expr):
    for node in walk(expr):
        if isinstance(node, TensorRead):
            yield node


def _union(a: tuple[Linear, Linear], b: tuple[Linear, Linear]):
    dlo = a[0].plus(b[0], -1)
    dhi = a[1].plus(b[1], -1)
    if not (dlo.is_const and dhi.is_const):
        return None
    lo = b[0] if dlo.constant > 0 else a[0]
    hi = a[1] if dhi.constant > 0 else b[1]
    return lo, hi


def _flatten(indices: list[Expr], shape: tuple[int, ...]) -> Expr:
    flat: Expr = const(0)
    for idx, dim in zip(indices, shape):
        if dim == 1:
            # The only valid index is 0; saying so keeps addresses constant where the index
            # expression (say, a part of a fused loop) could not be proven zero.
            idx = const(0)
        flat = simplify_binop("add", simplify_binop("mul", flat, const(dim)), idx)
    return flat


def _combine(combiner: str, acc: Expr, value: Expr) -> Expr:
    return binop({"sum": "add", "max": "max", "min": "min"}[combiner], acc, value)


def _guarded(stmt: Stmt, guards: list[Expr]) -> Stmt:
    if not guards:
        return stmt
    cond = guards[0]
    for g in guards[1:]:
        cond = Logic("and", (cond, g))
    return IfThen(cond, stmt)


def _only_vars(expr: Expr, allowed: set[Var]) -> bool:
    return collect_vars(expr) <= allowed


__all__ = ["LoweringError", "expand_inline", "lower"]
