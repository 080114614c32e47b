"""Structural checks of GPU programs against the target's limits (no GPU needed)."""

from __future__ import annotations

from ..ir.loop_ir import Allocate, For, IfThen, Seq, Stmt, Store

ELEM_BYTES = {"float32": 4, "float64": 8, "int32": 4, "int64": 8, "bool": 1}


def _kernels(body: Stmt) -> list[Stmt]:
    """Top-level loop nests: each becomes one GPU kernel launch."""
    while isinstance(body, Allocate):
        body = body.body
    return list(body.stmts) if isinstance(body, Seq) else [body]


class _KernelCheck:
    """Walks one kernel, collecting thread extents, memory use and misplaced loops."""

    def __init__(self, index: int):
        self.index = index
        self.threads: dict[str, int] = {}
        self.shared_bytes = 0
        self.local_bytes = 0
        self.problems: list[str] = []

    def walk(self, s: Stmt, bound: frozenset = frozenset(), nested: bool = False,
             in_thread: bool = False) -> None:
        n = self.index
        if isinstance(s, Seq):
            for x in s.stmts:
                self.walk(x, bound, nested, in_thread)
        elif isinstance(s, IfThen):
            self.walk(s.body, bound, nested, in_thread)
        elif isinstance(s, Allocate):
            nbytes = s.buffer.size * ELEM_BYTES[s.buffer.dtype]
            if s.buffer.scope == "shared":
                self.shared_bytes += nbytes
            elif in_thread:
                self.local_bytes += nbytes
            self.walk(s.body, bound, nested, in_thread)
        elif isinstance(s, For):
            if s.kind.startswith("blockIdx"):
                if nested or in_thread:
                    self.problems.append(f"kernel {n}: {s.kind} loop {s.var.name} is nested "
                                         "inside another loop")
                self.walk(s.body, bound | {"block"}, nested, in_thread)
            elif s.kind.startswith("threadIdx"):
                self.threads[s.kind] = max(self.threads.get(s.kind, 1), s.extent)
                self.walk(s.body, bound | {"thread"}, nested, True)
            else:
                if s.kind == "parallel":
                    self.problems.append(f"kernel {n}: CPU parallel loop {s.var.name}")
                self.walk(s.body, bound, True, in_thread)
        elif isinstance(s, Store) and "block" not in bound:
            # A reduction across threads initialises and combines outside its thread loop,
            # so stores need a block; the kernel as a whole needs threads.
            self.problems.append(f"kernel {n}: store to {s.buffer.name} is not bound to a block")

    def limits(self, target) -> list[str]:
        n = self.index
        problems = list(self.problems)
        if not self.threads:
            problems.append(f"kernel {n}: no loop is bound to threads")
        per_block = 1
        for extent in self.threads.values():
            per_block *= extent
        if per_block > target.max_threads_per_block:
            problems.append(f"kernel {n}: {per_block} threads per block exceed "
                            f"{target.max_threads_per_block}")
        if self.shared_bytes > target.max_shared_bytes:
            problems.append(f"kernel {n}: {self.shared_bytes} bytes of shared memory exceed "
                            f"{target.max_shared_bytes}")
        if self.local_bytes > target.max_local_bytes:
            problems.append(f"kernel {n}: {self.local_bytes} bytes of local memory per thread "
                            f"exceed {target.max_local_bytes}")
        return problems


def verify_gpu(program) -> list[str]:
    """Problems that keep ``program`` from running on its GPU target; empty when none.

    Checks, per kernel: every store runs under a ``blockIdx`` loop and some loop is bound to
    ``threadIdx``; block loops are not nested inside other loops; threads per block, shared
    memory per block and local memory per thread stay within the target's limits.
    """
    try:
        func = program.func
    except ValueError as exc:
        return [f"does not lower: {exc}"]
    problems: list[str] = []
    for index, kernel in enumerate(_kernels(func.body)):
        check = _KernelCheck(index)
        check.walk(kernel)
        problems += check.limits(program.task.target)
    return sorted(set(problems))
