import numpy as np
import pytest

from schedlab.measure import MeasureConfig, time_kernel
from schedlab.testing import faults


def test_costs_are_positive_one_per_repeat():
    calls = []
    costs = time_kernel(lambda: calls.append(1), (), MeasureConfig(repeat=4, min_repeat_ms=2))
    assert len(costs) == 4
    assert all(c > 0 for c in costs)
    # number grows until a measurement lasts min_repeat_ms, so a trivial callable runs often
    assert len(calls) > 1 + 4


def test_number_stays_fixed_without_min_repeat_time():
    calls = []
    config = MeasureConfig(number=3, repeat=2, warmup=2, min_repeat_ms=0)
    time_kernel(lambda: calls.append(1), (), config)
    assert len(calls) == 2 + 3 * 2


def test_a_native_loop_makes_the_timed_calls():
    calls, loops = [], []
    config = MeasureConfig(number=3, repeat=2, warmup=2, min_repeat_ms=0)
    time_kernel(lambda: calls.append(1), (), config, loop=loops.append)
    assert len(calls) == 2  # the warm-up only
    assert loops == [3, 3]


def test_flush_cache_times_each_call_alone():
    calls = []
    config = MeasureConfig(number=2, repeat=3, warmup=1, min_repeat_ms=100, flush_cache=True)
    costs = time_kernel(lambda: calls.append(1), (), config)
    assert len(costs) == 3 and all(c > 0 for c in costs)
    assert len(calls) == 1 + 2 * 3


def test_times_a_compiled_kernel_in_process():
    program = faults.parallel_matmul_program(faults.matmul_task(32))
    task = program.task
    inputs, outputs = task.random_inputs(), task.empty_outputs()
    kernel, args = program.compile(), task.call_order(inputs, outputs)
    for loop in (None, lambda number: kernel.repeat(number, *args)):
        outputs[0][...] = 0
        costs = time_kernel(kernel, args, MeasureConfig(repeat=2, min_repeat_ms=5), loop=loop)
        assert len(costs) == 2 and all(c > 0 for c in costs)
        np.testing.assert_allclose(outputs[0], inputs[0] @ inputs[1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("field, value", [
    ("number", 0), ("repeat", 0), ("warmup", -1), ("min_repeat_ms", -1.0),
    ("timeout_s", 0), ("rtol", -1e-3), ("repeat", 2.5),
])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        MeasureConfig(**{field: value})


def test_config_is_keyword_only_and_frozen():
    with pytest.raises(TypeError):
        MeasureConfig(1, 3)
    config = MeasureConfig()
    assert (config.number, config.repeat, config.min_repeat_ms, config.timeout_s) == (
        1, 3, 100.0, 10.0)
    with pytest.raises(AttributeError):
        config.repeat = 5
