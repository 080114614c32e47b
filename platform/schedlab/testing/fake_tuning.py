"""Fakes for unit tests of the search loop: a known latency function of a program's
decisions, a cost model that knows it, and a runner that "measures" it without hardware.

They exist so that tests of search and tuning can check what the loop does (improves, never
measures twice, survives failures) quickly and deterministically; real runs use real models
and the real runner.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..measure.result import ErrorKind, MeasureResult
from ..measure.runner import MeasureInput, Runner, as_measure_inputs
from ..program import Program


def oracle_latency(program: Program) -> float:
    """A made-up latency in seconds: best when every innermost tile is 16 long and the
    auto-unroll limit is 64; grows with the distance from that."""
    if not program.decisions:
        return 1e-2
    penalty = 0.0
    for key, value in program.decisions.items():
        if key.startswith("split/"):
            penalty += (math.log2(value[-1]) - 4) ** 2
        elif key.startswith("unroll/"):
            penalty += 0.0 if value == 64 else 1.0
    return 1e-3 * (1.0 + penalty)


class OracleCostModel:
    """Scores programs by :func:`oracle_latency` (higher is faster); learns nothing."""

    name = "oracle"
    uses_features = False

    def __init__(self):
        self.updates = 0

    def update(self, programs: Sequence[Program], results: Sequence[MeasureResult]) -> None:
        self.updates += 1

    def predict(self, programs: Sequence[Program]) -> np.ndarray:
        return np.array([1.0 / oracle_latency(p) for p in programs], np.float32)


class OracleRunner(Runner):
    """A runner that reports :func:`oracle_latency` as the measured time.

    It rebuilds nothing: programs are rebuilt from their records only to check them, so an
    invalid record still comes back as ``INVALID_PROGRAM``. ``fail_every`` makes every
    n-th candidate a ``RUNTIME_ERROR``. ``first_noise`` > 0 makes the first measurement
    of each program off by a random factor (log-normal, that standard deviation), as on a
    noisy machine; later ones are exact. ``measured`` lists every record it was given,
    ``latencies`` every latency it reported.
    """

    def __init__(self, fail_every: int = 0, first_noise: float = 0.0, seed: int = 0):
        self.fail_every = fail_every
        self.first_noise = first_noise
        self.rng = np.random.default_rng(seed)
        self.measured: list[str] = []
        self.latencies: list[float] = []

    def run(self, candidates: Sequence[Program | MeasureInput]) -> list[MeasureResult]:
        results = []
        for item in candidates:
            program = item if isinstance(item, Program) else None
            record = as_measure_inputs([item])[0]
            self.measured.append(record.program_json)
            if self.fail_every and len(self.measured) % self.fail_every == 0:
                results.append(MeasureResult(error_kind=ErrorKind.RUNTIME_ERROR,
                                             error_msg="injected failure"))
                continue
            if program is None:
                try:
                    program = Program.from_json(record.program_json, task=record.task)
                except ValueError as err:
                    results.append(MeasureResult(error_kind=ErrorKind.INVALID_PROGRAM,
                                                 error_msg=str(err)))
                    continue
            latency = oracle_latency(program)
            if self.first_noise and self.measured.count(record.program_json) == 1:
                latency *= math.exp(self.rng.normal(0.0, self.first_noise))
            self.latencies.append(latency)
            results.append(MeasureResult(costs=(self.latencies[-1],) * 3))
        return results
