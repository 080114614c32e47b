"""Structural checks of GPU programs against the target's limits (no GPU needed)."""

from __future__ import annotations

from ..ir.loop_ir import Allocate, For, IfThen, Seq, Stmt, Store
from ..ir.lower import lower

ELEM_BYTES = {"float32": 4, "float64": 8, "int32": 4, "int64": 8, "bool": 1}


def _kernels(body: Stmt) -> list[Stmt]:
    """Top-level loop nests: each becomes one GPU kernel launch."""
    while isinstance(body, Allocate):
        body = body.body
    return list(body.stmts) if isinstance(body, Seq) else [body]


def verify_gpu(program) -> list[str]:
    """Problems that keep ``program`` from running on its GPU target; empty when none.

    Checks, per kernel: every store runs under a ``blockIdx`` loop and some loop is bound to
    ``threadIdx``;
    block loops are not nested inside thread or serial loops; threads per block, shared
    memory per block and local memory per thread stay within the target's limits.
    """
    target = program.task.target
    try:
        func = lower(program.state)
    except ValueError as exc:
        return [f"does not lower: {exc}"]
    problems: list[str] = []
    for n, kernel in enumerate(_kernels(func.body)):
        threads: dict[str, int] = {}
        shared = [0]
        local = [0]

        def walk(s: Stmt, bound: set[str], enclosing_serial: bool, in_thread: bool):
            if isinstance(s, Seq):
                for x in s.stmts:
                    walk(x, bound, enclosing_serial, in_thread)
            elif isinstance(s, (IfThen,)):
                walk(s.body, bound, enclosing_serial, in_thread)
            elif isinstance(s, Allocate):
                nbytes = s.buffer.size * ELEM_BYTES[s.buffer.dtype]
                if s.buffer.scope == "shared":
                    shared[0] += nbytes
                elif in_thread:
                    local[0] += nbytes
                walk(s.body, bound, enclosing_serial, in_thread)
            elif isinstance(s, For):
                kind = s.kind
                if kind.startswith("blockIdx"):
                    if enclosing_serial or in_thread:
                        problems.append(f"kernel {n}: {kind} loop {s.var.name} is nested "
                                        "inside another loop")
                    walk(s.body, bound | {"block"}, enclosing_serial, in_thread)
                elif kind.startswith("threadIdx"):
                    threads[kind] = max(threads.get(kind, 1), s.extent)
                    walk(s.body, bound | {"thread"}, enclosing_serial, True)
                elif kind in ("parallel",):
                    problems.append(f"kernel {n}: CPU parallel loop {s.var.name} on a GPU")
                    walk(s.body, bound, True, in_thread)
                else:
                    walk(s.body, bound, True, in_thread)
            elif isinstance(s, Store):
                # A reduction across threads initialises and combines outside its thread
                # loop, so stores need a block; the kernel as a whole needs threads.
                if "block" not in bound:
                    problems.append(f"kernel {n}: store to {s.buffer.name} is not bound to "
                                    "a block")

        walk(kernel, set(), False, False)
        if not threads:
            problems.append(f"kernel {n}: no loop is bound to threads")
        per_block = 1
        for extent in threads.values():
            per_block *= extent
        if per_block > target.max_threads_per_block:
            problems.append(f"kernel {n}: {per_block} threads per block exceed "
                            f"{target.max_threads_per_block}")
        if shared[0] > target.max_shared_bytes:
            problems.append(f"kernel {n}: {shared[0]} bytes of shared memory exceed "
                            f"{target.max_shared_bytes}")
        if local[0] > target.max_local_bytes:
            problems.append(f"kernel {n}: {local[0]} bytes of local memory per thread exceed "
                            f"{target.max_local_bytes}")
    return sorted(set(problems))
