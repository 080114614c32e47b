"""The workload registry: catalogue names to tensor-expression builders and numpy references.

A workload is a builder function whose keyword parameters are the operator's shape (with
their defaults) and which returns the kernel's tensors, inputs first, then outputs. Its
numpy reference takes the input arrays plus the same parameters as keywords and returns the
outputs as float32 arrays, in output order::

    def my_ref(a, b, **params): ...

    @register_workload("my_op", reference=my_ref)
    def my_op(M: int = 64, N: int = 64) -> list[te.Tensor]: ...

    task = create("my_op", M=128)     # Task "my_op_M128_N64"
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..target import Target
from ..task import Task
from ..te import Tensor

Builder = Callable[..., list[Tensor]]
Reference = Callable[..., tuple[np.ndarray, ...]]


@dataclass(frozen=True)
class Workload:
    """One catalogue entry.

    Attributes:
        name: the catalogue name, e.g. ``"conv2d_nchw"``.
        build: ``build(**params)`` returns the kernel's tensors, inputs then outputs.
        reference: ``reference(*inputs, **params)`` returns the outputs with numpy.
        params: parameter name -> default, in the builder's order; a parameter without a
            default maps to :data:`REQUIRED`.
        kinds: parameter name -> ``int`` or ``float``.
        description: the first line of the builder's docstring.
    """

    name: str
    build: Builder
    reference: Reference
    params: dict[str, Any]
    kinds: dict[str, type]
    description: str

    @property
    def defaults(self) -> dict[str, Any]:
        return {k: v for k, v in self.params.items() if v is not REQUIRED}


class _Required:
    def __repr__(self):
        return "REQUIRED"


REQUIRED: Any = _Required()
"""Marks a workload parameter that has no default and must be given to :func:`create`."""

_REGISTRY: dict[str, Workload] = {}


def register_workload(
    name: str, *, reference: Reference, override: bool = False
) -> Callable[[Builder], Builder]:
    """Decorator adding a builder to the catalogue under ``name``.

    The builder's keyword parameters are the workload's parameters; each must be annotated
    ``int`` or ``float``. Parameters with a default are optional in :func:`create`.
    Registering a taken name raises ``ValueError`` unless ``override`` is true.
    """

    def decorator(build: Builder) -> Builder:
        if name in _REGISTRY and not override:
            raise ValueError(f"workload {name!r} is already registered")
        params: dict[str, Any] = {}
        kinds: dict[str, type] = {}
        for p in inspect.signature(build).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"workload {name!r}: builders take named parameters only")
            kind = {"int": int, "float": float, int: int, float: float}.get(p.annotation)
            if kind is None:
                raise TypeError(
                    f"workload {name!r}: parameter {p.name!r} must be annotated int or float"
                )
            kinds[p.name] = kind
            params[p.name] = REQUIRED if p.default is p.empty else p.default
        doc = (inspect.getdoc(build) or "").strip().splitlines()
        _REGISTRY[name] = Workload(
            name, build, reference, params, kinds, doc[0] if doc else ""
        )
        return build

    return decorator


def unregister_workload(name: str) -> None:
    """Remove ``name`` from the catalogue (for tests and experiments)."""
    get_workload(name)
    del _REGISTRY[name]


def list_workloads() -> list[str]:
    """Names of every registered workload, sorted."""
    return sorted(_REGISTRY)


def get_workload(name: str) -> Workload:
    """The catalogue entry for ``name``; ``ValueError`` listing valid names if unknown."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown workload {name!r}; valid workloads: {', '.join(list_workloads())}"
        ) from None


def resolve_params(name: str, **params: Any) -> dict[str, Any]:
    """All parameters of workload ``name``: ``params`` checked and completed with defaults.

    Raises ``ValueError`` for an unknown or missing parameter, or a value of the wrong type.
    """
    workload = get_workload(name)
    unknown = sorted(set(params) - set(workload.params))
    if unknown:
        raise ValueError(
            f"workload {name!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters: {', '.join(workload.params)}"
        )
    resolved: dict[str, Any] = {}
    for key, default in workload.params.items():
        value = params.get(key, default)
        if value is REQUIRED:
            raise ValueError(f"workload {name!r} needs parameter {key!r}")
        resolved[key] = _coerce(name, key, value, workload.kinds[key])
    return resolved


def create(name: str, target: str | Target = "llvm", **params: Any) -> Task:
    """A :class:`~schedlab.Task` for catalogue workload ``name`` with shape ``params``.

    Omitted parameters take their defaults. The task's ``reference(*inputs)`` returns the
    outputs computed with numpy, and ``task.workload`` is ``(name, all_params)``, enough to
    rebuild it with ``create(name, **all_params)``.

    Raises:
        ValueError: unknown workload or parameter, missing parameter, or a shape that does
            not make sense (a non-positive size, a kernel larger than the padded input...).
    """
    workload = get_workload(name)
    resolved = resolve_params(name, **params)
    try:
        args = workload.build(**resolved)
    except ValueError as err:
        raise ValueError(f"invalid {task_name(name, resolved)}: {err}") from None
    task = Task(
        task_name(name, resolved),
        args=args,
        target=target,
        reference=functools.partial(_run_reference, workload.reference, resolved),
        workload_key=json.dumps([name, resolved], sort_keys=True),
    )
    task.workload = (name, dict(resolved))
    return task


def task_name(name: str, params: dict[str, Any]) -> str:
    """``"matmul_M64_N64_K64"``: the workload name followed by its parameters."""
    parts = [name] + [f"{k}{v:g}" if isinstance(v, float) else f"{k}{v}" for k, v in
                      params.items()]
    return "_".join(parts)


def _coerce(name: str, key: str, value: Any, kind: type) -> int | float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"workload {name!r}: parameter {key!r} must be {kind.__name__}, got {value!r}"
        )
    if kind is int:
        if not isinstance(value, numbers.Integral):
            raise ValueError(
                f"workload {name!r}: parameter {key!r} must be an int, got {value!r}"
            )
        return int(value)
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"workload {name!r}: parameter {key!r} must be finite, got {value!r}")
    return value


def _run_reference(
    reference: Reference, params: dict[str, Any], *inputs: np.ndarray
) -> tuple[np.ndarray, ...]:
    outputs = reference(*inputs, **params)
    return tuple(np.asarray(out, dtype=np.float32) for out in outputs)
