"""Ranking metrics used to compare cost models."""

import math

import numpy as np
import pytest

from schedlab.cost_model import pairwise_accuracy, top_k_throughput


def test_pairwise_accuracy_of_right_reversed_and_tied_scores():
    t = [1.0, 2.0, 3.0, 4.0]
    assert pairwise_accuracy([10, 20, 30, 40], t) == 1.0
    assert pairwise_accuracy([4, 3, 2, 1], t) == 0.0
    assert pairwise_accuracy([0, 0, 0, 0], t) == 0.5
    # One of six pairs wrong.
    assert pairwise_accuracy([1, 2, 4, 3], t) == pytest.approx(5 / 6)


def test_pairwise_accuracy_counts_pairs_within_groups_only():
    scores = [1.0, 2.0, 100.0, 200.0]
    throughputs = [1.0, 2.0, 0.5, 0.6]
    assert pairwise_accuracy(scores, throughputs, ["a", "a", "b", "b"]) == 1.0
    assert pairwise_accuracy(scores, throughputs) < 1.0
    # Equal throughputs make no pair.
    assert math.isnan(pairwise_accuracy([1, 2], [3, 3]))


def test_top_k_throughput():
    throughputs = np.array([1.0, 4.0, 2.0, 3.0])
    assert top_k_throughput([0, 9, 1, 2], throughputs, k=1) == 1.0
    assert top_k_throughput([9, 0, 1, 2], throughputs, k=1) == 0.25
    assert top_k_throughput([9, 0, 1, 2], throughputs, k=2) == 0.75
    with pytest.raises(ValueError):
        top_k_throughput([1], [1], k=0)


def test_metrics_refuse_mismatched_lengths():
    with pytest.raises(ValueError):
        pairwise_accuracy([1, 2], [1, 2, 3])
    with pytest.raises(ValueError):
        pairwise_accuracy([1, 2], [1, 2], ["a"])
