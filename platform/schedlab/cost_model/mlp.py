"""A JAX cost model: an MLP scores each store of a program, the program's score is their sum."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .base import CostModel
from .dataset import stack_rows

LOSSES = ("throughput_mse", "lambdarank")

# Prediction pads a chunk of programs to one of these counts and its rows to a power of two,
# so that jit compiles a handful of shapes instead of one per call.
_PREDICT_PROGRAM_BUCKETS = (64, 256, 1024, 4096)
_MIN_ROW_BUCKET = 64


class Batch(NamedTuple):
    """Programs padded to fixed shapes: ``P`` program slots holding ``R`` row slots.

    Padding rows have ``row_mask`` 0 and belong to the last program slot; padding programs
    have ``program_mask`` 0.
    """

    rows: jax.Array  # (R, F) standardised features
    row_program: jax.Array  # (R,) int32, non-decreasing
    row_mask: jax.Array  # (R,)
    target: jax.Array  # (P,) normalised throughput
    group: jax.Array  # (P,) int32 group id
    program_mask: jax.Array  # (P,)


class MLPCostModel(CostModel):
    """A per-store MLP whose outputs are summed per program (Ansor's model shape, in JAX).

    Each feature row (one innermost store of the program) is standardised with the mean and
    standard deviation of the training rows, goes through ``len(hidden)`` fully connected
    ReLU layers and a linear layer to one number; a program's score is the sum of its rows'
    numbers (``jax.ops.segment_sum``). Two hidden layers of 64 are the default: in the
    offline comparison (``experiments/compare_cost_models.py``) wider (256) or deeper (3
    layers) networks ranked measured programs no better; on the records of tuning runs,
    two layers of 128 ranked the next round's programs a little better (pairwise accuracy
    0.628 against 0.623) but trained at half the speed, and an update is paid for in every
    round of tuning.

    Every :meth:`update` refits the standardisation on all rows, then trains ``epochs``
    passes (at most ``max_steps`` steps) over all programs seen so far, in shuffled batches
    of ``batch_size``, continuing from the current weights and optimizer state (warm
    start). Training is one jit-compiled pure step (AdamW with gradient clipping); shuffles
    and the initial weights come from explicit PRNG keys derived from ``seed``, so a seed
    and a sequence of updates give the same model.

    With ``clip_features``, prediction first clips each feature to the range it took in
    the training rows, so the model scores what it has not seen like the nearest thing it
    has (as a tree ensemble does). A ReLU network extrapolates linearly: while tuning, the
    search then fills whole rounds with programs whose features lie past anything measured
    and whose scores grow without bound. Replaying the records of tuning runs round by
    round, clipping lifted the next round's pairwise accuracy where this happened (conv2d:
    0.28 to 0.66) and changed little elsewhere.

    Args:
        hidden: widths of the hidden layers.
        loss: ``"lambdarank"`` (logistic loss on every pair of programs of one task in a
            batch, weighted by how much swapping the two would change the NDCG of the task's
            current ranking; gains are normalised throughputs) or ``"throughput_mse"``
            (Ansor's: each program's throughput is divided by the best of its task; squared
            error of the score against it, weighted by that normalised throughput, at least
            ``min_weight``). LambdaRank is the default: it ranked the measured programs of
            seen workloads better in the offline comparison, and as well on held-out ones.
        learning_rate: AdamW step size.
        weight_decay: AdamW decoupled weight decay.
        batch_size: programs per training step.
        epochs: passes over the training set per update. While tuning, a round adds
            about 64 programs, one batch, so an epoch is one optimizer step. On the
            records of real tuning runs, a 2x128 network updated round by round as in
            tuning ranked the next round's programs at 0.54 pairwise accuracy after 20
            epochs per update, 0.63 after 150 and 0.64 after 300 (XGBoost: 0.65); 150
            cost about half a second per update.
        max_steps: the most optimizer steps per update: once the training set is large,
            fewer epochs run, so an update's time stops growing with the data (at least one
            epoch always runs).
        min_weight: the least weight of a program in ``throughput_mse``, so that slow and
            failed programs (normalised throughput near 0) still pull their scores down.
        clip_features: clip features to their training range before predicting.
        seed: seeds the initial weights, the shuffles and the untrained model's scores.
    """

    name = "mlp"

    def __init__(
        self,
        *,
        hidden: tuple[int, ...] | list[int] = (64, 64),
        loss: str = "lambdarank",
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 256,
        epochs: int = 150,
        max_steps: int = 500,
        min_weight: float = 0.05,
        clip_features: bool = True,
        seed: int = 0,
    ):
        super().__init__(seed=seed)
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; valid: {', '.join(LOSSES)}")
        hidden = tuple(hidden)
        if not hidden or not all(isinstance(h, int) and h > 0 for h in hidden):
            raise ValueError(f"hidden must be a non-empty list of positive ints, got {hidden!r}")
        for key, value in (("batch_size", batch_size), ("epochs", epochs),
                           ("max_steps", max_steps)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{key} must be an int >= 1, got {value!r}")
        for key, value in (("learning_rate", learning_rate), ("weight_decay", weight_decay),
                           ("min_weight", min_weight)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key} must be a number >= 0, got {value!r}")
        self.hidden = hidden
        self.loss = loss
        self.learning_rate = float(learning_rate)
        self.weight_decay = float(weight_decay)
        self.batch_size = batch_size
        self.epochs = epochs
        self.max_steps = max_steps
        self.min_weight = float(min_weight)
        self.clip_features = bool(clip_features)
        self._key = jax.random.PRNGKey(seed)
        self._params = None
        self._opt_state = None
        self._mean: np.ndarray | None = None
        self._inv_std: np.ndarray | None = None
        self._low: np.ndarray | None = None  # the training rows' range, for clipping
        self._high: np.ndarray | None = None
        self.last_losses: list[float] = []
        """Mean training loss of each epoch of the last update."""

    def config(self) -> dict[str, Any]:
        return {
            "hidden": list(self.hidden),
            "loss": self.loss,
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "max_steps": self.max_steps,
            "min_weight": self.min_weight,
            "clip_features": self.clip_features,
            "seed": self.seed,
        }

    # -- training --------------------------------------------------------------------------

    def _train(self) -> None:
        data = self.data
        if self._params is None:
            self._key, init_key = jax.random.split(self._key)
            self._params = init_params(init_key, data.n_features, self.hidden)
            self._opt_state = _optimizer(self.learning_rate, self.weight_decay).init(
                self._params)
        self._mean, self._inv_std = fit_standardization(data.rows)
        self._low, self._high = _feature_range(data.rows, self.clip_features)
        rows = (data.rows - self._mean) * self._inv_std
        targets = data.normalized_throughputs().astype(np.float32)
        offsets = data.offsets
        n = len(data)
        # Every update pads its batches to the same shape, so the training step compiles
        # once per run rather than once per round as the training set grows.
        slots = self.batch_size
        step = functools.partial(train_step, loss=self.loss, learning_rate=self.learning_rate,
                                 weight_decay=self.weight_decay, min_weight=self.min_weight)
        steps_per_epoch = -(-n // slots)
        epochs = max(1, min(self.epochs, self.max_steps // steps_per_epoch))
        orders = []
        for _ in range(epochs):
            self._key, shuffle_key = jax.random.split(self._key)
            orders.append(np.asarray(jax.random.permutation(shuffle_key, n)))
        # Rows: a full batch of the largest programs seen, rounded up to a power of two.
        row_slots = max(_MIN_ROW_BUCKET, _next_pow2(slots * int(data.row_counts.max())))
        self.last_losses = []
        for order in orders:
            losses = []
            for start in range(0, n, slots):
                idx = order[start:start + slots]
                batch = make_batch(rows, offsets, data.row_counts, idx, slots, row_slots,
                                   targets[idx], data.group_ids[idx])
                self._params, self._opt_state, loss = step(self._params, self._opt_state, batch)
                losses.append(loss)
            self.last_losses.append(float(np.mean(jax.device_get(losses))))

    # -- prediction ------------------------------------------------------------------------

    def _predict(self, features: list[np.ndarray]) -> np.ndarray:
        rows, counts = stack_rows(features)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        chunk = _PREDICT_PROGRAM_BUCKETS[-1]
        out = []
        for start in range(0, len(features), chunk):
            stop = min(start + chunk, len(features))
            slots = next(b for b in _PREDICT_PROGRAM_BUCKETS if b >= stop - start)
            sub_rows = rows[offsets[start]:offsets[stop]]
            sub_counts = counts[start:stop]
            padded, row_program, row_mask = pad_rows(sub_rows, sub_counts, slots)
            scores = predict_scores(self._params, self._mean, self._inv_std, self._low,
                                    self._high, padded, row_program, row_mask,
                                    num_programs=slots)
            out.append(np.asarray(scores)[:stop - start])
        return np.concatenate(out)

    # -- persistence -----------------------------------------------------------------------

    def _state(self):
        if self._params is None:
            return {"trained": False}, {"key": np.asarray(self._key)}
        arrays = {"key": np.asarray(self._key), "mean": self._mean, "inv_std": self._inv_std}
        for i, leaf in enumerate(jax.tree_util.tree_leaves(self._params)):
            arrays[f"param_{i}"] = np.asarray(leaf)
        for i, leaf in enumerate(jax.tree_util.tree_leaves(self._opt_state)):
            arrays[f"opt_{i}"] = np.asarray(leaf)
        return {"trained": True}, arrays

    def _set_state(self, values, arrays):
        self._key = jnp.asarray(arrays["key"], dtype=jnp.uint32)
        if not values.get("trained"):
            return
        # Rebuild the tree structures from a template, then fill in the saved leaves.
        template = init_params(jax.random.PRNGKey(0), self.data.n_features, self.hidden)
        opt_template = _optimizer(self.learning_rate, self.weight_decay).init(template)
        self._params = _fill(template, arrays, "param")
        self._opt_state = _fill(opt_template, arrays, "opt")
        self._mean = np.asarray(arrays["mean"], np.float32)
        self._inv_std = np.asarray(arrays["inv_std"], np.float32)
        # The range is that of the saved training rows, which the file holds.
        self._low, self._high = _feature_range(self.data.rows, self.clip_features)


# -- pure functions --------------------------------------------------------------------------


def init_params(key: jax.Array, n_features: int, hidden: tuple[int, ...]) -> list:
    """``[(W, b), ...]`` for layers ``n_features -> *hidden -> 1``: He-normal weights (the
    output layer scaled down, so first scores are near 0) and zero biases."""
    sizes = (n_features, *hidden, 1)
    keys = jax.random.split(key, len(sizes) - 1)
    params = []
    for i, (k, fan_in, fan_out) in enumerate(zip(keys, sizes[:-1], sizes[1:])):
        scale = np.sqrt(2.0 / max(fan_in, 1)) * (0.1 if i == len(sizes) - 2 else 1.0)
        params.append((scale * jax.random.normal(k, (fan_in, fan_out), jnp.float32),
                       jnp.zeros(fan_out, jnp.float32)))
    return params


def row_scores(params: list, rows: jax.Array) -> jax.Array:
    """One number per feature row."""
    h = rows
    for w, b in params[:-1]:
        h = jax.nn.relu(h @ w + b)
    w, b = params[-1]
    return (h @ w + b)[:, 0]


def program_scores(params: list, rows, row_program, row_mask, num_programs: int) -> jax.Array:
    """Sum of the row scores of each program slot (padding rows count 0)."""
    return jax.ops.segment_sum(row_scores(params, rows) * row_mask, row_program,
                               num_segments=num_programs, indices_are_sorted=True)


def throughput_mse_loss(scores, batch: Batch, min_weight: float) -> jax.Array:
    """Squared error against normalised throughput, weighted by it (at least ``min_weight``)."""
    weight = jnp.maximum(batch.target, min_weight) * batch.program_mask
    return jnp.sum(weight * (scores - batch.target) ** 2) / jnp.maximum(jnp.sum(weight), 1e-9)


def lambdarank_loss(scores, batch: Batch) -> jax.Array:
    """Pairwise logistic loss within each group, pairs weighted by their |delta NDCG|."""
    y = batch.target
    valid = batch.program_mask > 0
    same = (batch.group[:, None] == batch.group[None, :]) & valid[:, None] & valid[None, :]
    s = jax.lax.stop_gradient(scores)
    # 1-based positions in the group's current ranking and in its ideal ranking.
    rank = 1 + jnp.sum(same & (s[None, :] > s[:, None]), axis=1)
    ideal_rank = 1 + jnp.sum(same & (y[None, :] > y[:, None]), axis=1)
    discount = 1.0 / jnp.log2(1.0 + rank)
    ideal_dcg = same.astype(jnp.float32) @ (y / jnp.log2(1.0 + ideal_rank))
    better = same & (y[:, None] > y[None, :])
    delta = (jnp.abs(y[:, None] - y[None, :]) * jnp.abs(discount[:, None] - discount[None, :])
             / jnp.maximum(ideal_dcg[:, None], 1e-9))
    weight = jnp.where(better, delta, 0.0)
    pair_loss = jax.nn.softplus(scores[None, :] - scores[:, None])
    return jnp.sum(weight * pair_loss) / jnp.maximum(jnp.sum(weight), 1e-9)


@functools.cache
def _optimizer(learning_rate: float, weight_decay: float) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(1.0),
                       optax.adamw(learning_rate, weight_decay=weight_decay))


@functools.partial(jax.jit,
                   static_argnames=("loss", "learning_rate", "weight_decay", "min_weight"))
def train_step(params, opt_state, batch: Batch, *, loss: str, learning_rate: float,
               weight_decay: float, min_weight: float):
    """One optimizer step on one batch: ``(params, opt_state, loss value)``."""

    def objective(p):
        scores = program_scores(p, batch.rows, batch.row_program, batch.row_mask,
                                batch.target.shape[0])
        if loss == "lambdarank":
            return lambdarank_loss(scores, batch)
        return throughput_mse_loss(scores, batch, min_weight)

    value, grads = jax.value_and_grad(objective)(params)
    updates, opt_state = _optimizer(learning_rate, weight_decay).update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value


@functools.partial(jax.jit, static_argnames=("num_programs",))
def predict_scores(params, mean, inv_std, low, high, rows, row_program, row_mask, *,
                   num_programs: int):
    """Scores of padded programs from raw (unstandardised) feature rows, each feature
    clipped to ``[low, high]`` first."""
    rows = jnp.clip(rows, low, high)
    return program_scores(params, (rows - mean) * inv_std, row_program, row_mask, num_programs)


# -- packing ---------------------------------------------------------------------------------


def fit_standardization(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and 1/std of ``rows``; constant columns get 1/std = 1."""
    mean = rows.mean(axis=0, dtype=np.float64)
    std = rows.std(axis=0, dtype=np.float64)
    inv_std = np.where(std > 1e-6, 1.0 / np.maximum(std, 1e-6), 1.0)
    return mean.astype(np.float32), inv_std.astype(np.float32)


def _feature_range(rows: np.ndarray, clip: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-column least and greatest value of ``rows``; infinite bounds when not clipping."""
    if not clip:
        infinite = np.full(rows.shape[1], np.inf, np.float32)
        return -infinite, infinite
    return rows.min(axis=0).astype(np.float32), rows.max(axis=0).astype(np.float32)


def pad_rows(rows: np.ndarray, counts: np.ndarray, slots: int, row_slots: int | None = None):
    """Rows of ``len(counts)`` programs padded to ``row_slots`` rows (by default the next
    power of two): ``(rows, row_program, row_mask)``."""
    total = rows.shape[0]
    size = row_slots or max(_MIN_ROW_BUCKET, _next_pow2(total))
    padded = np.zeros((size, rows.shape[1]), np.float32)
    padded[:total] = rows
    row_program = np.full(size, slots - 1, np.int32)
    row_program[:total] = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    row_mask = np.zeros(size, np.float32)
    row_mask[:total] = 1.0
    return padded, row_program, row_mask


def make_batch(rows, offsets, counts, idx, slots, row_slots, targets, groups) -> Batch:
    """The programs ``idx`` of a training set as a :class:`Batch` of ``slots`` programs
    and ``row_slots`` rows."""
    c = counts[idx]
    starts = np.repeat(offsets[idx] - (np.cumsum(c) - c), c)
    padded, row_program, row_mask = pad_rows(rows[starts + np.arange(c.sum())], c, slots,
                                             row_slots)
    n = len(idx)
    target = np.zeros(slots, np.float32)
    target[:n] = targets
    group = np.full(slots, -1, np.int32)
    group[:n] = groups
    program_mask = np.zeros(slots, np.float32)
    program_mask[:n] = 1.0
    return Batch(padded, row_program, row_mask, target, group, program_mask)


def _next_pow2(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


def _fill(template, arrays: dict[str, np.ndarray], prefix: str):
    leaves, treedef = jax.tree_util.tree_flatten(template)
    saved = []
    for i, leaf in enumerate(leaves):
        value = arrays[f"{prefix}_{i}"]
        if value.shape != np.shape(leaf):
            raise ValueError(f"saved {prefix} {i} has shape {value.shape}, expected "
                             f"{np.shape(leaf)}")
        saved.append(jnp.asarray(value, dtype=jnp.asarray(leaf).dtype))
    return jax.tree_util.tree_unflatten(treedef, saved)
