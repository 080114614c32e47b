"""Ansor's baseline cost model: gradient-boosted trees on store rows, summed per program."""

from __future__ import annotations

from typing import Any

import numpy as np
import xgboost as xgb

from .base import CostModel
from .dataset import stack_rows


class XGBoostCostModel(CostModel):
    """Boosted regression trees score each store row; a program's score is the sum over its
    rows (Ansor's "pack-sum" model).

    The trees are fitted with a custom objective (``xgb.train(obj=...)``): the loss of a
    program is ``w * (sum of its rows' predictions - y)^2 / 2``, where ``y`` is its throughput
    divided by the best of its task and ``w = max(y, min_weight)``; the gradient and Hessian
    of that loss with respect to each row's prediction are handed to every row of the
    program. Every :meth:`update` refits all trees from scratch on all data (trees do not
    warm-start usefully; the refit takes well under a second on thousands of programs).

    Args:
        num_rounds: boosting rounds (trees).
        max_depth: depth of each tree.
        eta: shrinkage (learning rate).
        gamma: least loss reduction for a split.
        min_child_weight: least sum of Hessian in a leaf.
        subsample: fraction of rows each tree sees.
        min_weight: the least weight of a program, so that slow and failed programs still
            pull their scores down.
        nthread: threads for xgboost; ``None`` for all cores.
        seed: seeds xgboost and the untrained model's scores.
    """

    name = "xgboost"

    def __init__(
        self,
        *,
        num_rounds: int = 200,
        max_depth: int = 10,
        eta: float = 0.2,
        gamma: float = 0.001,
        min_child_weight: float = 0.0,
        subsample: float = 1.0,
        min_weight: float = 0.05,
        nthread: int | None = 1,
        seed: int = 0,
    ):
        super().__init__(seed=seed)
        for key, value in (("num_rounds", num_rounds), ("max_depth", max_depth)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{key} must be an int >= 1, got {value!r}")
        for key, value in (("eta", eta), ("gamma", gamma),
                           ("min_child_weight", min_child_weight), ("min_weight", min_weight)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key} must be a number >= 0, got {value!r}")
        if not 0 < subsample <= 1:
            raise ValueError(f"subsample must be in (0, 1], got {subsample!r}")
        if nthread is not None and (not isinstance(nthread, int) or nthread < 1):
            raise ValueError(f"nthread must be None or an int >= 1, got {nthread!r}")
        self.num_rounds = num_rounds
        self.max_depth = max_depth
        self.eta = float(eta)
        self.gamma = float(gamma)
        self.min_child_weight = float(min_child_weight)
        self.subsample = float(subsample)
        self.min_weight = float(min_weight)
        self.nthread = nthread
        self._booster: xgb.Booster | None = None

    def config(self) -> dict[str, Any]:
        return {
            "num_rounds": self.num_rounds,
            "max_depth": self.max_depth,
            "eta": self.eta,
            "gamma": self.gamma,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "min_weight": self.min_weight,
            "nthread": self.nthread,
            "seed": self.seed,
        }

    def _params(self) -> dict[str, Any]:
        params = {
            "max_depth": self.max_depth,
            "eta": self.eta,
            "gamma": self.gamma,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "tree_method": "hist",
            # Rows add up to a program's score: a per-row constant would count once per row.
            "base_score": 0.0,
            "disable_default_eval_metric": 1,
            "verbosity": 0,
            "seed": self.seed,
        }
        if self.nthread is not None:
            params["nthread"] = self.nthread
        return params

    def _train(self) -> None:
        data = self.data
        row_program = data.row_program
        target = data.normalized_throughputs()
        weight = np.maximum(target, self.min_weight)
        n = len(data)

        def pack_sum_squared_error(preds: np.ndarray, dtrain: xgb.DMatrix):
            program_pred = np.bincount(row_program, weights=preds, minlength=n)
            grad = (weight * (program_pred - target))[row_program]
            hess = weight[row_program]
            return grad, hess

        dtrain = xgb.DMatrix(data.rows, label=target[row_program])
        self._booster = xgb.train(self._params(), dtrain, num_boost_round=self.num_rounds,
                                  obj=pack_sum_squared_error)

    def _predict(self, features: list[np.ndarray]) -> np.ndarray:
        rows, counts = stack_rows(features)
        if not len(rows):
            return np.zeros(len(features), np.float32)
        row_preds = self._booster.inplace_predict(rows)
        row_program = np.repeat(np.arange(len(features)), counts)
        return np.bincount(row_program, weights=row_preds, minlength=len(features))

    def _state(self):
        if self._booster is None:
            return {}, {}
        raw = self._booster.save_raw(raw_format="ubj")
        return {}, {"booster": np.frombuffer(bytes(raw), dtype=np.uint8)}

    def _set_state(self, values, arrays):
        if "booster" in arrays:
            self._booster = xgb.Booster(params=self._params(),
                                        model_file=bytearray(arrays["booster"].tobytes()))
