"""`curate(root, **options)` from Python: the command's options as a real signature, a misspelt or mistyped option
as a clear CurateError before any work, and the report as typed records whose JSON is the file on disk."""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path

import pytest

import collector.curate as api
from collector.curate import CurateError, CurateOptions, CurateReport, QualityThresholds, curate, undo
from collector.errors import CollectorError
from tests.curate.datasets import EXPECTED_MOVES, build_dataset, everything


@pytest.fixture
def root(tmp_path: Path) -> Path:
    build_dataset(tmp_path / "data")
    return tmp_path / "data"


def test_signature_lists_every_option_with_the_default_of_curate_options() -> None:
    parameters = inspect.signature(curate).parameters
    assert list(parameters) == ["root", *(field.name for field in dataclasses.fields(CurateOptions))]
    defaults = CurateOptions()
    for name, parameter in list(parameters.items())[1:]:
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        assert parameter.default == getattr(defaults, name), name
    assert parameters["threshold"].annotation == int | tuple[int, ...]
    assert inspect.signature(curate).return_annotation is CurateReport


@pytest.mark.parametrize("options, message", [
    ({"min_sid": 16}, "curate() has no option 'min_sid'; did you mean 'min_side'?"),
    ({"colour": True}, "curate() has no option 'colour'; the options are min_side, max_aspect, hash"),
    ({"min_side": "32"}, "curate() option min_side must be int, not '32'"),
    ({"threshold": (8, "7")}, "curate() option threshold must be int | tuple[int, ...], not (8, '7')"),
    ({"workers": 1.5}, "curate() option workers must be int | None, not 1.5"),
    ({"dry_run": "yes"}, "curate() option dry_run must be bool, not 'yes'"),
    ({"quality": {"dark": 10}}, "curate() option quality must be QualityThresholds"),
    ({"hash": "md5"}, "unknown hash 'md5'"),
    ({"hash": "phash+dhash", "threshold": (4, 5, 6)}, "one per hash kind"),
])
def test_a_wrong_option_is_a_clear_error_before_anything_is_touched(root: Path, options: dict, message: str) -> None:
    before = everything(root)
    with pytest.raises(CurateError) as raised:
        curate(root, **options)
    assert message in str(raised.value) and isinstance(raised.value, CollectorError)
    assert everything(root) == before


def test_an_int_is_accepted_where_a_float_is_expected(root: Path) -> None:
    report = curate(root, max_aspect=5, workers=1, progress=False, dry_run=True)
    assert report.settings.max_aspect == 5


def test_the_report_is_typed_and_its_json_is_the_file_on_disk(root: Path) -> None:
    report = curate(root, workers=1, progress=False, quality=QualityThresholds(dark=30.0))
    assert isinstance(report, CurateReport)
    assert report.totals.scanned == 21 and report.totals.duplicates_removed == 2
    assert report.counts.after == {"train": {"cat": 2, "dog": 3}, "val": {"dog": 1}}
    moved = {m.path: m.moved_to for g in report.groups for m in g.members if not m.kept}
    assert {path for path in EXPECTED_MOVES} == set(moved)
    assert report.settings.quality.dark == 30.0 and report.settings.threshold == (8,)
    assert report.written == (root.resolve() / "curate_report.json", root.resolve() / "curate_report.html")
    on_disk = json.loads((root / "curate_report.json").read_text())
    assert report.to_json() == on_disk
    assert "class" in on_disk["rejected"][0] and "class_name" not in on_disk["rejected"][0]
    assert not {"recovered", "pending_rollback", "written"} & set(on_disk)
    assert undo(root).restored == 15


def test_everything_a_notebook_needs_is_exported() -> None:
    for name in ("curate", "undo", "CurateOptions", "CurateReport", "CurateError", "UndoResult", "Totals",
                 "DuplicateGroup", "GroupMember", "Rejected", "Flagged", "Normalized", "Settings"):
        assert name in api.__all__ and hasattr(api, name)
