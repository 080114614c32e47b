"""Targets: where a program runs, and the hardware facts search and codegen need."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

KINDS = ("llvm", "cuda")


@functools.cache
def _host_features() -> tuple[str, int]:
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    features = llvm.get_host_cpu_features()
    if features.get("avx512f"):
        lanes = 16
    elif features.get("avx2") or features.get("avx"):
        lanes = 8
    else:
        lanes = 4
    return llvm.get_host_cpu_name(), lanes


@dataclass(frozen=True)
class Target:
    """A compilation target.

    Attributes:
        kind: ``"llvm"`` (host CPU) or ``"cuda"``.
        num_cores: threads a parallel loop uses (CPU).
        vector_lanes: fp32 lanes of the widest vector register (CPU).
        cpu: LLVM's name of the CPU.
        arch: GPU architecture (``sm_90`` for an H100).
        max_threads_per_block, max_shared_bytes, max_local_bytes, warp_size, num_sms: GPU
            limits the annotator and the verifier respect (H100 values by default).
    """

    kind: str = "llvm"
    num_cores: int = 1
    vector_lanes: int = 8
    cpu: str = "generic"
    arch: str = "sm_90"
    max_threads_per_block: int = 1024
    max_shared_bytes: int = 48 * 1024  # per block, without opting in to more
    max_local_bytes: int = 1024  # per thread, a budget for register tiles
    warp_size: int = 32
    num_sms: int = 132

    @classmethod
    def create(cls, spec: str | Target = "llvm") -> Target:
        """``"llvm"`` for the host CPU, ``"cuda"`` for an NVIDIA GPU, or a Target."""
        if isinstance(spec, Target):
            return spec
        if spec not in KINDS:
            raise ValueError(f"unknown target {spec!r}; valid: {', '.join(KINDS)}")
        if spec == "llvm":
            cpu, lanes = _host_features()
            return cls("llvm", len(os.sched_getaffinity(0)), lanes, cpu)
        return cls("cuda")

    def __str__(self):
        return self.kind
