"""Tuning records and the databases that keep them, on records of real sampled programs."""

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import threading
import warnings

import pytest

import schedlab
from schedlab.database import (
    DATABASES,
    SCHEMA_VERSION,
    Database,
    JSONDatabase,
    MemoryDatabase,
    TuningRecord,
    create_database,
    program_key,
)
from schedlab.measure import ErrorKind, MeasureResult
from schedlab.space import sample_programs


@pytest.fixture(scope="module")
def task():
    return schedlab.workloads.create("matmul", M=64, N=64, K=64)


@pytest.fixture(scope="module")
def programs(task):
    return sample_programs(task, 4, seed=0)


@pytest.fixture(scope="module")
def other_task():
    return schedlab.workloads.create("matmul", M=32, N=32, K=32)


def ok_record(program, seconds, **extra):
    return TuningRecord.from_measurement(program, MeasureResult(costs=(seconds,)), extra)


def failed_record(program, kind=ErrorKind.RUNTIME_ERROR):
    result = MeasureResult(error_kind=kind, error_msg=f"{kind.value} here", build_s=0.01)
    return TuningRecord.from_measurement(program, result)


@pytest.fixture(params=sorted(DATABASES))
def make_db(request, tmp_path):
    """A factory of empty databases of each kind."""
    count = iter(range(100))

    def make():
        if request.param == "json":
            return create_database("json", path=tmp_path / f"db{next(count)}" / "records.jsonl")
        return create_database(request.param)

    return make


# --- records -------------------------------------------------------------------------------


def test_record_round_trip_incl_failures(programs):
    records = [ok_record(programs[0], 2e-3, round=3, decisions={"tile": [4, 8]})]
    records += [failed_record(programs[1], kind) for kind in ErrorKind if kind != ErrorKind.NONE]
    for record in records:
        line = record.to_json()
        assert "\n" not in line
        assert json.loads(line)["version"] == SCHEMA_VERSION
        back = TuningRecord.from_json(line)
        assert back == record
        assert back.result.error_kind == record.result.error_kind
    assert records[0].ok and records[0].latency_s == pytest.approx(2e-3)
    assert records[0].extra == {"round": 3, "decisions": {"tile": [4, 8]}}
    for record in records[1:]:
        assert not record.ok and math.isinf(record.latency_s)


def test_record_fields_come_from_the_program(task, programs):
    record = ok_record(programs[2], 1e-3)
    assert record.workload_key == task.workload_key
    assert record.task_name == task.name
    assert record.target == "llvm"
    assert list(record.steps) == json.loads(json.dumps([s.to_json() for s in programs[2].steps]))


@pytest.mark.parametrize("line, problem", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"workload_key": "w"}', "no 'version'"),
    ('{"version": 99}', "schema version 99"),
    ('{"version": 1, "workload_key": "w"}', "lacks field"),
])
def test_record_from_json_names_the_problem(line, problem):
    with pytest.raises(ValueError, match=problem):
        TuningRecord.from_json(line)


def test_record_from_json_rejects_bad_fields(programs):
    good = json.loads(ok_record(programs[0], 1e-3).to_json())
    for change, problem in [({"version": 2}, "schema version 2"),
                            ({"surprise": 1}, "unknown field"),
                            ({"steps": "split"}, "'steps' must be a list"),
                            ({"result": {"costs": [1.0], "error_kind": "bogus"}}, "'result'"),
                            ({"task_name": ""}, "task_name")]:
        with pytest.raises(ValueError, match=problem):
            TuningRecord.from_json(json.dumps({**good, **change}))


def test_program_key_equal_for_equal_steps(task, programs):
    first = ok_record(programs[0], 1e-3)
    again = failed_record(programs[0])                          # another result, same program
    replayed = schedlab.Program(task, list(programs[0].steps))  # another object, same steps
    assert first.program_key == again.program_key == program_key(replayed)
    assert program_key(programs[0]) == first.program_key
    assert TuningRecord.from_json(first.to_json()).program_key == first.program_key


def test_program_key_differs_otherwise(programs):
    keys = {program_key(p) for p in programs}
    assert len(keys) == len(programs)
    record = ok_record(programs[0], 1e-3)
    elsewhere = dataclasses.replace(record, workload_key='["matmul", {"M": 1}]')
    on_gpu = dataclasses.replace(record, target="cuda")
    assert len({record.program_key, elsewhere.program_key, on_gpu.program_key}) == 3


def test_program_key_is_canonical(programs):
    record = ok_record(programs[0], 1e-3)
    a = dataclasses.replace(record, steps=(["x", {"a": 1, "b": [1, 2]}],))
    b = dataclasses.replace(record, steps=[("x", {"b": (1, 2), "a": 1})])
    c = dataclasses.replace(record, steps=(["x", {"a": 1, "b": [2, 1]}],))
    assert a.program_key == b.program_key != c.program_key


def test_to_program_replays_the_steps(task, other_task, programs):
    record = TuningRecord.from_json(ok_record(programs[1], 1e-3).to_json())
    program = record.to_program(task)
    assert program.steps == programs[1].steps
    assert program_key(program) == record.program_key
    with pytest.raises(ValueError, match="workload"):
        record.to_program(other_task)
    gpu = schedlab.workloads.create("matmul", M=64, N=64, K=64, target="cuda")
    with pytest.raises(ValueError, match="target"):
        record.to_program(gpu)


# --- the contract, on every database --------------------------------------------------------


def test_records_in_commit_order_by_workload(make_db, programs, other_task):
    db = make_db()
    other = sample_programs(other_task, 2, seed=1)
    first = [ok_record(p, 1e-3 * (i + 1)) for i, p in enumerate(programs[:2])]
    second = [ok_record(other[0], 5e-4), failed_record(programs[2]), ok_record(other[1], 1e-4)]
    db.commit(first)
    db.commit(second)
    assert len(db) == 5
    assert db.records() == first + second
    assert db.records(programs[0].task.workload_key) == first + [second[1]]
    assert db.records(other_task.workload_key) == [second[0], second[2]]
    assert db.records("no such workload") == []
    assert db.records(target="cuda") == []
    assert db.workload_keys() == [programs[0].task.workload_key, other_task.workload_key]


def test_best_is_fastest_successful_first(make_db, programs):
    db = make_db()
    wk = programs[0].task.workload_key
    db.commit([ok_record(programs[0], 3e-3), failed_record(programs[1], ErrorKind.TIMEOUT),
               ok_record(programs[2], 1e-3)])
    db.commit([ok_record(programs[3], 2e-3), failed_record(programs[1], ErrorKind.WRONG_RESULT)])
    best = db.best(wk, k=10)
    assert [r.latency_s for r in best] == pytest.approx([1e-3, 2e-3, 3e-3])
    assert all(r.ok for r in best)
    assert db.best(wk) == [best[0]]
    assert db.best(wk, k=2) == best[:2]
    assert db.best(wk, k=0) == []
    assert db.best("no such workload", k=3) == []
    assert db.best(wk, k=3, target="cuda") == []
    with pytest.raises(ValueError, match="k must be"):
        db.best(wk, k=-1)


def test_best_lists_each_program_once_at_its_fastest(make_db, programs):
    db = make_db()
    wk = programs[0].task.workload_key
    db.commit([ok_record(programs[0], 4e-3), ok_record(programs[1], 2e-3)])
    db.commit([ok_record(programs[0], 1e-3), ok_record(programs[0], 5e-3)])
    best = db.best(wk, k=5)
    assert [r.program_key for r in best] == [program_key(programs[0]), program_key(programs[1])]
    assert [r.latency_s for r in best] == pytest.approx([1e-3, 2e-3])
    assert len(db.records(wk)) == 4  # a second measurement adds a record; nothing is rewritten


def test_measured_keys_include_failures(make_db, programs, other_task):
    db = make_db()
    wk = programs[0].task.workload_key
    assert db.measured_keys(wk) == set()
    db.commit([ok_record(programs[0], 1e-3), failed_record(programs[1], ErrorKind.BUILD_ERROR)])
    keys = db.measured_keys(wk)
    assert keys == {program_key(programs[0]), program_key(programs[1])}
    keys.add("mine")  # a copy: the caller may change it
    assert "mine" not in db.measured_keys(wk)
    assert db.measured_keys(other_task.workload_key) == set()


def test_a_bad_batch_stores_nothing(make_db, programs):
    db = make_db()
    good = ok_record(programs[0], 1e-3)
    with pytest.raises(TypeError, match="item 1"):
        db.commit([good, programs[1]])
    with pytest.raises(TypeError, match="single record"):
        db.commit(good)
    not_json = ok_record(programs[1], 1e-3, model=object())
    with pytest.raises(ValueError, match="not JSON-ready"):
        db.commit([good, not_json])
    assert len(db) == 0 and db.records() == []
    db.commit([])
    db.commit(r for r in [good])  # any iterable of records
    assert db.records() == [good]


def test_create_database():
    assert isinstance(create_database("memory"), MemoryDatabase)
    db = MemoryDatabase()
    assert create_database(db) is db
    with pytest.raises(TypeError):
        create_database(db, path="x")
    with pytest.raises(ValueError, match="json, memory"):
        create_database("sqlite")
    assert issubclass(JSONDatabase, Database) and issubclass(MemoryDatabase, Database)


# --- the JSON-lines file --------------------------------------------------------------------


def test_reopen_reads_everything(tmp_path, programs):
    path = tmp_path / "deep" / "er" / "records.jsonl"
    db = JSONDatabase(path)
    batches = [[ok_record(p, 1e-3 * (i + 1), round=b) for i, p in enumerate(programs)]
               for b in range(3)]
    batches.append([failed_record(programs[0], ErrorKind.INVALID_PROGRAM)])
    for batch in batches:
        db.commit(batch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = JSONDatabase(path)
    assert again.records() == db.records() == [r for b in batches for r in b]
    wk = programs[0].task.workload_key
    assert again.best(wk, k=4) == db.best(wk, k=4)
    assert again.measured_keys(wk) == db.measured_keys(wk)
    lines = path.read_text().splitlines()
    assert len(lines) == 13
    assert all(json.loads(line)["version"] == SCHEMA_VERSION for line in lines)


def test_hand_written_lines_are_batches_of_one(tmp_path, programs):
    path = tmp_path / "records.jsonl"
    records = [ok_record(p, 1e-3) for p in programs]
    path.write_text("".join(r.to_json() + "\n" for r in records) + "\n")
    db = JSONDatabase(path)
    assert db.records() == records
    db.commit(records[:1])
    assert JSONDatabase(path).records() == records + records[:1]


def test_whole_last_line_without_newline_is_kept(tmp_path, programs):
    path = tmp_path / "records.jsonl"
    records = [ok_record(p, 1e-3) for p in programs]
    path.write_text("\n".join(r.to_json() for r in records))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        db = JSONDatabase(path)
    assert db.records() == records
    db.commit(records[:2])
    assert JSONDatabase(path).records() == records + records[:2]


def written_file(tmp_path, programs, batches=2):
    path = tmp_path / "records.jsonl"
    db = JSONDatabase(path)
    for b in range(batches):
        db.commit([ok_record(p, 1e-3, round=b) for p in programs])
    return path, db.records()


def test_torn_last_line_is_dropped_then_cut_off(tmp_path, programs):
    path, records = written_file(tmp_path, programs)
    whole = path.read_bytes()
    line = ok_record(programs[0], 9e-3).to_json()
    path.write_bytes(whole + line[: len(line) // 2].encode())
    with pytest.warns(RuntimeWarning, match="torn last line"):
        db = JSONDatabase(path)
    assert db.records() == records
    assert path.read_bytes() != whole  # reading alone changes nothing
    new = [ok_record(programs[1], 5e-4, round=2)]
    db.commit(new)
    assert path.read_bytes().startswith(whole)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert JSONDatabase(path).records() == records + new


def test_interrupted_batch_is_dropped_whole(tmp_path, programs):
    path, records = written_file(tmp_path, programs)
    whole = path.read_bytes()
    JSONDatabase(tmp_path / "other.jsonl").commit([ok_record(p, 7e-3) for p in programs])
    next_batch = (tmp_path / "other.jsonl").read_bytes()
    cut = next_batch.index(b"\n", next_batch.index(b"\n") + 1) + 1 + 40  # 2 lines and a bit
    path.write_bytes(whole + next_batch[:cut])
    with pytest.warns(RuntimeWarning, match="2 of the 4 records of the batch from line 9"):
        db = JSONDatabase(path)
    assert db.records() == records
    db.commit([ok_record(programs[2], 1e-4)])
    assert len(JSONDatabase(path)) == len(records) + 1


def test_corrupt_last_line_is_dropped(tmp_path, programs):
    path, records = written_file(tmp_path, programs)
    path.write_bytes(path.read_bytes() + b'{"version": 1, "work\x00\x00\n')
    with pytest.warns(RuntimeWarning, match="torn last line"):
        assert JSONDatabase(path).records() == records


def test_corrupt_middle_line_is_an_error(tmp_path, programs):
    path, _ = written_file(tmp_path, programs)
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2][:30]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ValueError, match="line 3 is not valid JSON"):
        JSONDatabase(path)


def test_batch_that_stops_early_in_the_middle_is_an_error(tmp_path, programs):
    path, _ = written_file(tmp_path, programs)
    lines = path.read_bytes().split(b"\n")
    del lines[1]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ValueError, match="line 2 is record 2 of a batch of 4"):
        JSONDatabase(path)


@pytest.mark.parametrize("where", [1, 8])
def test_wrong_version_is_an_error(tmp_path, programs, where):
    path, _ = written_file(tmp_path, programs)
    lines = path.read_text().split("\n")
    lines[where - 1] = lines[where - 1].replace('"version":1', '"version":7')
    path.write_text("\n".join(lines))
    with pytest.raises(ValueError, match=f"line {where}: .*schema version 7"):
        JSONDatabase(path)


def test_a_second_writer_is_refused(tmp_path, programs):
    path, _ = written_file(tmp_path, programs, batches=1)
    first, second = JSONDatabase(path), JSONDatabase(path)
    first.commit([ok_record(programs[0], 1e-3)])
    with pytest.raises(RuntimeError, match="another writer"):
        second.commit([ok_record(programs[1], 1e-3)])
    assert len(JSONDatabase(path)) == 5


def test_threads_commit_whole_batches(tmp_path, programs):
    path = tmp_path / "records.jsonl"
    db = JSONDatabase(path)

    def commit_batches(thread):
        for b in range(10):
            db.commit([ok_record(p, 1e-3, thread=thread, batch_no=b, i=i)
                       for i, p in enumerate(programs)])

    threads = [threading.Thread(target=commit_batches, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = JSONDatabase(path).records()
    assert len(records) == len(db) == 4 * 10 * len(programs)
    for start in range(0, len(records), len(programs)):
        batch = records[start:start + len(programs)]
        assert [r.extra["i"] for r in batch] == list(range(len(programs)))
        assert len({(r.extra["thread"], r.extra["batch_no"]) for r in batch}) == 1


WRITER = """
import sys
import schedlab
from schedlab.database import JSONDatabase, TuningRecord
from schedlab.measure import MeasureResult
from schedlab.space import sample_programs

programs = sample_programs(schedlab.workloads.create("matmul", M=64, N=64, K=64), 4, seed=0)
db = JSONDatabase(sys.argv[1])
size = int(sys.argv[2])
pad = "x" * 4000  # long lines: a kill is more likely to land inside a write
for b in range(10**6):
    db.commit([TuningRecord.from_measurement(programs[i % 4],
                                             MeasureResult(costs=(b + i / 1000,)),
                                             {"batch_no": b, "i": i, "pad": pad})
               for i in range(size)])
    print(b, flush=True)
"""


def test_sigkill_mid_run_leaves_whole_batches(tmp_path, programs):
    path, size = tmp_path / "run" / "records.jsonl", 48
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(size)],
                             stdout=subprocess.PIPE, text=True)
    try:
        committed = -1
        while committed < 15:
            line = child.stdout.readline()
            assert line, f"the writer stopped early (exit code {child.wait()})"
            committed = int(line)
        assert child.poll() is None  # still committing when killed
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # only if the kill tore a batch
        db = JSONDatabase(path)
    records = db.records()
    assert len(records) % size == 0
    assert len(records) >= (committed + 1) * size  # every acknowledged batch survived
    for n, record in enumerate(records):
        b, i = divmod(n, size)
        assert record.extra == {"batch_no": b, "i": i, "pad": "x" * 4000}
        assert record.result.costs == (b + i / 1000,)
        assert record.program_key == program_key(programs[i % 4])
    # The run resumes on the same file: nothing lost, nothing torn left behind.
    db.commit([ok_record(programs[0], 1e-3)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(JSONDatabase(path)) == len(records) + 1
