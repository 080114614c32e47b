"""One Python pass over a lowered program: every innermost store with its loop context.

:func:`collect_program` walks the loop tree once and appends flat records to a
:class:`Records` batch: one per store (row), one per buffer the store touches (group), one per
distinct index expression of such a buffer (access). The numeric work on these records is
done with numpy, for a whole batch at once, by :mod:`schedlab.features.extract`.
"""

from __future__ import annotations

import math

from ..ir.loop_ir import Allocate, For, IfThen, Seq, Store
from ..te.expr import Var
from .exprs import NUM_OP_SLOTS, Atom, affine, bounds, count_ops, guard_fraction, slope
from .names import ANNOTATION_KINDS, GPU_BINDINGS, POSITIONS

ELEMENT_BYTES = {"float32": 4, "float64": 8, "int32": 4, "int64": 8, "bool": 1}
SCOPES = ("global", "local", "shared")  # buffer slot scopes; "arg" counts as global
ALLOC_SCOPES = ("arg", "global", "local", "shared")
READ, WRITE, READ_WRITE = 0, 1, 2

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

    ``rows``: per store, ``[program, guard fraction, guards, auto-unroll max step]`` followed
    by the op counts of one execution, the annotation and GPU features
    (``ANNOTATION_NAMES + GPU_NAMES``) and the allocation features (``ALLOC_NAMES``);
    ``row_extents``: the extents of its loops, outermost first.
    ``groups``: per buffer a store touches, ``(row, element bytes, READ/WRITE/READ_WRITE,
    scope index in SCOPES, buffer elements, loads + stores per execution, innermost stride)``;
    ``group_names``: the buffer names.
    ``accesses``: per distinct index expression of a group (consecutive per group),
    ``(group, loads + stores with it, depth of the innermost loop moving the address or -1,
    address step of that loop)``; ``access_terms``: its terms ``(|coef|, depth, values)``
    sorted by coefficient (see :func:`_access_terms`).
    ``serial``: ``(group, depth, stores under that loop touching the buffer)`` where > 1;
    ``appear``: ``(group, depth)`` of the loops its address depends on.
    """

    def __init__(self):
        self.rows: list[list[float]] = []
        self.row_extents: list[list[int]] = []
        self.groups: list[tuple] = []
        self.group_names: list[str] = []
        self.accesses: list[tuple] = []
        self.access_terms: list[list[tuple[float, int, float]]] = []
        self.serial: list[tuple[int, int, int]] = []
        self.appear: list[tuple[int, int]] = []


class _ProgramCache:
    """Analyses shared by the stores of one program, keyed by expression identity."""

    def __init__(self, var_extents: dict):
        self.var_extents = var_extents
        self.atoms: dict = {}
        self.affine: dict[int, tuple] = {}
        self.index_ops: dict[int, tuple] = {}
        self.guards: dict[int, float] = {}
        self.pieces: dict = {}
        self.slopes: dict = {}


def collect_program(func, state, is_gpu: bool, program_index: int, out: Records) -> None:
    """Append the records of lowered kernel ``func`` (schedule ``state``) to ``out``."""
    stores: list[tuple] = []
    var_extents: dict[Var, int] = {}
    _walk(func.body, [], [], [], stores, var_extents)
    cache = _ProgramCache(var_extents)
    max_step = {st.name: st.auto_unroll_max_step for st in state.stages}
    touched: dict[tuple[int, str], int] = {}  # (loop id, buffer) -> stores under it
    row_groups: list[tuple[tuple, list[tuple[int, str]]]] = []
    for store, loops, conds, allocs in stores:
        groups = _collect_row(store, loops, conds, allocs, cache, is_gpu, program_index,
                              max_step, out)
        row_groups.append((loops, groups))
        names = [name for _, name in groups]
        for loop in loops:
            key = id(loop)
            for name in names:
                touched[(key, name)] = touched.get((key, name), 0) + 1
    for loops, groups in row_groups:
        for depth, loop in enumerate(loops):
            key = id(loop)
            for g, name in groups:
                count = touched[(key, name)]
                if count > 1:
                    out.serial.append((g, depth, count))


def _walk(stmt, loops, conds, allocs, stores, var_extents) -> None:
    kind = type(stmt)
    if kind is For:
        var_extents[stmt.var] = stmt.extent
        loops.append(stmt)
        _walk(stmt.body, loops, conds, allocs, stores, var_extents)
        loops.pop()
    elif kind is Seq:
        for s in stmt.stmts:
            _walk(s, loops, conds, allocs, stores, var_extents)
    elif kind is Store:
        stores.append((stmt, tuple(loops), tuple(conds), tuple(allocs)))
    elif kind is IfThen:
        conds.append(stmt.cond)
        _walk(stmt.body, loops, conds, allocs, stores, var_extents)
        conds.pop()
    elif kind is Allocate:
        allocs.append((stmt.buffer, len(loops)))
        _walk(stmt.body, loops, conds, allocs, stores, var_extents)
        allocs.pop()
    else:
        raise ValueError(f"unknown loop-IR statement {type(stmt).__name__} in a lowered program")


def _collect_row(store, loops, conds, allocs, cache, is_gpu, program_index, max_step, out):
    row = len(out.rows)
    extents = [f.extent for f in loops]
    depth_of = {f.var: d for d, f in enumerate(loops)}

    # Operations: the value once, each distinct index expression once.
    counts = [0] * NUM_OP_SLOTS
    loads: list = []
    count_ops(store.value, counts, loads)
    accesses: dict[str, list] = {}  # buffer name -> [buffer, read?, written?, {id: [idx, n]}]
    _add_access(accesses, store.buffer, store.index, True)
    seen_index: set[int] = set()
    pending = [store.index] + [ld.index for ld in loads]
    for ld in loads:
        _add_access(accesses, ld.buffer, ld.index, False)
    while pending:
        index = pending.pop()
        if id(index) in seen_index:
            continue
        seen_index.add(id(index))
        cached = cache.index_ops.get(id(index))
        if cached is None:
            index_counts = [0] * NUM_OP_SLOTS
            nested: list = []
            count_ops(index, index_counts, nested)
            cached = cache.index_ops[id(index)] = (index_counts, nested)
        for slot, c in enumerate(cached[0]):
            if c:
                counts[slot] += c
        for ld in cached[1]:
            _add_access(accesses, ld.buffer, ld.index, False)
            pending.append(ld.index)

    guard = 1.0
    for cond in conds:
        frac = cache.guards.get(id(cond))
        if frac is None:
            frac = cache.guards[id(cond)] = guard_fraction(cond, cache.var_extents)
        guard *= frac

    groups = []
    write_depths: set[int] = set()
    for name, (buffer, is_read, is_written, indices) in accesses.items():
        g = len(out.groups)
        groups.append((g, name))
        eb = ELEMENT_BYTES.get(buffer.dtype, 4)
        strides = []
        depths: set[int] = set()
        weight = 0
        for index, n_access in indices.values():
            terms, slopes, index_depths = _access_terms(index, depth_of, extents, cache)
            depths |= index_depths
            if is_written and index is store.index:
                write_depths |= index_depths
            line_depth = max(slopes) if slopes else -1
            out.accesses.append(
                (g, n_access, line_depth, abs(slopes[line_depth]) if slopes else 0.0))
            out.access_terms.append(terms)
            inner = abs(slopes.get(len(loops) - 1, 0.0))
            if inner:
                strides.append(inner)
            weight += n_access
        access = READ_WRITE if is_read and is_written else WRITE if is_written else READ
        scope = SCOPES.index(buffer.scope) if buffer.scope in SCOPES else 0
        out.groups.append((row, eb, access, scope, buffer.size, weight,
                           min(strides) if strides else 0.0))
        out.group_names.append(name)
        out.appear.extend((g, d) for d in depths)

    out.rows.append(
        [program_index, guard, len(conds), max_step.get(store.buffer.name, 0)] + counts
        + _annotation_features(loops, write_depths, is_gpu)
        + _alloc_features(store.buffer, extents, allocs)
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


def _access_terms(index, depth_of, extents, cache):
    """Terms ``(|coef|, depth, distinct values)`` of an index, sorted; the slope of the
    address per loop depth; and the depths of the loops the index depends on."""
    form = cache.affine.get(id(index))
    if form is None:
        form = cache.affine[id(index)] = affine(index, cache.atoms)
    terms: list[tuple[float, int, float]] = []
    slopes: dict[int, float] = {}
    depths: set[int] = set()
    for term, coef in form[0].items():
        if type(term) is not Atom:
            d = depth_of.get(term)
            if d is None:
                continue
            depths.add(d)
            if extents[d] > 1:
                terms.append((abs(coef), d, extents[d]))
                slopes[d] = slopes.get(d, 0.0) + coef
            continue
        var_depths = tuple(depth_of.get(v, -1) for v in term.vars)
        depths.update(d for d in var_depths if d >= 0)
        for mult, d, values in _atom_pieces(term, var_depths, extents, cache):
            terms.append((abs(coef) * mult, d, values))
        for v, d in zip(term.vars, var_depths):
            if d >= 0 and extents[d] > 1:
                key = (term, v)
                s = cache.slopes.get(key)
                if s is None:
                    s = cache.slopes[key] = slope(term.expr, v)
                if s:
                    slopes[d] = slopes.get(d, 0.0) + coef * s
    terms.sort()
    return terms, {d: s for d, s in slopes.items() if s}, depths


def _atom_pieces(atom, var_depths, extents, cache):
    """An atom as mixed-radix pieces ``(coef multiplier, depth, values)``: the values it takes
    when the loops at and inside each of its variables' depths run, the outer ones fixed."""
    key = (atom, var_depths)
    pieces = cache.pieces.get(key)
    if pieces is not None:
        return pieces
    levels = sorted({d for d in var_depths if d >= 0 and extents[d] > 1}, reverse=True)
    pieces = []
    mult, prev = 1.0, 1.0
    for level in levels:
        running = {
            v: extents[d] for v, d in zip(atom.vars, var_depths) if d >= level
        }
        lo, hi = bounds(atom.expr, running)
        values = float(hi - lo + 1)
        if values > prev:
            pieces.append((mult, level, values / prev))
            mult *= values / prev
            prev = values
    cache.pieces[key] = pieces
    return pieces


def _annotation_features(loops, write_depths, is_gpu) -> list[float]:
    first: dict[bool, int] = {}
    last: dict[bool, int] = {}
    for d, f in enumerate(loops):
        if f.extent > 1:
            cls = d in write_depths
            first.setdefault(cls, d)
            last[cls] = d
    feats: list[float] = []
    for short in ANNOTATION_KINDS:
        kind = _LOOP_KIND[short]
        found = [d for d, f in enumerate(loops) if f.kind == kind]
        one_hot = [0.0] * len(POSITIONS)
        if not found:
            one_hot[_POS["none"]] = 1.0
            feats += [0.0, 0.0, 0.0] + one_hot
            continue
        codes = set()
        for d in found:
            cls = d in write_depths
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
        feats.append(float(math.prod(f.extent for f in loops if f.kind == binding)))
    return feats


def _alloc_features(buffer, extents, allocs) -> list[float]:
    eb = ELEMENT_BYTES.get(buffer.dtype, 4)
    scope = [0.0] * len(ALLOC_SCOPES)
    scope[ALLOC_SCOPES.index(buffer.scope) if buffer.scope in ALLOC_SCOPES else 0] = 1.0
    alloc_outer = 1
    counts = {"local": 0, "shared": 0}
    sizes = {"local": 0, "shared": 0}
    for buf, depth in allocs:
        if buf is buffer:
            alloc_outer = math.prod(extents[:depth])
        if buf.scope in counts:
            counts[buf.scope] += 1
            sizes[buf.scope] += buf.size * ELEMENT_BYTES.get(buf.dtype, 4)
    nbytes = buffer.size * eb
    inner = math.prod(extents) / alloc_outer
    return scope + [
        float(nbytes), float(alloc_outer), float(inner), float(nbytes * alloc_outer),
        float(counts["local"]), float(counts["shared"]),
        float(sizes["local"]), float(sizes["shared"]),
    ]
