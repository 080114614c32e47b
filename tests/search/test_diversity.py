"""The first round's space-filling design."""

import numpy as np

from schedlab.database import program_key
from schedlab.features import extract_batch
from schedlab.search import EvolutionarySearch
from schedlab.search.base import SearchContext
from schedlab.search.diversity import farthest_point_subset, program_vectors
from schedlab.workloads import create


class Untrained:
    trained = False


def test_farthest_points_cover_every_cluster():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [100, 0], [0, 100], [100, 100]], float)
    # Three quarters of the points crowd one corner; a random 4 would mostly land there.
    labels = np.array([0] * 300 + [1] * 30 + [2] * 30 + [3] * 30)
    points = centres[labels] + rng.normal(size=(len(labels), 2))
    chosen = farthest_point_subset(points, 4, rng)
    assert sorted(labels[chosen]) == [0, 1, 2, 3]
    assert farthest_point_subset(points[:3], 5, rng) == [0, 1, 2]
    assert farthest_point_subset(points, 0, rng) == []


def test_program_vectors_standardise_columns_and_zero_constant_ones():
    features = [np.array([[1.0, 2.5], [2.0, 2.5]]), np.array([[7.0, 5.0]]),
                np.array([[0.0, 5.0]])]
    vectors = program_vectors(features)
    assert vectors.shape == (3, 2)
    np.testing.assert_allclose(vectors.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(vectors[:, 1], 0.0)
    assert vectors[1, 0] > vectors[0, 0] > vectors[2, 0]


def test_first_round_is_more_spread_out_than_plain_random():
    task = create("matmul", M=128, N=128, K=96)
    proposals = []
    for initial_pool in (1, 8):
        context = SearchContext(task, rng=np.random.default_rng(7))
        proposal = EvolutionarySearch(initial_pool=initial_pool, workers=0).propose(
            context, Untrained(), 16)
        assert len({program_key(p) for p in proposal}) == len(proposal) == 16
        proposals.append(proposal)
    # One standardisation for both sets, so that their distances compare.
    vectors = program_vectors(extract_batch(proposals[0] + proposals[1]))

    def nearest_neighbour_gap(v):
        gaps = np.linalg.norm(v[:, None] - v[None, :], axis=2)
        np.fill_diagonal(gaps, np.inf)
        return gaps.min(axis=1).mean()

    assert nearest_neighbour_gap(vectors[16:]) > 1.2 * nearest_neighbour_gap(vectors[:16])
