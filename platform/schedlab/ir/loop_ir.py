"""The loop IR that lowering produces and code generators consume.

Statements are plain frozen dataclasses. Expressions are ``schedlab.te`` expressions whose
tensor reads have been replaced by :class:`Load` from flat buffers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..te.expr import Expr, Load, Var

__all__ = [
    "Allocate", "Buffer", "For", "IfThen", "Load", "PrimFunc", "Seq", "Stmt", "Store",
    "format_stmt", "seq",
]


@dataclass(frozen=True, eq=False)
class Buffer:
    """A flat array. ``scope``: ``"arg"`` (passed by the caller), ``"global"`` (a whole
    intermediate tensor), ``"local"`` (the region one loop body needs) or ``"shared"``
    (such a region, shared by the threads of a GPU block)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    scope: str

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class Stmt:
    """Base class of loop IR statements."""


@dataclass(frozen=True, eq=False)
class For(Stmt):
    """``for var in range(extent)``. ``kind``: serial, parallel, vectorize, unroll, or a
    GPU binding such as ``blockIdx.x``."""

    var: Var
    extent: int
    kind: str
    body: Stmt


@dataclass(frozen=True, eq=False)
class Seq(Stmt):
    stmts: tuple[Stmt, ...]


@dataclass(frozen=True, eq=False)
class IfThen(Stmt):
    cond: Expr
    body: Stmt


@dataclass(frozen=True, eq=False)
class Store(Stmt):
    buffer: Buffer
    index: Expr
    value: Expr


@dataclass(frozen=True, eq=False)
class Allocate(Stmt):
    """``buffer`` exists (uninitialised) while ``body`` runs."""

    buffer: Buffer
    body: Stmt


@dataclass(frozen=True, eq=False)
class PrimFunc:
    """A kernel: ``args`` are the caller's buffers, in order."""

    name: str
    args: tuple[Buffer, ...]
    body: Stmt


def seq(stmts) -> Stmt:
    stmts = tuple(s for s in stmts if not (isinstance(s, Seq) and not s.stmts))
    return stmts[0] if len(stmts) == 1 else Seq(stmts)


def iter_stmts(stmt: Stmt):
    """``stmt`` and every statement inside it, outermost first."""
    yield stmt
    if isinstance(stmt, Seq):
        for inner in stmt.stmts:
            yield from iter_stmts(inner)
    elif isinstance(stmt, (For, IfThen, Allocate)):
        yield from iter_stmts(stmt.body)


def format_stmt(stmt: Stmt, indent: int = 0) -> str:
    """Readable pseudo-code of a statement tree."""
    pad = "  " * indent
    if isinstance(stmt, For):
        head = f"{pad}for {stmt.var.name} in 0..{stmt.extent}"
        head += "" if stmt.kind == "serial" else f" [{stmt.kind}]"
        return head + ":\n" + format_stmt(stmt.body, indent + 1)
    if isinstance(stmt, Seq):
        return "\n".join(format_stmt(s, indent) for s in stmt.stmts)
    if isinstance(stmt, IfThen):
        return f"{pad}if {stmt.cond!r}:\n" + format_stmt(stmt.body, indent + 1)
    if isinstance(stmt, Store):
        return f"{pad}{stmt.buffer.name}[{stmt.index!r}] = {stmt.value!r}"
    if isinstance(stmt, Allocate):
        b = stmt.buffer
        return f"{pad}allocate {b.name}[{b.size}] {b.dtype} ({b.scope})\n" + format_stmt(
            stmt.body, indent
        )
    raise TypeError(f"unknown statement {stmt!r}")
