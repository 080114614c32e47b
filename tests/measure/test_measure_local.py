"""LocalRunner against real measuring processes: each test starts at most a few."""

import json
import shutil
import threading

import pytest

from schedlab import Program
from schedlab.measure import (
    ErrorKind,
    LocalRunner,
    MeasureConfig,
    MeasureInput,
    measure_program,
)
from schedlab.testing import faults

CONFIG = MeasureConfig(repeat=2, min_repeat_ms=5, timeout_s=2.0)


@pytest.fixture(scope="module")
def runner():
    with LocalRunner(config=CONFIG, settle_s=0) as runner:
        yield runner


@pytest.fixture(scope="module")
def good():
    return faults.parallel_matmul_program(faults.matmul_task(48))


def assert_ok(result):
    assert result.ok, result.error_msg
    assert len(result.costs) == CONFIG.repeat
    assert all(c > 0 for c in result.costs)
    assert result.build_s > 0 and result.run_s > 0


def test_correct_program_is_measured(runner, good):
    (result,) = runner.run([good])
    assert_ok(result)
    assert result.error_kind is ErrorKind.NONE and result.error_msg == ""


def test_process_is_reused_while_healthy(runner, good):
    runner.run([good])
    pid = runner.worker_pid
    results = runner.run([good, Program(good.task, [])])
    assert runner.worker_pid == pid
    for result in results:
        assert_ok(result)


def test_wrong_result_is_reported(runner, good):
    wrong, after = runner.run([faults.faulty_program("wrong"), good])
    assert wrong.error_kind is ErrorKind.WRONG_RESULT
    assert "differ" in wrong.error_msg and not wrong.costs
    assert_ok(after)


def test_segfault_is_a_runtime_error_and_the_batch_goes_on(runner, good):
    runner.run([good])
    pid = runner.worker_pid
    crashed, after = runner.run([faults.faulty_program("crashing"), good])
    assert crashed.error_kind is ErrorKind.RUNTIME_ERROR
    assert "SIGSEGV" in crashed.error_msg
    assert_ok(after)
    assert runner.worker_pid != pid


def test_hang_is_a_timeout_and_the_batch_goes_on(runner, good):
    hung, after = runner.run([faults.faulty_program("hanging"), good])
    assert hung.error_kind is ErrorKind.TIMEOUT
    assert "2 s" in hung.error_msg
    assert_ok(after)


def test_invalid_records_are_results_not_exceptions(runner, good):
    record = json.loads(good.to_json())
    record["steps"].append(["annotate", 2, 1, "no_such_annotation"])
    bad_step = MeasureInput(task=good.task, program_json=json.dumps(record))
    not_json = MeasureInput(task=good.task, program_json="[[split")
    results = runner.run([bad_step, not_json, good])
    assert [r.error_kind for r in results[:2]] == [ErrorKind.INVALID_PROGRAM] * 2
    assert "no_such_annotation" in results[0].error_msg
    assert_ok(results[2])


def test_user_task_with_a_lambda_reference(runner):
    pytest.importorskip("cloudpickle")
    task = faults.matmul_task(24, name="user_mm", reference=lambda a, b: (a @ b,))
    (result,) = runner.run([Program(task, [])])
    assert_ok(result)


def test_task_that_cannot_be_sent_is_a_build_error(runner, good):
    lock = threading.Lock()
    task = faults.matmul_task(8, name="unpicklable", reference=lambda a, b: (lock, a @ b)[1:])
    failed, after = runner.run([Program(task, []), good])
    assert failed.error_kind is ErrorKind.BUILD_ERROR
    assert "cannot be sent" in failed.error_msg
    assert_ok(after)


def test_gpu_task_is_refused_by_the_cpu_runner(runner):
    task = faults.matmul_task(8, target="cuda")
    (result,) = runner.run([MeasureInput(task=task, program_json=Program(task, []).to_json())])
    assert result.error_kind is ErrorKind.BUILD_ERROR and "llvm" in result.error_msg


def test_measure_program_without_correctness_check():
    config = MeasureConfig(repeat=1, min_repeat_ms=1, check_correctness=False)
    result = measure_program(faults.faulty_program("wrong"), config)
    assert result.ok and result.costs[0] > 0


def test_closed_runner_refuses_work(good):
    runner = LocalRunner(config=CONFIG)
    runner.close()
    with pytest.raises(RuntimeError):
        runner.run([good])


@pytest.mark.parametrize("python", ["/nonexistent/python", shutil.which("false") or "false"])
def test_a_process_that_cannot_start_fails_the_batch_without_raising(good, python):
    with LocalRunner(config=CONFIG, python=python, startup_timeout_s=5) as runner:
        results = runner.run([good, good])
    assert [r.error_kind for r in results] == [ErrorKind.RUNTIME_ERROR] * 2
    assert "did not start" in results[0].error_msg


@pytest.mark.parametrize("check", [True, False])
def test_candidates_far_slower_than_the_best_get_one_timed_call(good, check):
    # A ratio this small makes every candidate "far slower" once a best is known.
    config = MeasureConfig(repeat=3, min_repeat_ms=1, cutoff_ratio=1e-9,
                           check_correctness=check)
    with LocalRunner(config=config, settle_s=0) as runner:
        first, second = runner.run([good, good])
        other_task = Program(faults.matmul_task(16), [])
        (third,) = runner.run([other_task])
    assert len(first.costs) == 3  # nothing to compare with yet
    assert second.ok and len(second.costs) == 1 and second.costs[0] > 0
    assert len(third.costs) == 3  # each task has its own best


def test_no_cutoff_by_default(runner, good):
    assert CONFIG.cutoff_ratio == 0
    for result in runner.run([good, good]):
        assert_ok(result)


def test_cutoff_ratio_must_not_be_negative():
    with pytest.raises(ValueError, match="cutoff_ratio"):
        MeasureConfig(cutoff_ratio=-1)


@pytest.mark.parametrize("build_workers", [0, 2])
def test_batches_built_in_the_measuring_process_or_a_build_pool(good, build_workers):
    bad = MeasureInput(task=good.task, program_json='{"version": 1, "steps": [["nope"]]}')
    with LocalRunner(config=CONFIG, settle_s=0, build_workers=build_workers) as runner:
        first, invalid, wrong, last = runner.run(
            [good, bad, faults.faulty_program("wrong"), good])
        assert (runner.last_build_s is None) == (build_workers == 0)
    assert_ok(first)
    assert_ok(last)
    assert invalid.error_kind is ErrorKind.INVALID_PROGRAM
    assert wrong.error_kind is ErrorKind.WRONG_RESULT


@pytest.mark.parametrize("fault", ["crashing_unpickle", "hanging_unpickle"])
def test_a_build_that_crashes_or_hangs_its_pool_process_ends_only_its_candidate(good, fault):
    config = MeasureConfig(repeat=1, min_repeat_ms=1, timeout_s=2.0)
    with LocalRunner(config=config, settle_s=0, build_workers=2) as runner:
        before, failed, after = runner.run([good, faults.faulty_program(fault), good])
        assert failed.error_kind is ErrorKind.TIMEOUT and "build" in failed.error_msg
        assert before.ok and after.ok  # after: built by the measuring process instead
        (again,) = runner.run([good])  # the runner starts a new pool
        assert again.ok
