"""Small, fast model settings shared by the cost-model tests (one jit compile per shape)."""

import pytest

from schedlab.cost_model import create_cost_model
from schedlab.testing.synthetic_features import synthetic_dataset

FAST_OPTIONS = {
    "mlp": dict(hidden=(32, 32), epochs=3, batch_size=64),
    "xgboost": dict(num_rounds=20, max_depth=4),
    "random": {},
}


def fast_model(name: str, **overrides):
    return create_cost_model(name, **{**FAST_OPTIONS[name], **overrides})


@pytest.fixture(scope="session")
def small_data():
    return synthetic_dataset(96, n_groups=3, n_features=8, seed=3)
