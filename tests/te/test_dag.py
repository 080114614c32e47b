"""ComputeDAG: topological order, consumers, FLOP counts, access analysis, and its errors."""

import pytest

import schedlab
from schedlab import te
from schedlab.te import ComputeDAG, ComputeOp, PlaceholderOp


def matmul(M=8, N=6, K=5, dtype="float32"):
    A = te.placeholder((M, K), dtype, name="A")
    B = te.placeholder((K, N), dtype, name="B")
    k = te.reduce_axis(K, name="k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    return A, B, C


def mlp_layer():
    A, W, C = matmul()
    bias = te.placeholder((6,), name="bias")
    D = te.compute((8, 6), lambda i, j: C[i, j] + bias[j], name="D")
    E = te.compute((8, 6), lambda i, j: te.max(D[i, j], 0.0), name="E")
    return [A, W, bias, E]


def test_ops_come_in_topological_order():
    dag = ComputeDAG(mlp_layer())
    names = [op.name for op in dag.ops]
    assert set(names) == {"A", "B", "bias", "C", "D", "E"}
    for op in dag.ops:
        for t in op.inputs:
            assert names.index(t.name) < names.index(op.name)
    assert names[-1] == "E"
    assert [op.name for op in dag.compute_ops] == ["C", "D", "E"]
    assert {op.name for op in dag.placeholders} == {"A", "B", "bias"}
    assert all(isinstance(op, ComputeOp) for op in dag.compute_ops)
    assert all(isinstance(op, PlaceholderOp) for op in dag.placeholders)


def test_consumers_and_outputs():
    dag = ComputeDAG(mlp_layer())
    assert [op.name for op in dag.consumers["C"]] == ["D"]
    assert [op.name for op in dag.consumers["bias"]] == ["D"]
    assert dag.consumers["E"] == []
    assert [t.name for t in dag.outputs] == ["E"]
    assert dag.is_output(dag.op("E")) and not dag.is_output(dag.op("D"))


def test_a_tensor_read_twice_is_one_input():
    A = te.placeholder((4,), name="A")
    B = te.compute((4,), lambda i: A[i] * A[(i + 1) % 4], name="B")
    assert [t.name for t in B.op.inputs] == ["A"]
    assert [op.name for op in ComputeDAG([A, B]).ops] == ["A", "B"]


def test_diamond_visits_the_shared_producer_once():
    A = te.placeholder((4,), name="A")
    P = te.compute((4,), lambda i: A[i] + 1.0, name="P")
    L = te.compute((4,), lambda i: P[i] * 2.0, name="L")
    R = te.compute((4,), lambda i: P[i] * 3.0, name="R")
    O = te.compute((4,), lambda i: L[i] + R[i], name="O")
    dag = ComputeDAG([A, O])
    names = [op.name for op in dag.ops]
    assert names.count("P") == 1 and names[0] == "A" and names[-1] == "O"
    assert {op.name for op in dag.consumers["P"]} == {"L", "R"}


def test_flop_count_of_matmul_is_2mnk():
    M, N, K = 37, 29, 19
    A, B, C = matmul(M, N, K)
    assert ComputeDAG([A, B, C]).flop_count == 2 * M * N * K
    assert schedlab.Task("mm", [A, B, C]).flop_count == 2 * M * N * K


def test_flop_count_of_elementwise_and_chains():
    A = te.placeholder((10, 3), name="A")
    B = te.compute((10, 3), lambda i, j: A[i, j] * 2.0 + 1.0, name="B")  # 2 per element
    C = te.compute((10, 3), lambda i, j: te.exp(B[i, j]), name="C")  # 1 per element
    assert ComputeDAG([A, C]).flop_count == 30 * 3


def test_integer_arithmetic_is_not_counted_as_flops():
    A, B, C = matmul(4, 4, 4, dtype="int32")
    assert ComputeDAG([A, B, C]).flop_count == 0


def test_access_analysis_of_matmul():
    A, B, C = matmul()
    acc = ComputeDAG([A, B, C]).access["C"]
    assert not acc.is_injective and not acc.is_elementwise
    assert acc.has_data_reuse  # A[i, k] misses j, B[k, j] misses i
    assert not acc.has_expensive_op and not acc.is_strictly_inlinable
    assert (acc.num_spatial, acc.num_reduce) == (2, 1)
    assert (acc.spatial_size, acc.reduce_size) == (48, 5)
    assert set(acc.reads) == {"A", "B"} and len(acc.reads["A"]) == 1


def test_access_analysis_of_elementwise_and_expensive_ops():
    dag = ComputeDAG(mlp_layer())
    relu = dag.access["E"]
    assert relu.is_injective and relu.is_elementwise and relu.is_strictly_inlinable
    assert not relu.has_data_reuse and relu.reduce_size == 1
    bias_add = dag.access["D"]
    assert bias_add.is_injective and not bias_add.is_elementwise  # bias[j] drops i

    A = te.placeholder((4, 4), name="A")
    S = te.compute((4, 4), lambda i, j: te.sigmoid(A[i, j]), name="S")
    T = te.compute((4, 4), lambda i, j: A[j, i], name="T")
    dag = ComputeDAG([A, S, T])
    assert dag.access["S"].has_expensive_op and not dag.access["S"].is_strictly_inlinable
    assert dag.access["S"].is_elementwise
    assert not dag.access["T"].is_elementwise and dag.access["T"].is_strictly_inlinable


def test_reduction_without_reuse():
    A = te.placeholder((8, 5), name="A")
    k = te.reduce_axis(5, "k")
    S = te.compute((8,), lambda i: te.sum(A[i, k], axis=k), name="S")
    assert not ComputeDAG([A, S]).access["S"].has_data_reuse


def test_dag_errors():
    A, B, C = matmul()
    with pytest.raises(ValueError, match="at least one tensor"):
        ComputeDAG([])
    with pytest.raises(TypeError, match="must be tensors"):
        ComputeDAG([A, "B", C])
    with pytest.raises(ValueError, match="names must be unique"):
        ComputeDAG([A, A, C])
    with pytest.raises(ValueError, match="at least one computed"):
        ComputeDAG([A, B])
    with pytest.raises(ValueError, match="placeholder 'B' is read .* not one of its arguments"):
        ComputeDAG([A, C])
    with pytest.raises(ValueError, match="no op named 'Z'"):
        ComputeDAG([A, B, C]).op("Z")


def test_two_tensors_with_one_name_are_rejected():
    A = te.placeholder((4,), name="X")
    B = te.compute((4,), lambda i: A[i] + 1.0, name="X")
    with pytest.raises(ValueError, match="its own name"):
        ComputeDAG([B])


def test_task_argument_order_and_outputs():
    args = mlp_layer()
    task = schedlab.Task("layer", args)
    assert [t.name for t in task.inputs] == ["A", "B", "bias"]
    assert [t.name for t in task.outputs] == ["E"]
    with pytest.raises(ValueError, match="non-empty name"):
        schedlab.Task("", args)
