"""A tuning task: one computation on one target."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .target import Target
from .te import ComputeDAG, Tensor


class Task:
    """A computation to schedule.

    Args:
        name: a label for records and logs.
        args: the kernel's tensors, inputs and outputs, in call order.
        target: ``"llvm"`` (CPU) or ``"cuda"``, or a :class:`~schedlab.target.Target`.
        reference: optional function computing the outputs from the inputs with numpy
            (catalogue workloads have one); used to check results.
        weight: how often the task occurs in a network (for the task scheduler).
    """

    def __init__(
        self,
        name: str,
        args: Sequence[Tensor],
        target: str | Target = "llvm",
        reference: Callable[..., tuple[np.ndarray, ...]] | None = None,
        weight: int = 1,
        workload_key: str | None = None,
    ):
        if not isinstance(name, str) or not name:
            raise ValueError("a task needs a non-empty name")
        self.name = name
        self.dag = ComputeDAG(list(args))
        self.args = list(args)
        self.target = Target.create(target)
        self.reference = reference
        self.weight = int(weight)
        self.workload_key = workload_key or name

    @property
    def inputs(self) -> list[Tensor]:
        return [t for t in self.args if t not in self.dag.outputs]

    @property
    def outputs(self) -> list[Tensor]:
        return list(self.dag.outputs)

    @property
    def flop_count(self) -> int:
        return self.dag.flop_count

    def random_inputs(self, seed: int = 0) -> list[np.ndarray]:
        """Fresh random inputs (uniform in [-1, 1) for floats)."""
        rng = np.random.default_rng(seed)
        arrays = []
        for t in self.inputs:
            if t.dtype.startswith("float"):
                arrays.append(rng.uniform(-1, 1, t.shape).astype(t.dtype))
            elif t.dtype == "bool":
                arrays.append(rng.integers(0, 2, t.shape).astype(bool))
            else:
                arrays.append(rng.integers(-8, 8, t.shape).astype(t.dtype))
        return arrays

    def empty_outputs(self, allocate=np.zeros) -> list[np.ndarray]:
        """Zeroed output arrays, made by ``allocate(shape, dtype)`` (e.g.
        ``schedlab.measure.buffers.aligned_zeros`` for timing)."""
        return [allocate(t.shape, t.dtype) for t in self.outputs]

    def call_order(self, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> list[np.ndarray]:
        """Interleave inputs and outputs into the kernel's argument order."""
        ins, outs = iter(inputs), iter(outputs)
        out_ids = {id(t) for t in self.outputs}
        return [next(outs) if id(t) in out_ids else next(ins) for t in self.args]

    def __repr__(self):
        return f"Task({self.name!r}, target={self.target.kind})"
