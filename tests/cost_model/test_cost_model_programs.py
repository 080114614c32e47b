"""The program-level interface: features extracted, throughputs from measure results."""

import numpy as np
import pytest
from conftest import fast_model

from schedlab import workloads
from schedlab.cost_model import COST_MODELS, CostModel, measured_throughputs
from schedlab.features import FEATURE_NAMES, extract_batch
from schedlab.measure import ErrorKind, MeasureResult
from schedlab.space import sample_programs


@pytest.fixture(scope="module")
def programs():
    task = workloads.create("matmul", M=48, N=40, K=24)
    return sample_programs(task, 12, seed=0)


def _results(n):
    # Given timings, not measured ones: these tests check bookkeeping, not speed.
    results = [MeasureResult(costs=(1e-4 * (i + 1), 1.2e-4 * (i + 1))) for i in range(n)]
    results[-1] = MeasureResult(error_kind=ErrorKind.WRONG_RESULT, error_msg="mismatch")
    return results


def test_measured_throughputs_are_flops_over_median_and_zero_for_failures(programs):
    results = _results(len(programs))
    throughputs, groups = measured_throughputs(programs, results)
    flops = programs[0].task.flop_count
    assert throughputs[0] == pytest.approx(flops / 1.1e-4)
    assert throughputs[-1] == 0.0
    assert groups == [programs[0].task.workload_key] * len(programs)
    with pytest.raises(ValueError, match="12 programs but 11 results"):
        measured_throughputs(programs, results[:-1])
    with pytest.raises(TypeError, match="MeasureResult"):
        measured_throughputs(programs[:1], [{"costs": [1.0]}])


@pytest.mark.parametrize("name", sorted(COST_MODELS))
def test_update_and_predict_on_programs_match_the_feature_interface(name, programs, tmp_path):
    model = fast_model(name, seed=0)
    twin = fast_model(name, seed=0)
    results = _results(len(programs))
    model.update(programs, results)
    throughputs, groups = measured_throughputs(programs, results)
    twin.update_features(extract_batch(programs), throughputs, groups)
    scores = model.predict(programs)
    assert scores.shape == (len(programs),) and scores.dtype == np.float32
    np.testing.assert_array_equal(scores, twin.predict_features(extract_batch(programs)))
    if model.uses_features:
        assert model.trained and model.data.n_features == len(FEATURE_NAMES)
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(CostModel.load(tmp_path / "m.npz").predict(programs),
                                  model.predict(programs))
