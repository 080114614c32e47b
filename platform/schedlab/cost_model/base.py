"""The cost-model interface: what scores candidate programs for the search."""

from __future__ import annotations

import abc
import json
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .dataset import TrainingSet, check_features, check_training_data

# Bumped when the layout of saved model files changes.
SAVE_FORMAT_VERSION = 1
_META_KEY = "__meta__"


class CostModel(abc.ABC):
    """Predicts which programs of a task run faster, learning from measurements.

    Contract:
        - The tuning loop calls :meth:`update` once per round with the programs it has just
          measured and their results; the model adds them to its training set (it keeps all
          data it was given) and retrains on everything it has, warm-starting from its
          current state where the implementation can. A failed result counts as throughput 0.
        - :meth:`predict` returns one float32 score per program; a higher score means a
          faster program. Scores rank programs *within one task*: the training target is each
          task's throughputs divided by the best one of that task, so scores of different
          tasks are not comparable as speeds.
        - Before the model has been trained (no :meth:`update` with at least one program
          yet), :meth:`predict` returns uniform random scores in [0, 1) from the model's
          seeded generator, so that a search guided by an untrained model behaves like a
          random search rather than one that breaks ties by position.
        - :meth:`update_features` and :meth:`predict_features` are the same operations on
          feature matrices that the caller has already extracted
          (:func:`schedlab.features.extract_batch`: one float32 ``(n_stores, F)`` matrix per
          program), so search code does not extract twice. :meth:`update` and
          :meth:`predict` extract the features and call them.
        - Misuse raises: sequences of different lengths, features that are not 2-D or whose
          width differs from the data seen before, negative or non-finite throughputs give a
          ``ValueError`` naming the problem; items of the wrong type a ``TypeError``.
        - The same seed, constructor options and sequence of calls give the same scores.
        - :meth:`save` writes the whole model (options, trained state and training set) to
          one file; :meth:`load` is a classmethod that returns a new model from such a file,
          which predicts exactly what the saved model predicted and continues training from
          where it stopped. ``CostModel.load`` reads any kind; ``MLPCostModel.load`` insists
          on an MLP file.
        - :attr:`uses_features` is False for a model that ignores features (random
          scores): callers may then skip extracting them and call :meth:`predict` directly.
        - A model is used from one thread at a time.
    """

    #: The registry name of the implementation (``"mlp"``, ``"xgboost"``, ``"random"``).
    name: str = ""
    #: Whether scores depend on the programs' features.
    uses_features: bool = True

    def __init__(self, *, seed: int = 0):
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        self.seed = seed
        self._untrained_rng = np.random.default_rng(seed)
        self.data = TrainingSet()

    # -- on programs -------------------------------------------------------------------

    def update(self, programs: Sequence, results: Sequence) -> None:
        """Add measured ``programs`` and their ``results`` (one
        :class:`~schedlab.measure.MeasureResult` each) to the training set and retrain."""
        throughputs, groups = measured_throughputs(programs, results)
        self.update_features(_extract(programs), throughputs, groups)

    def predict(self, programs: Sequence) -> np.ndarray:
        """Scores of ``programs`` as a float32 array; higher means faster."""
        return self.predict_features(_extract(programs))

    # -- on features -------------------------------------------------------------------

    def update_features(
        self,
        features: Sequence[np.ndarray],
        throughputs: Sequence[float] | np.ndarray,
        groups: Sequence[str],
    ) -> None:
        """Add programs as feature matrices and retrain.

        Args:
            features: one float ``(n_rows, F)`` matrix per program.
            throughputs: one per program, higher is faster (``task.flop_count / median
                latency``; 0 for a failed measurement). Only ratios within a group matter.
            groups: one key per program (``task.workload_key``); throughputs are normalised
                by the best one of their group.
        """
        features, throughputs, groups = check_training_data(features, throughputs, groups)
        if self.data.n_features is not None and features and \
                features[0].shape[1] != self.data.n_features:
            raise ValueError(
                f"features have {features[0].shape[1]} columns; this model was trained on "
                f"{self.data.n_features}"
            )
        if not features:
            return
        self.data.add(features, throughputs, groups)
        self._train()

    def predict_features(self, features: Sequence[np.ndarray]) -> np.ndarray:
        """Scores of programs given as feature matrices; float32, higher means faster."""
        features = check_features(features)
        if features and self.data.n_features is not None and \
                features[0].shape[1] != self.data.n_features:
            raise ValueError(
                f"features have {features[0].shape[1]} columns; this model was trained on "
                f"{self.data.n_features}"
            )
        if not self.trained:
            return self._untrained_rng.random(len(features)).astype(np.float32)
        if not features:
            return np.zeros(0, np.float32)
        return np.asarray(self._predict(features), dtype=np.float32)

    @property
    def trained(self) -> bool:
        """Whether the model has been trained on at least one program."""
        return len(self.data) > 0

    # -- what implementations provide ---------------------------------------------------

    @abc.abstractmethod
    def _train(self) -> None:
        """Retrain on ``self.data`` (called after new programs were added)."""

    @abc.abstractmethod
    def _predict(self, features: list[np.ndarray]) -> np.ndarray:
        """Scores of a non-empty list of checked feature matrices, once trained."""

    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments that rebuild this model (JSON-ready)."""
        return {"seed": self.seed}

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Trained state beyond the training set: (JSON-ready values, named arrays)."""
        return {}, {}

    def _set_state(self, values: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Inverse of :meth:`_state`, on a freshly constructed model (by default there is
        nothing to restore)."""
        return None

    # -- persistence -------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the model (options, trained state, training set) to ``path`` (an ``.npz``
        archive, written under exactly this name)."""
        values, arrays = self._state()
        meta = {
            "format": SAVE_FORMAT_VERSION,
            "kind": self.name,
            "config": self.config(),
            "state": values,
            "untrained_rng": self._untrained_rng.bit_generator.state,
            "groups": self.data.group_names,
        }
        payload = {f"state/{k}": np.asarray(v) for k, v in arrays.items()}
        payload.update({f"data/{k}": v for k, v in self.data.to_arrays().items()})
        payload[_META_KEY] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        # A file object: np.savez would otherwise append ".npz" to the name.
        with open(path, "wb") as f:
            np.savez(f, **payload)

    @classmethod
    def load(cls, path: str | os.PathLike) -> CostModel:
        """A new model from a file written by :meth:`save` (a classmethod).

        ``CostModel.load`` returns whatever kind the file holds; a subclass's ``load``
        raises ``ValueError`` for a file of another kind.
        """
        from .registry import cost_model_class

        not_a_model = ValueError(f"{os.fspath(path)!r} is not a saved cost model")
        try:
            archive = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise not_a_model from exc
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise not_a_model
        with archive:
            if _META_KEY not in archive:
                raise not_a_model
            meta = json.loads(archive[_META_KEY].tobytes().decode())
            arrays = {k: archive[k] for k in archive.files if k != _META_KEY}
        if meta.get("format") != SAVE_FORMAT_VERSION:
            raise ValueError(f"saved cost model has format {meta.get('format')!r}, "
                             f"expected {SAVE_FORMAT_VERSION}")
        model_cls = cost_model_class(meta["kind"])
        if not issubclass(model_cls, cls):
            raise ValueError(f"{os.fspath(path)!r} holds a {meta['kind']!r} model, "
                             f"not a {cls.__name__}")
        model = model_cls(**meta["config"])
        model._untrained_rng.bit_generator.state = meta["untrained_rng"]
        model.data = TrainingSet.from_arrays(
            {k[len("data/"):]: v for k, v in arrays.items() if k.startswith("data/")},
            meta["groups"],
        )
        model._set_state(
            meta["state"],
            {k[len("state/"):]: v for k, v in arrays.items() if k.startswith("state/")},
        )
        return model

    def __repr__(self):
        options = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({options})"


def measured_throughputs(
    programs: Sequence, results: Sequence
) -> tuple[np.ndarray, list[str]]:
    """Training targets of measured programs: (throughputs, group keys).

    A program's throughput is ``task.flop_count / median latency`` (at least one FLOP, so
    tasks that count none still rank by speed); a failed result counts as 0. Its group is
    ``task.workload_key``.
    """
    from ..measure import MeasureResult
    from ..program import Program

    if len(programs) != len(results):
        raise ValueError(f"got {len(programs)} programs but {len(results)} results")
    throughputs = np.zeros(len(programs), np.float64)
    groups = []
    for i, (program, result) in enumerate(zip(programs, results)):
        if not isinstance(program, Program):
            raise TypeError(f"program {i} is a {type(program).__name__}, not a Program")
        if not isinstance(result, MeasureResult):
            raise TypeError(f"result {i} is a {type(result).__name__}, not a MeasureResult")
        if result.ok and math.isfinite(result.median) and result.median > 0:
            throughputs[i] = max(program.task.flop_count, 1) / result.median
        groups.append(program.task.workload_key)
    return throughputs, groups


def _extract(programs: Sequence) -> list[np.ndarray]:
    from ..features import extract_batch
    from ..program import Program

    for i, program in enumerate(programs):
        if not isinstance(program, Program):
            raise TypeError(f"program {i} is a {type(program).__name__}, not a Program")
    return list(extract_batch(list(programs)))
