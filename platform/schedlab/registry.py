"""Objects by name: the one lookup behind ``create_runner``, ``create_database``,
``create_cost_model`` and ``create_strategy``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping


def registered_class(kind: str, name, registry: Mapping[str, str | type]) -> type:
    """The class registered under ``name``: a class, or ``"module:Class"``, imported only
    when asked for (so that naming XGBoost does not load JAX). ``kind`` names what is looked
    up in the ``ValueError`` that lists the valid names."""
    if name not in registry:
        raise ValueError(f"unknown {kind} {name!r}; valid: {', '.join(sorted(registry))}")
    entry = registry[name]
    if isinstance(entry, str):
        module_name, class_name = entry.split(":")
        entry = getattr(importlib.import_module(module_name), class_name)
    return entry


def create(kind: str, value, base: type, registry: Mapping[str, str | type], options: dict):
    """``value`` itself when it is already a ``base``, else the class registered under the
    name ``value`` built with ``options``; options with an object are a ``TypeError``."""
    if isinstance(value, base):
        if options:
            raise TypeError(f"options go with a {kind} name, not with a {kind} object")
        return value
    return registered_class(kind, value, registry)(**options)
