"""Names to cost-model classes; imports are lazy so that naming XGBoost does not load JAX."""

from __future__ import annotations

import importlib

from .base import CostModel

COST_MODELS = {
    "mlp": "schedlab.cost_model.mlp:MLPCostModel",
    "xgboost": "schedlab.cost_model.xgb:XGBoostCostModel",
    "random": "schedlab.cost_model.random_model:RandomCostModel",
}


def cost_model_class(name: str) -> type[CostModel]:
    """The class registered under ``name``; ``ValueError`` lists the valid names."""
    if not isinstance(name, str):
        raise TypeError(f"a cost model name is a str, got {type(name).__name__}")
    if name not in COST_MODELS:
        raise ValueError(f"unknown cost model {name!r}; valid: {', '.join(sorted(COST_MODELS))}")
    module_name, class_name = COST_MODELS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_cost_model(name: str | CostModel, **kwargs) -> CostModel:
    """A cost model by name (``"mlp"``, ``"xgboost"``, ``"random"``) with keyword arguments
    for its constructor; a :class:`CostModel` object is returned as it is."""
    if isinstance(name, CostModel):
        if kwargs:
            raise TypeError("options go with a cost model name, not with a cost model object")
        return name
    return cost_model_class(name)(**kwargs)
