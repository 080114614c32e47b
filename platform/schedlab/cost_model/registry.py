"""Names to cost-model classes; imports are lazy so that naming XGBoost does not load JAX."""

from __future__ import annotations

from ..registry import create, registered_class
from .base import CostModel

COST_MODELS = {
    "mlp": "schedlab.cost_model.mlp:MLPCostModel",
    "xgboost": "schedlab.cost_model.xgb:XGBoostCostModel",
    "random": "schedlab.cost_model.random_model:RandomCostModel",
}


def cost_model_class(name: str) -> type[CostModel]:
    """The class registered under ``name``; ``ValueError`` lists the valid names."""
    _check_name(name)
    return registered_class("cost model", name, COST_MODELS)


def create_cost_model(name: str | CostModel, **kwargs) -> CostModel:
    """A cost model by name (``"mlp"``, ``"xgboost"``, ``"random"``) with keyword arguments
    for its constructor; a :class:`CostModel` object is returned as it is."""
    if not isinstance(name, CostModel):
        _check_name(name)
    return create("cost model", name, CostModel, COST_MODELS, kwargs)


def _check_name(name) -> None:
    if not isinstance(name, str):
        raise TypeError(f"a cost model name is a str, got {type(name).__name__}")
