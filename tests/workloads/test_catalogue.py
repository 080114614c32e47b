"""The operator catalogue: task construction, parameter checks, and every workload's tensor
expression against its numpy reference (through the unscheduled compiled program)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import schedlab
from schedlab import te, workloads
from schedlab.workloads import REQUIRED, create, list_workloads

CONV = dict(N=2, C=3, H=9, W=8, K=4, R=3, S=2, stride=2, pad=1, dilation=2)

# Small shapes for every workload: odd sizes, strides, padding and dilation all exercised.
SMALL = {
    "matmul": dict(M=7, N=9, K=11),
    "batch_matmul": dict(B=2, M=5, N=6, K=7),
    "dense": dict(M=5, N=6, K=7),
    "dense_bias_relu": dict(M=5, N=6, K=7),
    "conv2d_nchw": CONV,
    "conv2d_nhwc": CONV,
    "conv2d_bias_relu": dict(N=1, C=3, H=7, W=7, K=4, R=3, S=3, stride=1, pad=1, dilation=1),
    "depthwise_conv2d_nchw": dict(N=2, C=3, H=9, W=8, R=3, S=2, stride=2, pad=1),
    "max_pool2d": dict(N=2, C=3, H=9, W=8, R=3, S=2, stride=2, pad=1),
    "softmax": dict(M=5, N=13),
    "layer_norm": dict(M=5, N=13, eps=1e-3),
    "elementwise_chain": dict(M=5, N=13),
}

# More shapes for the windowed operators: no padding (no pad stage), stride 1, 1x1 kernels.
EXTRA = [
    ("conv2d_nchw", dict(N=1, C=2, H=6, W=5, K=3, R=3, S=3, stride=1, pad=0, dilation=1)),
    ("conv2d_nchw", dict(N=1, C=4, H=5, W=5, K=2, R=1, S=1, stride=2, pad=0, dilation=1)),
    ("conv2d_nhwc", dict(N=1, C=2, H=6, W=5, K=3, R=3, S=3, stride=1, pad=2, dilation=1)),
    ("depthwise_conv2d_nchw", dict(N=1, C=2, H=5, W=6, R=3, S=3, stride=1, pad=0)),
    ("max_pool2d", dict(N=1, C=2, H=6, W=7, R=2, S=2, stride=2, pad=0)),
    ("max_pool2d", dict(N=1, C=2, H=5, W=5, R=3, S=3, stride=1, pad=2)),
]

# Output shapes expected for the SMALL shapes.
OUTPUT_SHAPES = {
    "matmul": [(7, 9)],
    "batch_matmul": [(2, 5, 6)],
    "dense": [(5, 6)],
    "dense_bias_relu": [(5, 6)],
    "conv2d_nchw": [(2, 4, 4, 4)],  # H: (9 + 2 - 5) // 2 + 1, W: (8 + 2 - 3) // 2 + 1
    "conv2d_nhwc": [(2, 4, 4, 4)],
    "conv2d_bias_relu": [(1, 4, 7, 7)],
    "depthwise_conv2d_nchw": [(2, 3, 5, 5)],
    "max_pool2d": [(2, 3, 5, 5)],
    "softmax": [(5, 13)],
    "layer_norm": [(5, 13)],
    "elementwise_chain": [(5, 13)],
}

def _compile(task):
    # Kernels are dropped as soon as a test ends, so this also checks that freeing compiled
    # code leaves the compiler usable.
    return schedlab.Program(task, []).compile()


def test_every_workload_has_small_shapes_here():
    assert sorted(SMALL) == list_workloads()


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_task_and_reference_shapes(name):
    task = create(name, **SMALL[name])
    params = workloads.resolve_params(name, **SMALL[name])
    assert task.workload == (name, params)
    assert task.name == workloads.task_name(name, params)
    assert task.name.startswith(name + "_")
    assert [t.shape for t in task.outputs] == OUTPUT_SHAPES[name]
    outputs = task.reference(*task.random_inputs(0))
    assert isinstance(outputs, tuple)
    assert [o.shape for o in outputs] == OUTPUT_SHAPES[name]
    assert all(o.dtype == np.float32 for o in outputs)
    assert task.flop_count > 0


@pytest.mark.parametrize(
    "name, params",
    list(SMALL.items()) + EXTRA,
    ids=[workloads.task_name(n, p) for n, p in list(SMALL.items()) + EXTRA],
)
def test_unscheduled_program_matches_reference(name, params):
    task = create(name, **params)
    kernel = _compile(task)
    inputs = task.random_inputs(seed=1)
    outputs = task.empty_outputs()
    kernel(*task.call_order(inputs, outputs))
    for got, want in zip(outputs, task.reference(*inputs), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_defaults(name):
    task = create(name)
    assert task.workload[1] == workloads.get_workload(name).defaults
    assert task.target.kind == "llvm"


def test_default_conv_reference_is_fast_and_correct():
    task = create("conv2d_nchw")
    inputs = task.random_inputs(0)
    (out,) = task.reference(*inputs)
    assert out.shape == (1, 64, 56, 56)
    # Spot-check one output against the definition.
    data, weight = (x.astype(np.float64) for x in inputs)
    padded = np.pad(data, [(0, 0), (0, 0), (1, 1), (1, 1)])
    want = np.sum(padded[0, :, 10:13, 20:23] * weight[5])
    np.testing.assert_allclose(out[0, 5, 10, 20], want, rtol=1e-5)


def test_nhwc_and_nchw_agree():
    nchw = create("conv2d_nchw", **CONV)
    nhwc = create("conv2d_nhwc", **CONV)
    data, weight = nchw.random_inputs(3)
    (want,) = nchw.reference(data, weight)
    (got,) = nhwc.reference(data.transpose(0, 2, 3, 1), weight.transpose(2, 3, 1, 0))
    np.testing.assert_allclose(got.transpose(0, 3, 1, 2), want, rtol=1e-5, atol=1e-6)


def test_matmul_task():
    task = create("matmul", M=16, N=8, K=4)
    assert task.name == "matmul_M16_N8_K4"
    assert task.workload == ("matmul", {"M": 16, "N": 8, "K": 4})
    assert task.flop_count == 2 * 16 * 8 * 4
    assert [t.name for t in task.args] == ["A", "B", "C"]
    a, b = task.random_inputs(0)
    np.testing.assert_allclose(task.reference(a, b)[0], a @ b, rtol=1e-5, atol=1e-5)


def test_flop_counts_of_reductions():
    conv = create("conv2d_nchw", **CONV)
    assert conv.flop_count == 2 * (2 * 4 * 4 * 4) * (3 * 3 * 2)  # padding costs no FLOPs
    assert create("dense", M=3, N=5, K=7).flop_count == 2 * 3 * 5 * 7
    assert create("batch_matmul", B=2, M=3, N=5, K=7).flop_count == 2 * 2 * 3 * 5 * 7


def test_compute_structure():
    ops = lambda task: [op.name for op in task.dag.compute_ops]  # noqa: E731
    assert ops(create("softmax", M=4, N=8)) == ["row_max", "exp", "row_sum", "softmax"]
    assert ops(create("layer_norm", M=4, N=8)) == ["mean", "var", "layer_norm"]
    assert ops(create("elementwise_chain", M=4, N=8)) == ["sigmoid", "affine", "tanh"]
    assert ops(create("dense_bias_relu", M=4, N=8, K=2)) == ["dense", "relu"]
    assert ops(create("conv2d_bias_relu", **CONV)) == ["pad", "conv2d", "relu"]
    assert ops(create("conv2d_nchw", **dict(CONV, pad=0))) == ["conv2d"]
    assert ops(create("max_pool2d", **SMALL["max_pool2d"])) == ["pad", "max_pool2d"]


def test_target_and_program_round_trip():
    task = create("depthwise_conv2d_nchw", target="cuda", **SMALL["depthwise_conv2d_nchw"])
    assert task.target.kind == "cuda"
    program = schedlab.Program(create("layer_norm", M=4, N=8, eps=1e-6), [])
    rebuilt = schedlab.Program.from_json(program.to_json())
    assert rebuilt.task.name == program.task.name == "layer_norm_M4_N8_eps1e-06"
    assert rebuilt.task.workload == ("layer_norm", {"M": 4, "N": 8, "eps": 1e-6})
    json.loads(rebuilt.task.workload_key)


def test_same_params_same_key():
    a = create("matmul", M=4, N=4, K=4)
    b = create("matmul", K=4, N=4, M=4)
    assert a.workload_key == b.workload_key and a.name == b.name
    assert create("matmul", M=np.int64(4), N=4, K=4).workload == a.workload


def test_unknown_workload_lists_valid_names():
    with pytest.raises(ValueError, match="unknown workload 'matmull'") as info:
        create("matmull")
    for name in list_workloads():
        assert name in str(info.value)


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("matmul", dict(M=0), "M must be positive"),
        ("matmul", dict(M=-3), "M must be positive"),
        ("matmul", dict(M=2.5), "'M' must be an int"),
        ("matmul", dict(M=True), "'M' must be int"),
        ("matmul", dict(M="64"), "'M' must be int"),
        ("matmul", dict(X=3), "no parameter 'X'.*M, N, K"),
        ("batch_matmul", dict(B=0), "B must be positive"),
        ("conv2d_nchw", dict(H=2, W=2, R=5, S=5, pad=1), "along H spans 5.*2 \\+ 2\\*1 = 4"),
        ("conv2d_nchw", dict(H=8, R=3, pad=0, dilation=4), "along H spans 9"),
        ("conv2d_nchw", dict(pad=-1), "pad must be non-negative"),
        ("conv2d_nchw", dict(stride=0), "stride must be positive"),
        ("conv2d_nhwc", dict(W=1, S=3, pad=0), "along W spans 3"),
        ("conv2d_bias_relu", dict(K=0), "K must be positive"),
        ("depthwise_conv2d_nchw", dict(H=2, R=4, pad=0), "along H"),
        ("max_pool2d", dict(R=2, pad=2), "pad \\(2\\) must be smaller than the window"),
        ("layer_norm", dict(eps=0.0), "eps must be positive"),
        ("layer_norm", dict(eps=float("nan")), "'eps' must be finite"),
        ("softmax", dict(N=0), "N must be positive"),
        ("elementwise_chain", dict(M=0), "M must be positive"),
    ],
)
def test_invalid_params(name, params, message):
    with pytest.raises(ValueError, match=message):
        create(name, **params)


def test_registering_a_workload():
    def ref(x, **params):
        return (x * params["scale"],)

    @workloads.register_workload("scaled_test_only", reference=ref)
    def scaled(M: int, scale: float = 2.0) -> list[te.Tensor]:
        """Scale a vector."""
        x = te.placeholder((M,), "float32", name="x")
        return [x, te.compute((M,), lambda i: x[i] * scale, name="y")]

    try:
        entry = workloads.get_workload("scaled_test_only")
        assert entry.params == {"M": REQUIRED, "scale": 2.0}
        assert entry.description == "Scale a vector."
        with pytest.raises(ValueError, match="needs parameter 'M'"):
            create("scaled_test_only")
        task = create("scaled_test_only", M=3, scale=3)
        assert task.workload == ("scaled_test_only", {"M": 3, "scale": 3.0})
        assert task.name == "scaled_test_only_M3_scale3"
        (y,) = task.reference(np.ones(3, np.float32))
        np.testing.assert_array_equal(y, [3, 3, 3])
        with pytest.raises(ValueError, match="already registered"):
            workloads.register_workload("scaled_test_only", reference=ref)(scaled)
    finally:
        workloads.unregister_workload("scaled_test_only")
    assert "scaled_test_only" not in list_workloads()


def test_builder_parameters_need_annotations():
    with pytest.raises(TypeError, match="annotated int or float"):
        @workloads.register_workload("bad_test_only", reference=lambda x: (x,))
        def bad(M=3):
            return []
    assert "bad_test_only" not in list_workloads()
