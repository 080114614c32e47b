"""Building one candidate: parse the program record, replay its steps, compile."""

from __future__ import annotations

import time

from ..codegen.cpu import CompiledKernel, compile_object, load_object
from ..program import Program
from ..task import Task
from .result import BuildResult, ErrorKind


def build_program(
    program_json: str, *, task: Task | None = None, object_code: bytes | None = None
) -> tuple[BuildResult, CompiledKernel | None]:
    """Compile a program record for the host CPU; never raises for a bad candidate.

    Args:
        program_json: a record from ``Program.to_json()``.
        task: the task the program schedules; may be omitted for catalogue workloads, whose
            record names the workload.
        object_code: the program already compiled by :func:`build_object` (in another
            process); it is loaded instead of compiled again.

    Returns:
        The build result, and the kernel (``None`` when the build failed). A record that does
        not parse or whose steps do not apply is ``INVALID_PROGRAM``; a failure while lowering
        or compiling is ``BUILD_ERROR``.
    """
    start = time.perf_counter()
    try:
        program = Program.from_json(program_json, task=task)
    except Exception as exc:  # a bad record is data, whatever the parser raised
        return _failed(program_json, ErrorKind.INVALID_PROGRAM, exc, start), None
    try:
        if object_code is None:
            kernel = program.compile()
        else:
            kernel = load_object(program.func, object_code)
    except Exception as exc:
        return _failed(program_json, ErrorKind.BUILD_ERROR, exc, start), None
    result = BuildResult(program_json=program_json, build_s=time.perf_counter() - start)
    return result, kernel


def build_object(program_json: str, *, task: Task | None = None
                 ) -> tuple[BuildResult, bytes | None]:
    """Like :func:`build_program`, but returns the program's object code (``None`` when the
    build failed), to be loaded where it is measured."""
    start = time.perf_counter()
    try:
        program = Program.from_json(program_json, task=task)
    except Exception as exc:
        return _failed(program_json, ErrorKind.INVALID_PROGRAM, exc, start), None
    try:
        object_code = compile_object(program.func, program.task.target.num_cores)
    except Exception as exc:
        return _failed(program_json, ErrorKind.BUILD_ERROR, exc, start), None
    result = BuildResult(program_json=program_json, build_s=time.perf_counter() - start)
    return result, object_code


def _failed(program_json: str, kind: ErrorKind, exc: BaseException, start: float
            ) -> BuildResult:
    return BuildResult(program_json=program_json, error_kind=kind,
                       error_msg=describe_exception(exc), build_s=time.perf_counter() - start)


def describe_exception(exc: BaseException, limit: int = 2000) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 3] + "..."
