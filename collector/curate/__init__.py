"""Clean an ImageFolder dataset: reject broken files, group duplicates, flag poor images, and show the work."""

from .inspect import Inspection, InspectOptions, QualityThresholds, inspect_image
from .neighbours import near_pairs, union_groups
from .run import CurateError, CurateOptions, CurateResult, curate, undo

__all__ = ["CurateError", "CurateOptions", "CurateResult", "InspectOptions", "Inspection", "QualityThresholds",
           "curate", "inspect_image", "near_pairs", "undo", "union_groups"]
