"""Random valid schedules of many computations, compiled and compared with numpy.

``SCHEDLAB_DIFF_PROGRAMS`` sets the total number of random programs (default 150, spread over
the small tasks and every catalogue workload); ``SCHEDLAB_DIFF_PROGRAMS=2000 pytest -m slow``
or ``experiments/differential.py --programs 2000`` is the large run. Programs run in worker
processes, so a crash fails the test instead of killing pytest.
"""

import json
import math
import os

import numpy as np
import pytest

import schedlab
from schedlab.ir.lower import LoweringError
from schedlab.testing.differential import compare, run_differential
from schedlab.testing.random_schedules import (
    GenerationStats,
    NoProgramError,
    random_program,
    random_steps,
)
from schedlab.testing.small_tasks import SMALL_TASKS, catalogue_tasks, small_tasks

TASKS = small_tasks() + catalogue_tasks()
PROGRAMS = int(os.environ.get("SCHEDLAB_DIFF_PROGRAMS", "150"))


def _run(programs: int, seed: int):
    per_task = max(1, math.ceil(programs / len(TASKS)))
    report = run_differential(TASKS, per_task, seed=seed, jobs=2)
    total = report.total
    assert total["generated"] + total["no_program"] == per_task * len(TASKS)
    assert report.ok, f"\n{report.table()}\n\n" + "\n\n".join(report.failures[:5])
    assert total["matched"] == total["compiled"] == total["generated"]
    return report


def test_random_programs_match_numpy():
    _run(PROGRAMS, seed=0)


@pytest.mark.slow
@pytest.mark.skipif(PROGRAMS < 1000, reason="set SCHEDLAB_DIFF_PROGRAMS=2000 for the large run")
def test_many_random_programs_match_numpy():
    _run(PROGRAMS, seed=1)


# -- the generator itself -------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SMALL_TASKS))
def test_random_steps_always_replay(name):
    task = SMALL_TASKS[name]()
    for seed in range(25):
        steps = random_steps(task, seed)
        program = schedlab.Program(task, steps)  # raises if a step does not apply
        assert program.steps == tuple(steps)


def test_random_steps_are_deterministic():
    task = SMALL_TASKS["conv2d_pad"]()
    assert random_steps(task, 7) == random_steps(task, 7)
    assert random_steps(task, np.random.default_rng(3)) == random_steps(task, 3)
    assert any(random_steps(task, s) != random_steps(task, 7) for s in range(3))


def test_random_steps_cover_every_step_kind():
    kinds, annotations, non_dividing = set(), set(), 0
    for task in small_tasks():
        for seed in range(15):
            state = schedlab.Program(task, []).state
            for step in random_steps(task, seed):
                kinds.add(step.kind)
                if step.kind == "annotate":
                    annotations.add(step.annotation)
                if step.kind == "split":
                    extent = state.stages[step.stage_id].iters[step.iter_id].extent
                    non_dividing += extent % math.prod(step.lengths) != 0
                state = step.apply(state)
    assert kinds == {"split", "fuse", "reorder", "annotate", "auto_unroll", "compute_at",
                     "compute_root", "compute_inline", "cache_write", "cache_read", "rfactor"}
    assert annotations == {"parallel", "vectorize", "unroll"}
    assert non_dividing > 20


def test_max_steps_bounds_the_loop_transforms():
    task = SMALL_TASKS["matmul_37x29x19"]()
    for seed in range(10):
        steps = random_steps(task, seed, max_steps=0, structural=False)
        assert {s.kind for s in steps} <= {"annotate", "auto_unroll", "fuse", "compute_inline"}


def test_random_program_lowers_and_counts_dropped_candidates():
    stats = GenerationStats()
    for name in ("softmax_7x23", "matmul_bias_relu", "conv2d_pad"):
        task = SMALL_TASKS[name]()
        for seed in range(20):
            program = random_program(task, seed, stats=stats)
            assert program.func is not None
    assert stats.programs == 60
    assert stats.lowering_failures == sum(stats.failure_reasons.values())


def test_random_program_gives_up_with_no_program_error(monkeypatch):
    import schedlab.testing.random_schedules as rs

    def refuse(state, name="kernel"):
        raise LoweringError("never")

    monkeypatch.setattr(schedlab.program, "lower", refuse)
    stats = GenerationStats()
    with pytest.raises(NoProgramError, match="no random program"):
        rs.random_program(SMALL_TASKS["matmul_37x29x19"](), 0, max_attempts=3, stats=stats)
    assert stats.lowering_failures == 3 and stats.failure_reasons["never"] == 3


def test_random_programs_survive_a_json_round_trip():
    for task in small_tasks():
        for seed in range(3):
            program = random_program(task, seed)
            text = json.dumps(json.loads(program.to_json()))  # through plain JSON data
            again = schedlab.Program.from_json(text, task=task)
            assert again.steps == program.steps and again.loop_ir() == program.loop_ir()


def test_catalogue_tasks_are_small_and_rebuildable():
    for task in catalogue_tasks():
        assert task.workload is not None
        assert schedlab.workloads.create(task.workload[0], **task.workload[1]).name == task.name


def test_compare_judges_errors_relative_to_the_magnitude():
    ref = np.array([1000.0, 1.0, 0.0], np.float32)
    assert compare(ref + np.float32(0.05), ref)[0]  # 5e-5 of the largest magnitude
    assert not compare(ref + np.array([0, 0.5, 0], np.float32), ref)[0]
    assert not compare(np.array([np.nan, 1, 0], np.float32), ref)[0]  # an unwritten element
    inf = np.array([-np.inf, 1.0], np.float32)
    assert compare(inf.copy(), inf)[0] and not compare(np.array([np.inf, 1.0]), inf)[0]
    ints = np.array([3, -4], np.int32)
    assert compare(ints.copy(), ints)[0] and not compare(ints + 1, ints)[0]


def test_a_program_over_the_time_limit_is_killed_and_counted():
    task = SMALL_TASKS["matmul_37x29x19"]()
    report = run_differential([task], 2, timeout_s=0.01)
    assert report.total["timed_out"] == 2 and not report.ok
    assert report.failures[0].startswith("seed 0: timed_out\ntask 'matmul_37x29x19', steps:")
