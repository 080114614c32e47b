"""Lowering: guards for splits that do not divide, compute_at regions, rfactor, cache_read.

Every schedule is compiled and run; results are compared with numpy.
"""

import numpy as np
import pytest

import schedlab
from schedlab import te
from schedlab.ir.builder import ScheduleBuilder
from schedlab.ir.loop_ir import Allocate, For, iter_stmts
from schedlab.ir.lower import LoweringError
from schedlab.ir.steps import (
    AnnotateStep,
    CacheReadStep,
    CacheWriteStep,
    ComputeAtStep,
    ComputeInlineStep,
    FuseStep,
    ReorderStep,
    RfactorStep,
    SplitStep,
)
from schedlab.testing.differential import check_program
from schedlab.testing.small_tasks import padded_conv_chw

M, N, K = 37, 29, 19


def matmul_task(m=M, n=N, k_=K):
    A = te.placeholder((m, k_), name="A")
    B = te.placeholder((k_, n), name="B")
    k = te.reduce_axis(k_, name="k")
    C = te.compute((m, n), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    return schedlab.Task(f"mm{m}x{n}x{k_}", [A, B, C], reference=lambda a, b: (a @ b,))




def assert_correct(program, seed=0):
    result = check_program(program, seed)
    assert result.status == "match", result.message


def local_buffers(program):
    return {s.buffer.name: s.buffer for s in iter_stmts(program.func.body)
            if isinstance(s, Allocate) and s.buffer.scope == "local"}


# -- guards ---------------------------------------------------------------------------------
def test_unscheduled_program_is_correct():
    assert_correct(schedlab.Program(matmul_task()))


@pytest.mark.parametrize("lengths", [(8,), (5,), (4, 3), (64,), (36,), (2, 2, 2)])
def test_non_dividing_splits_are_guarded(lengths):
    task = matmul_task()
    program = schedlab.Program(task, [SplitStep(2, 0, lengths), SplitStep(2, len(lengths) + 1,
                                                                          (4,))])
    assert_correct(program)
    assert "if " in program.loop_ir()  # 37 is prime: only a whole-loop tile divides it


def test_dividing_splits_have_no_guards():
    task = matmul_task(32, 16, 8)
    program = schedlab.Program(task, [SplitStep(2, 0, (8,)), SplitStep(2, 2, (4,)),
                                      SplitStep(2, 4, (2,))])
    assert "if " not in program.loop_ir()
    assert_correct(program)


def test_guarded_reduction_split_and_reorder():
    task = matmul_task()
    steps = [SplitStep(2, 2, (4,)), SplitStep(2, 1, (6,)), ReorderStep(2, (2, 0, 3, 1, 4))]
    assert_correct(schedlab.Program(task, steps))


def test_fused_then_split_loop_with_a_tail():
    task = matmul_task()
    steps = [FuseStep(2, (0, 1)), SplitStep(2, 0, (16,)), AnnotateStep(2, 1, "vectorize")]
    assert_correct(schedlab.Program(task, steps))


# -- compute_at -----------------------------------------------------------------------------
@pytest.mark.parametrize("tile_i, tile_j", [(8, 8), (5, 7), (37, 1), (6, 29)])
def test_cache_write_computed_at_a_tile(tile_i, tile_j):
    task = matmul_task()
    sch = ScheduleBuilder(task)
    sch.cache_write("C")
    io, ii = sch.split("C", "i", [tile_i])
    jo, ji = sch.split("C", "j", [tile_j])
    sch.reorder("C", [io, jo, ii, ji])
    sch.compute_at("C.local", "C", jo)
    program = sch.program()
    assert local_buffers(program)["C.local"].shape == (tile_i, tile_j)
    assert_correct(program)


@pytest.mark.parametrize("tile_h, tile_w, at", [(4, 4, 1), (3, 5, 2), (11, 13, 1), (2, 6, 3)])
def test_padding_computed_at_an_output_tile(tile_h, tile_w, at):
    """The padded input region of a tile is the tile plus the kernel halo; tiles that stick
    out of the image are guarded."""
    task = padded_conv_chw()
    sch = ScheduleBuilder(task)
    ho, hi = sch.split("conv", "h", [tile_h])
    wo, wi = sch.split("conv", "w", [tile_w])
    sch.reorder("conv", ["f", ho, wo, hi, wi])
    target = sch.iters("conv")[at]
    sch.compute_at("pad", "conv", target)
    program = sch.program()
    region = local_buffers(program)["pad"].shape
    if at == 2:  # inside both tile loops: one tile plus a halo of 2
        assert region == (3, tile_h + 2, tile_w + 2)
    assert_correct(program)


def test_compute_at_a_reduction_loop():
    """Computed inside the rc loop, the padding region has one channel."""
    task = padded_conv_chw()
    steps = [ReorderStep(3, (3, 0, 1, 2, 4, 5)), ComputeAtStep(1, 3, 0)]
    program = schedlab.Program(task, steps)
    assert local_buffers(program)["pad"].shape[0] == 1
    assert_correct(program)


def test_chain_of_compute_at():
    A = te.placeholder((23,), name="A")
    P = te.compute((23,), lambda x: te.exp(A[x]), name="P")
    Q = te.compute((21,), lambda x: P[x] + P[x + 2], name="Q")
    R = te.compute((19,), lambda x: Q[x] * Q[x + 1] - Q[x + 2], name="R")

    def reference(a):
        p = np.exp(a.astype(np.float64))
        q = p[:21] + p[2:23]
        return (q[:19] * q[1:20] - q[2:21],)

    task = schedlab.Task("stencils", [A, R], reference=reference)
    steps = [SplitStep(3, 0, (4,)), SplitStep(2, 0, (3,)), ComputeAtStep(2, 3, 0),
             ComputeAtStep(1, 2, 0)]
    program = schedlab.Program(task, steps)
    buffers = local_buffers(program)
    # Q: a tile of 4 plus a halo of 2; P: a part of 3 of Q's region plus a halo of 2.
    assert buffers["Q"].shape == (6,) and buffers["P"].shape == (5,)
    assert_correct(program)


def test_two_stages_at_one_loop():
    A = te.placeholder((8, 9), name="A")
    P = te.compute((8, 9), lambda i, j: A[i, j] * 2.0, name="P")
    Q = te.compute((8, 9), lambda i, j: te.exp(A[i, j]), name="Q")
    R = te.compute((8, 9), lambda i, j: P[i, j] + Q[i, (j + 1) % 9], name="R")

    def reference(a):
        return (2 * a + np.exp(np.roll(a, -1, axis=1)),)

    task = schedlab.Task("two_at_one", [A, R], reference=reference)
    steps = [ComputeAtStep(1, 3, 0), ComputeAtStep(2, 3, 0), AnnotateStep(3, 1, "vectorize")]
    assert_correct(schedlab.Program(task, steps))


def test_consumer_outside_the_loop_is_a_lowering_error():
    A = te.placeholder((8,), name="A")
    P = te.compute((8,), lambda i: A[i] + 1.0, name="P")
    Q = te.compute((8,), lambda i: P[i] * 2.0, name="Q")
    R = te.compute((8,), lambda i: P[i] + Q[i], name="R")
    task = schedlab.Task("escape", [A, R])
    # P at R's loop is valid while Q (its other reader) is inside R too; moving Q back to
    # root leaves Q reading P outside the loop P is computed at.
    sch = ScheduleBuilder(task)
    sch.compute_at("Q", "R", "i")
    sch.compute_at("P", "R", "i")
    assert_correct(sch.program())
    sch.compute_root("Q")
    with pytest.raises(LoweringError, match="'Q' reads 'P' outside loop R.i"):
        sch.program().func  # noqa: B018
    assert issubclass(LoweringError, ValueError)


# -- rfactor and cache_read -----------------------------------------------------------------
@pytest.mark.parametrize("length, part", [(4, 2), (4, 3), (19, 2), (5, 3), (1, 2)])
def test_rfactor(length, part):
    task = matmul_task()
    program = schedlab.Program(task, [SplitStep(2, 2, (length,)), RfactorStep(2, part)])
    assert [st.name for st in program.state.stages][2:] == ["C.rf", "C"]
    assert_correct(program)


def test_rfactor_computed_at_and_vectorized():
    task = matmul_task()
    steps = [SplitStep(2, 2, (8,)), RfactorStep(2, 3), ComputeAtStep(2, 3, 0),
             AnnotateStep(3, 1, "vectorize")]
    assert_correct(schedlab.Program(task, steps))


def test_rfactor_of_a_max_reduction():
    A = te.placeholder((6, 23), name="A")
    k = te.reduce_axis(23, "k")
    R = te.compute((6,), lambda i: te.max(A[i, k], axis=k), name="R")
    task = schedlab.Task("rowmax", [A, R], reference=lambda a: (a.max(axis=1),))
    program = schedlab.Program(task, [SplitStep(1, 1, (4,)), RfactorStep(1, 2)])
    assert_correct(program)


@pytest.mark.parametrize("layout", [(), (1, 0)])
def test_cache_read_at_root_and_at_a_tile(layout):
    task = matmul_task()
    assert_correct(schedlab.Program(task, [CacheReadStep(1, "local", (2,), layout)]))
    sch = ScheduleBuilder(task)
    sch.cache_read("B", ["C"], layout=layout)
    jo, ji = sch.split("C", "j", [8])
    sch.reorder("C", [jo, "i", "k", ji])
    sch.compute_at("B.local", "C", jo)
    program = sch.program()
    expected = (8, K) if layout else (K, 8)
    assert local_buffers(program)["B.local"].shape == expected
    assert_correct(program)


def test_expert_matmul_schedule():
    """The hand-tuned register-blocked schedule: cache_write, cache_read, compute_at,
    parallel, vectorize and unroll together, on sizes that no tile divides."""
    task = matmul_task(45, 50, 33)
    steps = [
        CacheWriteStep(2, "local"), CacheReadStep(1, "local", (2,)),
        SplitStep(3, 0, (2, 4)), SplitStep(3, 3, (2, 8)), SplitStep(3, 6, (4,)),
        ReorderStep(3, (0, 3, 1, 4, 6, 7, 2, 5)),
        SplitStep(4, 0, (8,)), SplitStep(4, 2, (16,)), ReorderStep(4, (2, 0, 1, 3)),
        ComputeAtStep(3, 4, 1), ComputeAtStep(2, 4, 0), AnnotateStep(4, 0, "parallel"),
        AnnotateStep(3, 7, "vectorize"), AnnotateStep(3, 6, "unroll"),
        AnnotateStep(3, 5, "unroll"), AnnotateStep(4, 3, "vectorize"),
        AnnotateStep(2, 1, "vectorize"),
    ]
    assert_correct(schedlab.Program(task, steps))


def test_inlined_padding_with_vectorized_output():
    task = padded_conv_chw()
    steps = [ComputeInlineStep(1), SplitStep(3, 2, (8,)), AnnotateStep(3, 3, "vectorize")]
    program = schedlab.Program(task, steps)
    assert "pad" not in local_buffers(program)
    assert_correct(program)


def test_loop_variables_that_would_print_alike_are_kept_apart():
    """Axis "i_0" and split part "i.0" of axis "i" must not merge in bounds inference."""
    A = te.placeholder((20,), name="A")
    P = te.compute((20,), lambda x: A[x] * 2.0, name="P")
    C = te.compute((8, 12), lambda i, i_0: P[i + i_0], name="C")
    idx = np.arange(8)[:, None] + np.arange(12)[None, :]
    task = schedlab.Task("clash", [A, C], reference=lambda a: (2 * a[idx],))
    program = schedlab.Program(task, [SplitStep(2, 0, (4,)), ComputeAtStep(1, 2, 2)])
    assert local_buffers(program)["P"].shape == (1,)
    assert_correct(program)


# -- unrolling ----------------------------------------------------------------------------------

def loop_kinds(program) -> dict[str, str]:
    return {s.var.name: s.kind for s in iter_stmts(program.func.body) if isinstance(s, For)}


def test_small_loop_nests_are_unrolled_without_a_pragma():
    # ii runs 4 statements of a 16-lane vector: small enough to unroll, like LLVM would.
    sch = ScheduleBuilder(matmul_task(64, 64, 64))
    io, ii = sch.split("C", "i", [4])
    jo, ji = sch.split("C", "j", [16])
    sch.reorder("C", [io, jo, "k", ii, ji])
    sch.vectorize("C", ji)
    kinds = loop_kinds(sch.program())
    assert kinds["C_i_1"] == "unroll" and kinds["C_j_1"] == "vectorize"
    assert kinds["C_k"] == "serial"  # 64 x 4 statements
    assert_correct(sch.program())


def test_auto_unroll_counts_a_vector_loop_per_register():
    # k (8) x ii (4) x ji (32 lanes = 2 registers) = 64 statements.
    def kinds(max_step):
        sch = ScheduleBuilder(matmul_task(64, 64, 8))
        io, ii = sch.split("C", "i", [4])
        jo, ji = sch.split("C", "j", [32])
        sch.reorder("C", [io, jo, "k", ii, ji])
        sch.vectorize("C", ji)
        sch.auto_unroll("C", max_step)
        return loop_kinds(sch.program())

    assert kinds(64)["C_k"] == "unroll"
    assert kinds(63)["C_k"] == "serial"
