"""Clean an ImageFolder dataset: reject broken files, group duplicates, flag poor images, and show the work.

`curate(root, **options)` runs it and returns a CurateReport; `undo(root)` reverses the last run.
"""

from .inspect import Inspection, InspectOptions, QualityThresholds, inspect_image
from .journal import UndoResult
from .neighbours import near_pairs, union_groups
from .options import CurateError, CurateOptions
from .report import (
    CountsBeforeAfter,
    CurateReport,
    DuplicateGroup,
    Flagged,
    GroupMember,
    Located,
    Normalized,
    Rejected,
    Settings,
    Totals,
)
from .run import curate, undo

__all__ = ["CountsBeforeAfter", "CurateError", "CurateOptions", "CurateReport", "DuplicateGroup", "Flagged",
           "GroupMember", "InspectOptions", "Inspection", "Located", "Normalized", "QualityThresholds", "Rejected",
           "Settings", "Totals", "UndoResult", "curate", "inspect_image", "near_pairs", "undo", "union_groups"]
