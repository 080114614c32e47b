"""GPU sketches and programs: structure and the target's limits, checked without a GPU."""

import pytest

from schedlab import Program
from schedlab.annotate import verify_gpu
from schedlab.ir.steps import AnnotateStep, FuseStep, SplitStep
from schedlab.space import generate_sketches, sample_programs
from schedlab.workloads import create, list_workloads

# Tiled reductions get a register cache, shared-memory copies of their inputs and one
# sketch fused at level 3; row reductions reduce across threads.
EXPECTED_GPU = {name: 1 for name in list_workloads()}


@pytest.mark.parametrize("name", list_workloads())
def test_gpu_programs_pass_the_verifier(name):
    task = create(name, target="cuda")
    assert len(generate_sketches(task)) == EXPECTED_GPU[name]
    for program in sample_programs(task, 3, seed=5):
        assert verify_gpu(program) == []
        kinds = {s.annotation for s in program.steps if isinstance(s, AnnotateStep)}
        assert "blockIdx.x" in kinds and ("threadIdx.x" in kinds)


def test_tiled_gpu_sketch_stages_inputs_in_shared_memory():
    sketch = generate_sketches(create("matmul", M=256, N=256, K=256, target="cuda"))[0]
    names = [s.name for s in sketch.state.stages]
    assert names == ["A", "A.shared", "B", "B.shared", "C.local", "C"]
    assert sketch.state.stage("A.shared").attach.target == "C.local"


def test_row_reduction_reduces_across_threads():
    sketch = generate_sketches(create("softmax", M=64, N=4096, target="cuda"))[0]
    row_max = sketch.state.stage("row_max")
    assert any(it.annotation == "threadIdx.x" and it.kind == "reduce" for it in row_max.iters)


def test_verifier_names_the_broken_limit():
    task = create("elementwise_chain", M=64, N=64, target="cuda")
    unbound = Program(task, [])
    assert any("block" in p for p in verify_gpu(unbound))
    sid = unbound.state.stage_index("tanh")
    too_many = Program(task, [FuseStep(sid, (0, 1)), SplitStep(sid, 0, (2048,)),
                              AnnotateStep(sid, 0, "blockIdx.x"),
                              AnnotateStep(sid, 1, "threadIdx.x")])
    assert any("2048 threads per block exceed 1024" in p for p in verify_gpu(too_many))
