"""The measuring process behind :class:`~schedlab.measure.local.LocalRunner`.

Started as ``python -m schedlab.measure._worker FD``, where FD is one end of a
``multiprocessing.Pipe``. It measures one candidate at a time and may die doing it (a
segfault, a hang killed by the runner); the runner then starts a new one.

Messages, pickled tuples:

    runner -> worker  ("init", sys_path)                      first; the parent's import path
    worker -> runner  ("ready", pid)                          after imports and LLVM set-up
    runner -> worker  ("task", key, payload)                  a pickled Task, once per worker
    runner -> worker  ("measure", key, program_json, config, seed, best_s, object_code)
                                                              best_s: the task's fastest
                                                              time so far, or None;
                                                              object_code: the program
                                                              built elsewhere, or None
    worker -> runner  ("phase", "check" | "time", build_s)    progress, for timeout messages
    worker -> runner  ("result", MeasureResult)
    runner -> worker  ("exit",)                               or the pipe closes

The runner starts this process with ``OPENBLAS_NUM_THREADS=1``: the numpy reference is
computed here, and OpenBLAS threads that keep spinning after a call slow parallel kernels
timed right after it.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import os
import sys
import threading
import time
from multiprocessing.connection import Connection


def main(argv: list[str]) -> int:
    conn = Connection(int(argv[0]))
    faulthandler.enable()  # a crash leaves a traceback in the log the runner reads
    _exit_with_parent()
    message = conn.recv()
    if message[0] == "init":
        sys.path.extend(p for p in message[1] if p not in sys.path)

    from ..codegen.cpu import host_target_machine

    host_target_machine()  # LLVM set-up now, not in the first candidate's build time
    conn.send(("ready", os.getpid()))

    tasks: dict[int, _TaskState] = {}
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return 0
        kind = message[0]
        if kind == "exit":
            return 0
        if kind == "task":
            _, key, payload = message
            tasks[key] = _TaskState(payload)
        elif kind == "measure":
            _, key, program_json, config, seed, best_s, object_code = message
            result = _measure(conn, tasks[key], program_json, config, seed, best_s,
                              object_code)
            conn.send(("result", result))


class _TaskState:
    """A task sent by the runner, unpickled on first use, with its inputs and reference
    outputs computed once."""

    def __init__(self, payload: bytes):
        self.payload = payload
        self.task = None
        self.seed = None
        self.inputs = None
        self.expected = None

    def load(self):
        if self.task is None:
            import pickle

            self.task = pickle.loads(self.payload)
        return self.task

    def arrays(self, seed: int, need_reference: bool):
        if self.seed != seed:
            from .buffers import aligned_copy

            inputs = [aligned_copy(a) for a in self.task.random_inputs(seed)]
            self.seed, self.inputs, self.expected = seed, inputs, None
        if need_reference and self.expected is None:
            try:
                expected = self.task.reference(*[a.copy() for a in self.inputs])
            except Exception as exc:
                raise _ReferenceError(exc) from exc
            self.expected = expected
        return self.inputs, self.expected


class _ReferenceError(Exception):
    pass


def _measure(conn: Connection, state: _TaskState, program_json: str, config, seed: int,
             best_s: float | None, object_code: bytes | None):
    from .buffers import aligned_zeros
    from .build import build_program, describe_exception
    from .check import compare_outputs, poisoned_outputs
    from .result import ErrorKind, MeasureResult
    from .timer import time_kernel

    try:
        task = state.load()
    except Exception as exc:
        return MeasureResult(
            error_kind=ErrorKind.BUILD_ERROR,
            error_msg="the task could not be rebuilt in the measuring process: "
            + describe_exception(exc),
        )
    build, kernel = build_program(program_json, task=task, object_code=object_code)
    if not build.ok:
        return MeasureResult(
            error_kind=build.error_kind, error_msg=build.error_msg, build_s=build.build_s
        )

    start = time.perf_counter()

    def failed(kind, msg):
        return MeasureResult(
            error_kind=kind, error_msg=msg, build_s=build.build_s,
            run_s=time.perf_counter() - start,
        )

    conn.send(("phase", "check", build.build_s))
    check = config.check_correctness and task.reference is not None
    try:
        inputs, expected = state.arrays(seed, check)
        first_call_s = None
        if check:
            outputs = poisoned_outputs(task)
            first_call_s = _timed_call(kernel, task.call_order(inputs, outputs))
            mismatch = compare_outputs(outputs, expected, rtol=config.rtol, atol=config.atol)
            if mismatch:
                return failed(ErrorKind.WRONG_RESULT, mismatch)
        conn.send(("phase", "time", build.build_s))
        outputs = task.empty_outputs(aligned_zeros)
        args = task.call_order(inputs, outputs)
        if first_call_s is None and config.warmup > 0:
            first_call_s = _timed_call(kernel, args)
            config = dataclasses.replace(config, warmup=config.warmup - 1)
        if (config.cutoff_ratio > 0 and best_s and first_call_s is not None
                and first_call_s > config.cutoff_ratio * best_s):
            costs = [first_call_s]
        else:
            costs = time_kernel(kernel, args, config,
                                loop=lambda number: kernel.repeat(number, *args))
    except _ReferenceError as exc:
        return failed(
            ErrorKind.RUNTIME_ERROR,
            "the task's reference failed: " + describe_exception(exc.__cause__),
        )
    except Exception as exc:
        return failed(ErrorKind.RUNTIME_ERROR, describe_exception(exc))
    return MeasureResult(costs=tuple(costs), build_s=build.build_s,
                         run_s=time.perf_counter() - start)


def _timed_call(kernel, args) -> float:
    start = time.perf_counter()
    kernel(*args)
    return time.perf_counter() - start


def _exit_with_parent() -> None:
    """End this process when the runner's process is gone, even in the middle of a hang."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
