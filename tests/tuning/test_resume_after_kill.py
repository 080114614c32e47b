"""A tuning run killed with SIGKILL and started again loses no record and measures nothing
twice."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from schedlab.database import JSONDatabase
from schedlab.tuning import RECORDS_FILE, tune
from schedlab.workloads import create

SHAPE = {"M": 32, "N": 32, "K": 16}
OPTIONS = {
    "search_options": {"population": 32, "generations": 2, "workers": 0},
    "cost_model": "random",
    "batch_size": 4,
    "measure": {"repeat": 1, "min_repeat_ms": 1.0},
}

RUN = textwrap.dedent("""
    import sys
    import schedlab
    from schedlab.workloads import create
    task = create("matmul", **SHAPE)
    schedlab.tune(task, trials=400, work_dir=sys.argv[1], log=None, **OPTIONS)
""").replace("SHAPE", repr(SHAPE)).replace("OPTIONS", repr(OPTIONS))


def test_killed_run_resumes_without_losing_or_repeating(tmp_path):
    records_path = tmp_path / RECORDS_FILE
    child = subprocess.Popen([sys.executable, "-c", RUN, str(tmp_path)],
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and child.poll() is None:
            if records_path.exists() and len(JSONDatabase(records_path)) >= 12:
                break
            time.sleep(0.2)
        assert child.poll() is None, "the run ended before it could be killed"
        os.killpg(child.pid, signal.SIGKILL)  # the run and its measuring process
        child.wait()
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    before = JSONDatabase(records_path).records()
    assert len(before) >= 12 and len(before) % 4 == 0  # whole batches only

    total = len(before) + 8
    result = tune(create("matmul", **SHAPE), trials=total, work_dir=tmp_path, log=None,
                  **OPTIONS)
    after = JSONDatabase(records_path).records()
    assert len(after) == total
    assert after[:len(before)] == before  # every earlier record intact
    keys = [r.program_key for r in after]
    assert len(set(keys)) == len(keys)  # nothing measured twice
    assert sum(r.trials for r in result.rounds) == 8
    assert all(r.ok for r in after)
