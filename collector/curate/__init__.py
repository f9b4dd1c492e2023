"""Clean an ImageFolder dataset: reject broken files, group duplicates, flag poor images, and show the work."""

from .inspect import Inspection, InspectOptions, QualityThresholds, inspect_image
from .neighbours import near_pairs, union_groups

__all__ = ["InspectOptions", "Inspection", "QualityThresholds", "inspect_image", "near_pairs", "union_groups"]
