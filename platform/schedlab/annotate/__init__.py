"""Random annotation: complete sketches into programs."""

from .annotator import CPU_UNROLL_STEPS, GPU_UNROLL_STEPS, Annotator
from .tile_sizes import divisors, sample_split_lengths
from .verify import verify_gpu

__all__ = ["Annotator", "CPU_UNROLL_STEPS", "GPU_UNROLL_STEPS", "divisors",
           "sample_split_lengths", "verify_gpu"]
