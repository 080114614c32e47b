"""Names to sketch rules, and the default rule lists per target."""

from __future__ import annotations

from .basic_rules import AlwaysInline, SkipStage
from .cache_rules import AddCacheWrite
from .gpu_rules import AddCacheReadShared, CrossThreadReduction
from .rfactor_rule import AddRfactor
from .rule import SketchRule
from .tiling import MultiLevelTiling, MultiLevelTilingWithFusion

RULES: dict[str, type[SketchRule]] = {}


def register_rule(cls: type[SketchRule]) -> type[SketchRule]:
    """Add a rule class under its ``name`` (usable as a decorator)."""
    if not cls.name:
        raise ValueError(f"rule {cls.__name__} needs a name")
    RULES[cls.name] = cls
    return cls


for _cls in (AlwaysInline, AddRfactor, AddCacheWrite, AddCacheReadShared,
             CrossThreadReduction, MultiLevelTilingWithFusion, MultiLevelTiling, SkipStage):
    register_rule(_cls)

# Order matters: the first rule that applies-and-skips wins; skip must stay last.
CPU_RULES = ("always_inline", "add_rfactor", "add_cache_write",
             "multi_level_tiling_with_fusion", "multi_level_tiling", "skip")
GPU_RULES = ("always_inline", "add_cache_read_shared", "cross_thread_reduction",
             "add_cache_write", "multi_level_tiling_with_fusion", "multi_level_tiling", "skip")


def create_rule(rule: str | SketchRule) -> SketchRule:
    """A rule object from a name or an object; unknown names list the valid ones."""
    if isinstance(rule, SketchRule):
        return rule
    if rule not in RULES:
        raise ValueError(f"unknown sketch rule {rule!r}; valid: {', '.join(sorted(RULES))}")
    return RULES[rule]()


def default_rules(target_kind: str) -> tuple[str, ...]:
    return GPU_RULES if target_kind == "cuda" else CPU_RULES
