"""The XGBoost pack-sum model: it learns a known ranking and is deterministic."""

import numpy as np
import pytest

from schedlab.cost_model import XGBoostCostModel, pairwise_accuracy
from schedlab.testing.synthetic_features import synthetic_dataset


def test_xgboost_learns_a_synthetic_ranking_of_unseen_tasks():
    train = synthetic_dataset(600, n_groups=4, n_features=8, seed=0)
    held_out = synthetic_dataset(300, n_groups=3, n_features=8, seed=1, group_offset=10)
    model = XGBoostCostModel(num_rounds=100, seed=0)
    model.update_features(train.features, train.throughputs, train.groups)
    scores = model.predict_features(held_out.features)
    assert pairwise_accuracy(scores, held_out.throughputs, held_out.groups) > 0.8


def test_pack_sum_fit_matches_normalised_throughput_on_training_data():
    data = synthetic_dataset(200, n_groups=2, n_features=6, seed=2)
    model = XGBoostCostModel(num_rounds=100, seed=0)
    model.update_features(data.features, data.throughputs, data.groups)
    target = model.data.normalized_throughputs()
    predicted = model.predict_features(data.features)
    # The objective drives each program's row sum towards its normalised throughput.
    assert np.abs(predicted - target).mean() < 0.2 * target.mean()


def test_same_seed_same_model():
    data = synthetic_dataset(150, n_groups=3, n_features=6, seed=4, noise=0.2)

    def scores(seed):
        model = XGBoostCostModel(num_rounds=30, subsample=0.7, seed=seed)
        model.update_features(data.features, data.throughputs, data.groups)
        return model.predict_features(data.features)

    np.testing.assert_array_equal(scores(3), scores(3))
    assert not np.array_equal(scores(3), scores(4))


def test_one_round_on_tiny_data():
    data = synthetic_dataset(3, n_groups=1, n_features=4, seed=0)
    model = XGBoostCostModel(num_rounds=1)
    model.update_features(data.features, data.throughputs, data.groups)
    assert np.isfinite(model.predict_features(data.features)).all()


def test_constructor_refuses_bad_options():
    with pytest.raises(ValueError, match="num_rounds"):
        XGBoostCostModel(num_rounds=0)
    with pytest.raises(ValueError, match="subsample"):
        XGBoostCostModel(subsample=1.5)
    with pytest.raises(ValueError, match="nthread"):
        XGBoostCostModel(nthread=0)
