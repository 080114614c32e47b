"""The JAX MLP: it learns a known ranking, is deterministic, and its pieces are pure."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from schedlab.cost_model import MLPCostModel, pairwise_accuracy
from schedlab.cost_model.mlp import (
    Batch,
    init_params,
    lambdarank_loss,
    program_scores,
    throughput_mse_loss,
    train_step,
)
from schedlab.testing.synthetic_features import synthetic_dataset


@pytest.fixture(scope="module")
def ranking_data():
    train = synthetic_dataset(600, n_groups=4, n_features=8, seed=0)
    held_out = synthetic_dataset(300, n_groups=3, n_features=8, seed=1, group_offset=10)
    return train, held_out


@pytest.mark.parametrize("loss", ["throughput_mse", "lambdarank"])
def test_mlp_learns_a_synthetic_ranking_of_unseen_tasks(loss, ranking_data):
    train, held_out = ranking_data
    model = MLPCostModel(loss=loss, hidden=(32, 32), epochs=30, batch_size=64, seed=0)
    model.update_features(train.features, train.throughputs, train.groups)
    scores = model.predict_features(held_out.features)
    assert pairwise_accuracy(scores, held_out.throughputs, held_out.groups) > 0.8
    assert model.last_losses[-1] < model.last_losses[0]


def test_same_seed_same_model_other_seed_other_model(ranking_data):
    train, held_out = ranking_data
    part = train.subset(range(200))

    def scores(seed):
        model = MLPCostModel(hidden=(32, 32), epochs=2, batch_size=64, seed=seed)
        model.update_features(part.features, part.throughputs, part.groups)
        model.update_features(part.features[:50], part.throughputs[:50], part.groups[:50])
        return model.predict_features(held_out.features)

    np.testing.assert_array_equal(scores(7), scores(7))
    assert not np.allclose(scores(7), scores(8))


def test_update_warm_starts_from_the_current_weights(ranking_data):
    train, _ = ranking_data
    part = train.subset(range(128))
    model = MLPCostModel(hidden=(32, 32), epochs=4, batch_size=64, seed=0)
    model.update_features(part.features, part.throughputs, part.groups)
    before = jax.tree_util.tree_map(np.asarray, model._params)
    losses_first = list(model.last_losses)
    model.update_features(part.features[:8], part.throughputs[:8], part.groups[:8])
    after = model._params
    # Changed by training, but close to where it was: not re-initialised.
    assert not np.array_equal(before[0][0], np.asarray(after[0][0]))
    assert np.abs(before[0][0] - np.asarray(after[0][0])).max() < 0.1
    assert model.last_losses[0] < losses_first[0]


def test_one_epoch_on_tiny_data_changes_the_weights_and_gives_finite_losses():
    data = synthetic_dataset(5, n_groups=2, n_features=8, seed=0)
    model = MLPCostModel(hidden=(32, 32), epochs=1, batch_size=4, seed=0)
    model.update_features(data.features, data.throughputs, data.groups)
    assert len(model.last_losses) == 1 and np.isfinite(model.last_losses[0])
    assert np.isfinite(model.predict_features(data.features)).all()


def _batch(rows_per_program, targets, groups, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    counts = np.asarray(rows_per_program)
    total = int(counts.sum())
    rows = np.zeros((total + 3, n_features), np.float32)  # 3 padding rows
    rows[:total] = rng.normal(size=(total, n_features))
    row_program = np.full(total + 3, len(counts) - 1, np.int32)
    row_program[:total] = np.repeat(np.arange(len(counts)), counts)
    row_mask = np.r_[np.ones(total), np.zeros(3)].astype(np.float32)
    return Batch(jnp.asarray(rows), jnp.asarray(row_program), jnp.asarray(row_mask),
                 jnp.asarray(targets, jnp.float32), jnp.asarray(groups, jnp.int32),
                 jnp.ones(len(counts), jnp.float32))


def test_padding_rows_do_not_count_in_program_scores():
    batch = _batch([2, 1, 3], [1.0, 0.5, 0.2], [0, 0, 0])
    params = init_params(jax.random.PRNGKey(0), 3, (8,))
    garbage = batch.rows.at[-3:].set(100.0)
    scores = jax.jit(program_scores, static_argnums=4)
    clean = scores(params, batch.rows, batch.row_program, batch.row_mask, 3)
    dirty = scores(params, garbage, batch.row_program, batch.row_mask, 3)
    np.testing.assert_allclose(clean, dirty)


def test_lambdarank_prefers_the_right_order_and_ignores_other_groups():
    batch = _batch([1, 1, 1, 1], [1.0, 0.6, 0.3, 0.1], [0, 0, 0, 1])
    loss = jax.jit(lambdarank_loss)
    right = jnp.array([3.0, 2.0, 1.0, -5.0])
    wrong = jnp.array([1.0, 2.0, 3.0, -5.0])
    assert loss(right, batch) < loss(wrong, batch)
    # The last program is alone in its group: its score does not matter.
    moved = right.at[3].set(50.0)
    np.testing.assert_allclose(loss(moved, batch), loss(right, batch))


def test_throughput_mse_is_zero_at_the_targets_and_weights_fast_programs_more():
    batch = _batch([1, 1], [1.0, 0.1], [0, 0])
    loss = jax.jit(throughput_mse_loss, static_argnums=2)
    assert loss(batch.target, batch, 0.05) == 0
    off_fast = loss(jnp.array([0.8, 0.1]), batch, 0.05)
    off_slow = loss(jnp.array([1.0, 0.3]), batch, 0.05)
    assert off_fast > off_slow


@pytest.mark.parametrize("loss", ["throughput_mse", "lambdarank"])
def test_train_step_lowers_the_loss_on_a_fixed_batch(loss):
    batch = _batch([2, 1, 3, 1, 2], [1.0, 0.5, 0.2, 0.7, 0.1], [0, 0, 0, 1, 1])
    params = init_params(jax.random.PRNGKey(1), 3, (16,))
    from schedlab.cost_model.mlp import _optimizer

    opt_state = _optimizer(1e-2, 0.0).init(params)
    losses = []
    for _ in range(30):
        params, opt_state, value = train_step(params, opt_state, batch, loss=loss,
                                              learning_rate=1e-2, weight_decay=0.0,
                                              min_weight=0.05)
        losses.append(float(value))
    assert losses[-1] < losses[0]


def test_constructor_refuses_bad_options():
    with pytest.raises(ValueError, match="throughput_mse, lambdarank"):
        MLPCostModel(loss="hinge")
    with pytest.raises(ValueError, match="hidden"):
        MLPCostModel(hidden=())
    with pytest.raises(ValueError, match="epochs"):
        MLPCostModel(epochs=0)
    with pytest.raises(ValueError, match="learning_rate"):
        MLPCostModel(learning_rate=-1.0)
    with pytest.raises(TypeError, match="seed"):
        MLPCostModel(seed="0")


def test_max_steps_caps_the_epochs_of_an_update_but_one_always_runs(ranking_data):
    train, _ = ranking_data
    part = train.subset(range(256))
    model = MLPCostModel(hidden=(32, 32), epochs=10, batch_size=64, max_steps=8, seed=0)
    model.update_features(part.features, part.throughputs, part.groups)
    assert len(model.last_losses) == 2  # 4 steps per epoch
    model = MLPCostModel(hidden=(32, 32), epochs=10, batch_size=64, max_steps=1, seed=0)
    model.update_features(part.features, part.throughputs, part.groups)
    assert len(model.last_losses) == 1


@pytest.mark.parametrize("clip", [True, False])
def test_features_past_the_training_range_score_as_its_edge_when_clipping(clip, ranking_data,
                                                                          tmp_path):
    train, _ = ranking_data
    part = train.subset(range(128))
    model = MLPCostModel(hidden=(32, 32), epochs=4, batch_size=64, clip_features=clip, seed=0)
    model.update_features(part.features, part.throughputs, part.groups)
    rows = np.concatenate(part.features)
    edge = part.features[0].copy()
    edge[:, 0] = rows[:, 0].max()
    beyond = edge.copy()
    beyond[:, 0] += 100 * (rows[:, 0].std() + 1)
    scores = model.predict_features([edge, beyond])
    assert (scores[0] == scores[1]) == clip
    # The range is restored from the saved training rows.
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(
        MLPCostModel.load(tmp_path / "m.npz").predict_features([edge, beyond]), scores)
