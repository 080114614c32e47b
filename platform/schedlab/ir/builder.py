"""Write schedules by hand with stage and loop names instead of indices.

Each call appends the equivalent index-based :class:`~schedlab.ir.steps.Step` and applies it
at once, so mistakes raise ``ValueError`` at the line that made them::

    sch = ScheduleBuilder(task)
    cache = sch.cache_write("C")                       # "C.local"
    io, ii = sch.split("C", "i", [32])
    sch.parallel("C", io)
    program = sch.program()
"""

from __future__ import annotations

from .state import State
from .steps import (
    AnnotateStep,
    AutoUnrollStep,
    CacheReadStep,
    CacheWriteStep,
    ComputeAtStep,
    ComputeInlineStep,
    ComputeRootStep,
    FuseStep,
    ReorderStep,
    RfactorStep,
    SplitStep,
    Step,
)


class ScheduleBuilder:
    """Records transform steps on a task, naming stages and loops."""

    def __init__(self, task):
        self.task = task
        self.state = State.from_dag(task.dag)
        self.steps: list[Step] = []

    def _do(self, step: Step) -> None:
        self.state = step.apply(self.state)
        self.steps.append(step)

    def _sid(self, stage: str) -> int:
        return self.state.stage_index(stage)

    def _iid(self, stage: str, it: str) -> int:
        return self.state.stage(stage).iter_index(it)

    def iters(self, stage: str) -> list[str]:
        """Loop names of ``stage``, outermost first."""
        return [it.name for it in self.state.stage(stage).iters]

    def split(self, stage: str, it: str, lengths: list[int]) -> list[str]:
        """Split loop ``it``; returns the new loop names, outermost first."""
        sid, iid = self._sid(stage), self._iid(stage, it)
        self._do(SplitStep(sid, iid, tuple(lengths)))
        return self.iters(stage)[iid : iid + len(lengths) + 1]

    def fuse(self, stage: str, its: list[str]) -> str:
        ids = tuple(self._iid(stage, i) for i in its)
        self._do(FuseStep(self._sid(stage), ids))
        return self.iters(stage)[ids[0]]

    def reorder(self, stage: str, order: list[str]) -> None:
        """Put the named loops in this order; loops not named keep their positions."""
        names = self.iters(stage)
        slots = sorted(names.index(n) for n in order)
        new = list(names)
        for slot, name in zip(slots, order):
            new[slot] = name
        self._do(ReorderStep(self._sid(stage), tuple(names.index(n) for n in new)))

    def annotate(self, stage: str, it: str, annotation: str) -> None:
        self._do(AnnotateStep(self._sid(stage), self._iid(stage, it), annotation))

    def parallel(self, stage: str, it: str) -> None:
        self.annotate(stage, it, "parallel")

    def vectorize(self, stage: str, it: str) -> None:
        self.annotate(stage, it, "vectorize")

    def unroll(self, stage: str, it: str) -> None:
        self.annotate(stage, it, "unroll")

    def auto_unroll(self, stage: str, max_step: int) -> None:
        self._do(AutoUnrollStep(self._sid(stage), max_step))

    def compute_at(self, stage: str, target: str, it: str) -> None:
        self._do(ComputeAtStep(self._sid(stage), self._sid(target), self._iid(target, it)))

    def compute_inline(self, stage: str) -> None:
        self._do(ComputeInlineStep(self._sid(stage)))

    def compute_root(self, stage: str) -> None:
        self._do(ComputeRootStep(self._sid(stage)))

    def cache_write(self, stage: str, scope: str = "local") -> str:
        """Compute ``stage`` into a new cache stage; returns its name."""
        self._do(CacheWriteStep(self._sid(stage), scope))
        return f"{stage}.{scope}"

    def cache_read(
        self, tensor: str, readers: list[str], scope: str = "local", layout: tuple = ()
    ) -> str:
        """Copy ``tensor`` into a new stage that ``readers`` read instead; returns its name.

        ``layout`` permutes the copy's dimensions (see CacheReadStep)."""
        ids = tuple(self._sid(r) for r in readers)
        self._do(CacheReadStep(self._sid(tensor), scope, ids, tuple(layout)))
        return f"{tensor}.{scope}"

    def rfactor(self, stage: str, it: str) -> str:
        self._do(RfactorStep(self._sid(stage), self._iid(stage, it)))
        return f"{stage}.rf"

    def program(self):
        from ..program import Program

        return Program(self.task, list(self.steps))
