"""schedlab: tensor-program auto-scheduling in the style of Ansor and MetaSchedule."""

from . import te
from .program import Program
from .target import Target
from .task import Task

__all__ = ["Program", "Target", "Task", "te", "workloads"]


def __getattr__(name):
    # Imported lazily: the catalogue builds many expressions.
    if name == "workloads":
        import importlib

        return importlib.import_module(".workloads", __name__)
    raise AttributeError(f"module 'schedlab' has no attribute {name!r}")
