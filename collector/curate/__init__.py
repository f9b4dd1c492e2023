"""Clean an ImageFolder dataset: reject broken files, group duplicates, flag poor images, and show the work."""

from .inspect import Inspection, InspectOptions, QualityThresholds, inspect_image

__all__ = ["InspectOptions", "Inspection", "QualityThresholds", "inspect_image"]
