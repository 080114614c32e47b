"""Cost models: learned (JAX MLP, XGBoost) and random scores of candidate programs.

A model scores programs of a task, higher meaning faster, and learns from measured ones
(:class:`CostModel` is the contract). ``create_cost_model("mlp")`` builds one by name.
The MLP and XGBoost classes load JAX and xgboost on first use of their names.
"""

from .base import CostModel, measured_throughputs
from .dataset import TrainingSet
from .metrics import pairwise_accuracy, top_k_throughput
from .random_model import RandomCostModel
from .registry import COST_MODELS, cost_model_class, create_cost_model

# Heavy imports (jax, xgboost) wait until the class is asked for.
_LAZY = {
    "MLPCostModel": ".mlp",
    "XGBoostCostModel": ".xgb",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "COST_MODELS",
    "CostModel",
    "MLPCostModel",
    "RandomCostModel",
    "TrainingSet",
    "XGBoostCostModel",
    "cost_model_class",
    "create_cost_model",
    "measured_throughputs",
    "pairwise_accuracy",
    "top_k_throughput",
]
