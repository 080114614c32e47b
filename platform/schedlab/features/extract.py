"""Feature matrices of programs: :func:`extract_features` and :func:`extract_batch`.

The loop tree of each program is walked once in Python (:mod:`.collect`); the numbers (the
distinct elements each buffer access touches at every loop level, reuse, cache lines,
arithmetic intensity) are then computed with numpy for all stores of all programs at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain

import numpy as np

from .collect import (
    READ,
    READ_WRITE,
    REUSE_LOOP,
    REUSE_NONE,
    REUSE_SERIAL,
    SCOPES,
    WRITE,
    Records,
    collect_program,
)
from .exprs import FLOP_SLOTS, I_ADDSUB, NUM_OP_SLOTS
from .names import (
    ANNOTATION_NAMES,
    BUFFER_FIELDS,
    FEATURE_NAMES,
    GPU_NAMES,
    NUM_BUFFER_SLOTS,
    NUM_CURVE_POINTS,
    RAW_FEATURES,
)

CACHE_LINE_BYTES = 64
_LOG_COLUMNS = np.array([name not in RAW_FEATURES for name in FEATURE_NAMES])
_NUM_FEATURES = len(FEATURE_NAMES)


def extract_features(program) -> np.ndarray:
    """The feature matrix of ``program``: float32, shape ``(stores, len(FEATURE_NAMES))``,
    one row per innermost store of its lowered loop IR, in program order.

    Raises ``TypeError`` if ``program`` is not a :class:`~schedlab.program.Program` and
    ``ValueError`` if it cannot be lowered.
    """
    _check_program(program, "extract_features")
    return extract_batch([program])[0]


def extract_batch(programs: Iterable) -> list[np.ndarray]:
    """:func:`extract_features` of each program, computed together (faster than one by one)."""
    from ..program import Program

    if isinstance(programs, Program):
        raise TypeError("extract_batch takes a sequence of programs; use extract_features "
                        "for a single one")
    try:
        programs = list(programs)
    except TypeError:
        raise TypeError(
            f"extract_batch takes a sequence of programs, got {type(programs).__name__}"
        ) from None
    for i, program in enumerate(programs):
        _check_program(program, f"extract_batch (item {i})")
    records = Records()
    for i, program in enumerate(programs):
        collect_program(_lowered(program), program.state,
                        program.task.target.kind == "cuda", i, records)
    matrix = _assemble(records)
    row_program = np.array([row[0] for row in records.rows], dtype=np.int64)
    bounds = np.searchsorted(row_program, np.arange(len(programs) + 1))
    return [matrix[bounds[i]:bounds[i + 1]] for i in range(len(programs))]


def _check_program(program, where: str) -> None:
    from ..program import Program

    if not isinstance(program, Program):
        raise TypeError(f"{where} needs a schedlab Program, got {type(program).__name__}")


def _lowered(program):
    try:
        return program.func
    except Exception as exc:
        raise ValueError(
            f"cannot extract features of a program of task {program.task.name!r}: lowering "
            f"failed: {exc}"
        ) from exc


# -- numeric part -------------------------------------------------------------------------------

_ROW_HEAD = 5  # program, guard fraction, guards, auto-unroll max step, loops (see Records)
_ANNOTATION_WIDTH = len(ANNOTATION_NAMES) + len(GPU_NAMES)


def _assemble(rec: Records) -> np.ndarray:
    n_rows = len(rec.rows)
    if n_rows == 0:
        return np.zeros((0, _NUM_FEATURES), np.float32)
    depth = max(1, max(len(e) for e in rec.row_extents))
    rows = np.array(rec.rows, dtype=np.float64)
    ext = np.array([e + [1] * (depth - len(e)) for e in rec.row_extents], dtype=np.float64)
    # inner_prod[r, L]: iterations of the loops at level >= L; 1 past the innermost.
    inner_prod = np.ones((n_rows, depth + 1))
    inner_prod[:, :depth] = np.cumprod(ext[:, ::-1], axis=1)[:, ::-1]
    outer_prod = inner_prod[:, 0]
    guard = rows[:, 1]
    executions = outer_prod * guard

    col = _ROW_HEAD
    ops = rows[:, col:col + NUM_OP_SLOTS]
    col += NUM_OP_SLOTS
    annotations = rows[:, col:col + _ANNOTATION_WIDTH]
    alloc = rows[:, col + _ANNOTATION_WIDTH:]
    flops = ops[:, list(FLOP_SLOTS)].sum(axis=1)
    # names.OP_NAMES: the float slots, float_flops, the other slots.
    op_cols = np.concatenate([ops[:, :I_ADDSUB], flops[:, None], ops[:, I_ADDSUB:]], axis=1)
    op_cols *= executions[:, None]

    buffers, row_bytes = _buffer_features(rec, inner_prod, executions, depth)
    curve = _intensity_curve(flops, inner_prod, row_bytes)
    outer = np.stack([outer_prod, rows[:, 4], rows[:, 3], rows[:, 2], guard, executions], axis=1)
    out = np.concatenate([op_cols, annotations, buffers, curve, alloc, outer], axis=1)
    out = np.where(_LOG_COLUMNS, np.log2(1.0 + np.maximum(out, 0.0)), out)
    return out.astype(np.float32)


def _buffer_features(rec, inner_prod, executions, depth):
    n_rows = inner_prod.shape[0]
    n_groups = len(rec.groups)
    fields = len(BUFFER_FIELDS)
    if n_groups == 0:
        return np.zeros((n_rows, NUM_BUFFER_SLOTS * fields)), np.zeros((n_rows, depth + 1))
    groups = np.array(rec.groups, dtype=np.float64)
    g_row = groups[:, 0].astype(np.int64)
    eb, access, scope, size, weight, stride, reuse_type = groups[:, 1:8].T
    reuse_level = groups[:, 8].astype(np.int64)
    reuse_ct = groups[:, 9]
    accesses = np.array(rec.accesses, dtype=np.float64)
    a_group = accesses[:, 0].astype(np.int64)
    starts = np.searchsorted(a_group, np.arange(n_groups))  # accesses are grouped

    # Distinct elements each access touches at each level, then per buffer (max of accesses).
    distinct, unique_lines = _distinct_counts(rec.access_terms, depth, eb[a_group])
    g_distinct = np.minimum(np.maximum.reduceat(distinct, starts, axis=0), size[:, None])
    g_unique_bytes = g_distinct * eb[:, None]  # (groups, levels)
    g_unique_lines = np.minimum(np.maximum.reduceat(unique_lines, starts), g_distinct[:, 0])
    g_unique_lines = np.maximum(g_unique_lines, g_unique_bytes[:, 0] / CACHE_LINE_BYTES)
    row_bytes = np.zeros((n_rows, depth + 1))
    np.add.at(row_bytes, g_row, g_unique_bytes)

    # Cache lines moved: per access, the innermost loop that moves the address sets the pace.
    a_row = g_row[a_group]
    line_level = accesses[:, 2].astype(np.int64)
    per_line = np.minimum(1.0, accesses[:, 3] * eb[a_group] / CACHE_LINE_BYTES)
    a_lines = executions[a_row] / inner_prod[a_row, line_level + 1] * per_line
    g_lines = np.add.reduceat(np.maximum(a_lines, 1.0) * accesses[:, 1], starts)
    g_bytes = executions[g_row] * eb * weight

    # Reuse (found by the collector): distance = what runs inside the reuse loop.
    has_reuse = reuse_type != REUSE_NONE
    dis_iter = np.where(has_reuse, inner_prod[g_row, reuse_level], 0.0)
    dis_bytes = np.where(has_reuse, row_bytes[g_row, reuse_level], 0.0)
    divisor = np.maximum(reuse_ct, 1.0)

    feats = np.array([
        access == READ, access == WRITE, access == READ_WRITE,
        scope == 0, scope == SCOPES.index("local"), scope == SCOPES.index("shared"),
        g_bytes, g_unique_bytes[:, 0], g_lines, g_unique_lines,
        reuse_type == REUSE_LOOP, reuse_type == REUSE_SERIAL, ~has_reuse,
        dis_iter, dis_bytes, reuse_ct,
        g_bytes / divisor, g_unique_bytes[:, 0] / divisor, g_lines / divisor,
        g_unique_lines / divisor, stride,
    ], dtype=np.float64).T

    # Slots: heaviest buffers first (lines, unique bytes), name as the tie-break.
    rank = {name: i for i, name in enumerate(sorted(set(rec.group_names)))}
    name_rank = np.array([rank[name] for name in rec.group_names])
    order = np.lexsort((name_rank, -g_unique_bytes[:, 0], -g_lines, g_row))
    sorted_rows = g_row[order]
    slot = np.arange(n_groups) - np.searchsorted(sorted_rows, sorted_rows, side="left")
    keep = slot < NUM_BUFFER_SLOTS
    out = np.zeros((n_rows, NUM_BUFFER_SLOTS, fields))
    out[sorted_rows[keep], slot[keep]] = feats[order[keep]]
    return out.reshape(n_rows, NUM_BUFFER_SLOTS * fields), row_bytes


def _distinct_counts(terms_list, depth, eb):
    """Distinct values of each access's index at every level, and distinct cache lines of the
    whole nest.

    An index is ``sum(coef_t * x_t)``; ``x_t`` takes ``values_t`` values at levels up to the
    term's level and one value at deeper levels. Taking terms by increasing coefficient, the
    values cover a span ``s_t = 1 + sum_{j<=t} coef_j * (values_j - 1)``, and the distinct
    count grows as ``n_t = min(n_{t-1} * values_t, s_t)`` (a term whose coefficient clears the
    span covered so far multiplies it, an overlapping one is capped by the span). Unrolled:
    ``min_k s_k * prod_{j>k} values_j``, which numpy evaluates for every access and level at
    once. Cache lines use the same rule in units of lines, after the terms that move less
    than a line have filled the first lines.
    """
    n = len(terms_list)
    lengths = np.fromiter(map(len, terms_list), np.int64, n)
    width = max(1, int(lengths.max()))
    coef = np.zeros((n, width))
    tlevel = np.full((n, width), -1.0)
    values = np.ones((n, width))
    total = int(lengths.sum())
    if total:
        flat = np.fromiter(chain.from_iterable(chain.from_iterable(terms_list)), np.float64,
                           3 * total).reshape(total, 3)
        rows = np.repeat(np.arange(n), lengths)
        cols = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        coef[rows, cols], tlevel[rows, cols], values[rows, cols] = flat.T
    levels = np.arange(depth + 1, dtype=np.float64)[None, :, None]
    e = np.where(levels <= tlevel[:, None, :], values[:, None, :], 1.0)  # (n, levels, T)
    count = _capped_products(e, coef[:, None, :] * (e - 1.0), 1.0)
    # Lines: terms moving less than a line fill the first lines; the others multiply them.
    per_line = CACHE_LINE_BYTES / eb[:, None]
    small = coef < per_line
    first_lines = np.ceil((1.0 + (np.where(small, coef, 0.0) * (values - 1.0)).sum(axis=1))
                          / per_line[:, 0])
    e = np.where(small, 1.0, values)
    lines = _capped_products(e, coef / per_line * (e - 1.0), first_lines[:, None])
    return count, lines


def _capped_products(e, grow, start):
    """``n_T`` of the recurrence ``n_t = min(n_{t-1} * e_t, s_t)``, ``s_t = start + sum_{j<=t}
    grow_j``, ``n_{-1} = start``, along the last axis: ``min_k s_k * prod_{j>k} e_j``."""
    after = np.ones_like(e)
    after[..., :-1] = np.cumprod(e[..., :0:-1], axis=-1)[..., ::-1]
    span = np.cumsum(grow, axis=-1)
    span += start
    span *= after
    before_all = start * after[..., :1] * e[..., :1]  # k = -1: nothing capped yet
    return np.minimum(span.min(axis=-1, keepdims=True), before_all)[..., 0]


def _intensity_curve(flops, inner_prod, row_bytes):
    """FLOPs per distinct byte at each level, sampled at evenly spaced log2(FLOPs)."""
    ops = flops[:, None] * inner_prod  # (rows, levels), outermost level first
    x = np.log2(np.maximum(ops, 1.0))[:, ::-1]  # increasing: innermost level first
    y = (ops / np.maximum(row_bytes, 1.0))[:, ::-1]
    targets = x[:, -1:] * (np.arange(1, NUM_CURVE_POINTS + 1) / NUM_CURVE_POINTS)
    pt = (x[:, None, :] < targets[:, :, None] - 1e-9).sum(axis=2)
    pt = np.minimum(pt, x.shape[1] - 1)
    prev = np.maximum(pt - 1, 0)
    rows = np.arange(len(x))[:, None]
    x1, y1, x0, y0 = x[rows, pt], y[rows, pt], x[rows, prev], y[rows, prev]
    gap = x1 - x0
    interpolated = y0 + (y1 - y0) * (targets - x0) / np.where(gap > 1e-12, gap, 1.0)
    curve = np.where((pt == 0) | (gap <= 1e-12), y1, interpolated)
    return np.where(flops[:, None] > 0, curve, 0.0)


__all__ = ["extract_batch", "extract_features"]
