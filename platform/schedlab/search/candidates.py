"""Candidates: programs as evolution sees them, completed in this process or in a pool.

Evolution makes thousands of programs per round and measures a few dozen. Completing a
sketch (replay and lowering) and extracting features is most of that work, and it is
independent per program, so it can run in worker processes. What comes back is a
:class:`Candidate`: its decisions, their spaces and its features, enough to score, mutate
and cross it. Only the candidates chosen for measurement become programs again here.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..program import Program
from .base import sketch_decisions_key

# Requests per task sent to one worker: large enough to amortise pickling, small enough to
# balance the load. Fewer requests than two of the smallest chunks are done in this process.
_CHUNK = 128
_MIN_CHUNK = 32


@dataclass(eq=False)
class Candidate:
    """A completed sketch: ``sketch``, ``decisions`` and ``decision_spaces`` as on a
    :class:`~schedlab.Program` (what mutators and crossover read), plus its feature matrix
    (``None`` when no feature was asked for) and the program itself when it was made in
    this process. ``key`` is its :func:`~schedlab.search.decision_key`, made once: search
    looks candidates up by it tens of thousands of times a round."""

    sketch: object
    decisions: dict
    decision_spaces: dict
    features: np.ndarray | None = None
    program: Program | None = None
    key: tuple = field(init=False, repr=False)

    def __post_init__(self):
        self.key = sketch_decisions_key(self.sketch, self.decisions)


# A request: (sketch index, decisions or None for a random completion, seed).
Request = tuple[int, "dict | None", int]


def _complete_all(annotator, sketches, requests: list[Request], with_features: bool) -> list:
    """``(decisions, spaces, features, program)`` per request, ``None`` where the completion
    does not lower. Features are extracted for the whole batch at once (about twice as
    fast as one program at a time)."""
    from ..features import extract_batch

    programs = []
    for index, decisions, seed in requests:
        try:
            programs.append(annotator.complete(sketches[index], np.random.default_rng(seed),
                                               decisions))
        except ValueError:
            programs.append(None)
    done = [p for p in programs if p is not None]
    features = iter(extract_batch(done) if with_features else [None] * len(done))
    return [None if p is None else (p.decisions, p.decision_spaces, next(features), p)
            for p in programs]


_WORKER: dict = {}


def _init_worker(payload: bytes) -> None:
    import pickle

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    _WORKER["annotator"], _WORKER["sketches"] = pickle.loads(payload)


def _complete_chunk(requests: list[Request], with_features: bool) -> list:
    done = _complete_all(_WORKER["annotator"], _WORKER["sketches"], requests, with_features)
    return [None if d is None else d[:3] for d in done]  # the programs stay there


class CandidateFactory:
    """Completes requests into candidates for one task, in ``workers`` processes (0: in
    this process). Results come back in request order and do not depend on the number of
    workers: each request carries its own seed."""

    def __init__(self, annotator, sketches, workers: int = 0):
        self.annotator = annotator
        self.sketches = list(sketches)
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def complete(self, requests: list[Request], with_features: bool) -> list[Candidate | None]:
        if self.workers <= 0 or len(requests) < 2 * _MIN_CHUNK:
            results = _complete_all(self.annotator, self.sketches, requests, with_features)
        else:
            # At least two chunks per worker, so that one slow chunk does not leave the
            # others idle.
            size = min(_CHUNK, max(_MIN_CHUNK, -(-len(requests) // (2 * self.workers))))
            chunks = [requests[i:i + size] for i in range(0, len(requests), size)]
            pool = self._ensure_pool()
            results = [done for part in pool.map(_complete_chunk, chunks,
                                                 [with_features] * len(chunks))
                       for done in part]
        candidates = []
        for request, done in zip(requests, results):
            if done is None:
                candidates.append(None)
                continue
            decisions, spaces, features = done[:3]
            program = done[3] if len(done) > 3 else None
            candidates.append(Candidate(self.sketches[request[0]], decisions, spaces,
                                        features, program))
        return candidates

    def program(self, candidate: Candidate) -> Program | None:
        """The candidate as a program (made here if it was made in a worker)."""
        if candidate.program is None:
            try:
                candidate.program = self.annotator.complete(
                    candidate.sketch, np.random.default_rng(0), candidate.decisions)
            except ValueError:
                return None
        return candidate.program

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            try:
                import cloudpickle as pickler
            except ImportError:  # pragma: no cover - cloudpickle is a dependency
                import pickle as pickler
            payload = pickler.dumps((self.annotator, self.sketches))
            # A fresh interpreter, not a fork: LLVM's and OpenMP's threads make forking
            # unsafe.
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(payload,))
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
