"""One Python pass over a lowered program: every innermost store with its loop context.

:func:`collect_program` walks the loop tree once and appends flat records to a
:class:`Records` batch: one per store (row), one per buffer the store touches (group), one per
distinct index expression of such a buffer (access). The numeric work on these records is
done with numpy, for a whole batch at once, by :mod:`schedlab.features.extract`.
"""

from __future__ import annotations

import math
from bisect import bisect_left

from ..ir.loop_ir import Allocate, For, IfThen, Seq, Store
from ..te.expr import Var
from .exprs import (
    NUM_OP_SLOTS,
    Atom,
    IndexForm,
    affine,
    bounds,
    count_ops,
    guard_fraction,
    slope,
)
from .names import ANNOTATION_KINDS, GPU_BINDINGS, POSITIONS

ELEMENT_BYTES = {"float32": 4, "float64": 8, "int32": 4, "int64": 8, "bool": 1}
SCOPES = ("global", "local", "shared")  # buffer slot scopes; "arg" counts as global
ALLOC_SCOPES = ("arg", "global", "local", "shared")
READ, WRITE, READ_WRITE = 0, 1, 2
REUSE_LOOP, REUSE_SERIAL, REUSE_NONE = 0, 1, 2

_LOOP_KIND = {"vec": "vectorize", "unroll": "unroll", "parallel": "parallel"}
_POS = {name: i for i, name in enumerate(POSITIONS)}
# Position code by (is spatial, place): place 0 inner, 1 middle, 2 outer.
_POS_CODE = {
    (True, 0): _POS["inner_spatial"], (True, 1): _POS["middle_spatial"],
    (True, 2): _POS["outer_spatial"], (False, 0): _POS["inner_reduce"],
    (False, 1): _POS["middle_reduce"], (False, 2): _POS["outer_reduce"],
}


class Records:
    """Flat records of a batch of programs, as lists of numbers that numpy converts at once.

    Loops of extent 1 change nothing a feature measures, so the numeric records index only
    the loops of extent > 1 ("levels": level ``k`` = the k-th such loop from the outside and
    everything inside it; level ``len`` = a single iteration).

    ``rows``: per store, ``[program, guard fraction, guards, auto-unroll max step, loops]``
    followed by the op counts of one execution, the annotation and GPU features
    (``ANNOTATION_NAMES + GPU_NAMES``) and the allocation features (``ALLOC_NAMES``);
    ``row_extents``: the extents (> 1) of its loops, outermost first.
    ``groups``: per buffer a store touches, ``[row, element bytes, READ/WRITE/READ_WRITE,
    scope index in SCOPES, buffer elements, loads + stores per execution, innermost stride,
    reuse type (REUSE_LOOP / REUSE_SERIAL / REUSE_NONE), level inside the reuse loop, reuse
    count]``; ``group_names``: the buffer names.
    ``accesses``: per distinct index expression of a group (consecutive per group),
    ``(group, loads + stores with it, level of the innermost loop moving the address or -1,
    address step of that loop)``; ``access_terms``: its terms ``(|coef|, level, values)``
    sorted by coefficient (see :func:`_access_terms`).
    """

    def __init__(self):
        self.rows: list[list[float]] = []
        self.row_extents: list[list[int]] = []
        self.groups: list[list[float]] = []
        self.group_names: list[str] = []
        self.accesses: list[tuple] = []
        self.access_terms: list[list[tuple[float, int, float]]] = []


class _ProgramCache:
    """Analyses shared by the stores of one program, keyed by expression identity."""

    def __init__(self, var_extents: dict):
        self.var_extents = var_extents
        self.atoms: dict = {}
        self.affine: dict[int, IndexForm] = {}
        self.index_vars: dict[int, frozenset] = {}
        self.guards: dict[int, float] = {}
        self.pieces: dict = {}
        self.slopes: dict = {}


def collect_program(func, state, is_gpu: bool, program_index: int, out: Records) -> None:
    """Append the records of lowered kernel ``func`` (schedule ``state``) to ``out``."""
    stores: list[tuple] = []
    var_extents: dict[Var, int] = {}
    spans: dict[int, tuple[int, int]] = {}  # loop id -> its stores, first and past-the-end
    _walk(func.body, [], [], [], stores, var_extents, spans)
    cache = _ProgramCache(var_extents)
    max_step = {st.name: st.auto_unroll_max_step for st in state.stages}
    row_groups = []
    touching: dict[str, list[int]] = {}  # buffer -> stores touching it, in order
    for i, (store, loops, conds, allocs) in enumerate(stores):
        groups = _collect_row(store, loops, conds, allocs, cache, is_gpu, program_index,
                              max_step, out)
        row_groups.append((loops, groups))
        for _, name, _ in groups:
            touching.setdefault(name, []).append(i)
    # Reuse, from the innermost loop out: a loop of extent > 1 that does not move the address
    # (loop reuse), or a loop under which other stores touch the buffer too (serial reuse).
    for loops, groups in row_groups:
        for g, name, levels in groups:
            level = sum(f.extent > 1 for f in loops)  # level just inside loops[d]
            for d in range(len(loops) - 1, -1, -1):
                f = loops[d]
                if f.extent > 1:
                    if level - 1 not in levels:
                        out.groups[g][7:] = [REUSE_LOOP, level, f.extent]
                        break
                first, end = spans[id(f)]
                if end - first > 1:
                    rows = touching[name]
                    count = bisect_left(rows, end) - bisect_left(rows, first)
                    if count > 1:
                        out.groups[g][7:] = [REUSE_SERIAL, level, count - 1]
                        break
                level -= f.extent > 1


def _walk(stmt, loops, conds, allocs, stores, var_extents, spans) -> None:
    kind = type(stmt)
    if kind is For:
        var_extents[stmt.var] = stmt.extent
        loops.append(stmt)
        first = len(stores)
        _walk(stmt.body, loops, conds, allocs, stores, var_extents, spans)
        spans[id(stmt)] = (first, len(stores))
        loops.pop()
    elif kind is Seq:
        for s in stmt.stmts:
            _walk(s, loops, conds, allocs, stores, var_extents, spans)
    elif kind is Store:
        stores.append((stmt, tuple(loops), tuple(conds), tuple(allocs)))
    elif kind is IfThen:
        conds.append(stmt.cond)
        _walk(stmt.body, loops, conds, allocs, stores, var_extents, spans)
        conds.pop()
    elif kind is Allocate:
        allocs.append((stmt.buffer, len(loops)))
        _walk(stmt.body, loops, conds, allocs, stores, var_extents, spans)
        allocs.pop()
    else:
        raise ValueError(f"unknown loop-IR statement {type(stmt).__name__} in a lowered program")


def _collect_row(store, loops, conds, allocs, cache, is_gpu, program_index, max_step, out):
    row = len(out.rows)
    extents = [f.extent for f in loops if f.extent > 1]
    level_of = {}  # loop variable -> level, for loops of extent > 1
    for f in loops:
        if f.extent > 1:
            level_of[f.var] = len(level_of)

    # Operations: the value once, each distinct index expression once.
    counts = [0] * NUM_OP_SLOTS
    loads: list = []
    count_ops(store.value, counts, loads)
    accesses: dict[str, list] = {}  # buffer name -> [buffer, read?, written?, {id: [idx, n]}]
    _add_access(accesses, store.buffer, store.index, True)
    for ld in loads:
        _add_access(accesses, ld.buffer, ld.index, False)
    seen_index: set[int] = set()
    pending = [store.index] + [ld.index for ld in loads]
    while pending:
        index = pending.pop()
        if id(index) in seen_index:
            continue
        seen_index.add(id(index))
        form = _form(index, cache)
        for slot, c in enumerate(form.counts):
            if c:
                counts[slot] += c
        for ld in form.loads:
            _add_access(accesses, ld.buffer, ld.index, False)
            pending.append(ld.index)

    guard = 1.0
    for cond in conds:
        frac = cache.guards.get(id(cond))
        if frac is None:
            frac = cache.guards[id(cond)] = guard_fraction(cond, cache.var_extents)
        guard *= frac

    groups = []
    n_levels = len(extents)
    for name, (buffer, is_read, is_written, indices) in accesses.items():
        g = len(out.groups)
        eb = ELEMENT_BYTES.get(buffer.dtype, 4)
        strides = []
        levels: set[int] = set()
        weight = 0
        for index, n_access in indices.values():
            terms, slopes = _access_terms(index, level_of, extents, cache)
            levels.update(slopes)
            levels.update(t[1] for t in terms)
            line_level = max(slopes) if slopes else -1
            out.accesses.append(
                (g, n_access, line_level, abs(slopes[line_level]) if slopes else 0.0))
            out.access_terms.append(terms)
            inner = abs(slopes.get(n_levels - 1, 0.0))
            if inner:
                strides.append(inner)
            weight += n_access
        groups.append((g, name, levels))
        access = READ_WRITE if is_read and is_written else WRITE if is_written else READ
        scope = SCOPES.index(buffer.scope) if buffer.scope in SCOPES else 0
        out.groups.append([row, eb, access, scope, buffer.size, weight,
                           min(strides) if strides else 0.0, REUSE_NONE, 0, 0])
        out.group_names.append(name)

    out.rows.append(
        [program_index, guard, len(conds), max_step.get(store.buffer.name, 0), len(loops)]
        + counts
        + _annotation_features(loops, _index_vars(store.index, cache), is_gpu)
        + _alloc_features(store.buffer, loops, allocs)
    )
    out.row_extents.append(extents)
    return groups


def _add_access(accesses, buffer, index, is_write) -> None:
    entry = accesses.get(buffer.name)
    if entry is None:
        entry = accesses[buffer.name] = [buffer, False, False, {}]
    entry[2 if is_write else 1] = True
    slot = entry[3].get(id(index))
    if slot is None:
        entry[3][id(index)] = [index, 1]
    else:
        slot[1] += 1


def _access_terms(index, level_of, extents, cache):
    """Terms ``(|coef|, level, distinct values)`` of an index, sorted, and the slope of the
    address per level (nonzero ones only)."""
    form = _form(index, cache)
    terms: list[tuple[float, int, float]] = []
    slopes: dict[int, float] = {}
    for term, coef in form.terms.items():
        if type(term) is not Atom:
            level = level_of.get(term)
            if level is not None:
                terms.append((abs(coef), level, extents[level]))
                slopes[level] = slopes.get(level, 0.0) + coef
            continue
        var_levels = tuple(level_of.get(v, -1) for v in term.vars)
        for mult, level, values in _atom_pieces(term, var_levels, extents, cache):
            terms.append((abs(coef) * mult, level, values))
        for v, level in zip(term.vars, var_levels):
            if level >= 0:
                key = (term, v)
                s = cache.slopes.get(key)
                if s is None:
                    s = cache.slopes[key] = slope(term.expr, v)
                if s:
                    slopes[level] = slopes.get(level, 0.0) + coef * s
    terms.sort()
    return terms, {level: s for level, s in slopes.items() if s}


def _form(index, cache):
    form = cache.affine.get(id(index))
    if form is None:
        form = cache.affine[id(index)] = affine(index, cache.atoms)
    return form


def _index_vars(index, cache) -> frozenset:
    """The loop variables an index expression depends on."""
    found = cache.index_vars.get(id(index))
    if found is None:
        names = set()
        for term in _form(index, cache).terms:
            names.update(term.vars if type(term) is Atom else (term,))
        found = cache.index_vars[id(index)] = frozenset(names)
    return found


def _atom_pieces(atom, var_levels, extents, cache):
    """An atom as mixed-radix pieces ``(coef multiplier, level, values)``: the values it takes
    when the loops at and inside each of its variables' levels run, the outer ones fixed."""
    key = (atom, var_levels)
    pieces = cache.pieces.get(key)
    if pieces is not None:
        return pieces
    pieces = []
    mult, prev = 1.0, 1.0
    for level in sorted({lv for lv in var_levels if lv >= 0}, reverse=True):
        running = {v: extents[lv] for v, lv in zip(atom.vars, var_levels) if lv >= level}
        lo, hi = bounds(atom.expr, running)
        values = float(hi - lo + 1)
        if values > prev:
            pieces.append((mult, level, values / prev))
            mult *= values / prev
            prev = values
    cache.pieces[key] = pieces
    return pieces


def _annotation_features(loops, write_vars, is_gpu) -> list[float]:
    # A loop is spatial if its variable appears in the stored index, else reduce; its place
    # is taken among the loops of its class with extent > 1.
    first: dict[bool, int] = {}
    last: dict[bool, int] = {}
    by_kind: dict[str, list[int]] = {}
    for d, f in enumerate(loops):
        if f.extent > 1:
            cls = f.var in write_vars
            first.setdefault(cls, d)
            last[cls] = d
        if f.kind != "serial":
            by_kind.setdefault(f.kind, []).append(d)
    feats: list[float] = []
    for short in ANNOTATION_KINDS:
        found = by_kind.get(_LOOP_KIND[short])
        one_hot = [0.0] * len(POSITIONS)
        if not found:
            one_hot[_POS["none"]] = 1.0
            feats += [0.0, 0.0, 0.0] + one_hot
            continue
        codes = set()
        for d in found:
            cls = loops[d].var in write_vars
            if cls not in first or d >= last[cls]:
                place = 0
            elif d <= first[cls]:
                place = 2
            else:
                place = 1
            codes.add(_POS_CODE[(cls, place)])
        one_hot[codes.pop() if len(codes) == 1 else _POS["mixed"]] = 1.0
        prod = math.prod(loops[d].extent for d in found)
        feats += [float(len(found)), float(prod), float(loops[found[-1]].extent)] + one_hot
    feats.append(1.0 if is_gpu else 0.0)
    for binding in GPU_BINDINGS:
        found = by_kind.get(binding)
        feats.append(float(math.prod(loops[d].extent for d in found)) if found else 1.0)
    return feats


def _alloc_features(buffer, loops, allocs) -> list[float]:
    eb = ELEMENT_BYTES.get(buffer.dtype, 4)
    scope = [0.0] * len(ALLOC_SCOPES)
    scope[ALLOC_SCOPES.index(buffer.scope) if buffer.scope in ALLOC_SCOPES else 0] = 1.0
    alloc_outer = 1
    counts = {"local": 0, "shared": 0}
    sizes = {"local": 0, "shared": 0}
    for buf, depth in allocs:
        if buf is buffer:
            alloc_outer = math.prod(f.extent for f in loops[:depth])
        if buf.scope in counts:
            counts[buf.scope] += 1
            sizes[buf.scope] += buf.size * ELEMENT_BYTES.get(buf.dtype, 4)
    nbytes = buffer.size * eb
    inner = math.prod(f.extent for f in loops) / alloc_outer
    return scope + [
        float(nbytes), float(alloc_outer), float(inner), float(nbytes * alloc_outer),
        float(counts["local"]), float(counts["shared"]),
        float(sizes["local"]), float(sizes["shared"]),
    ]
