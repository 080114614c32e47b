"""What a build or a measurement produced; a failure is a field, not an exception."""

from __future__ import annotations

import enum
import math
import statistics
import time
from dataclasses import dataclass, field


class ErrorKind(enum.StrEnum):
    """Why a candidate has no timing."""

    NONE = "none"
    """No error: the candidate was built, checked and timed."""
    INVALID_PROGRAM = "invalid_program"
    """The program record does not parse, or its steps do not apply to the task."""
    BUILD_ERROR = "build_error"
    """Lowering or compiling failed, or the task could not reach the measuring process."""
    RUNTIME_ERROR = "runtime_error"
    """The kernel raised, or the measuring process died (e.g. a segfault)."""
    TIMEOUT = "timeout"
    """The candidate took longer than ``MeasureConfig.timeout_s``."""
    WRONG_RESULT = "wrong_result"
    """The output differs from the task's reference beyond the tolerances."""


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    """The outcome of compiling one program.

    Attributes:
        program_json: the program record that was built (``Program.to_json()``).
        error_kind: ``ErrorKind.NONE`` on success.
        error_msg: what went wrong, for people; empty on success.
        build_s: seconds spent parsing, lowering and compiling.
    """

    program_json: str
    error_kind: ErrorKind = ErrorKind.NONE
    error_msg: str = ""
    build_s: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "error_kind", ErrorKind(self.error_kind))

    @property
    def ok(self) -> bool:
        return self.error_kind is ErrorKind.NONE


@dataclass(frozen=True, kw_only=True)
class MeasureResult:
    """The outcome of measuring one candidate.

    Attributes:
        costs: seconds per call, one per measurement (``MeasureConfig.repeat`` of them, or
            only the first call's time for a candidate cut off as too slow, see
            ``MeasureConfig.cutoff_ratio``); empty when the candidate failed.
        error_kind: ``ErrorKind.NONE`` on success.
        error_msg: what went wrong, for people; empty on success.
        build_s: seconds spent building the candidate.
        run_s: seconds spent checking and timing it (up to the failure, if it failed).
        timestamp: when the measurement ended (seconds since the epoch).
    """

    costs: tuple[float, ...] = ()
    error_kind: ErrorKind = ErrorKind.NONE
    error_msg: str = ""
    build_s: float = 0.0
    run_s: float = 0.0
    timestamp: float = field(default_factory=time.time)

    def __post_init__(self):
        object.__setattr__(self, "costs", tuple(float(c) for c in self.costs))
        object.__setattr__(self, "error_kind", ErrorKind(self.error_kind))

    @property
    def ok(self) -> bool:
        """Whether the candidate was built, checked and timed."""
        return self.error_kind is ErrorKind.NONE and bool(self.costs)

    @property
    def median(self) -> float:
        """Median seconds per call; ``math.inf`` for a failed candidate."""
        return statistics.median(self.costs) if self.ok else math.inf

    @property
    def mean(self) -> float:
        """Mean seconds per call; ``math.inf`` for a failed candidate."""
        return statistics.fmean(self.costs) if self.ok else math.inf

    def gflops(self, flop_count: int) -> float:
        """Throughput at the median time; 0 for a failed candidate."""
        return flop_count / self.median / 1e9 if self.ok else 0.0

    def to_dict(self) -> dict:
        """Plain JSON-ready fields."""
        return {
            "costs": list(self.costs),
            "error_kind": self.error_kind.value,
            "error_msg": self.error_msg,
            "build_s": self.build_s,
            "run_s": self.run_s,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_dict(cls, data: dict) -> MeasureResult:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)
