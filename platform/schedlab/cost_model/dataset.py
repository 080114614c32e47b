"""The training set of a cost model: programs as stacked feature rows, checks of input."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class TrainingSet:
    """Every program a model has been given, in the order given.

    The rows of all programs' feature matrices are stacked into one float32 array; program
    ``i`` owns rows ``offsets[i]:offsets[i + 1]``. Group keys are kept as small ints indexing
    :attr:`group_names`.
    """

    def __init__(self):
        self.rows = np.zeros((0, 0), np.float32)
        self.row_counts = np.zeros(0, np.int64)
        self.throughputs = np.zeros(0, np.float64)
        self.group_ids = np.zeros(0, np.int64)
        self.group_names: list[str] = []
        self._group_index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.row_counts)

    @property
    def n_features(self) -> int | None:
        """Width of the feature rows; ``None`` while empty."""
        return self.rows.shape[1] if len(self) else None

    @property
    def offsets(self) -> np.ndarray:
        """``len(self) + 1`` row offsets: program ``i`` is ``rows[offsets[i]:offsets[i+1]]``."""
        return np.concatenate([[0], np.cumsum(self.row_counts)])

    @property
    def row_program(self) -> np.ndarray:
        """For each row, the index of its program."""
        return np.repeat(np.arange(len(self)), self.row_counts)

    def add(self, features: list[np.ndarray], throughputs: np.ndarray, groups: list[str]) -> None:
        """Append checked programs (see :func:`check_training_data`)."""
        rows, counts = stack_rows(features)
        ids = []
        for key in groups:
            if key not in self._group_index:
                self._group_index[key] = len(self.group_names)
                self.group_names.append(key)
            ids.append(self._group_index[key])
        self.rows = rows if not len(self) else np.concatenate([self.rows, rows])
        self.row_counts = np.concatenate([self.row_counts, counts])
        self.throughputs = np.concatenate([self.throughputs, throughputs])
        self.group_ids = np.concatenate([self.group_ids, np.asarray(ids, np.int64)])

    def normalized_throughputs(self) -> np.ndarray:
        """Each throughput divided by the best of its group (0 where a group has none)."""
        best = np.zeros(len(self.group_names))
        np.maximum.at(best, self.group_ids, self.throughputs)
        best = best[self.group_ids]
        return np.divide(self.throughputs, best, out=np.zeros(len(self)), where=best > 0)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "rows": self.rows,
            "row_counts": self.row_counts,
            "throughputs": self.throughputs,
            "group_ids": self.group_ids,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], group_names: list[str]) -> TrainingSet:
        data = cls()
        data.rows = np.asarray(arrays["rows"], np.float32)
        data.row_counts = np.asarray(arrays["row_counts"], np.int64)
        data.throughputs = np.asarray(arrays["throughputs"], np.float64)
        data.group_ids = np.asarray(arrays["group_ids"], np.int64)
        data.group_names = list(group_names)
        data._group_index = {key: i for i, key in enumerate(data.group_names)}
        return data


def stack_rows(features: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Checked feature matrices as (all rows stacked, rows per program)."""
    counts = np.fromiter((f.shape[0] for f in features), np.int64, len(features))
    width = features[0].shape[1] if features else 0
    rows = np.concatenate(features) if features else np.zeros((0, width), np.float32)
    return rows, counts


def check_features(features: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Feature matrices as a list of finite float32 2-D arrays of one width.

    ``TypeError`` when ``features`` is not a sequence of arrays; ``ValueError`` naming the
    first matrix that is not 2-D, has another width than the first, or is not finite.
    """
    if isinstance(features, np.ndarray) and features.ndim != 3:
        raise TypeError("features must be a sequence of 2-D arrays, one per program, "
                        f"not one {features.ndim}-D array")
    if not isinstance(features, (Sequence, np.ndarray)):
        raise TypeError(f"features must be a sequence of arrays, got {type(features).__name__}")
    checked = []
    width = None
    for i, matrix in enumerate(features):
        try:
            matrix = np.asarray(matrix, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"features[{i}] is not a numeric array: {exc}") from None
        if matrix.ndim != 2:
            raise ValueError(f"features[{i}] has shape {matrix.shape}; expected (n_rows, F)")
        if width is None:
            width = matrix.shape[1]
        elif matrix.shape[1] != width:
            raise ValueError(f"features[{i}] has {matrix.shape[1]} columns; features[0] "
                             f"has {width}")
        checked.append(matrix)
    if checked:
        rows, _ = stack_rows(checked)
        if not np.isfinite(rows).all():
            bad = next(i for i, m in enumerate(checked) if not np.isfinite(m).all())
            raise ValueError(f"features[{bad}] has NaN or infinite entries")
    return checked


def check_training_data(
    features: Sequence[np.ndarray],
    throughputs: Sequence[float] | np.ndarray,
    groups: Sequence[str],
) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Checked (features, float64 throughputs, group keys) of equal lengths."""
    features = check_features(features)
    throughputs = np.asarray(throughputs, dtype=np.float64)
    if throughputs.ndim != 1:
        raise ValueError(f"throughputs must be 1-D, got shape {throughputs.shape}")
    if isinstance(groups, str) or not isinstance(groups, (Sequence, np.ndarray)):
        raise TypeError("groups must be a sequence of keys, one per program")
    if not len(features) == len(throughputs) == len(groups):
        raise ValueError(f"got {len(features)} feature matrices, {len(throughputs)} "
                         f"throughputs and {len(groups)} group keys; they must match")
    if not np.isfinite(throughputs).all() or (throughputs < 0).any():
        bad = int(np.flatnonzero(~(np.isfinite(throughputs) & (throughputs >= 0)))[0])
        raise ValueError(f"throughputs[{bad}] = {throughputs[bad]}; throughputs must be "
                         "finite and >= 0 (0 for a failed measurement)")
    keys = []
    for i, key in enumerate(groups):
        if not isinstance(key, str):
            raise TypeError(f"groups[{i}] is a {type(key).__name__}; group keys are strings "
                            "(task.workload_key)")
        keys.append(key)
    return features, throughputs, keys
