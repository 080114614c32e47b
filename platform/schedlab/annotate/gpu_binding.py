"""Bind loops to GPU blocks and threads (part of annotating a GPU sketch)."""

from __future__ import annotations

from ..ir.steps import AnnotateStep, FuseStep, SplitStep
from ..te import ComputeOp

THREAD_CHOICES = (32, 64, 128, 256, 512, 1024)


def tiled_levels(stage) -> int:
    """How many leading levels of ``stage`` come from multi-level tiling (0 if none): the
    first ``n`` loops end in ``.0``, the next ``n`` in ``.1``, ... for its ``n`` axes."""
    n = len(stage.op.axes)
    levels = 0
    while (levels + 1) * n <= len(stage.iters):
        group = stage.iters[levels * n : (levels + 1) * n]
        if not all(it.kind == "spatial" and it.name.endswith(f".{levels}") for it in group):
            break
        levels += 1
    return levels


def bind_threads(current, target, rng, do) -> None:
    """Bind every root stage's loops; spread shared-memory copies over their block."""
    state = current()
    threads_of: dict[str, int] = {}
    for sid, stage in enumerate(state.stages):
        if not isinstance(stage.op, ComputeOp) or stage.attach.kind != "root":
            continue
        n = len(stage.op.axes)
        if tiled_levels(stage) >= 3:
            for level in range(3):
                if n > 1:
                    do(FuseStep(sid, tuple(range(level, level + n))))
            for pos, kind in enumerate(("blockIdx.x", "vthread", "threadIdx.x")):
                do(AnnotateStep(sid, pos, kind))
            threads_of[stage.name] = current().stages[sid].iters[2].extent
            continue
        spatial = [i for i, it in enumerate(stage.iters) if it.kind == "spatial"
                   and it.annotation == "none"]
        if spatial != list(range(len(spatial))) or not spatial:
            continue
        if len(spatial) > 1:
            do(FuseStep(sid, tuple(spatial)))
        extent = current().stages[sid].iters[0].extent
        if any(it.annotation.startswith("threadIdx") for it in current().stages[sid].iters):
            do(AnnotateStep(sid, 0, "blockIdx.x"))  # threads already reduce
            continue
        choices = [t for t in THREAD_CHOICES if t <= max(32, extent)
                   and t <= target.max_threads_per_block]
        t = int(rng.choice(choices))
        do(SplitStep(sid, 0, (t,)))
        do(AnnotateStep(sid, 0, "blockIdx.x"))
        do(AnnotateStep(sid, 1, "threadIdx.x"))
    _cooperative_fetch(current, threads_of, do)


def _cooperative_fetch(current, threads_of: dict[str, int], do) -> None:
    for sid, stage in enumerate(current().stages):
        if stage.scope != "shared" or stage.attach.kind != "at":
            continue
        owner = _root_of(current(), stage)
        threads = threads_of.get(owner)
        if not threads:
            continue
        count = len(stage.iters)
        if count > 1:
            do(FuseStep(sid, tuple(range(count))))
        extent = current().stages[sid].iters[0].extent
        do(SplitStep(sid, 0, (min(threads, extent),)))
        do(AnnotateStep(sid, 1, "threadIdx.x"))


def _root_of(state, stage) -> str:
    seen = set()
    while stage.attach.kind == "at" and stage.name not in seen:
        seen.add(stage.name)
        stage = state.stage(stage.attach.target)
    return stage.name


__all__ = ["bind_threads", "tiled_levels"]
