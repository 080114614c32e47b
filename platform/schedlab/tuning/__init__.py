"""Tuning runs: the round loop, and what it returns."""

from .result import BestProgram, RoundStats, TuneResult
from .tuner import RECORDS_FILE, Tuner, tune

__all__ = ["BestProgram", "RECORDS_FILE", "RoundStats", "TuneResult", "Tuner", "tune"]
