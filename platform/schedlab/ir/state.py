"""The schedule state: one stage per operation, each with its loop iterators.

A state is immutable; transform steps (``schedlab.ir.steps``) return new states. Iterator
extents stored here assume the stage is computed at root (its whole output); the real
extents of a stage moved with ``compute_at`` come from bounds inference during lowering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..te import ComputeDAG, ComputeOp, Operation, PlaceholderOp

ANNOTATIONS = (
    "none", "parallel", "vectorize", "unroll",
    "blockIdx.x", "blockIdx.y", "blockIdx.z", "threadIdx.x", "threadIdx.y", "threadIdx.z",
    "vthread",
)


def evolve(obj, **changes):
    """A copy of a frozen state dataclass with ``changes``: ``dataclasses.replace`` without
    re-running ``__init__``. These classes validate nothing in it, and replaying a schedule
    copies them tens of thousands of times per second during search."""
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    new.__dict__.update(changes)
    return new


@dataclass(frozen=True)
class Iterator:
    """One loop of a stage. ``kind`` is ``"spatial"`` or ``"reduce"``."""

    name: str
    extent: int
    kind: str
    annotation: str = "none"


@dataclass(frozen=True)
class Split:
    """``parent`` was split into ``children`` (outermost first); ``lengths`` are the sizes
    of every child but the outermost, whose size is the parent's divided by their product."""

    parent: str
    children: tuple[str, ...]
    lengths: tuple[int, ...]


@dataclass(frozen=True)
class Fuse:
    """``children`` (outermost first) were fused into the single loop ``fused``."""

    children: tuple[str, ...]
    fused: str


@dataclass(frozen=True)
class Attach:
    """Where a stage is computed: ``"root"``, ``"inline"``, or ``"at"`` a loop of another
    stage (``target`` op name, ``iterator`` name)."""

    kind: str = "root"
    target: str = ""
    iterator: str = ""


@dataclass(frozen=True)
class Stage:
    """The schedule of one operation."""

    op: Operation
    iters: tuple[Iterator, ...]
    relations: tuple = ()
    attach: Attach = field(default_factory=Attach)
    auto_unroll_max_step: int = 0
    scope: str = "global"

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def is_placeholder(self) -> bool:
        return isinstance(self.op, PlaceholderOp)

    @property
    def root_iters(self) -> tuple[Iterator, ...]:
        """The op's own axes (spatial, then reduce) before any split or fuse."""
        if not isinstance(self.op, ComputeOp):
            return ()
        return tuple(
            Iterator(ax.name, ax.extent, ax.kind) for ax in self.op.all_axes
        )

    def iter_index(self, name: str) -> int:
        for i, it in enumerate(self.iters):
            if it.name == name:
                return i
        raise ValueError(f"stage {self.name!r} has no iterator {name!r}")


def stage_for(op: Operation) -> Stage:
    """A fresh stage for ``op``: one loop per axis, computed at root."""
    if isinstance(op, PlaceholderOp):
        return Stage(op, ())
    names = [ax.name for ax in op.all_axes]
    if len(set(names)) != len(names):
        raise ValueError(f"op {op.name!r} has two axes with the same name: {names}")
    return Stage(op, tuple(Iterator(ax.name, ax.extent, ax.kind) for ax in op.all_axes))


@dataclass(frozen=True)
class State:
    """The stages of a computation in topological order, plus the (possibly rewritten) DAG.

    ``outputs`` maps each output argument's name to its op; cache_write and rfactor
    rewrite ops, so the DAG a state holds may differ from the task's.
    """

    stages: tuple[Stage, ...]
    arg_names: tuple[str, ...]
    history: tuple = ()  # the steps applied so far (FollowSplitStep reads earlier splits)

    @classmethod
    def from_dag(cls, dag: ComputeDAG) -> State:
        return cls(tuple(stage_for(op) for op in dag.ops), tuple(t.name for t in dag.tensors))

    def stage_index(self, key: int | str) -> int:
        """Index of a stage given by index or op name; ``ValueError`` if there is none."""
        if isinstance(key, int) and not isinstance(key, bool):
            if not 0 <= key < len(self.stages):
                raise ValueError(f"stage index {key} out of range 0..{len(self.stages) - 1}")
            return key
        for i, st in enumerate(self.stages):
            if st.name == key:
                return i
        raise ValueError(f"no stage named {key!r}; stages: {[s.name for s in self.stages]}")

    def stage(self, key: int | str) -> Stage:
        return self.stages[self.stage_index(key)]

    def with_stage(self, index: int, stage: Stage) -> State:
        stages = list(self.stages)
        stages[index] = stage
        return evolve(self, stages=tuple(stages))

    def consumers(self, name: str) -> list[int]:
        """Indices of the stages whose op reads the tensor ``name``."""
        return [
            i for i, st in enumerate(self.stages)
            if any(t.name == name for t in st.op.inputs)
        ]

    def __str__(self) -> str:
        lines = []
        for st in self.stages:
            if st.is_placeholder:
                lines.append(f"Placeholder: {st.name}")
                continue
            where = {"root": "", "inline": " (inlined)"}.get(
                st.attach.kind, f" (at {st.attach.target}.{st.attach.iterator})"
            )
            loops = ", ".join(
                f"{it.name}:{it.extent}" + ("" if it.annotation == "none" else f"@{it.annotation}")
                for it in st.iters
            )
            lines.append(f"{st.name}{where}: [{loops}]")
        return "\n".join(lines)


def split_extents(parent_extent: int, lengths: tuple[int, ...]) -> tuple[int, ...]:
    """Extents of the children of a split of a loop of ``parent_extent``.

    Inner children keep their length unless the parent is shorter; the outermost covers
    what is left, rounded up (a tail that does not divide is guarded during lowering).
    """
    extents = []
    remaining = parent_extent
    for length in reversed(lengths):
        length = length or 1  # an undecided length (in a sketch) counts as 1
        extents.append(min(length, remaining))
        remaining = math.ceil(remaining / length)
    extents.append(remaining)
    return tuple(reversed(extents))
