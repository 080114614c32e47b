"""Program -> feature matrix, in the style of Ansor's per-store features.

``extract_features(program)`` gives one float32 row per innermost store of the program's
lowered loop IR; :data:`FEATURE_NAMES` names the columns and :mod:`schedlab.features.names`
describes each of them. ``extract_batch(programs)`` does the same for many programs at once.
"""

from .extract import extract_batch, extract_features
from .names import FEATURE_NAMES, RAW_FEATURES

__all__ = ["FEATURE_NAMES", "RAW_FEATURES", "extract_batch", "extract_features"]
