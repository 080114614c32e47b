"""The search space: sketches derived by rules from the computation (Ansor's sketch
generation), to be completed into programs by ``schedlab.annotate``."""

from . import predicates
from .registry import CPU_RULES, GPU_RULES, RULES, create_rule, register_rule
from .rule import Condition, SketchContext, SketchRule
from .sampling import sample_programs
from .sketch import Sketch, generate_sketches

__all__ = [
    "CPU_RULES", "Condition", "GPU_RULES", "RULES", "Sketch", "SketchContext", "SketchRule",
    "create_rule", "generate_sketches", "predicates", "register_rule", "sample_programs",
]
