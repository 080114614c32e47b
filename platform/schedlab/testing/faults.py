"""Candidates that fail on purpose, for tests of runners.

Generated code comes from validated steps, so it cannot be told to crash. The faults live
instead in the task's numpy reference, which the measuring process runs for the candidate
right after building it: a crash or a hang there looks to the runner exactly like a crash or
a hang of the kernel (the process dies, or stops answering), and nothing in the measuring
code knows about tests. Each fault task is a small matmul; any program for it is a faulty
candidate (``faulty_program``).

    crashing  the reference dereferences a null pointer: the process dies of SIGSEGV
    hanging   the reference sleeps for an hour: the runner's timeout must fire
    wrong     the reference is off by one: the result is WRONG_RESULT

Two more fail earlier, in whatever process first rebuilds the task from its pickle (a build
process of the runner's pool, or the measuring process): their reference cannot be
unpickled without crashing or hanging.

    crashing_unpickle  unpickling the reference dies of SIGSEGV
    hanging_unpickle   unpickling the reference sleeps for an hour
"""

from __future__ import annotations

import ctypes
import time

import numpy as np

from ..ir.steps import AnnotateStep, SplitStep
from ..program import Program
from ..task import Task
from ..te import compute, placeholder, reduce_axis
from ..te import sum as te_sum

FAULTS = ("crashing", "hanging", "wrong", "crashing_unpickle", "hanging_unpickle")


def matmul_reference(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray]:
    return (a @ b,)


def matmul_task(
    n: int = 64, *, name: str = "test_matmul", reference=matmul_reference, target="llvm"
) -> Task:
    """``C = A @ B`` on ``n x n`` float32 matrices, checked against numpy."""
    A = placeholder((n, n), "float32", name="A")
    B = placeholder((n, n), "float32", name="B")
    k = reduce_axis(n, name="k")
    C = compute((n, n), lambda i, j: te_sum(A[i, k] * B[k, j], axis=k), name="C")
    return Task(name, args=[A, B, C], target=target, reference=reference)


def parallel_matmul_program(task: Task, tile: int = 8) -> Program:
    """A program for ``matmul_task``: rows split by ``tile`` and the outer loop parallel."""
    stage = len(task.dag.ops) - 1
    steps = [SplitStep(stage, 0, (tile,)), AnnotateStep(stage, 0, "parallel")]
    return Program(task, steps)


def crashing_reference(*arrays):
    ctypes.string_at(0)  # reads address 0: SIGSEGV
    raise AssertionError("unreachable")


def hanging_reference(*arrays):
    time.sleep(3600)
    raise AssertionError("unreachable")


def wrong_reference(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray]:
    return (a @ b + 1.0,)


class _FailsWhenUnpickled:
    """A reference that works here, but whose unpickling calls ``call(*args)``."""

    def __init__(self, call, args):
        self.call, self.args = call, args

    def __call__(self, a, b):
        return matmul_reference(a, b)

    def __reduce__(self):
        return self.call, self.args


_REFERENCES = {
    "crashing": crashing_reference,
    "hanging": hanging_reference,
    "wrong": wrong_reference,
    "crashing_unpickle": _FailsWhenUnpickled(ctypes.string_at, (0,)),
    "hanging_unpickle": _FailsWhenUnpickled(time.sleep, (3600,)),
}


def faulty_task(fault: str, n: int = 32) -> Task:
    """A matmul task whose every candidate fails with ``fault`` (one of ``FAULTS``)."""
    if fault not in _REFERENCES:
        raise ValueError(f"unknown fault {fault!r}; valid: {', '.join(FAULTS)}")
    return matmul_task(n, name=f"{fault}_matmul", reference=_REFERENCES[fault])


def faulty_program(fault: str, n: int = 32) -> Program:
    """An untransformed program of ``faulty_task(fault, n)``."""
    return Program(faulty_task(fault, n), [])
