"""Measuring on this machine, each candidate in a process that may die."""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from ..program import Program
from ..task import Task
from .build import describe_exception
from .config import MeasureConfig
from .result import ErrorKind, MeasureResult
from .runner import MeasureInput, Runner, as_measure_inputs

# Candidates of all runners in this process are measured one at a time.
_MEASURE_LOCK = threading.Lock()

# Set in the measuring process before numpy loads there: the reference needs no threads,
# and idle OpenBLAS threads that spin after a call slow down the kernels timed next.
_WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

_LOG_TAIL_CHARS = 1500


class LocalRunner(Runner):
    """Builds, checks and times candidates on the host CPU in a separate process.

    The candidates are sent, one after another, to a measuring process (a fresh Python
    interpreter, not a fork: LLVM's and libgomp's threads make forking unsafe) that is reused
    while it is healthy. A candidate that crashes it is a ``RUNTIME_ERROR``; one that does not
    finish within ``config.timeout_s`` is a ``TIMEOUT`` and the process is killed. Either way
    the next candidate gets a new process. Each task is pickled once per process (with
    cloudpickle where installed, so tasks whose reference is a lambda or a closure travel
    too); the programs travel as their JSON records.

    Args:
        config: how to time and check; ``MeasureConfig()`` by default.
        seed: seed of the random inputs (the same for every candidate of a task).
        startup_timeout_s: how long a new measuring process may take to start (import numpy
            and llvmlite, set up LLVM); not counted in any candidate's timeout.
        python: the interpreter that runs the measuring process; this one by default.
        settle_s: a pause at the start of each batch, so that threads this process has just
            used (OpenBLAS, a cost model's thread pool) stop spinning before timing starts.
        build_workers: processes that compile a batch's candidates in parallel, all of
            them before the first is timed (as MetaSchedule's builder does); 0 compiles each
            candidate in the measuring process just before it is timed. ``None``: one per
            core.
    """

    def __init__(
        self,
        *,
        config: MeasureConfig | None = None,
        seed: int = 0,
        startup_timeout_s: float = 60.0,
        python: str | None = None,
        settle_s: float = 0.2,
        build_workers: int | None = None,
    ):
        self.config = config or MeasureConfig()
        if not isinstance(self.config, MeasureConfig):
            raise TypeError(f"config must be a MeasureConfig, got {type(self.config).__name__}")
        self.seed = int(seed)
        self.startup_timeout_s = float(startup_timeout_s)
        self.python = python or sys.executable
        self.settle_s = float(settle_s)
        self.build_workers = (os.cpu_count() or 1) if build_workers is None else int(build_workers)
        self._build_pool = None
        self.last_build_s: float | None = None
        self._worker: _Worker | None = None
        self._tasks: dict[int, tuple[Task, int, bytes | str]] = {}
        self._best_s: dict[int, float] = {}  # task key -> fastest time per call so far
        self._closed = False

    @property
    def worker_pid(self) -> int | None:
        """Process id of the current measuring process, ``None`` when none is running."""
        return self._worker.pid if self._worker is not None else None

    def run(self, candidates: Sequence[Program | MeasureInput]) -> list[MeasureResult]:
        if self._closed:
            raise RuntimeError("this LocalRunner is closed")
        inputs = as_measure_inputs(candidates)
        results = []
        startup_error = None  # a process that cannot start is not retried within a batch
        with _MEASURE_LOCK:
            start = time.perf_counter()
            built = self._build_all(inputs)
            self.last_build_s = time.perf_counter() - start if self.build_workers > 0 else None
            if inputs and self.settle_s > 0:
                time.sleep(self.settle_s)
            for item, build in zip(inputs, built):
                if isinstance(build, MeasureResult):  # the build failed
                    result = build
                elif startup_error is None:
                    try:
                        result, startup_error = self._measure(item, build)
                    except BaseException:
                        # Interrupted mid-candidate: the process may still answer for it
                        # later, so it must not measure the next one.
                        self._discard_worker()
                        raise
                else:
                    result = MeasureResult(error_kind=ErrorKind.RUNTIME_ERROR,
                                           error_msg=startup_error)
                results.append(result)
        return results

    def close(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        self._stop_build_pool()
        self._closed = True

    # Builds --------------------------------------------------------------------------------

    def _build_all(self, inputs: list[MeasureInput]) -> list:
        """Per candidate: ``(object code, build seconds)``, a failed ``MeasureResult``, or
        ``None`` to build it in the measuring process."""
        if self.build_workers <= 0:
            return [None] * len(inputs)
        pending = [self._submit_build(item) for item in inputs]
        # Jobs start in order, ``build_workers`` at a time: a job has started at the latest
        # when every job ``build_workers`` places before it has finished, and gets
        # ``timeout_s`` from then. A build that hangs or kills its process stops the pool;
        # candidates whose builds had not come back are built in the measuring process,
        # which has its own watchdog.
        finished = [time.monotonic()] * self.build_workers
        built = []
        for job in pending:
            if job is None or self._build_pool is None:
                built.append(None)
                continue
            deadline = finished[-self.build_workers] + self.config.timeout_s
            try:
                result, object_code = job.get(max(deadline - time.monotonic(), 0.0))
            except multiprocessing.TimeoutError:
                built.append(_error(ErrorKind.TIMEOUT, "the build did not finish within "
                                    f"{self.config.timeout_s:g} s (or its process died)"))
                self._stop_build_pool()
                continue
            except Exception as exc:  # the build process could not run the job at all
                built.append(_error(ErrorKind.BUILD_ERROR, describe_exception(exc)))
            else:
                built.append((object_code, result.build_s) if object_code is not None
                             else MeasureResult(error_kind=result.error_kind,
                                                error_msg=result.error_msg,
                                                build_s=result.build_s))
            finished.append(time.monotonic())
        return built

    def _submit_build(self, item: MeasureInput):
        """The pool job building ``item``, or ``None`` where the measuring process must
        (a GPU task, or a task that cannot be pickled: that path reports why)."""
        if item.task.target.kind != "llvm":
            return None
        key, payload = self._task_payload(item.task)
        if isinstance(payload, str):
            return None
        if self._build_pool is None:
            self._build_pool = multiprocessing.get_context("spawn").Pool(
                self.build_workers, initializer=_build_init, initargs=(list(sys.path),))
        return self._build_pool.apply_async(_build_in_pool, (key, payload, item.program_json))

    def _stop_build_pool(self) -> None:
        if self._build_pool is not None:
            self._build_pool.terminate()
            self._build_pool.join()
            self._build_pool = None

    def __del__(self):
        worker = getattr(self, "_worker", None)
        pool = getattr(self, "_build_pool", None)
        try:
            if worker is not None:
                worker.kill()
            if pool is not None:
                pool.terminate()
        except Exception:  # interpreter shutdown may have torn down what these use
            pass

    # One candidate ------------------------------------------------------------------------

    def _measure(self, item: MeasureInput, build=None) -> tuple[MeasureResult, str | None]:
        """The candidate's result, and an error message when no process could be started.
        ``build``: its object code and build seconds, when it was built already."""
        if item.task.target.kind != "llvm":
            return _error(ErrorKind.BUILD_ERROR,
                          f"LocalRunner measures CPU (llvm) tasks; {item.task!r} targets "
                          f"{item.task.target}"), None
        key, payload = self._task_payload(item.task)
        if isinstance(payload, str):
            return _error(ErrorKind.BUILD_ERROR, payload), None
        object_code, build_s = build if build is not None else (None, 0.0)
        message = ("measure", key, item.program_json, self.config, self.seed,
                   self._best_s.get(key), object_code)
        for attempt in range(2):
            if self._worker is None:
                try:
                    self._worker = _Worker.start(self.python, self.startup_timeout_s)
                except _WorkerError as exc:
                    msg = f"the measuring process did not start: {exc}"
                    return _error(ErrorKind.RUNTIME_ERROR, msg), msg
            worker = self._worker
            try:
                if key not in worker.task_keys:
                    worker.send(("task", key, payload))
                    worker.task_keys.add(key)
                worker.send(message)
                break
            except OSError:
                # The idle process died between candidates (e.g. killed from outside).
                self._discard_worker()
                if attempt:
                    return _error(ErrorKind.RUNTIME_ERROR,
                                  "the measuring process could not be reached"), None
        result = self._await_result(worker)
        if build_s:
            result = dataclasses.replace(result, build_s=result.build_s + build_s)
        if result.ok:
            self._best_s[key] = min(self._best_s.get(key, math.inf), min(result.costs))
        return result, None

    def _await_result(self, worker: _Worker) -> MeasureResult:
        timeout_s = self.config.timeout_s
        start = time.monotonic()
        deadline = start + timeout_s
        log_start = worker.log_size()
        phase, build_s, run_start = "build", 0.0, start
        while True:
            remaining = deadline - time.monotonic()
            try:
                ready = remaining > 0 and worker.conn.poll(remaining)
                message = worker.conn.recv() if ready else None
            except (EOFError, OSError, pickle.UnpicklingError):
                returncode = worker.wait()
                log = worker.log_tail(log_start)
                self._discard_worker()
                return MeasureResult(
                    error_kind=ErrorKind.RUNTIME_ERROR,
                    error_msg=f"the measuring process {_describe_exit(returncode)} during "
                    f"{phase}; restarted" + (f"\n{log}" if log else ""),
                    build_s=build_s,
                    run_s=time.monotonic() - run_start if phase != "build" else 0.0,
                )
            if message is None:
                self._discard_worker()
                return MeasureResult(
                    error_kind=ErrorKind.TIMEOUT,
                    error_msg=f"no result within {timeout_s:g} s (during {phase}); "
                    "the measuring process was killed",
                    build_s=build_s,
                    run_s=time.monotonic() - run_start if phase != "build" else 0.0,
                )
            if message[0] == "phase":
                if phase == "build":
                    run_start = time.monotonic()
                phase, build_s = message[1], message[2]
            elif message[0] == "result":
                return message[1]

    def _task_payload(self, task: Task) -> tuple[int, bytes | str]:
        """A key for ``task`` and its pickle, or why it cannot be pickled."""
        entry = self._tasks.get(id(task))
        if entry is None or entry[0] is not task:
            try:
                payload = _dumps(task)
            except Exception as exc:
                payload = (
                    f"task {task.name!r} cannot be sent to the measuring process: "
                    f"{describe_exception(exc)}"
                    + ("" if _cloudpickle() else " (installing cloudpickle may help)")
                )
            entry = (task, len(self._tasks), payload)
            self._tasks[id(task)] = entry  # holds the task, so its id is not reused
        return entry[1], entry[2]

    def _discard_worker(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._worker = None


def measure_program(program: Program, config: MeasureConfig | None = None) -> MeasureResult:
    """Measure one program in a fresh measuring process (see :class:`LocalRunner`)."""
    with LocalRunner(config=config) as runner:
        return runner.run([program])[0]


_POOL_TASKS: dict[int, Task] = {}  # in a build process: the tasks it has unpickled


def _build_init(sys_path: list[str]) -> None:
    sys.path.extend(p for p in sys_path if p not in sys.path)


def _build_in_pool(key: int, payload: bytes, program_json: str):
    """In a build process: the candidate's ``BuildResult`` and object code."""
    from .build import build_object

    task = _POOL_TASKS.get(key)
    if task is None:
        task = _POOL_TASKS[key] = pickle.loads(payload)
    return build_object(program_json, task=task)


def _error(kind: ErrorKind, msg: str) -> MeasureResult:
    return MeasureResult(error_kind=kind, error_msg=msg)


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "stopped answering"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with status {returncode}"


def _cloudpickle():
    try:
        import cloudpickle
    except ImportError:
        return None
    return cloudpickle


def _dumps(obj) -> bytes:
    module = _cloudpickle()
    return module.dumps(obj) if module else pickle.dumps(obj)


class _WorkerError(Exception):
    pass


class _Worker:
    """One measuring process: the pipe to it and the file its stdout and stderr go to."""

    def __init__(self, proc: subprocess.Popen, conn, log):
        self.proc = proc
        self.conn = conn
        self.log = log
        self.task_keys: set[int] = set()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    def start(cls, python: str, startup_timeout_s: float) -> _Worker:
        ours, theirs = multiprocessing.Pipe(duplex=True)
        log = tempfile.TemporaryFile()
        env = dict(os.environ, **_WORKER_ENV)
        # The package's own folder first, so the process imports this very schedlab.
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p
        )
        try:
            proc = subprocess.Popen(
                [python, "-m", "schedlab.measure._worker", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
            )
        except OSError as exc:
            ours.close()
            log.close()
            raise _WorkerError(describe_exception(exc)) from None
        finally:
            theirs.close()
        worker = cls(proc, ours, log)
        try:
            worker.send(("init", [p for p in sys.path if p]))
            if not ours.poll(startup_timeout_s):
                raise _WorkerError(f"no answer within {startup_timeout_s:g} s")
            message = ours.recv()
            if message[0] != "ready":
                raise _WorkerError(f"unexpected first message {message!r}")
        except (_WorkerError, EOFError, OSError) as exc:
            returncode = proc.poll()
            tail = worker.log_tail(0)
            worker.kill()
            reason = str(exc) if isinstance(exc, _WorkerError) else _describe_exit(returncode)
            raise _WorkerError(reason + (f"\n{tail}" if tail else "")) from None
        return worker

    def send(self, message) -> None:
        self.conn.send(message)

    def wait(self, timeout_s: float = 5.0) -> int | None:
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def log_size(self) -> int:
        try:
            return os.fstat(self.log.fileno()).st_size
        except (OSError, ValueError):
            return 0

    def log_tail(self, start: int) -> str:
        """What the process printed since byte ``start``, the last part of it."""
        try:
            self.log.seek(start)
            text = self.log.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""
        return text if len(text) <= _LOG_TAIL_CHARS else "..." + text[-_LOG_TAIL_CHARS:]

    def stop(self) -> None:
        """Ask the process to exit, then make sure it has."""
        try:
            self.send(("exit",))
            self.proc.wait(2.0)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5.0)
            except subprocess.TimeoutExpired:
                pass
        for resource in (self.conn, self.log):
            try:
                resource.close()
            except (OSError, ValueError):
                pass
