"""Uniform random scores: the cost model of ablations that switch learning off."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..program import Program
from .base import CostModel, measured_throughputs
from .dataset import check_features, check_training_data


class RandomCostModel(CostModel):
    """Scores every program with a uniform random number in [0, 1).

    :meth:`update` checks its input like every model but records nothing, so the model is
    never trained and a saved file holds only the generator's state. It extracts no
    features (:attr:`uses_features` is False). Scores come from one
    generator seeded with ``seed``: the same seed and sequence of calls give the same scores.

    Args:
        seed: seeds the generator.
    """

    name = "random"
    uses_features = False

    def update(self, programs: Sequence, results: Sequence) -> None:
        measured_throughputs(programs, results)

    def predict(self, programs: Sequence) -> np.ndarray:
        for i, program in enumerate(programs):
            if not isinstance(program, Program):
                raise TypeError(f"program {i} is a {type(program).__name__}, not a Program")
        return self._untrained_rng.random(len(programs)).astype(np.float32)

    def update_features(
        self,
        features: Sequence[np.ndarray],
        throughputs: Sequence[float] | np.ndarray,
        groups: Sequence[str],
    ) -> None:
        check_training_data(features, throughputs, groups)

    def predict_features(self, features: Sequence[np.ndarray]) -> np.ndarray:
        features = check_features(features)
        return self._untrained_rng.random(len(features)).astype(np.float32)

    def _train(self) -> None:  # pragma: no cover - update records nothing
        raise AssertionError("a random cost model never trains")

    def _predict(self, features):  # pragma: no cover - predict_features draws directly
        raise AssertionError("a random cost model never trains")
