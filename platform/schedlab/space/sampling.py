"""Random complete programs of a task: sketches completed by the annotator."""

from __future__ import annotations

import numpy as np

from .sketch import generate_sketches

# GPU completions are often rejected by the verifier (too many threads, too much shared
# or local memory), so they get more tries; sampling one costs about a millisecond.
MAX_TRIES_PER_PROGRAM = {"llvm": 20, "cuda": 400}


def sample_programs(task, n: int, seed: int = 0, annotator=None, sketches=None) -> list:
    """``n`` random programs of ``task``, deterministic for ``seed``.

    Sketches are taken in turn; a completion that does not lower is redrawn.
    """
    from ..annotate import Annotator

    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    annotator = annotator or Annotator()
    sketches = sketches if sketches is not None else generate_sketches(task)
    rng = np.random.default_rng(seed)
    programs = []
    tries = MAX_TRIES_PER_PROGRAM.get(task.target.kind, 20)
    for i in range(n):
        sketch = sketches[i % len(sketches)]
        for attempt in range(tries):
            try:
                programs.append(annotator.complete(sketch, rng))
                break
            except ValueError:
                if attempt == tries - 1:
                    raise
    return programs
