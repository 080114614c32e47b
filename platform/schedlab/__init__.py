"""schedlab: tensor-program auto-scheduling in the style of Ansor and MetaSchedule."""

from . import te
from .program import Program
from .target import Target
from .task import Task

__all__ = ["Program", "Target", "Task", "te", "tune", "workloads"]


def tune(task_or_tasks, trials: int = 256, work_dir=None, **options):
    """Tune one task or several; see :func:`schedlab.tuning.tune`."""
    from .tuning import tune as _tune  # imported on use: it loads JAX

    return _tune(task_or_tasks, trials=trials, work_dir=work_dir, **options)


def __getattr__(name):
    # Imported lazily: the catalogue builds many expressions.
    if name == "workloads":
        import importlib

        return importlib.import_module(".workloads", __name__)
    raise AttributeError(f"module 'schedlab' has no attribute {name!r}")
