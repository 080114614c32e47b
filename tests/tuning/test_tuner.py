"""The tuning loop with fake measurements: rounds, records, resume, failures, errors."""

import pytest

from schedlab.database import JSONDatabase
from schedlab.testing.fake_tuning import OracleCostModel, OracleRunner, oracle_latency
from schedlab.tuning import RECORDS_FILE, Tuner, tune
from schedlab.workloads import create

FAST = {"search_options": {"population": 48, "generations": 2}, "batch_size": 8, "log": None,
        "confirm_top": 0}


@pytest.fixture(scope="module")
def task():
    return create("matmul", M=64, N=64, K=32)


def test_rounds_measure_new_programs_and_improve(task):
    runner = OracleRunner()
    result = tune(task, trials=40, runner=runner, cost_model=OracleCostModel(), **FAST)
    assert len(runner.measured) == 40 == len(set(runner.measured))
    assert [r.trials for r in result.rounds] == [8] * 5
    assert result.best.latency_s == min(runner.latencies)
    assert result.best.gflops > 0 and result.best.steps
    curve = result.curve
    assert len(curve) == 40 and all(a[1] <= b[1] for a, b in zip(curve, curve[1:]))
    for stats in result.rounds:
        assert set(stats.times) >= {"search", "features", "predict", "model_update", "build",
                                    "measure"}
    assert 0 <= result.outside_measurement_share <= 1


def test_the_best_is_chosen_by_re_timing_the_fastest(task, tmp_path):
    # The first measurement of each program is off by up to ~2x: the fastest record is
    # one that was lucky, and re-timing the top 8 three times finds the truly fastest.
    runner = OracleRunner(first_noise=0.5)
    options = {**FAST, "confirm_top": 8, "confirm_passes": 3}
    result = tune(task, trials=40, work_dir=tmp_path, runner=runner,
                  cost_model=OracleCostModel(), **options)
    assert len(runner.measured) == 40 + 8 * 3
    top = JSONDatabase(tmp_path / RECORDS_FILE).best(task.workload_key, 8)
    truth = {r.program_key: oracle_latency(r.to_program(task)) for r in top}
    best = result.best
    assert best.record.program_key == min(truth, key=truth.get)
    assert best.confirmed_s == (truth[best.record.program_key],) * 3
    assert best.latency_s == truth[best.record.program_key]
    assert best.tuned_latency_s == best.record.latency_s != best.latency_s
    assert result.confirm_s > 0
    # Resumed with the budget spent, the run measures nothing, so it re-times nothing.
    again = OracleRunner()
    assert tune(task, trials=40, work_dir=tmp_path, runner=again,
                cost_model=OracleCostModel(), **options).best.confirmed_s == ()
    assert again.measured == []


def test_a_program_whose_re_timings_fail_cannot_win(task):
    runner = OracleRunner(fail_every=2)  # every second measurement fails
    result = tune(task, trials=16, runner=runner, cost_model=OracleCostModel(),
                  **{**FAST, "confirm_top": 2, "confirm_passes": 1})
    assert len(runner.measured) == 16 + 2
    # Of the two re-timings, the first (measurement 17) ran and the second failed.
    assert len(result.best.confirmed_s) == 1


def test_resume_measures_nothing_twice(task, tmp_path):
    first = OracleRunner()
    tune(task, trials=16, work_dir=tmp_path, runner=first, cost_model=OracleCostModel(),
         **FAST)
    records = JSONDatabase(tmp_path / RECORDS_FILE).records()
    assert len(records) == 16
    second = OracleRunner()
    result = tune(task, trials=32, work_dir=tmp_path, runner=second,
                  cost_model=OracleCostModel(), **FAST)
    assert len(second.measured) == 16
    assert not set(second.measured) & set(first.measured)
    again = JSONDatabase(tmp_path / RECORDS_FILE).records()
    assert len(again) == 32 and again[:16] == records
    assert len({r.program_key for r in again}) == 32
    assert len(result.curve) == 32
    # records of the first run carry decisions that rebuild their programs
    tuner = Tuner(task, trials=32, work_dir=tmp_path, runner=OracleRunner(),
                  cost_model=OracleCostModel(), **FAST)
    assert len(tuner.contexts[0].measured) == 32
    assert all(p.decisions for _, p in tuner.contexts[0].measured)
    assert tuner.run().rounds == []  # budget already spent


def test_records_say_where_the_search_found_each_program(task, tmp_path):
    tune(task, trials=16, work_dir=tmp_path, runner=OracleRunner(),
         cost_model=OracleCostModel(), **{**FAST, "search_options": {
             **FAST["search_options"], "local_share": 0.25, "eps_greedy": 0.25}})
    origins = [r.extra["origin"] for r in JSONDatabase(tmp_path / RECORDS_FILE).records()]
    # Two rounds of 8, each with 2 random programs; the second also has 2 neighbours of
    # the fastest (the first has no measured program to neighbour); the population's best
    # fill the rest.
    assert origins.count("random") == 4 and origins.count("local") == 2
    assert origins.count("evolved") == 10


def test_a_model_the_tuner_made_skips_the_last_update_a_given_one_gets_every(task):
    given = OracleCostModel()
    Tuner(task, trials=24, runner=OracleRunner(), cost_model=given, **FAST).run()
    assert given.updates == 3
    made = Tuner(task, trials=24, runner=OracleRunner(), cost_model="random", **FAST)
    trained_on = []
    update = made.update_model
    made.update_model = lambda programs, *rest: (trained_on.append(len(programs)),
                                                 update(programs, *rest))
    made.run()
    # Trained on the first two rounds only: the third's measurements would serve no search.
    assert trained_on == [8, 8]


def test_failures_are_recorded_and_do_not_stop_the_run(task):
    runner = OracleRunner(fail_every=3)
    result = tune(task, trials=24, runner=runner, cost_model=OracleCostModel(), **FAST)
    assert sum(sum(r.errors.values()) for r in result.rounds) == 8
    assert result.best.record.ok  # the best is a successful measurement


def test_several_tasks_take_turns():
    tasks = [create("matmul", M=32, N=32, K=32), create("dense", M=16, N=32, K=32)]
    result = tune(tasks, trials=32, runner=OracleRunner(), cost_model=OracleCostModel(),
                  **FAST)
    assert [r.task for r in result.rounds] == [t.name for t in tasks] * 2
    assert set(result.bests) == {t.name for t in tasks}


def test_bad_options_are_named(task, tmp_path):
    with pytest.raises(ValueError, match="trials"):
        tune(task, trials=-1, log=None)
    with pytest.raises(ValueError, match="batch_size"):
        tune(task, trials=8, batch_size=0, log=None)
    with pytest.raises(ValueError, match="confirm_passes"):
        tune(task, trials=8, confirm_passes=-1, log=None)
    with pytest.raises(TypeError, match="populaton"):
        tune(task, trials=8, search_options={"populaton": 3}, log=None)
    with pytest.raises(TypeError, match="expected a schedlab.Task"):
        tune(["matmul"], trials=8, log=None)
    with pytest.raises(TypeError, match="surch"):
        tune(task, trials=8, surch="random", log=None)
    with pytest.raises(ValueError, match="unknown search strategy"):
        tune(task, trials=8, search="annealing", work_dir=tmp_path / "bad", log=None)
    assert not (tmp_path / "bad").exists()  # nothing half-written


def test_the_same_seed_proposes_the_same_programs(task):
    runs = []
    for _ in range(2):
        runner = OracleRunner()
        tune(task, trials=16, runner=runner, cost_model=OracleCostModel(), seed=7, **FAST)
        runs.append(runner.measured)
    assert runs[0] == runs[1]


def test_a_first_round_takes_at_most_half_of_its_tasks_share(task):
    result = tune(task, trials=12, runner=OracleRunner(), cost_model=OracleCostModel(), **FAST)
    assert [r.trials for r in result.rounds] == [6, 6]
    tasks = [create("matmul", M=32, N=32, K=32), create("dense", M=16, N=32, K=32)]
    result = tune(tasks, trials=40, runner=OracleRunner(), cost_model=OracleCostModel(),
                  **{**FAST, "batch_size": 16})
    # Each task's share is 20: first rounds of 10, then full rounds of what is left.
    assert [r.trials for r in result.rounds] == [10, 10, 16, 4]
