"""Hand-written schedules, expressed with schedlab's own steps.

They show what the code generator reaches with a good schedule, and give the search a
target to beat. Each function takes a catalogue task and returns a Program.
"""

from __future__ import annotations

from schedlab.ir.builder import ScheduleBuilder


def _gemm_tile(sch: ScheduleBuilder, local: str, out: str, i: str, j: str, k: str,
               tile_i: int, tile_j: int, reg_i: int, reg_j: int, k_unroll: int,
               panel: str | None = None, panel_layout: tuple = ()) -> None:
    """Register-blocked GEMM: ``local`` computes a ``tile_i x tile_j`` block of ``out``
    with a ``reg_i x reg_j`` accumulator tile (``reg_j`` vectorized) held in registers
    across the whole reduction. If ``panel`` is given, that input is packed per column
    panel of ``out`` (cache_read computed at the panel loop) so the reduction streams
    contiguous memory instead of rows a page apart."""
    io, ii = sch.split(out, sch.iters(out)[0], [tile_i])
    jo, ji = sch.split(out, sch.iters(out)[2], [tile_j])
    sch.reorder(out, [jo, io, ii, ji])
    li0, li1, li2 = sch.split(local, i, [tile_i // reg_i, reg_i])
    lj0, lj1, lj2 = sch.split(local, j, [tile_j // reg_j, reg_j])
    lk0, lk1 = sch.split(local, k, [k_unroll])
    sch.reorder(local, [li0, lj0, li1, lj1, lk0, lk1, li2, lj2])
    sch.compute_at(local, out, io)
    if panel is not None:
        packed = sch.cache_read(panel, [local], layout=panel_layout)
        sch.compute_at(packed, out, jo)
        sch.vectorize(packed, sch.iters(packed)[-1])
    sch.parallel(out, jo)
    sch.unroll(local, lk1)
    sch.unroll(local, li2)
    sch.vectorize(local, lj2)
    sch.vectorize(out, ji)


def matmul(task):
    """C = A @ B: 8x32 register tiles, B packed per 32-column panel, panels in parallel."""
    sch = ScheduleBuilder(task)
    local = sch.cache_write("C")
    _gemm_tile(sch, local, "C", "i", "j", "k", tile_i=8, tile_j=32, reg_i=8, reg_j=32,
               k_unroll=8, panel="B")
    return sch.program()


def dense_bias_relu(task, dense: str = "dense", out: str = "relu", weight: str = "weight"):
    """relu(data @ weight.T + bias): the dense stage is computed per 8x32 block of the
    output (fusing bias and relu into its write-back); weight is packed transposed per
    32-column panel so the reduction reads it contiguously."""
    sch = ScheduleBuilder(task)
    i, j, k = sch.iters(dense)
    _gemm_tile(sch, dense, out, i, j, k, tile_i=8, tile_j=32, reg_i=8, reg_j=32,
               k_unroll=8, panel=weight, panel_layout=(1, 0))
    return sch.program()


def conv2d_nchw(task, conv: str = "conv2d", pad: str = "pad"):
    """NCHW conv2d: the padded input is built once (in parallel); threads split the output
    into 16-channel x 4-row x full-width blocks; inside a block, each 4-channel x 4-row x
    8-column tile (columns vectorized: 16 accumulators, 8 loads per 16 FMAs) is accumulated
    in a local stage small enough to live in registers across the whole reduction over
    input channels and the 3x3 window."""
    sch = ScheduleBuilder(task)
    local = sch.cache_write(conv)
    n, f, y, x = sch.iters(conv)
    f0, f1, f2 = sch.split(conv, f, [4, 4])
    y0, y1, y2 = sch.split(conv, y, [1, 4])
    x0, x1, x2 = sch.split(conv, x, [7, 8])
    sch.reorder(conv, [n, f0, y0, x0, f1, y1, x1, f2, y2, x2])
    outer = sch.fuse(conv, [n, f0, y0, x0])
    sch.compute_at(local, conv, x1)
    sch.parallel(conv, outer)
    sch.vectorize(conv, x2)
    # Unrolled write-back: every access to the local tile has a constant offset, so LLVM
    # keeps the whole tile in registers instead of in memory.
    sch.unroll(conv, f2)
    sch.unroll(conv, y2)
    ln, lf, ly, lx, rc, ry, rx = sch.iters(local)
    sch.reorder(local, [ln, rc, ry, rx, lf, ly, lx])
    for it in (ry, rx, lf, ly):
        sch.unroll(local, it)
    sch.vectorize(local, lx)
    pn, pc, py, px = sch.iters(pad)
    sch.parallel(pad, sch.fuse(pad, [pn, pc]))
    sch.vectorize(pad, px)
    return sch.program()
