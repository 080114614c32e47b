"""The CostModel contract, checked on every registered model with synthetic features."""

import numpy as np
import pytest
from conftest import fast_model

from schedlab.cost_model import (
    COST_MODELS,
    CostModel,
    RandomCostModel,
    cost_model_class,
    create_cost_model,
)

NAMES = sorted(COST_MODELS)
LEARNED = ["mlp", "xgboost"]


@pytest.mark.parametrize("name", NAMES)
def test_update_then_predict_gives_one_float32_score_per_program(name, small_data):
    model = fast_model(name)
    model.update_features(small_data.features, small_data.throughputs, small_data.groups)
    scores = model.predict_features(small_data.features[:10])
    assert scores.shape == (10,) and scores.dtype == np.float32
    assert np.isfinite(scores).all()
    assert model.predict_features([]).shape == (0,)


@pytest.mark.parametrize("name", NAMES)
def test_untrained_model_scores_uniform_random_and_seeded(name, small_data):
    a = fast_model(name, seed=5).predict_features(small_data.features)
    b = fast_model(name, seed=5).predict_features(small_data.features)
    c = fast_model(name, seed=6).predict_features(small_data.features)
    assert a.shape == (len(small_data),) and a.dtype == np.float32
    assert ((a >= 0) & (a < 1)).all()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len(np.unique(a)) == len(a)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip_predicts_the_same(name, small_data, tmp_path):
    model = fast_model(name, seed=1)
    model.update_features(small_data.features[:64], small_data.throughputs[:64],
                          small_data.groups[:64])
    path = tmp_path / "model.bin"
    model.save(path)
    assert path.exists()  # exactly this name, no suffix added
    loaded = CostModel.load(path)
    assert type(loaded) is type(model) and loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.predict_features(small_data.features),
                                  model.predict_features(small_data.features))
    assert type(model).load(path).config() == model.config()


@pytest.mark.parametrize("name", LEARNED)
def test_loaded_model_continues_training_like_the_original(name, small_data, tmp_path):
    first, rest = slice(0, 48), slice(48, None)
    model = fast_model(name, seed=2)
    model.update_features(small_data.features[first], small_data.throughputs[first],
                          small_data.groups[first])
    model.save(tmp_path / "m.npz")
    loaded = CostModel.load(tmp_path / "m.npz")
    for m in (model, loaded):
        m.update_features(small_data.features[rest], small_data.throughputs[rest],
                          small_data.groups[rest])
    np.testing.assert_array_equal(loaded.predict_features(small_data.features),
                                  model.predict_features(small_data.features))
    assert len(loaded.data) == len(small_data)


@pytest.mark.parametrize("name", NAMES)
def test_untrained_save_load_keeps_the_random_stream(name, small_data, tmp_path):
    model = fast_model(name, seed=4)
    model.predict_features(small_data.features[:3])
    model.save(tmp_path / "m.npz")
    loaded = CostModel.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict_features(small_data.features),
                                  model.predict_features(small_data.features))


def test_load_of_another_kind_through_a_subclass_is_refused(tmp_path):
    RandomCostModel(seed=0).save(tmp_path / "r.npz")
    with pytest.raises(ValueError, match="random"):
        cost_model_class("xgboost").load(tmp_path / "r.npz")
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(ValueError):
        CostModel.load(tmp_path / "plain.npy")


@pytest.mark.parametrize("name", LEARNED)
def test_program_score_is_the_sum_of_its_rows(name, small_data):
    model = fast_model(name)
    model.update_features(small_data.features, small_data.throughputs, small_data.groups)
    a, b = small_data.features[0], small_data.features[1]
    separate = model.predict_features([a[i:i + 1] for i in range(len(a))]
                                      + [b[i:i + 1] for i in range(len(b))])
    together = model.predict_features([np.concatenate([a, b])])
    np.testing.assert_allclose(together[0], separate.sum(), rtol=1e-4, atol=1e-5)
    # A program with no stores scores 0.
    assert model.predict_features([np.zeros((0, a.shape[1]), np.float32)])[0] == 0


@pytest.mark.parametrize("name", LEARNED)
def test_score_of_a_program_does_not_depend_on_its_batch(name, small_data):
    model = fast_model(name)
    model.update_features(small_data.features, small_data.throughputs, small_data.groups)
    alone = model.predict_features(small_data.features[5:6])
    batched = model.predict_features(small_data.features)
    np.testing.assert_allclose(alone[0], batched[5], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_refused_with_a_named_problem(name, small_data):
    model = fast_model(name)
    f, t, g = small_data.features, small_data.throughputs, small_data.groups
    with pytest.raises(ValueError, match="must match"):
        model.update_features(f[:5], t[:4], g[:5])
    with pytest.raises(ValueError, match="must match"):
        model.update_features(f[:5], t[:5], g[:6])
    with pytest.raises(ValueError, match="throughputs"):
        model.update_features(f[:2], [1.0, -1.0], g[:2])
    with pytest.raises(ValueError, match="throughputs"):
        model.update_features(f[:2], [1.0, np.nan], g[:2])
    with pytest.raises(ValueError, match=r"features\[1\]"):
        model.update_features([f[0], f[1][:, :3]], t[:2], g[:2])
    with pytest.raises(ValueError, match=r"features\[0\]"):
        model.predict_features([np.zeros(4, np.float32)])
    with pytest.raises(ValueError, match="NaN"):
        model.predict_features([np.full((1, 8), np.nan, np.float32)])
    with pytest.raises(TypeError, match="groups"):
        model.update_features(f[:2], t[:2], [1, 2])
    with pytest.raises(TypeError, match="Program"):
        model.predict(["not a program"])
    with pytest.raises(ValueError, match="results"):
        model.update([], [object()])


@pytest.mark.parametrize("name", LEARNED)
def test_features_of_another_width_than_the_training_data_are_refused(name, small_data):
    model = fast_model(name)
    model.update_features(small_data.features, small_data.throughputs, small_data.groups)
    wider = [np.zeros((2, 9), np.float32)]
    with pytest.raises(ValueError, match="trained on 8"):
        model.predict_features(wider)
    with pytest.raises(ValueError, match="trained on 8"):
        model.update_features(wider, [1.0], ["x"])


@pytest.mark.parametrize("name", LEARNED)
def test_failed_programs_count_as_zero_throughput_and_empty_updates_do_nothing(name,
                                                                               small_data):
    model = fast_model(name)
    model.update_features([], [], [])
    assert not model.trained
    throughputs = small_data.throughputs.copy()
    throughputs[:10] = 0.0
    model.update_features(small_data.features, throughputs, small_data.groups)
    assert model.trained and len(model.data) == len(small_data)
    normalized = model.data.normalized_throughputs()
    assert (normalized[:10] == 0).all() and normalized.max() == 1.0


def test_registry_builds_by_name_and_lists_valid_names():
    assert isinstance(create_cost_model("random", seed=3), RandomCostModel)
    model = RandomCostModel()
    assert create_cost_model(model) is model
    with pytest.raises(TypeError):
        create_cost_model(model, seed=1)
    with pytest.raises(ValueError, match="mlp, random, xgboost"):
        create_cost_model("gbdt")
    for name in NAMES:
        assert cost_model_class(name).name == name


def test_random_model_records_nothing_and_needs_no_features(small_data):
    model = RandomCostModel(seed=0)
    model.update_features(small_data.features, small_data.throughputs, small_data.groups)
    assert not model.trained and len(model.data) == 0
    assert model.uses_features is False
    assert model.predict([]).shape == (0,)
