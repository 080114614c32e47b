"""Feature extraction: shape and names, values on hand-written schedules, errors, and sanity
over random programs of every catalogue workload."""

from __future__ import annotations

import math

import numpy as np
import pytest

from schedlab import workloads
from schedlab.features import FEATURE_NAMES, RAW_FEATURES, extract_batch, extract_features
from schedlab.ir.builder import ScheduleBuilder
from schedlab.ir.steps import SplitStep
from schedlab.program import Program
from schedlab.space import sample_programs
from schedlab.testing.small_tasks import SPACE_CHECK_SHAPES, padded_conv_chw, small_tasks

COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


def scaled(x: float) -> float:
    """How a magnitude is stored in the matrix."""
    return math.log2(1.0 + x)


def unscaled(row: np.ndarray, name: str) -> float:
    return 2.0 ** float(row[COL[name]]) - 1.0


def buffer_slot(row: np.ndarray, field: str, value: float) -> int:
    """The used slot whose ``field`` equals ``value`` (unique in the row)."""
    found = [k for k in range(5)
             if row[COL[f"buf{k}_bytes"]] > 0 and row[COL[f"buf{k}_{field}"]] == value]
    assert len(found) == 1, (field, value, found)
    return found[0]


def matmul_task(size=64):
    return workloads.create("matmul", M=size, N=size, K=size)


def tiled_matmul(task, tile_i=8, tile_j=16):
    """Loops io (parallel), jo, k, ii, ji (vectorized) around the update of C."""
    sch = ScheduleBuilder(task)
    io, ii = sch.split("C", "i", [tile_i])
    jo, ji = sch.split("C", "j", [tile_j])
    sch.reorder("C", [io, jo, "k", ii, ji])
    sch.vectorize("C", ji)
    sch.parallel("C", io)
    return sch.program()


def update_row(features: np.ndarray) -> np.ndarray:
    rows = [r for r in features if r[COL["float_flops"]] > 0]
    assert len(rows) == 1
    return rows[0]


# -- names and shape ------------------------------------------------------------------------------

def test_names_are_unique_strings_and_match_columns():
    assert isinstance(FEATURE_NAMES, tuple)
    assert all(isinstance(n, str) and n for n in FEATURE_NAMES)
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert RAW_FEATURES <= set(FEATURE_NAMES)
    features = extract_features(tiled_matmul(matmul_task()))
    assert features.dtype == np.float32
    # One row for the initialisation of C, one for its update.
    assert features.shape == (2, len(FEATURE_NAMES))


def test_one_row_per_store_in_program_order():
    task = matmul_task(32)
    sch = ScheduleBuilder(task)
    cache = sch.cache_write("C")
    sch.compute_at(cache, "C", sch.split("C", "i", [8])[0])
    features = extract_features(sch.program())
    # C.local init, C.local update, copy to C.
    assert features.shape[0] == 3
    assert [r[COL["float_flops"]] > 0 for r in features] == [False, True, False]
    local = COL["alloc_scope_local"]
    assert list(features[:, local]) == [1.0, 1.0, 0.0]
    assert features[2, COL["alloc_scope_arg"]] == 1.0
    # The copy runs inside the loop that allocates C.local.
    assert features[2, COL["num_local_allocs"]] == scaled(1)
    assert features[0, COL["alloc_bytes"]] == pytest.approx(scaled(8 * 32 * 4))
    assert features[0, COL["alloc_outer_prod"]] == pytest.approx(scaled(4))


# -- values on a hand-written schedule ------------------------------------------------------------

def test_annotation_descriptors():
    # ii runs 32 vector statements: too many to be unrolled without a pragma.
    row = update_row(extract_features(tiled_matmul(matmul_task(), tile_i=32, tile_j=16)))
    assert row[COL["vec_len"]] == pytest.approx(scaled(16))
    assert row[COL["vec_prod"]] == pytest.approx(scaled(16))
    assert row[COL["vec_num"]] == pytest.approx(scaled(1))
    assert row[COL["vec_pos_inner_spatial"]] == 1.0
    assert row[COL["parallel_len"]] == pytest.approx(scaled(64 // 32))
    assert row[COL["parallel_pos_outer_spatial"]] == 1.0
    assert row[COL["unroll_num"]] == 0.0 and row[COL["unroll_pos_none"]] == 1.0
    assert row[COL["is_gpu"]] == 0.0
    for binding in ("blockIdx_x", "threadIdx_y", "vthread"):
        assert row[COL[f"{binding}_len"]] == pytest.approx(scaled(1))
    assert row[COL["num_loops"]] == pytest.approx(scaled(5))
    assert unscaled(row, "outer_prod") == pytest.approx(64**3, rel=1e-5)


def test_unrolled_reduce_loop_position():
    task = matmul_task(32)
    sch = ScheduleBuilder(task)
    ko, ki = sch.split("C", "k", [4])
    sch.reorder("C", ["i", ko, "j", ki])
    sch.unroll("C", ki)
    row = update_row(extract_features(sch.program()))
    assert row[COL["unroll_len"]] == pytest.approx(scaled(4))
    assert row[COL["unroll_pos_inner_reduce"]] == 1.0


def test_float_ops_times_executions_match_flop_count():
    task = matmul_task()
    features = extract_features(tiled_matmul(task))
    total = sum(unscaled(r, "float_flops") for r in features)
    assert total == pytest.approx(task.flop_count, rel=1e-4)
    row = update_row(features)
    assert unscaled(row, "float_mul") == pytest.approx(64**3, rel=1e-4)
    assert unscaled(row, "float_addsub") == pytest.approx(64**3, rel=1e-4)
    assert unscaled(row, "float_mad") == pytest.approx(64**3, rel=1e-4)
    assert row[COL["float_div"]] == 0.0 and row[COL["float_math"]] == 0.0


def test_buffer_access_values():
    row = update_row(extract_features(tiled_matmul(matmul_task(), tile_i=8, tile_j=16)))
    executions = 64**3
    a = buffer_slot(row, "stride", 0.0)  # A[i, k] does not move with the vectorized j
    c = buffer_slot(row, "acc_rw", 1.0)
    b = ({0, 1, 2} - {a, c}).pop()
    assert {a, b, c} == {0, 1, 2}
    assert row[COL["buf3_bytes"]] == 0.0  # only three buffers
    for k in (a, b, c):
        assert row[COL[f"buf{k}_unique_bytes"]] == pytest.approx(scaled(64 * 64 * 4))
        assert row[COL[f"buf{k}_unique_lines"]] == pytest.approx(scaled(64 * 64 * 4 / 64))
        assert row[COL[f"buf{k}_reuse_loop"]] == 1.0
    assert row[COL[f"buf{b}_stride"]] == pytest.approx(scaled(1))
    assert row[COL[f"buf{c}_bytes"]] == pytest.approx(scaled(2 * 4 * executions))  # rw
    assert row[COL[f"buf{b}_bytes"]] == pytest.approx(scaled(4 * executions))
    # B moves one float per step of ji: 16 steps per 64-byte line.
    assert row[COL[f"buf{b}_lines"]] == pytest.approx(scaled(executions / 16))
    # A moves a row (64 floats) per step of ii and stays put over the 16 steps of ji.
    assert row[COL[f"buf{a}_lines"]] == pytest.approx(scaled(executions / 16))
    # Reuse of A: across ji (16), distance one iteration touching one element of each buffer.
    assert row[COL[f"buf{a}_reuse_ct"]] == pytest.approx(scaled(16))
    assert row[COL[f"buf{a}_reuse_dis_iter"]] == pytest.approx(scaled(1))
    assert row[COL[f"buf{a}_reuse_dis_bytes"]] == pytest.approx(scaled(3 * 4))
    # Reuse of B: across ii (8); in between, ji runs: 1 of A, 16 of B, 16 of C.
    assert row[COL[f"buf{b}_reuse_ct"]] == pytest.approx(scaled(8))
    assert row[COL[f"buf{b}_reuse_dis_iter"]] == pytest.approx(scaled(16))
    assert row[COL[f"buf{b}_reuse_dis_bytes"]] == pytest.approx(scaled((1 + 16 + 16) * 4))
    # Reuse of C: across k (64); in between, ii x ji: 8 of A, 16 of B, 8 x 16 of C.
    assert row[COL[f"buf{c}_reuse_ct"]] == pytest.approx(scaled(64))
    assert row[COL[f"buf{c}_reuse_dis_iter"]] == pytest.approx(scaled(8 * 16))
    assert row[COL[f"buf{c}_reuse_dis_bytes"]] == pytest.approx(scaled((8 + 16 + 128) * 4))
    assert row[COL[f"buf{c}_bytes_d_reuse_ct"]] == pytest.approx(
        scaled(2 * 4 * executions / 64))


def test_initialisation_row_sees_serial_reuse_of_the_output():
    init = extract_features(tiled_matmul(matmul_task()))[0]
    assert init[COL["float_flops"]] == 0.0
    slot = buffer_slot(init, "acc_write", 1.0)
    assert slot == 0 and init[COL["buf1_bytes"]] == 0.0
    assert init[COL["buf0_reuse_serial"]] == 1.0  # the update under the same loops reads C
    assert init[COL["buf0_reuse_ct"]] == pytest.approx(scaled(1))


def test_overlapping_window_counts_distinct_elements():
    # conv2d on a 3 x 11 x 13 input (padding inlined as a select), 4 filters of 3 x 3.
    task = padded_conv_chw(H=11, W=13, C=3, F=4, R=3, P=1)
    sch = ScheduleBuilder(task)
    sch.compute_inline("pad")
    sch.reorder("conv", ["rc", "rh", "h", "f", "w", "rw"])
    row = update_row(extract_features(sch.program()))
    x = buffer_slot(row, "unique_bytes", scaled(3 * 11 * 13 * 4))
    # X[rc, h + rh - 1, w + rw - 1] does not depend on f: reused 4 times, 13 x 3 iterations
    # apart, in which w + rw takes 15 distinct values (not 39), Wt 3 and conv 13.
    assert row[COL[f"buf{x}_reuse_loop"]] == 1.0
    assert row[COL[f"buf{x}_reuse_ct"]] == pytest.approx(scaled(4))
    assert row[COL[f"buf{x}_reuse_dis_iter"]] == pytest.approx(scaled(13 * 3))
    assert row[COL[f"buf{x}_reuse_dis_bytes"]] == pytest.approx(scaled((15 + 3 + 13) * 4))
    assert row[COL["num_guards"]] == 0.0  # padding is a select, not a guard
    assert unscaled(row, "select_op") == pytest.approx(4 * 3 * 11 * 3 * 13 * 3, rel=1e-4)


def test_guard_fraction_of_a_split_that_does_not_divide():
    task = matmul_task(64)
    sch = ScheduleBuilder(task)
    sch.split("C", "i", [7])  # 10 x 7 = 70 iterations cover 64 rows
    features = extract_features(sch.program())
    row = update_row(features)
    assert row[COL["num_guards"]] == pytest.approx(scaled(1))
    assert row[COL["guard_fraction"]] == pytest.approx(64 / 70)
    assert unscaled(row, "outer_prod") == pytest.approx(70 * 64 * 64, rel=1e-5)
    total = sum(unscaled(r, "float_flops") for r in features)
    assert total == pytest.approx(task.flop_count, rel=1e-4)


def test_gpu_program_has_binding_lengths():
    task = workloads.create("matmul", M=64, N=64, K=64, target="cuda")
    features = extract_batch(sample_programs(task, 3, seed=0))
    for matrix in features:
        assert (matrix[:, COL["is_gpu"]] == 1.0).all()
        assert matrix[:, COL["threadIdx_x_len"]].max() > scaled(1)
        assert matrix[:, COL["blockIdx_x_len"]].min() >= scaled(1)


def test_auto_unroll_max_step_is_reported():
    task = matmul_task(16)
    sch = ScheduleBuilder(task)
    sch.auto_unroll("C", 64)
    row = update_row(extract_features(sch.program()))
    assert row[COL["auto_unroll_max_step"]] == pytest.approx(scaled(64))


# -- behaviour ------------------------------------------------------------------------------------

def test_tile_sizes_change_features():
    task = matmul_task()
    a = extract_features(tiled_matmul(task, 8, 16))
    b = extract_features(tiled_matmul(task, 4, 16))
    c = extract_features(tiled_matmul(task, 8, 8))
    assert a.shape == b.shape == c.shape
    assert not np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(b, c)


def test_deterministic_and_batch_equals_single():
    task = workloads.create("conv2d_nchw", **SPACE_CHECK_SHAPES["conv2d_nchw"])
    programs = sample_programs(task, 6, seed=2)
    batch = extract_batch(programs)
    again = extract_batch([Program.from_json(p.to_json()) for p in programs])
    for program, matrix, other in zip(programs, batch, again):
        np.testing.assert_array_equal(matrix, extract_features(program))
        np.testing.assert_array_equal(matrix, other)


def test_finite_over_random_programs_of_every_workload():
    tasks = [workloads.create(name, target=target, **shape)
             for target in ("llvm", "cuda") for name, shape in SPACE_CHECK_SHAPES.items()]
    tasks += small_tasks()
    assert {t.workload[0] for t in tasks if getattr(t, "workload", None)} == set(
        workloads.list_workloads())
    for task in tasks:
        programs = sample_programs(task, 6, seed=7)
        for program, matrix in zip(programs, extract_batch(programs)):
            assert matrix.shape[1] == len(FEATURE_NAMES) and matrix.shape[0] >= 1
            assert np.isfinite(matrix).all(), (task.name, str(program))
            assert (matrix >= 0).all(), task.name
            raw = [COL[n] for n in RAW_FEATURES]
            assert (matrix[:, raw] <= 1.0).all(), task.name
            for group in one_hot_groups():
                used = matrix[:, group].sum(axis=1)
                assert set(used) <= {0.0, 1.0}, (task.name, group)
            for kind in ("vec", "unroll", "parallel"):
                assert (matrix[:, [COL[n] for n in FEATURE_NAMES
                                   if n.startswith(f"{kind}_pos_")]].sum(axis=1) == 1).all()


def one_hot_groups() -> list[list[int]]:
    """Column groups of which a row sets one (or none, for an unused buffer slot)."""
    groups = []
    for k in range(5):
        for fields in (("acc_read", "acc_write", "acc_rw"),
                       ("scope_global", "scope_local", "scope_shared"),
                       ("reuse_loop", "reuse_serial", "reuse_none")):
            groups.append([COL[f"buf{k}_{f}"] for f in fields])
    groups.append([COL[n] for n in FEATURE_NAMES if n.startswith("alloc_scope_")])
    return groups


def test_empty_batch():
    assert extract_batch([]) == []


# -- errors ------------------------------------------------------------------------------------

def test_rejects_non_programs():
    with pytest.raises(TypeError, match="int"):
        extract_features(3)
    program = tiled_matmul(matmul_task(16), 4, 4)
    with pytest.raises(TypeError, match="item 1.*str"):
        extract_batch([program, "C = A @ B"])
    with pytest.raises(TypeError, match="sequence"):
        extract_batch(program)
    with pytest.raises(TypeError, match="sequence"):
        extract_batch(5)


def test_lowering_failure_is_a_value_error():
    task = matmul_task(16)
    # A split with undecided lengths is a sketch, not a complete program.
    program = Program(task, [SplitStep(2, 0, (None,))])
    with pytest.raises(ValueError, match="lowering failed"):
        extract_features(program)
