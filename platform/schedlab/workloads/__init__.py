"""The operator catalogue: named workloads with numpy references.

``create("conv2d_nchw", N=1, C=64, ...)`` builds a :class:`~schedlab.Task`;
``list_workloads()`` names every workload. Each family module registers its workloads
when imported here.
"""

from . import conv2d, dense, depthwise, elementwise, layer_norm, matmul, pool, softmax  # noqa: F401
from .registry import (
    REQUIRED,
    Workload,
    create,
    get_workload,
    list_workloads,
    register_workload,
    resolve_params,
    task_name,
    unregister_workload,
)

__all__ = [
    "REQUIRED",
    "Workload",
    "create",
    "get_workload",
    "list_workloads",
    "register_workload",
    "resolve_params",
    "task_name",
    "unregister_workload",
]
