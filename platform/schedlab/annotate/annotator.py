"""Complete a sketch into a program: tile sizes, compute locations, parallel, vectorize,
unroll (Ansor's random annotation)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..ir.state import State
from ..ir.steps import (
    AnnotateStep,
    AutoUnrollStep,
    ComputeAtStep,
    FuseStep,
    SplitStep,
    Step,
    StepError,
)
from ..program import Program
from ..space.predicates import effective_consumers
from ..te import ComputeOp, Reduce
from .decisions import Decider, SplitSpace
from .gpu_binding import bind_threads
from .tile_sizes import lane_filling_lengths, sample_split_lengths
from .verify import verify_gpu

CPU_UNROLL_STEPS = (0, 16, 64, 512)
GPU_UNROLL_STEPS = (0, 16, 64, 512, 1024)


@dataclass(frozen=True, kw_only=True)
class Annotator:
    """Turns sketches into complete, random programs.

    Args:
        max_innermost_factor: largest innermost tile length (Ansor's default, 64).
        max_vector_lanes: longest loop to vectorize; 0 means four times the target's fp32
            lanes.
        whole_vector_probability: on a CPU, the chance that the innermost tile of a
            stage's last spatial loop (the loop that is vectorized) is drawn among whole
            numbers of vectors no longer than ``max_vector_lanes`` (or lengths that leave
            at most an eighth of their vectors' lanes idle, such as 14 of 16), where its
            extent has such divisors; otherwise it is drawn among all divisors. A tile
            shorter than a vector wastes lanes: in our tuning records of conv2d,
            dense+bias+relu and batch_matmul, no program with one came within 80% of the
            best, yet uniform draws give one to about half of all random programs.
        parallel_per_core: outer loops are fused until they give this many iterations per
            core (more balance, less synchronisation).
        unroll_steps: candidate auto-unroll limits; empty means the target's defaults.
        compute_at_probability: chance that a stage the sketch left at root is moved into
            a loop of its consumer.
    """

    max_innermost_factor: int = 64
    max_vector_lanes: int = 0
    whole_vector_probability: float = 0.85
    parallel_per_core: int = 4
    unroll_steps: tuple[int, ...] = ()
    compute_at_probability: float = 0.5

    def __post_init__(self):
        for name in ("whole_vector_probability", "compute_at_probability"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value!r}")

    def complete(self, sketch, rng: np.random.Generator,
                 decisions: dict | None = None) -> Program:
        """One random program of ``sketch``; raises ``ValueError`` if it cannot lower.

        ``decisions`` (see ``schedlab.annotate.decisions``) fixes choices instead of drawing
        them; invalid or missing ones are drawn. The program carries what was chosen as
        ``program.decisions``, the space of each choice as ``program.decision_spaces`` and
        its sketch as ``program.sketch``.
        """
        task = sketch.task
        fixed, state = sketch.decided_prefix
        steps: list[Step] = list(sketch.steps[:fixed])
        decider = Decider(rng, decisions)

        def do(step: Step) -> bool:
            nonlocal state
            try:
                state = step.apply(state)
            except StepError:
                return False
            steps.append(step)
            return True

        for index, step in enumerate(sketch.steps[fixed:], start=fixed):
            if isinstance(step, SplitStep) and None in step.lengths:
                extent = state.stages[step.stage_id].iters[step.iter_id].extent
                parts = len(step.lengths)
                filling = self._lane_filling(state, step, task.target)
                lengths = decider.split(
                    f"split/{state.stages[step.stage_id].name}/{index}",
                    SplitSpace(extent, parts, self.max_innermost_factor),
                    lambda e=extent, n=parts, w=filling: sample_split_lengths(
                        e, n, rng, self.max_innermost_factor, w,
                        self.whole_vector_probability))
                step = SplitStep(step.stage_id, step.iter_id, lengths)
            if not do(step):
                raise ValueError(f"sketch step {step} no longer applies")
        if task.target.kind == "cuda":
            bind_threads(lambda: state, task.target, rng, do)
            self._unroll(lambda: state, task.target, decider, do)
            program = self._program(task, steps, state, sketch, decider)
            problems = verify_gpu(program)
            if problems:
                raise ValueError("; ".join(problems))
            return program
        self._compute_locations(state, decider, do)
        self._parallel(lambda: state, task.target.num_cores, decider, do)
        self._vectorize(lambda: state, task.target, do)
        self._unroll(lambda: state, task.target, decider, do)
        program = self._program(task, steps, state, sketch, decider)
        _ = program.func  # lowers (and caches) or raises LoweringError for a bad location
        return program

    def _lane_filling(self, state: State, step: SplitStep, target) -> tuple[int, ...]:
        """Innermost lengths that fill their vectors (:func:`lane_filling_lengths`) when
        ``step`` splits the last spatial loop of a CPU stage, the loop that is vectorized;
        empty for any other split."""
        iters = state.stages[step.stage_id].iters
        if target.kind == "cuda" or iters[step.iter_id].kind != "spatial" or any(
                it.kind == "spatial" for it in iters[step.iter_id + 1:]):
            return ()
        return lane_filling_lengths(target.vector_lanes, self._vector_limit(target))

    def _vector_limit(self, target) -> int:
        """The longest loop to vectorize."""
        return self.max_vector_lanes or target.vector_lanes * 4

    @staticmethod
    def _program(task, steps, state, sketch, decider: Decider) -> Program:
        program = Program.from_replayed(task, steps, state)
        program.decisions = decider.made
        program.decision_spaces = decider.spaces
        program.sketch = sketch
        return program

    def _compute_locations(self, state: State, decider: Decider, do) -> None:
        rng = decider.rng
        for sid, stage in enumerate(state.stages):
            if (not isinstance(stage.op, ComputeOp) or stage.attach.kind != "root"
                    or stage.relations or stage.name in state.arg_names):
                continue
            consumers = effective_consumers(state, sid)
            if len(consumers) != 1:
                continue
            target = state.stages[consumers[0]]
            choices = [i for i, it in enumerate(target.iters) if it.kind == "spatial"]
            if not choices:
                continue
            location = decider.choice(
                f"at/{stage.name}", [-1] + choices,
                lambda c=choices: -1 if rng.random() >= self.compute_at_probability
                else int(rng.choice(c)))
            if location >= 0:
                do(ComputeAtStep(sid, consumers[0], location))

    def _parallel(self, current, num_cores: int, decider: Decider, do) -> None:
        rng = decider.rng
        for sid in range(len(current().stages)):
            stage = current().stages[sid]
            if not isinstance(stage.op, ComputeOp) or stage.attach.kind != "root":
                continue
            leading = []
            for it in stage.iters:
                if it.kind != "spatial":
                    break
                leading.append(it)
            if not leading:
                continue
            wanted = num_cores * self.parallel_per_core

            def sample(leading=leading, wanted=wanted):
                count = next((k for k in range(1, len(leading) + 1)
                              if math.prod(it.extent for it in leading[:k]) >= wanted),
                             len(leading))
                if count < len(leading) and rng.random() < 0.5:
                    count += 1  # sometimes finer-grained parallelism
                return count

            count = decider.choice(f"parallel/{stage.name}",
                                   range(1, len(leading) + 1), sample)
            while count >= 2 and not do(FuseStep(sid, tuple(range(count)))):
                count -= 1
            if current().stages[sid].iters[0].extent >= 2:
                do(AnnotateStep(sid, 0, "parallel"))

    def _vectorize(self, current, target, do) -> None:
        lanes = self._vector_limit(target)
        for sid, stage in enumerate(current().stages):
            if not isinstance(stage.op, ComputeOp) or stage.attach.kind == "inline":
                continue
            if not stage.iters:
                continue
            last = len(stage.iters) - 1
            it = stage.iters[last]
            if it.kind == "spatial" and 2 <= it.extent <= lanes and it.annotation == "none":
                do(AnnotateStep(sid, last, "vectorize"))

    def _unroll(self, current, target, decider: Decider, do) -> None:
        options = self.unroll_steps or (
            GPU_UNROLL_STEPS if target.kind == "cuda" else CPU_UNROLL_STEPS)
        for sid, stage in enumerate(current().stages):
            if isinstance(stage.op, ComputeOp) and isinstance(stage.op.body, Reduce):
                if stage.attach.kind != "inline":
                    value = decider.choice(f"unroll/{stage.name}", options)
                    do(AutoUnrollStep(sid, int(value)))
