"""Random valid schedules of many computations, compiled and compared with numpy.

SCHEDLAB_DIFF_PROGRAMS sets how many programs per task (default small for CI); the
``experiments/differential.py`` script runs thousands.
"""

import os

import pytest

from schedlab.testing.differential import catalogue_tasks, check_random_program, small_tasks

PER_TASK = int(os.environ.get("SCHEDLAB_DIFF_PROGRAMS", "4"))
TASKS = small_tasks() + catalogue_tasks()


@pytest.mark.parametrize("task", TASKS, ids=[t.name for t in TASKS])
def test_random_programs_match_numpy(task):
    for seed in range(PER_TASK):
        result = check_random_program(task, seed)
        assert result.status in ("match", "no_program"), result.message
