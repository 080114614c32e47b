import json
import math

import numpy as np
import pytest

from schedlab import Program
from schedlab.measure import (
    BuildResult,
    ErrorKind,
    LocalRunner,
    MeasureResult,
    build_program,
    compare_outputs,
    create_runner,
)
from schedlab.measure.runner import as_measure_inputs
from schedlab.testing import faults


def test_result_statistics():
    result = MeasureResult(costs=[3e-3, 1e-3, 2e-3])
    assert result.ok
    assert result.median == pytest.approx(2e-3)
    assert result.mean == pytest.approx(2e-3)
    assert result.gflops(2_000_000) == pytest.approx(1.0)


def test_failed_result_has_infinite_cost():
    result = MeasureResult(error_kind="timeout", error_msg="too slow")
    assert result.error_kind is ErrorKind.TIMEOUT
    assert not result.ok
    assert math.isinf(result.median) and math.isinf(result.mean)
    assert result.gflops(10**9) == 0.0


def test_result_round_trips_through_json():
    result = MeasureResult(costs=(1e-3, 2e-3), build_s=0.1, run_s=0.5)
    again = MeasureResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result
    assert json.loads(json.dumps(result.to_dict()))["error_kind"] == "none"


def test_compare_outputs_reports_the_first_difference():
    ref = np.arange(6, dtype="float32").reshape(2, 3)
    assert compare_outputs([ref.copy()], (ref,), rtol=1e-3, atol=1e-3) is None
    out = ref.copy()
    out[1, 2] += 1
    msg = compare_outputs([out], ref, rtol=1e-3, atol=1e-3)
    assert "1 of 6" in msg and "(1, 2)" in msg
    unwritten = np.full_like(ref, np.nan)
    assert compare_outputs([unwritten], ref, rtol=1e-3, atol=1e-3) is not None
    assert "shape" in compare_outputs([ref[:1]], ref, rtol=1e-3, atol=1e-3)


def test_build_program_in_process():
    program = faults.parallel_matmul_program(faults.matmul_task(16))
    result, kernel = build_program(program.to_json(), task=program.task)
    assert isinstance(result, BuildResult) and result.ok and kernel is not None
    assert result.build_s > 0

    result, kernel = build_program("{not json", task=program.task)
    assert result.error_kind is ErrorKind.INVALID_PROGRAM and kernel is None

    record = json.loads(program.to_json())
    record["steps"][0][2] = 99  # split an iterator that does not exist
    result, kernel = build_program(json.dumps(record), task=program.task)
    assert result.error_kind is ErrorKind.INVALID_PROGRAM
    assert "iterator 99" in result.error_msg


def test_runner_registry():
    runner = create_runner("local", seed=3)
    assert isinstance(runner, LocalRunner) and runner.seed == 3
    assert runner.worker_pid is None  # no process until something is measured
    assert create_runner(runner) is runner
    runner.close()
    with pytest.raises(ValueError, match="local"):
        create_runner("nonexistent")


def test_runner_rejects_non_programs():
    program = Program(faults.matmul_task(8), [])
    with pytest.raises(TypeError, match="candidate 1"):
        as_measure_inputs([program, "split(...)"])
