"""Building tensor expressions: operators, dtype rules and the errors users see."""

import numpy as np
import pytest

from schedlab import te
from schedlab.te import BinOp, Call, Cast, Cmp, Const, Logic, Reduce, Select, TensorRead


@pytest.fixture
def A():
    return te.placeholder((4, 5), "float32", name="A")


@pytest.fixture
def I():  # noqa: E743 - an int tensor named like the math
    return te.placeholder((4, 5), "int32", name="I")


# -- building -----------------------------------------------------------------------------------
def test_placeholder_records_shape_dtype_and_name(A):
    assert A.shape == (4, 5) and A.dtype == "float32" and A.name == "A" and A.ndim == 2
    assert te.placeholder(7, name="v").shape == (7,)


def test_placeholder_gets_a_fresh_name_when_none_is_given():
    a, b = te.placeholder((2,)), te.placeholder((2,))
    assert a.name and b.name and a.name != b.name


def test_python_operators_build_expression_trees(A):
    e = A[0, 1] * 2.0 + 1.0
    assert isinstance(e, BinOp) and e.op == "add"
    assert isinstance(e.a, BinOp) and e.a.op == "mul"
    assert isinstance(e.a.a, TensorRead) and e.a.a.tensor is A
    assert isinstance(e.b, Const) and e.b.value == 1.0


@pytest.mark.parametrize("build, op", [
    (lambda x: x - 1.0, "sub"), (lambda x: 1.0 - x, "sub"), (lambda x: x / 2.0, "div"),
    (lambda x: 2.0 / x, "div"), (lambda x: x // 2.0, "floordiv"), (lambda x: x % 2.0, "floormod"),
    (lambda x: 3.0 * x, "mul"), (lambda x: 3.0 + x, "add"), (lambda x: -x, "sub"),
    (lambda x: te.max(x, 0.0), "max"), (lambda x: te.min(x, 0.0), "min"),
])
def test_every_operator_has_a_node(A, build, op):
    e = build(A[0, 0])
    assert isinstance(e, BinOp) and e.op == op and e.dtype == "float32"


def test_comparisons_and_logic_are_boolean(A):
    c = (A[0, 0] < 1.0) & (A[0, 1] >= 0.0) | ~(A[1, 1] > 2.0)
    assert isinstance(c, Logic) and c.dtype == "bool"
    assert isinstance(te.equal(A[0, 0], 1.0), Cmp) and te.not_equal(A[0, 0], 1.0).op == "ne"
    assert te.all(A[0, 0] < 1.0, A[0, 1] < 1.0, A[1, 0] < 1.0).dtype == "bool"


def test_expressions_have_no_truth_value(A):
    with pytest.raises(TypeError, match="no truth value"):
        bool(A[0, 0] < 1.0)


def test_equality_keeps_identity_semantics(A):
    # ``==`` is Python identity so nodes can be dict keys; te.equal builds the comparison.
    e = A[0, 0]
    assert e == e and e != A[0, 0]
    assert len({e: 1, A[0, 0]: 2}) == 2


def test_intrinsics(A):
    for fn in (te.exp, te.log, te.sqrt, te.tanh, te.sigmoid, te.abs):
        e = fn(A[0, 0])
        assert isinstance(e, Call) and e.dtype == "float32"


def test_numpy_scalars_become_constants(A):
    e = A[0, 0] * np.float32(2.0)
    assert isinstance(e.b, Const) and e.b.value == 2.0


# -- dtype rules --------------------------------------------------------------------------------
def test_constants_take_the_dtype_of_the_other_operand(A, I):
    assert (A[0, 0] + 1).dtype == "float32"
    assert (I[0, 0] + 1).dtype == "int32"
    assert (I[0, 0] + 1.5).dtype == "float32"


@pytest.mark.parametrize("a, b, result", [
    ("int32", "int64", "int64"), ("int32", "float32", "float32"),
    ("float32", "float64", "float64"), ("int64", "float32", "float32"),
    ("float64", "int32", "float64"),
])
def test_mixed_operands_promote(a, b, result):
    x = te.placeholder((2,), a, name="x")
    y = te.placeholder((2,), b, name="y")
    e = x[0] * y[0]
    assert e.dtype == result
    assert e.a.dtype == e.b.dtype == result  # the narrower side is cast explicitly


def test_true_division_of_ints_is_float(I):
    assert (I[0, 0] / I[0, 1]).dtype == "float32"
    assert (I[0, 0] // 2).dtype == "int32"
    with pytest.raises(TypeError, match="floating-point"):
        BinOp("div", I[0, 0], I[0, 1])


def test_intrinsics_of_ints_compute_in_float(I):
    assert te.exp(I[0, 0]).dtype == "float32"
    assert te.abs(I[0, 0]).dtype == "int32"


def test_select_promotes_branches_and_casts_literals(A, I):
    s = te.select(A[0, 0] > 0.0, A[0, 0], 0)
    assert isinstance(s, Select) and s.dtype == "float32" and s.false_value.dtype == "float32"
    s = te.select(I[0, 0] > 0, I[0, 0], A[0, 0])
    assert s.dtype == "float32" and isinstance(s.true_value, Cast)
    assert te.if_then_else is te.select


def test_select_needs_a_boolean_condition(A):
    with pytest.raises(TypeError, match="boolean condition"):
        te.select(A[0, 0], 1.0, 0.0)


def test_logic_needs_boolean_operands(A):
    with pytest.raises(TypeError, match="boolean operands"):
        (A[0, 0] < 1.0) & A[0, 1]


def test_cast(A):
    c = te.cast("int32", A[0, 0])
    assert isinstance(c, Cast) and c.dtype == "int32"
    read = A[0, 0]
    assert te.cast("float32", read) is read  # no node for a no-op cast
    assert te.const(3, "float64").value == 3.0 and te.const(3.0).dtype == "float32"
    assert te.const(True).dtype == "bool" and te.const(3).dtype == "int32"


def test_reduction_identities():
    k = te.reduce_axis(3, "k")
    x = te.placeholder((3,), "float32", name="x")
    n = te.placeholder((3,), "int32", name="n")
    assert te.sum(x[k], axis=k).identity().value == 0.0
    assert te.max(x[k], axis=k).identity().value == -np.inf
    assert te.min(x[k], axis=k).identity().value == np.inf
    assert te.max(n[k], axis=k).identity().value == -(2**31 - 1)
    assert te.min(n[k], axis=k).identity().value == 2**31 - 1


def test_compute_with_dtype_casts_the_body(A):
    k = te.reduce_axis(5, "k")
    C = te.compute((4,), lambda i: te.sum(A[i, k], axis=k), name="C", dtype="float64")
    assert C.dtype == "float64" and isinstance(C.op.body, Reduce)
    D = te.compute((4, 5), lambda i, j: A[i, j], name="D", dtype="int32")
    assert D.dtype == "int32"


def test_compute_names_axes_after_the_lambda_parameters(A):
    C = te.compute((4, 5), lambda row, col: A[row, col] * 2.0, name="C")
    assert [ax.name for ax in C.op.axes] == ["row", "col"]
    assert [ax.extent for ax in C.op.axes] == [4, 5]
    V = te.compute((4, 5), lambda *idx: A[idx] + 1.0, name="V")
    assert [ax.name for ax in V.op.axes] == ["i0", "i1"]


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (0, 3), (3, -1), (2.5,), (True, 2), ("3",)])
def test_bad_shapes_are_rejected(shape):
    with pytest.raises(ValueError, match="shape|dimension"):
        te.placeholder(shape, name="bad")
    with pytest.raises(ValueError, match="shape|dimension"):
        te.compute(shape, lambda *i: te.const(0.0), name="bad")


def test_unknown_dtype_is_rejected():
    with pytest.raises(ValueError, match="unsupported dtype 'float16'"):
        te.placeholder((2,), "float16", name="x")


def test_indexing_checks_arity_and_index_type(A):
    with pytest.raises(ValueError, match="has 2 dimensions, indexed with 1"):
        A[0]
    with pytest.raises(TypeError, match="must be an integer"):
        A[0, 1.5]
    with pytest.raises(TypeError, match="cannot use a str"):
        A[0, "j"]


def test_fcompute_arity_must_match_the_shape(A):
    with pytest.raises(ValueError, match="shape has 2 dimensions but fcompute takes 1"):
        te.compute((4, 5), lambda i: A[i, 0], name="C")


def test_unknown_variable_in_compute_body(A):
    k = te.reduce_axis(5, "k")
    with pytest.raises(ValueError, match="uses variable 'k'"):
        te.compute((4,), lambda i: A[i, k], name="C")  # k used without a reduction
    B = te.compute((4, 5), lambda i, j: A[i, j], name="B")
    other = B.op.axes[1]
    with pytest.raises(ValueError, match="neither one of its axes"):
        te.compute((4,), lambda i: A[i, other], name="D")


def test_reduction_must_be_at_the_top(A):
    k = te.reduce_axis(5, "k")
    with pytest.raises(ValueError, match="outermost expression"):
        te.compute((4,), lambda i: te.sum(A[i, k], axis=k) * 2.0, name="C")
    with pytest.raises(ValueError, match="outermost expression"):
        te.compute((4,), lambda i: te.exp(te.max(A[i, k], axis=k)), name="C")


def test_reduction_axis_errors(A):
    k = te.reduce_axis(5, "k")
    with pytest.raises(ValueError, match="appears twice"):
        te.compute((4,), lambda i: te.sum(A[i, k], axis=[k, k]), name="C")
    with pytest.raises(TypeError, match="needs axis="):
        te.sum(A[0, 0])
    with pytest.raises(TypeError, match="two operands or axis="):
        te.max(A[0, 0])
    B = te.compute((4, 5), lambda i, j: A[i, j], name="B")
    with pytest.raises(TypeError, match="te.reduce_axis"):
        te.sum(A[0, 0], axis=B.op.axes[0])  # a spatial axis
    with pytest.raises(ValueError, match="positive integer extent"):
        te.reduce_axis(0, "z")


def test_unknown_intrinsic():
    with pytest.raises(ValueError, match="unknown intrinsic 'erf'"):
        Call("erf", te.const(1.0))
