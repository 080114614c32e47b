"""Builders and runners: compile candidates, time them, check their results.

A failure is a result with an :class:`ErrorKind`, never an exception that ends a run.
"""

from .build import build_program
from .check import compare_outputs
from .config import MeasureConfig
from .local import LocalRunner, measure_program
from .result import BuildResult, ErrorKind, MeasureResult
from .runner import RUNNERS, MeasureInput, Runner, create_runner
from .timer import flush_cpu_cache, time_kernel

__all__ = [
    "RUNNERS",
    "BuildResult",
    "ErrorKind",
    "LocalRunner",
    "MeasureConfig",
    "MeasureInput",
    "MeasureResult",
    "Runner",
    "build_program",
    "compare_outputs",
    "create_runner",
    "flush_cpu_cache",
    "measure_program",
    "time_kernel",
]
