"""Offline comparison of cost models on measured random programs of held-out workloads.

Collects a dataset (unless ``--cache`` already holds it): random programs of several
catalogue workloads at moderate sizes (``schedlab.space.sample_programs``), each measured on
this CPU (``LocalRunner``, 2 repeats of at least 20 ms). The dataset — program records and
measure results — is cached as JSON at ``--cache``, so reruns do not measure again; more
workloads or programs than the cache holds are measured and added.

Then, leaving each workload out in turn (or on one fixed split, ``--held-out``), each model
is trained on the other workloads and scores the held-out ones. Reported per model:
pairwise ranking accuracy on the held-out programs (pairs within one workload, mean over
folds); the held-out workload's best normalised throughput among the model's top 5 (what a
search measuring the model's favourites would find); the same two on *seen* workloads
(trained on 2/3 of every workload's programs, scored on the rest, as during tuning);
training seconds (median over folds, one update on the whole training set; the first
fold's, with the MLP's jit compile, apart); and prediction speed in programs per second on
one batch of 20,480 matmul programs' features.

    python experiments/compare_cost_models.py [--cache runs/cost_model_dataset.json]
        [--programs 150] [--workloads matmul,dense,...] [--held-out dense,conv2d_nhwc]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from schedlab import workloads
from schedlab.cost_model import (
    create_cost_model,
    measured_throughputs,
    pairwise_accuracy,
    top_k_throughput,
)
from schedlab.features import extract_batch
from schedlab.measure import LocalRunner, MeasureConfig, MeasureResult
from schedlab.program import Program
from schedlab.space import sample_programs

CACHE_VERSION = 1

# The "seen workloads" evaluation trains on this share of every workload's programs and
# scores the rest: the situation of a model during tuning, which has measured the task.
SEEN_TRAIN_FRACTION = 2 / 3

# Moderate sizes: a random program runs in about 0.1-50 ms, so measuring stays quick while
# schedules still differ a lot in speed.
SHAPES = {
    "matmul": dict(M=256, N=256, K=256),
    "batch_matmul": dict(B=4, M=128, N=128, K=64),
    "dense": dict(M=64, N=512, K=512),
    "dense_bias_relu": dict(M=64, N=384, K=384),
    "conv2d_nchw": dict(N=1, C=32, H=28, W=28, K=32, R=3, S=3, stride=1, pad=1),
    "conv2d_nhwc": dict(N=1, C=32, H=28, W=28, K=64, R=3, S=3, stride=1, pad=1),
    "depthwise_conv2d_nchw": dict(N=1, C=64, H=56, W=56, R=3, S=3, stride=1, pad=1),
    "softmax": dict(M=128, N=256),
}

# Each model as a registry name and constructor options; the MLP with both losses.
MODELS = {
    "mlp (lambdarank)": ("mlp", dict(loss="lambdarank")),
    "mlp (throughput_mse)": ("mlp", dict(loss="throughput_mse")),
    "xgboost": ("xgboost", {}),
    "random": ("random", {}),
}


# -- dataset ------------------------------------------------------------------------------


def entry_key(name: str, params: dict, seed: int) -> str:
    return json.dumps([name, params, seed], sort_keys=True)


def load_cache(path: Path | None) -> dict:
    if path is None or not path.exists():
        return {"version": CACHE_VERSION, "workloads": {}}
    data = json.loads(path.read_text())
    if data.get("version") != CACHE_VERSION:
        raise ValueError(f"{path} has cache version {data.get('version')!r}, "
                         f"expected {CACHE_VERSION}")
    return data


def collect(names: list[str], n_programs: int, seed: int, cache_path: Path | None) -> dict:
    """``{workload: (programs, results)}``, measured or read from the cache."""
    cache = load_cache(cache_path)
    dataset = {}
    runner = None
    try:
        for name in names:
            params = SHAPES.get(name, {})
            task = workloads.create(name, **params)
            key = entry_key(name, params, seed)
            records = cache["workloads"].get(key, [])
            if len(records) < n_programs:
                if runner is None:
                    runner = LocalRunner(config=MeasureConfig(repeat=2, min_repeat_ms=20))
                programs = sample_programs(task, n_programs, seed=seed)[len(records):]
                start = time.perf_counter()
                results = runner.run(programs)
                print(f"  measured {len(programs)} programs of {task.name} in "
                      f"{time.perf_counter() - start:.0f} s "
                      f"({sum(r.ok for r in results)} ok)", file=sys.stderr)
                records = records + [{"program": p.to_json(), "result": r.to_dict()}
                                     for p, r in zip(programs, results)]
                cache["workloads"][key] = records
                if cache_path is not None:
                    cache_path.parent.mkdir(parents=True, exist_ok=True)
                    cache_path.write_text(json.dumps(cache))
            records = records[:n_programs]
            programs = [Program.from_json(r["program"], task=task) for r in records]
            results = [MeasureResult.from_dict(r["result"]) for r in records]
            dataset[name] = (programs, results)
    finally:
        if runner is not None:
            runner.close()
    return dataset


# -- evaluation ---------------------------------------------------------------------------


class Prepared:
    """One workload's programs as features, throughputs and group keys."""

    def __init__(self, programs=None, results=None):
        if programs is not None:
            self.features = extract_batch(programs)
            self.throughputs, self.groups = measured_throughputs(programs, results)

    def split(self, fraction: float) -> tuple[Prepared, Prepared]:
        """The first ``fraction`` of the programs and the rest."""
        cut = int(round(len(self.features) * fraction))
        head, tail = Prepared(), Prepared()
        for part, index in ((head, slice(0, cut)), (tail, slice(cut, None))):
            part.features = self.features[index]
            part.throughputs = self.throughputs[index]
            part.groups = self.groups[index]
        return head, tail


def concat(parts: list[Prepared]):
    features, throughputs, groups = [], [], []
    for part in parts:
        features += part.features
        throughputs.append(part.throughputs)
        groups += part.groups
    return features, np.concatenate(throughputs), groups


def evaluate_fold(model_name, model_options, train_parts, test_parts, seed):
    model = create_cost_model(model_name, seed=seed, **model_options)
    features, throughputs, groups = concat(train_parts)
    start = time.perf_counter()
    model.update_features(features, throughputs, groups)
    train_s = time.perf_counter() - start
    features, throughputs, groups = concat(test_parts)
    scores = model.predict_features(features)
    return model, {
        "pairwise_accuracy": pairwise_accuracy(scores, throughputs, groups),
        "top5": top_k_throughput(scores, throughputs, groups, k=5),
        "train_s": train_s,
    }


def prediction_rate(model, features: list[np.ndarray], n_programs: int = 20480) -> float:
    """Programs scored per second, in one batch of ``n_programs`` (best of 3, after a
    warm-up call that compiles)."""
    batch = [features[i % len(features)] for i in range(n_programs)]
    model.predict_features(batch)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        model.predict_features(batch)
        best = min(best, time.perf_counter() - start)
    return n_programs / best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("runs/cost_model_dataset.json"),
                        help="JSON file of measured programs (read, and extended)")
    parser.add_argument("--programs", type=int, default=150, help="programs per workload")
    parser.add_argument("--workloads", default=",".join(SHAPES),
                        help="comma-separated catalogue names (sizes from SHAPES)")
    parser.add_argument("--held-out", default="",
                        help="one fixed split: these workloads are held out; default: "
                             "leave each workload out in turn")
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, from: {', '.join(MODELS)}")
    parser.add_argument("--seed", type=int, default=0, help="seeds sampling and the models")
    parser.add_argument("--json", type=Path, help="write the table and per-fold results here")
    args = parser.parse_args(argv)

    names = [n for n in args.workloads.split(",") if n]
    unknown = [n for n in names if n not in workloads.list_workloads()]
    if unknown:
        parser.error(f"unknown workloads {unknown}; valid: {workloads.list_workloads()}")
    models = [m for m in args.models.split(",") if m]
    if any(m not in MODELS for m in models):
        parser.error(f"models must be among {', '.join(MODELS)}")
    held_out = [n for n in args.held_out.split(",") if n]
    if any(n not in names for n in held_out):
        parser.error("--held-out workloads must be among --workloads")
    folds = [held_out] if held_out else [[n] for n in names]

    print(f"dataset: {len(names)} workloads x {args.programs} programs", file=sys.stderr)
    dataset = collect(names, args.programs, args.seed, args.cache)
    prepared = {name: Prepared(*dataset[name]) for name in names}

    per_fold = {m: [] for m in models}
    seen = {}
    rates = {}
    halves = {n: prepared[n].split(SEEN_TRAIN_FRACTION) for n in names}
    for m in models:
        model_name, options = MODELS[m]
        for fold in folds:
            train = [prepared[n] for n in names if n not in fold]
            test = [prepared[n] for n in fold]
            model, metrics = evaluate_fold(model_name, options, train, test, args.seed)
            per_fold[m].append({"held_out": fold, **metrics})
        _, seen[m] = evaluate_fold(model_name, options, [halves[n][0] for n in names],
                                   [halves[n][1] for n in names], args.seed)
        rate_features = prepared["matmul"].features if "matmul" in prepared else \
            prepared[names[0]].features
        rates[m] = prediction_rate(model, rate_features)

    rows = []
    for m in models:
        folds_m = per_fold[m]
        rows.append({
            "model": m,
            "pairwise_accuracy": float(np.nanmean([f["pairwise_accuracy"] for f in folds_m])),
            "top5": float(np.nanmean([f["top5"] for f in folds_m])),
            "seen_pairwise_accuracy": seen[m]["pairwise_accuracy"],
            "seen_top5": seen[m]["top5"],
            "train_s_median": statistics.median(f["train_s"] for f in folds_m),
            "train_s_first": folds_m[0]["train_s"],
            "predict_programs_per_s": rates[m],
        })
    print_table(rows, per_fold, names, folds, args.programs)
    if args.json:
        args.json.write_text(json.dumps({
            "workloads": {n: SHAPES.get(n, {}) for n in names},
            "programs_per_workload": args.programs,
            "ok_programs": {n: int((prepared[n].throughputs > 0).sum()) for n in names},
            "folds": folds,
            "models": {m: {"registry_name": MODELS[m][0], "options": MODELS[m][1]}
                       for m in models},
            "table": rows,
            "per_fold": per_fold,
        }, indent=2))
    return 0


def print_table(rows, per_fold, names, folds, n_programs) -> None:
    print(f"\nheld-out ranking on {len(names)} workloads x {n_programs} measured programs, "
          f"{len(folds)} fold(s)")
    print("(seen: trained on 2/3 of every workload's programs, scored on the rest)")
    header = (f"{'model':<22} {'held-out acc':>12} {'top-5 best':>10} {'seen acc':>9} "
              f"{'seen top-5':>10} {'train s':>8} {'(1st fold)':>10} {'predict/s':>10}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['model']:<22} {r['pairwise_accuracy']:>12.3f} {r['top5']:>10.3f} "
              f"{r['seen_pairwise_accuracy']:>9.3f} {r['seen_top5']:>10.3f} "
              f"{r['train_s_median']:>8.2f} {r['train_s_first']:>10.2f} "
              f"{r['predict_programs_per_s']:>10.0f}")
    if len(folds) > 1:
        print("\npairwise accuracy per held-out workload")
        models = list(per_fold)
        print(f"{'held out':<24}" + "".join(f"{m:>22}" for m in models))
        for i, fold in enumerate(folds):
            print(f"{','.join(fold):<24}" + "".join(
                f"{per_fold[m][i]['pairwise_accuracy']:>22.3f}" for m in models))


if __name__ == "__main__":
    raise SystemExit(main())
