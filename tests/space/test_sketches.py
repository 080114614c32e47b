"""Sketch generation: counts per workload, predicates, rule registry and ablations."""

import pytest

import schedlab
from schedlab import te
from schedlab.ir.state import State
from schedlab.space import RULES, SketchRule, generate_sketches, predicates
from schedlab.space.rule import Condition
from schedlab.workloads import create, list_workloads

# Ansor's CPU rules give: 3 sketches for a reduction with data reuse and no fusible
# consumer (plain tiling, cache write fused at level 1 or 2), 2 when an element-wise
# consumer can be fused (levels 1 and 2), 1 when nothing applies.
EXPECTED_CPU = {
    "matmul": 3, "batch_matmul": 3, "dense": 3, "dense_bias_relu": 2, "conv2d_nchw": 3,
    "conv2d_nhwc": 3, "conv2d_bias_relu": 2, "depthwise_conv2d_nchw": 3, "softmax": 1,
    "layer_norm": 1, "max_pool2d": 1, "elementwise_chain": 1,
}


def test_every_workload_is_listed_here():
    assert sorted(EXPECTED_CPU) == list_workloads()


@pytest.mark.parametrize("name", sorted(EXPECTED_CPU))
def test_cpu_sketch_counts(name):
    sketches = generate_sketches(create(name))
    assert len(sketches) == EXPECTED_CPU[name]
    for sketch in sketches:
        assert str(sketch)  # printable as its step list
        # Replaying the steps gives the same stages as the sketch holds.
        replayed = State.from_dag(sketch.task.dag)
        for step in sketch.steps:
            replayed = step.apply(replayed)
        assert [s.name for s in replayed.stages] == [s.name for s in sketch.state.stages]


def _state(task):
    return State.from_dag(task.dag)


def test_predicates_on_matmul_and_softmax():
    mm = create("matmul", M=64, N=64, K=64)
    st = _state(mm)
    c = st.stage_index("C")
    assert predicates.has_data_reuse(st, c)
    assert predicates.fusible_consumer(st, c) is None
    assert not predicates.is_strictly_inlinable(st, c)  # an output, and a reduction
    sm = create("softmax", M=4, N=1024)
    st = _state(sm)
    row_max = st.stage_index("row_max")
    assert not predicates.has_data_reuse(st, row_max)  # reads use every spatial axis
    assert predicates.needs_rfactor(st, row_max, num_cores=2)
    assert not predicates.needs_rfactor(_state(create("softmax", M=4096, N=64)), row_max, 2)


def test_fusible_consumer_and_inlining():
    dense = create("dense_bias_relu", M=8, N=16, K=32)
    st = _state(dense)
    assert predicates.fusible_consumer(st, st.stage_index("dense")) == st.stage_index("relu")
    conv = create("conv2d_nchw", N=1, C=4, H=8, W=8, K=4, R=3, S=3, stride=1, pad=1)
    st = _state(conv)
    assert predicates.is_strictly_inlinable(st, st.stage_index("pad"))
    assert predicates.is_padding(st, st.stage_index("pad"))
    assert not predicates.is_padding(st, st.stage_index("conv2d"))
    dense_state = _state(dense)
    assert not predicates.is_padding(dense_state, dense_state.stage_index("relu"))
    chain = create("elementwise_chain", M=4, N=4)
    st = _state(chain)
    # sigmoid is expensive: recomputing it per use is not free.
    assert not predicates.is_strictly_inlinable(st, st.stage_index("sigmoid"))


def test_padding_stays_a_stage_on_cpu_and_is_inlined_on_gpu():
    def pad_attachments(task):
        return {sketch.state.stages[sketch.state.stage_index("pad")].attach.kind
                for sketch in generate_sketches(task)}

    shape = dict(N=1, C=4, H=8, W=8, K=4, R=3, S=3, stride=1, pad=1)
    assert pad_attachments(create("conv2d_nchw", **shape)) == {"root"}
    assert pad_attachments(create("conv2d_nchw", target="cuda", **shape)) == {"inline"}


def test_rfactor_sketches_for_a_long_row_reduction():
    sm = create("softmax", M=2, N=4096)
    # Each of the two row reductions: as it is, or factored on the outer or the inner part
    # of its split (rfactor keeps the plain sketch too): 3 x 3.
    assert len(generate_sketches(sm)) == 9


def test_disabling_rules_shrinks_the_space():
    mm = create("matmul", M=64, N=64, K=64)
    assert len(generate_sketches(mm, disabled=["add_cache_write"])) == 1
    assert len(generate_sketches(mm, disabled=["multi_level_tiling",
                                               "multi_level_tiling_with_fusion"])) == 2
    with pytest.raises(ValueError, match="skip"):
        generate_sketches(mm, disabled=["skip"])
    with pytest.raises(ValueError, match="unknown"):
        generate_sketches(mm, disabled=["no_such_rule"])
    with pytest.raises(ValueError, match="valid"):
        generate_sketches(mm, rules=["no_such_rule", "skip"])


def test_a_user_rule_runs_first():
    class InlineNothingButMarkCalls(SketchRule):
        name = "count_calls"
        calls = 0

        def condition(self, ctx, state, stage_id):
            type(self).calls += 1
            return Condition.SKIP

        def apply(self, ctx, state, stage_id):
            raise AssertionError("never applies")

    rule = InlineNothingButMarkCalls()
    mm = create("matmul", M=16, N=16, K=16)
    assert len(generate_sketches(mm, extra_rules=[rule])) == 3
    assert InlineNothingButMarkCalls.calls > 0
    assert "count_calls" not in RULES


def test_user_computation():
    A = te.placeholder((32, 32), name="A")
    k = te.reduce_axis(32, name="k")
    B = te.compute((32, 32), lambda i, j: te.sum(A[i, k] * A[j, k], axis=k), name="B")
    task = schedlab.Task("gram", [A, B])
    assert len(generate_sketches(task)) == 3
