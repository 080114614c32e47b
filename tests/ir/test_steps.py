"""Transform steps: what each does to the state, JSON round trips, and every error path."""

import json
import re

import pytest

import schedlab
from schedlab import te
from schedlab.ir.state import State
from schedlab.ir.steps import (
    STEP_TYPES,
    AnnotateStep,
    AutoUnrollStep,
    CacheReadStep,
    CacheWriteStep,
    ComputeAtStep,
    ComputeInlineStep,
    ComputeRootStep,
    FuseStep,
    ReorderStep,
    RfactorStep,
    SplitStep,
    StepError,
    replay,
    step_from_json,
)

M, N, K = 37, 29, 19


@pytest.fixture(scope="module")
def matmul():
    A = te.placeholder((M, K), name="A")
    B = te.placeholder((K, N), name="B")
    k = te.reduce_axis(K, name="k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    return schedlab.Task("matmul", [A, B, C])


@pytest.fixture(scope="module")
def chain():
    """A -> P (exp) -> C (sum over k of P) -> D (relu, output). Stages: A, P, C, D."""
    A = te.placeholder((12, 10), name="A")
    P = te.compute((12, 10), lambda i, j: te.exp(A[i, j]), name="P")
    k = te.reduce_axis(10, name="k")
    C = te.compute((12,), lambda i: te.sum(P[i, k], axis=k), name="C")
    D = te.compute((12,), lambda i: te.max(C[i], 0.0), name="D")
    return schedlab.Task("chain", [A, D])


def initial(task):
    return State.from_dag(task.dag)


def names(state, stage):
    return [it.name for it in state.stage(stage).iters]


def extents(state, stage):
    return [it.extent for it in state.stage(stage).iters]


# -- what each step does ------------------------------------------------------------------------
def test_initial_state_has_one_stage_per_op(matmul):
    s = initial(matmul)
    assert [st.name for st in s.stages] == ["A", "B", "C"]
    assert names(s, "C") == ["i", "j", "k"] and extents(s, "C") == [M, N, K]
    assert [it.kind for it in s.stage("C").iters] == ["spatial", "spatial", "reduce"]
    assert s.stage("A").is_placeholder and s.stage("A").iters == ()


def test_split_with_one_length(matmul):
    s = SplitStep(2, 0, (8,)).apply(initial(matmul))
    assert names(s, "C") == ["i.0", "i.1", "j", "k"]
    assert extents(s, "C") == [5, 8, N, K]  # 37 = 5 * 8 with a guarded tail
    assert s.stage("C").relations[-1].parent == "i"


def test_split_with_several_lengths_and_one_longer_than_the_loop(matmul):
    s = SplitStep(2, 1, (4, 2)).apply(initial(matmul))
    assert names(s, "C") == ["i", "j.0", "j.1", "j.2", "k"]
    assert extents(s, "C") == [M, 4, 4, 2, K]  # 29 -> ceil(ceil(29/2)/4) = 4
    s = SplitStep(2, 2, (64,)).apply(initial(matmul))
    assert extents(s, "C") == [M, N, 1, K]


def test_split_keeps_the_iterator_kind(matmul):
    s = SplitStep(2, 2, (4,)).apply(initial(matmul))
    assert [it.kind for it in s.stage("C").iters] == ["spatial", "spatial", "reduce", "reduce"]


def test_fuse(matmul):
    s = FuseStep(2, (0, 1)).apply(initial(matmul))
    assert names(s, "C") == ["i@j", "k"] and extents(s, "C") == [M * N, K]


def test_reorder(matmul):
    s = ReorderStep(2, (2, 0, 1)).apply(initial(matmul))
    assert names(s, "C") == ["k", "i", "j"]


@pytest.mark.parametrize("annotation", ["parallel", "vectorize", "unroll", "threadIdx.x",
                                        "blockIdx.y", "vthread", "none"])
def test_annotate(matmul, annotation):
    s = AnnotateStep(2, 1, annotation).apply(initial(matmul))
    assert s.stage("C").iters[1].annotation == annotation


def test_reduce_loops_may_be_unrolled(matmul):
    s = AnnotateStep(2, 2, "unroll").apply(initial(matmul))
    assert s.stage("C").iters[2].annotation == "unroll"


def test_auto_unroll(matmul):
    s = AutoUnrollStep(2, 64).apply(initial(matmul))
    assert s.stage("C").auto_unroll_max_step == 64


def test_compute_at_and_compute_root(chain):
    s = ComputeAtStep(1, 2, 0).apply(initial(chain))
    attach = s.stage("P").attach
    assert (attach.kind, attach.target, attach.iterator) == ("at", "C", "i")
    s = ComputeRootStep(1).apply(s)
    assert s.stage("P").attach.kind == "root"


def exp_chain_task():
    """A -> P (exp) -> Q -> R, where only R is an output."""
    A = te.placeholder((8,), name="A")
    P = te.compute((8,), lambda i: te.exp(A[i]), name="P")
    Q = te.compute((8,), lambda i: P[i] * 2.0, name="Q")
    R = te.compute((8,), lambda i: Q[i] + 1.0, name="R")
    return schedlab.Task("inl", [A, R])


def test_compute_at_through_an_inlined_consumer():
    task = exp_chain_task()
    s = ComputeInlineStep(2).apply(initial(task))
    s = ComputeAtStep(1, 3, 0).apply(s)
    assert s.stage("P").attach.target == "R"


def test_compute_inline(chain):
    s = ComputeInlineStep(1).apply(initial(chain))
    assert s.stage("P").attach.kind == "inline"


def test_cache_write_inserts_a_cache_stage(matmul):
    s = CacheWriteStep(2, "local").apply(initial(matmul))
    assert [st.name for st in s.stages] == ["A", "B", "C.local", "C"]
    assert s.stage("C.local").scope == "local"
    assert names(s, "C.local") == ["i", "j", "k"]
    assert names(s, "C") == ["i", "j"]  # now a copy out of the cache
    assert [t.name for t in s.stage("C").op.inputs] == ["C.local"]


def test_cache_read_inserts_a_copy_that_the_readers_read(matmul):
    s = CacheReadStep(0, "local", (2,)).apply(initial(matmul))
    assert [st.name for st in s.stages] == ["A", "A.local", "B", "C"]
    assert names(s, "A.local") == ["ax0", "ax1"] and extents(s, "A.local") == [M, K]
    assert {t.name for t in s.stage("C").op.inputs} == {"A.local", "B"}


def test_cache_read_with_a_layout_transposes_the_copy(matmul):
    s = CacheReadStep(1, "local", (2,), (1, 0)).apply(initial(matmul))
    assert extents(s, "B.local") == [N, K]


def test_cache_read_of_a_computed_stage_for_one_of_two_readers():
    A = te.placeholder((6,), name="A")
    P = te.compute((6,), lambda i: A[i] + 1.0, name="P")
    Q = te.compute((6,), lambda i: P[i] * 2.0, name="Q")
    R = te.compute((6,), lambda i: P[i] * 3.0 + Q[i], name="R")
    task = schedlab.Task("two_readers", [A, R])
    s = CacheReadStep(1, "local", (3,)).apply(initial(task))
    assert [st.name for st in s.stages] == ["A", "P", "P.local", "Q", "R"]
    assert {t.name for t in s.stage("R").op.inputs} == {"P.local", "Q"}
    assert {t.name for t in s.stage("Q").op.inputs} == {"P"}


@pytest.mark.parametrize("part, factored", [(2, "k.f"), (3, "k.f")])
def test_rfactor(matmul, part, factored):
    s = SplitStep(2, 2, (4,)).apply(initial(matmul))
    s = RfactorStep(2, part).apply(s)
    assert [st.name for st in s.stages] == ["A", "B", "C.rf", "C"]
    rf = s.stage("C.rf")
    assert rf.iters[0].name == factored and rf.iters[0].kind == "spatial"
    assert rf.iters[0].extent == (5 if part == 2 else 4)  # outer 5 = ceil(19/4), inner 4
    assert [it.kind for it in s.stage("C").iters] == ["spatial", "spatial", "reduce"]


def test_steps_never_modify_the_state_they_are_given(matmul):
    s0 = initial(matmul)
    before = str(s0)
    SplitStep(2, 0, (8,)).apply(s0)
    CacheWriteStep(2, "local").apply(s0)
    assert str(s0) == before


# -- JSON ---------------------------------------------------------------------------------------
ALL_STEPS = [
    SplitStep(2, 0, (8, 2)), FuseStep(2, (0, 1)), ReorderStep(2, (1, 0, 2)),
    AnnotateStep(2, 0, "parallel"), AutoUnrollStep(2, 16), ComputeAtStep(1, 2, 0),
    ComputeRootStep(1), ComputeInlineStep(1), CacheWriteStep(2, "local"),
    CacheReadStep(0, "local", (2,)), CacheReadStep(0, "shared", (2, 3), (1, 0)), RfactorStep(2, 3),
]

if "follow_split" in STEP_TYPES:  # tiling a consumer like an earlier split
    ALL_STEPS.append(STEP_TYPES["follow_split"](3, 0, 0, 2))


def test_every_step_kind_is_covered():
    assert {type(s) for s in ALL_STEPS} == set(STEP_TYPES.values())


@pytest.mark.parametrize("step", ALL_STEPS, ids=lambda s: s.kind)
def test_step_json_round_trip(step):
    record = json.loads(json.dumps(step.to_json()))
    assert record[0] == step.kind
    again = step_from_json(record)
    assert again == step and type(again) is type(step)


def test_step_from_json_errors():
    with pytest.raises(ValueError, match="unknown step record"):
        step_from_json(["tile", 1])
    with pytest.raises(ValueError, match="unknown step record"):
        step_from_json([])
    with pytest.raises(ValueError, match="needs fields"):
        step_from_json(["split", 1])


def expert_steps():
    return [
        CacheWriteStep(2, "local"), CacheReadStep(1, "local", (2,)),
        SplitStep(3, 0, (4, 2)), SplitStep(3, 3, (2, 8)), SplitStep(3, 6, (4,)),
        ReorderStep(3, (0, 3, 1, 4, 6, 7, 2, 5)),
        SplitStep(4, 0, (8,)), SplitStep(4, 2, (16,)), ReorderStep(4, (2, 0, 1, 3)),
        ComputeAtStep(3, 4, 1), ComputeAtStep(2, 4, 0), AnnotateStep(4, 0, "parallel"),
        AnnotateStep(3, 7, "vectorize"), AnnotateStep(3, 6, "unroll"),
        AnnotateStep(4, 3, "vectorize"), AutoUnrollStep(4, 16),
    ]


def test_program_json_round_trip(matmul):
    program = schedlab.Program(matmul, expert_steps())
    text = program.to_json()
    again = schedlab.Program.from_json(text, task=matmul)
    assert again.steps == program.steps
    assert again.loop_ir() == program.loop_ir()
    assert json.loads(text)["task"] == "matmul"


def test_program_from_json_errors(matmul):
    text = schedlab.Program(matmul, expert_steps()).to_json()
    with pytest.raises(ValueError, match="not from the catalogue; pass task="):
        schedlab.Program.from_json(text)
    data = json.loads(text)
    data["version"] = 99
    with pytest.raises(ValueError, match="schema version 99"):
        schedlab.Program.from_json(json.dumps(data), task=matmul)


def test_replay_matches_step_by_step_application(matmul):
    steps = expert_steps()
    s = initial(matmul)
    for step in steps:
        s = step.apply(s)
    assert str(replay(initial(matmul), steps)) == str(s)


# -- errors -------------------------------------------------------------------------------------
def _raises(step, state, reason):
    """The step fails with a ValueError that names the step first, then the reason."""
    with pytest.raises(ValueError) as info:
        step.apply(state)
    assert isinstance(info.value, StepError)
    message = str(info.value)
    assert message.startswith(f"{step.kind}("), message
    assert re.search(reason, message), message


def test_out_of_range_stage_and_iterator_ids(matmul):
    s = initial(matmul)
    _raises(SplitStep(9, 0, (2,)), s, "no stage 9")
    _raises(SplitStep(-1, 0, (2,)), s, "no stage -1")
    _raises(SplitStep(2, 3, (2,)), s, "no iterator 3")
    _raises(AnnotateStep(2, 7, "parallel"), s, "no iterator 7")
    _raises(SplitStep(0, 0, (2,)), s, "placeholder and has no loops")
    _raises(ComputeAtStep(2, 5, 0), s, "no target stage 5")


def test_split_errors(matmul):
    s = initial(matmul)
    _raises(SplitStep(2, 0, (0,)), s, "lengths must be positive ints")
    _raises(SplitStep(2, 0, (4, -2)), s, "lengths must be positive ints")
    _raises(SplitStep(2, 0, (2.5,)), s, "lengths must be positive ints")
    _raises(SplitStep(2, 0, ()), s, "at least one length")
    annotated = AnnotateStep(2, 0, "parallel").apply(s)
    _raises(SplitStep(2, 0, (4,)), annotated, "annotated 'parallel'")


def test_fuse_errors(matmul):
    s = initial(matmul)
    _raises(FuseStep(2, (0, 2)), s, "must be consecutive")
    _raises(FuseStep(2, (1, 0)), s, "must be consecutive")
    _raises(FuseStep(2, (0,)), s, "at least two iterators")
    _raises(FuseStep(2, (1, 2)), s, "spatial and reduction")
    _raises(FuseStep(2, (0, 1)), AnnotateStep(2, 1, "unroll").apply(s), "annotated")


def test_reorder_errors(matmul):
    s = initial(matmul)
    _raises(ReorderStep(2, (0, 1)), s, "permutation")
    _raises(ReorderStep(2, (0, 0, 1)), s, "permutation")


def test_annotate_errors(matmul):
    s = initial(matmul)
    _raises(AnnotateStep(2, 2, "vectorize"), s, "only spatial loops can be vectorized")
    _raises(AnnotateStep(2, 2, "parallel"), s, "only spatial loops can run in parallel")
    _raises(AnnotateStep(2, 0, "simd"), s, "unknown annotation 'simd'")
    _raises(AutoUnrollStep(2, -1), s, "non-negative")


def test_compute_at_errors(chain):
    s = initial(chain)
    _raises(ComputeAtStep(2, 1, 0), s, "not every consumer of 'C' runs inside 'P'")
    _raises(ComputeAtStep(3, 2, 0), s, "'D' has no consumer")
    _raises(ComputeAtStep(1, 2, 3), s, "no iterator 3")
    _raises(ComputeAtStep(0, 2, 0), s, "placeholder")


def test_compute_at_of_an_output():
    A = te.placeholder((8,), name="A")
    P = te.compute((8,), lambda i: A[i] + 1.0, name="P")
    Q = te.compute((8,), lambda i: P[i] * 2.0, name="Q")
    task = schedlab.Task("two_outputs", [A, P, Q])
    _raises(ComputeAtStep(1, 2, 0), initial(task), "output of the computation")


def test_compute_at_into_a_stage_that_does_not_come_later():
    A = te.placeholder((8,), name="A")
    P = te.compute((8,), lambda i: A[i] + 1.0, name="P")
    Q = te.compute((8,), lambda i: P[i] * 2.0, name="Q")
    R = te.compute((8,), lambda i: P[i] + Q[i], name="R")
    task = schedlab.Task("order", [A, R])
    s = ComputeAtStep(2, 3, 0).apply(initial(task))  # Q inside R
    _raises(ComputeAtStep(1, 2, 0), s, "not every consumer of 'P' runs inside 'Q'")


def test_compute_at_into_an_inlined_target():
    task = exp_chain_task()
    s = ComputeInlineStep(2).apply(initial(task))
    _raises(ComputeAtStep(1, 2, 0), s, "target 'Q' is inlined")


def test_compute_inline_errors(chain):
    s = initial(chain)
    _raises(ComputeInlineStep(2), s, "is a reduction and cannot be inlined")
    _raises(ComputeInlineStep(3), s, "output of the computation and cannot be inlined")
    A = te.placeholder((8,), name="A")
    P = te.compute((8,), lambda i: te.exp(A[i]), name="P")
    Q = te.compute((8,), lambda i: P[i] * 2.0, name="Q")
    R = te.compute((8,), lambda i: Q[i] + 1.0, name="R")
    task = schedlab.Task("host", [A, R])
    hosted = ComputeAtStep(1, 2, 0).apply(initial(task))
    _raises(ComputeInlineStep(2), hosted, "stage 'P' is computed inside 'Q'")


def test_cache_write_errors(matmul, chain):
    s = initial(matmul)
    _raises(CacheWriteStep(2, "local"), SplitStep(2, 0, (4,)).apply(s),
            "already has loop transforms")
    _raises(CacheWriteStep(0, "local"), s, "placeholder")
    at = ComputeAtStep(1, 2, 0).apply(initial(chain))
    _raises(CacheWriteStep(1, "local"), at, "'P' is not at root")
    _raises(CacheWriteStep(2, "local"), AnnotateStep(2, 0, "parallel").apply(s),
            "already has loop transforms")


def test_cache_stages_need_fresh_names():
    A = te.placeholder((6,), name="A")
    k = te.reduce_axis(6, "k")
    V = te.compute((1,), lambda i: te.sum(A[k], axis=k), name="V")
    W = te.compute((1,), lambda i: V[i] * 2.0, name="W")
    task = schedlab.Task("names", [A, W])
    s = CacheWriteStep(1, "local").apply(initial(task))  # V.local, V
    _raises(CacheReadStep(2, "local", (3,)), s, "stage named 'V.local' already exists")
    assert CacheReadStep(2, "shared", (3,)).apply(s).stage("V.shared")


def test_cache_read_errors(matmul):
    s = initial(matmul)
    _raises(CacheReadStep(0, "local", ()), s, "at least one reader")
    _raises(CacheReadStep(0, "local", (1,)), s, "stage 1 does not read 'A'")
    _raises(CacheReadStep(0, "local", (2,), (0, 0)), s, "layout must be a permutation")
    _raises(CacheReadStep(0, "local", (2,), (0, 1, 2)), s, "layout must be a permutation")


def test_rfactor_errors(matmul):
    s = initial(matmul)
    _raises(RfactorStep(2, 0), s, "'i' is not a reduction iterator")
    _raises(RfactorStep(2, 2), s, "must come from splitting a reduction axis in two")
    three = SplitStep(2, 2, (2, 2)).apply(s)
    _raises(RfactorStep(2, 2), three, "in two")
    more = SplitStep(2, 0, (4,)).apply(SplitStep(2, 2, (4,)).apply(s))
    _raises(RfactorStep(2, 4), more, "only transform")


def test_program_names_the_failing_step(matmul):
    with pytest.raises(ValueError, match=r"^fuse\(stage_id=2, iter_ids=\(0, 2\)\)"):
        schedlab.Program(matmul, [SplitStep(2, 0, (4,)), FuseStep(2, (0, 2))])
