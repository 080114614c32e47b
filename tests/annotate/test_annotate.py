"""Random annotation: complete programs that compile and match numpy."""

import numpy as np
import pytest

from schedlab import Program
from schedlab.annotate import Annotator, divisors, sample_split_lengths
from schedlab.space import generate_sketches, sample_programs
from schedlab.testing.small_tasks import SPACE_CHECK_SHAPES as SMALL
from schedlab.workloads import create


def test_split_lengths_divide_the_extent():
    rng = np.random.default_rng(0)
    for extent in (1, 7, 12, 64, 1024, 360):
        for parts in (1, 2, 3):
            lengths = sample_split_lengths(extent, parts, rng, max_innermost=16)
            assert len(lengths) == parts
            assert extent % int(np.prod(lengths)) == 0
            assert lengths[-1] <= 16
    assert divisors(12) == (1, 2, 3, 4, 6, 12)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_random_programs_match_numpy(name):
    task = create(name, **SMALL[name])
    inputs = task.random_inputs(seed=1)
    expected = task.reference(*inputs)
    for program in sample_programs(task, 4, seed=3):
        outputs = [np.full(t.shape, np.nan, t.dtype) for t in task.outputs]
        program.compile()(*task.call_order(inputs, outputs))
        for out, ref in zip(outputs, expected):
            np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4, err_msg=str(program))


def test_sampling_is_deterministic_and_round_trips():
    task = create("matmul", **SMALL["matmul"])
    a = [p.to_json() for p in sample_programs(task, 6, seed=11)]
    b = [p.to_json() for p in sample_programs(task, 6, seed=11)]
    c = [p.to_json() for p in sample_programs(task, 6, seed=12)]
    assert a == b and a != c
    for text in a:
        assert Program.from_json(text).to_json() == text


def test_programs_use_the_annotations():
    task = create("matmul", M=256, N=256, K=256)
    programs = sample_programs(task, 12, seed=0)
    kinds = {type(s).__name__ for p in programs for s in p.steps}
    assert {"FollowSplitStep", "ComputeAtStep", "AutoUnrollStep", "AnnotateStep"} <= kinds
    annotations = {s.annotation for p in programs for s in p.steps if hasattr(s, "annotation")}
    assert {"parallel", "vectorize"} <= annotations


def test_sketches_cannot_be_lowered_before_annotation():
    task = create("matmul", M=16, N=16, K=16)
    sketch = generate_sketches(task)[0]
    with pytest.raises(ValueError, match="undecided"):
        Program(task, list(sketch.steps)).compile()


def test_annotator_knobs():
    task = create("matmul", M=64, N=64, K=64)
    narrow = Annotator(max_innermost_factor=4, unroll_steps=(16,))
    for p in sample_programs(task, 6, seed=2, annotator=narrow):
        for s in p.steps:
            if type(s).__name__ == "SplitStep":
                assert s.lengths[-1] <= 4
            if type(s).__name__ == "AutoUnrollStep":
                assert s.max_step == 16


def test_split_lengths_prefer_the_preferred_innermost_where_they_can():
    rng = np.random.default_rng(0)
    drawn = [sample_split_lengths(64, 2, rng, 64, (8, 16, 32), 1.0)[-1] for _ in range(50)]
    assert set(drawn) == {8, 16, 32}
    # None of them divides 56 within 4: drawn among all, as without a preference.
    drawn = {sample_split_lengths(56, 2, rng, 4, (8, 16), 1.0)[-1] for _ in range(50)}
    assert drawn == {1, 2, 4}


def _vectorized_extents(program) -> list[int]:
    return [program.state.stages[s.stage_id].iters[s.iter_id].extent for s in program.steps
            if getattr(s, "annotation", None) == "vectorize"]


def test_vectorized_tiles_are_mostly_whole_vectors():
    task = create("matmul", M=64, N=64, K=32)  # N = 64: innermost 1, 2, 4, 8, 16, 32 or 64
    lanes = task.target.vector_lanes

    def whole_share(annotator):
        # The first stage's vectorized loop; 0 where it is not vectorized (64 long).
        extents = [(_vectorized_extents(p) or [0])[0]
                   for p in sample_programs(task, 200, seed=4, annotator=annotator)]
        return np.mean([e > 0 and e % lanes == 0 for e in extents])

    assert whole_share(Annotator()) > 0.8  # 0.85 + 0.15 * 3/7 expected
    assert whole_share(Annotator(whole_vector_probability=0.0)) < 0.6  # 3/7 expected
    with pytest.raises(ValueError, match="whole_vector_probability"):
        Annotator(whole_vector_probability=1.5)


def test_vectorized_tiles_fill_their_lanes_where_no_whole_vector_fits():
    lanes = create("matmul", M=8, N=8, K=8).target.vector_lanes
    # N = 3.5 vectors (56 with 16 lanes): no whole vector divides it, 1/4, 1/2 and the
    # whole of it fill at least 7/8 of the lanes they take; shorter divisors do not.
    task = create("matmul", M=16, N=lanes * 7 // 2, K=16)
    filling = {lanes * 7 // 8, lanes * 7 // 4, lanes * 7 // 2}
    extents = [(_vectorized_extents(p) or [0])[0]
               for p in sample_programs(task, 200, seed=5, annotator=Annotator())]
    assert np.mean([e in filling for e in extents]) > 0.8


def test_decisions_replay_the_same_program_and_fix_choices():
    task = create("matmul", M=256, N=256, K=256)
    annotator = Annotator()
    for program in sample_programs(task, 8, seed=2):
        again = annotator.complete(program.sketch, np.random.default_rng(99), program.decisions)
        assert again.to_json() == program.to_json()
        assert set(program.decisions) == set(program.decision_spaces)
        for key, value in program.decisions.items():
            assert program.decision_spaces[key].is_valid(value), key
    program = sample_programs(task, 1, seed=0)[0]
    key = next(k for k in program.decisions if k.startswith("unroll/"))
    for value in (0, 512):
        fixed = annotator.complete(program.sketch, np.random.default_rng(1),
                                   {**program.decisions, key: value})
        assert fixed.decisions[key] == value
    split = next(k for k in program.decisions if k.startswith("split/"))
    bad = annotator.complete(program.sketch, np.random.default_rng(1),
                             {**program.decisions, split: (7, 7, 7)})
    assert program.decision_spaces[split].is_valid(bad.decisions[split])  # redrawn
