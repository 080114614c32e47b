"""The feature columns: one row per innermost ``Store`` of the lowered loop IR.

Every column is described here and nowhere else; :data:`FEATURE_NAMES` lists them in column
order. "Executions" of a store is the product of the extents of its enclosing loops times the
estimated fraction of iterations its guards let through (``exec_estimate``). Unless marked
*raw*, a value ``x`` is stored as ``log2(1 + x)``; *raw* columns are one-hot flags or
fractions in ``[0, 1]``. "Level ``L``" of a store's loop nest means: loops ``L`` (0 =
outermost) and deeper run, the outer ones are fixed. Operations are counted on the stored
value and on each distinct index expression of the store once (the generated code computes
a shared address once).

========================  ======================================================================
Group / column            Meaning
========================  ======================================================================
**computation**           operations of one execution of the store times its executions
``float_addsub``          float add / sub
``float_mul``             float multiply
``float_div``             float div, floordiv, floormod
``float_minmax``          float min / max
``float_math``            float intrinsics (exp, log, sqrt, tanh, sigmoid, abs) and pow
``float_cmp``             comparisons of float operands
``float_select``          selects producing a float
``float_mad``             float add/sub with a multiply operand (fused multiply-add candidates)
``float_flops``           addsub + mul + div + minmax + math: the FLOPs ``Task.flop_count``
                          counts
``int_addsub``            integer (index) add / sub
``int_mul``               integer multiply
``int_divmod``            integer floordiv / floormod
``int_minmax``            integer min / max
``int_cmp``               comparisons of integer operands
``int_other``             other integer ops (pow, abs)
``bool_op``               and / or / not
``select_op``             selects of any type
``cast_op``               type conversions
``{a}_num``               for ``a`` in vec (vectorize), unroll, parallel: number of such loops
``{a}_prod``              product of their extents
``{a}_len``               extent of the innermost one
``{a}_pos_{p}``           *raw* one-hot of where they sit. A loop is spatial if its variable
                          appears in the stored index, else reduce; among the store's loops of
                          its class with extent > 1 it is the inner (innermost), outer
                          (outermost) or middle one. ``none``: no such loop; ``mixed``: several
                          in different positions
``is_gpu``                *raw* 1 for a CUDA target
``{binding}_len``         for blockIdx_x/y/z, threadIdx_x/y/z, vthread: extent of the enclosing
                          loop bound to it (product of several); 1 where there is none (always
                          on CPU)
**buffer access**         ``buf{k}_{field}`` for slots k = 0..4: the buffers the store reads or
                          writes, heaviest first (by ``lines``, then ``unique_bytes``, then
                          name); unused slots are all zero
``acc_read`` ...          *raw* one-hot access type: ``acc_read``, ``acc_write``, ``acc_rw``
``scope_global`` ...      *raw* one-hot memory scope: ``scope_global`` (arguments and global
                          intermediates), ``scope_local``, ``scope_shared``
``bytes``                 bytes loaded and stored over all executions (each load and store
                          counts)
``unique_bytes``          distinct bytes the whole loop nest touches
``lines``                 cache lines (64 B) moved: executions / iterations of the loops inside
                          the innermost loop that moves the address, times
                          min(1, its stride in bytes / 64)
``unique_lines``          distinct cache lines the whole loop nest touches
``reuse_loop`` ...        *raw* one-hot reuse type, from the innermost loop out: a loop of
                          extent > 1 that does not move the address (``reuse_loop``); a loop
                          under which other stores touch the buffer too (``reuse_serial``);
                          neither (``reuse_none``)
``reuse_dis_iter``        iterations between reuses: product of the extents inside the reuse
                          loop
``reuse_dis_bytes``       distinct bytes the store touches in between (all its buffers, one
                          iteration of the reuse loop)
``reuse_ct``              the reuse loop's extent (loop reuse) or the number of other stores
                          (serial reuse); 0 without reuse
``{x}_d_reuse_ct``        for x in bytes, unique_bytes, lines, unique_lines: x divided by
                          max(1, reuse_ct)
``stride``                elements the address moves per step of the innermost loop of
                          extent > 1 (0: it does not move)
**arithmetic intensity**  ``arith_intensity_{i}``, i = 0..9: FLOPs per distinct byte touched,
                          sampled at 10 evenly spaced points of log2(FLOPs) going from the
                          innermost level out to the whole nest (linear interpolation between
                          levels); 0 for a store without FLOPs
**allocation**            of the stored buffer and around the store
``alloc_scope_{s}``       *raw* one-hot scope of the stored buffer: arg, global, local, shared
``alloc_bytes``           its size in bytes
``alloc_outer_prod``      product of the extents of the loops around its allocation (how often
                          it is allocated; 1 for arguments)
``alloc_inner_prod``      outer_prod / alloc_outer_prod: iterations of the store per allocation
``alloc_prod``            alloc_bytes * alloc_outer_prod
``num_local_allocs``      local buffers allocated around the store
``num_shared_allocs``     shared buffers allocated around the store
``local_alloc_bytes``     their total bytes (local)
``shared_alloc_bytes``    their total bytes (shared)
**outer scope**
``outer_prod``            product of the extents of all enclosing loops
``num_loops``             number of enclosing loops
``auto_unroll_max_step``  the stage's auto-unroll pragma (0: none)
``num_guards``            conditions (``IfThen``) around the store
``guard_fraction``        *raw* estimated fraction of iterations the guards let through (each
                          side of a comparison taken as spread evenly over its bounds)
``exec_estimate``         outer_prod * guard_fraction: the store's executions
========================  ======================================================================
"""

from __future__ import annotations

OP_NAMES = (
    "float_addsub", "float_mul", "float_div", "float_minmax", "float_math", "float_cmp",
    "float_select", "float_mad", "float_flops",
    "int_addsub", "int_mul", "int_divmod", "int_minmax", "int_cmp", "int_other",
    "bool_op", "select_op", "cast_op",
)
ANNOTATION_KINDS = ("vec", "unroll", "parallel")
POSITIONS = (
    "none", "inner_spatial", "middle_spatial", "outer_spatial",
    "inner_reduce", "middle_reduce", "outer_reduce", "mixed",
)
GPU_BINDINGS = (
    "blockIdx.x", "blockIdx.y", "blockIdx.z", "threadIdx.x", "threadIdx.y", "threadIdx.z",
    "vthread",
)
NUM_BUFFER_SLOTS = 5
BUFFER_FIELDS = (
    "acc_read", "acc_write", "acc_rw", "scope_global", "scope_local", "scope_shared",
    "bytes", "unique_bytes", "lines", "unique_lines",
    "reuse_loop", "reuse_serial", "reuse_none", "reuse_dis_iter", "reuse_dis_bytes", "reuse_ct",
    "bytes_d_reuse_ct", "unique_bytes_d_reuse_ct", "lines_d_reuse_ct",
    "unique_lines_d_reuse_ct", "stride",
)
NUM_CURVE_POINTS = 10
ALLOC_NAMES = (
    "alloc_scope_arg", "alloc_scope_global", "alloc_scope_local", "alloc_scope_shared",
    "alloc_bytes", "alloc_outer_prod", "alloc_inner_prod", "alloc_prod",
    "num_local_allocs", "num_shared_allocs", "local_alloc_bytes", "shared_alloc_bytes",
)
OUTER_NAMES = (
    "outer_prod", "num_loops", "auto_unroll_max_step", "num_guards", "guard_fraction",
    "exec_estimate",
)

ANNOTATION_NAMES = tuple(
    name
    for a in ANNOTATION_KINDS
    for name in (f"{a}_num", f"{a}_prod", f"{a}_len", *(f"{a}_pos_{p}" for p in POSITIONS))
)
GPU_NAMES = ("is_gpu", *(f"{b.replace('.', '_')}_len" for b in GPU_BINDINGS))
BUFFER_NAMES = tuple(
    f"buf{k}_{field}" for k in range(NUM_BUFFER_SLOTS) for field in BUFFER_FIELDS
)
CURVE_NAMES = tuple(f"arith_intensity_{i}" for i in range(NUM_CURVE_POINTS))

#: Column names of a feature matrix, in order.
FEATURE_NAMES: tuple[str, ...] = (
    OP_NAMES + ANNOTATION_NAMES + GPU_NAMES + BUFFER_NAMES + CURVE_NAMES + ALLOC_NAMES
    + OUTER_NAMES
)

_RAW_BUFFER_FIELDS = {
    "acc_read", "acc_write", "acc_rw", "scope_global", "scope_local", "scope_shared",
    "reuse_loop", "reuse_serial", "reuse_none",
}
#: Columns stored as they are (one-hot flags and fractions); every other one is log2(1 + x).
RAW_FEATURES: frozenset[str] = frozenset(
    [n for n in ANNOTATION_NAMES if "_pos_" in n]
    + ["is_gpu", "guard_fraction"]
    + [n for n in ALLOC_NAMES if n.startswith("alloc_scope_")]
    + [f"buf{k}_{f}" for k in range(NUM_BUFFER_SLOTS) for f in _RAW_BUFFER_FIELDS]
)

__all__ = ["FEATURE_NAMES", "RAW_FEATURES"]
