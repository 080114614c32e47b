"""Synthetic feature matrices whose throughput is a known function, for cost-model tests.

Each program is a few "stores" (rows of random features); each store contributes a speed
that depends non-linearly on its row (an exponential trend, an interaction of two features
and a step), and a program's throughput is its task's work times the sum of its stores'
speeds. A model that sums per-row scores can represent both the throughputs and their
ranking exactly; how close it gets shows what it learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SyntheticData", "synthetic_dataset"]


@dataclass(frozen=True)
class SyntheticData:
    """Programs as feature matrices with their throughputs and task keys.

    Attributes:
        features: one float32 ``(n_rows, n_features)`` matrix per program.
        throughputs: one per program (work / latency); 0 for programs marked failed.
        groups: one task key per program.
    """

    features: list[np.ndarray]
    throughputs: np.ndarray
    groups: list[str]

    def __len__(self) -> int:
        return len(self.features)

    def subset(self, index) -> SyntheticData:
        index = np.asarray(index)
        return SyntheticData([self.features[i] for i in index], self.throughputs[index],
                             [self.groups[i] for i in index])


def synthetic_dataset(
    n_programs: int,
    *,
    n_groups: int = 4,
    n_features: int = 12,
    rows: tuple[int, int] = (1, 4),
    noise: float = 0.0,
    failed_fraction: float = 0.0,
    seed: int = 0,
    group_offset: int = 0,
) -> SyntheticData:
    """``n_programs`` random programs spread over ``n_groups`` tasks.

    Args:
        n_programs: how many programs.
        n_groups: how many tasks; task ``g`` is keyed ``"task{g + group_offset}"`` and has
            its own work and a task-wide feature (column 0) shared by its rows.
        n_features: columns of every feature matrix (at least 4).
        rows: inclusive range of rows per program.
        noise: standard deviation of multiplicative log-normal noise on each throughput.
        failed_fraction: fraction of programs whose throughput is 0 (failed measurements).
        seed: seeds everything; the cost function itself is fixed, so datasets with
            different seeds (or group offsets) share one ground truth.
        group_offset: first task number, for held-out tasks of the same ground truth.
    """
    if n_features < 4:
        raise ValueError(f"n_features must be at least 4, got {n_features}")
    if not 1 <= rows[0] <= rows[1]:
        raise ValueError(f"rows must be a range (lo, hi) with 1 <= lo <= hi, got {rows}")
    truth = np.random.default_rng(12345)
    w_speed = truth.normal(size=n_features) / np.sqrt(n_features)
    w_bump = truth.normal(size=n_features) / np.sqrt(n_features)

    rng = np.random.default_rng(seed)
    group_numbers = np.arange(n_groups) + group_offset
    group_rng = [np.random.default_rng([12345, int(g)]) for g in group_numbers]
    group_feature = np.array([r.normal() for r in group_rng])
    group_work = np.array([10.0 ** r.uniform(0, 3) for r in group_rng])

    features, throughputs, groups = [], np.zeros(n_programs), []
    for i in range(n_programs):
        g = int(rng.integers(n_groups))
        n_rows = int(rng.integers(rows[0], rows[1] + 1))
        x = rng.normal(size=(n_rows, n_features)).astype(np.float32)
        x[:, 0] = group_feature[g]
        speed = np.exp(0.5 * (x @ w_speed)) * (1.0 + 0.5 * np.tanh(x[:, 1] * x[:, 2]))
        speed += 0.5 * (x @ w_bump > 0.5)
        throughputs[i] = group_work[g] * float(speed.sum()) * np.exp(noise * rng.normal())
        features.append(x)
        groups.append(f"task{group_numbers[g]}")
    failed = rng.random(n_programs) < failed_fraction
    throughputs[failed] = 0.0
    return SyntheticData(features, throughputs, groups)
