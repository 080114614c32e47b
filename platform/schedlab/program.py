"""A program: a task plus the transform steps that schedule it."""

from __future__ import annotations

import functools
import json

from .codegen.cpu import CompiledKernel, compile_func
from .ir.loop_ir import PrimFunc, format_stmt
from .ir.lower import lower
from .ir.state import State
from .ir.steps import Step, replay, step_from_json
from .task import Task

SCHEMA_VERSION = 1


class Program:
    """A complete schedule of ``task``: replaying ``steps`` on its initial state.

    Building the state checks every step, so an invalid step list raises ``ValueError``
    naming the step at construction.

    Programs made by the annotator also carry ``sketch`` (the sketch they complete),
    ``decisions`` and ``decision_spaces`` (its random choices; see
    ``schedlab.annotate.decisions``), which search mutates; otherwise these are ``None``.
    A search strategy may set ``origin`` to say how it found the program (for example
    ``"evolved"`` or ``"random"``); the tuner keeps it in the program's record.
    """

    def __init__(self, task: Task, steps: list[Step] | tuple[Step, ...] = ()):
        self.task = task
        self.steps = tuple(steps)
        self.state: State = replay(State.from_dag(task.dag), self.steps)
        self.sketch = None
        self.decisions: dict | None = None
        self.decision_spaces: dict | None = None
        self.origin: str | None = None

    @classmethod
    def from_replayed(cls, task: Task, steps: tuple[Step, ...], state: State) -> Program:
        """A program whose ``steps`` were already replayed into ``state`` (by the
        annotator, step by step), so they are not replayed again. The caller vouches that
        ``state`` is what replaying ``steps`` gives."""
        program = cls.__new__(cls)
        program.task, program.steps, program.state = task, tuple(steps), state
        program.sketch = program.decisions = program.decision_spaces = None
        program.origin = None
        return program

    @functools.cached_property
    def func(self) -> PrimFunc:
        """The lowered loop-IR kernel."""
        return lower(self.state, name=_symbol(self.task.name))

    @functools.cached_property
    def kernel(self) -> CompiledKernel:
        return compile_func(self.func, num_threads=self.task.target.num_cores)

    def compile(self) -> CompiledKernel:
        """Machine code for this program: a callable on numpy arrays in argument order."""
        if self.task.target.kind != "llvm":
            raise ValueError(f"compile() runs on CPU targets; this task targets {self.task.target}")
        return self.kernel

    @property
    def source(self) -> str:
        """The LLVM IR of the program."""
        return self.kernel.source

    def loop_ir(self) -> str:
        """Readable loops of the lowered kernel."""
        return format_stmt(self.func.body)

    def to_json(self) -> str:
        return json.dumps({
            "version": SCHEMA_VERSION,
            "task": self.task.name,
            "workload": getattr(self.task, "workload", None),
            "target": self.task.target.kind,
            "steps": [s.to_json() for s in self.steps],
        })

    @classmethod
    def from_json(cls, text: str, task: Task | None = None) -> Program:
        """Rebuild a program; ``task`` may be omitted for catalogue workloads."""
        data = json.loads(text)
        if data.get("version") != SCHEMA_VERSION:
            raise ValueError(f"program record has schema version {data.get('version')!r}, "
                             f"expected {SCHEMA_VERSION}")
        if task is None:
            if not data.get("workload"):
                raise ValueError("this program's task is not from the catalogue; pass task=")
            from . import workloads

            name, params = data["workload"]
            task = workloads.create(name, target=data["target"], **params)
        return cls(task, [step_from_json(s) for s in data["steps"]])

    def __str__(self):
        return "\n".join(str(s) for s in self.steps) or "(no steps)"


def _symbol(name: str) -> str:
    cleaned = "".join(c if c.isalnum() else "_" for c in name)
    return f"k_{cleaned}"
