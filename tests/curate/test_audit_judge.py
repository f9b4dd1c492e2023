"""The audit's verdicts on real inspected files, with the model's evidence given as arrays: who moves where, why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from collector.curate.audit.judge import AuditRules, Evidence, judge
from collector.curate.audit.offtopic import OffTopicRule
from collector.curate.decide import DecideOptions, Item
from collector.curate.inspect import InspectOptions, inspect_image
from collector.curate.layout import Entry
from tests.curate.conftest import make_photo

DECIDE = DecideOptions()
# Stricter than the default off-topic rule, which bench/audit_thresholds.py chose for recall through a weak backbone
# and which also calls the ambiguous "barely dog" of `mislabelled_dataset` off-topic.
STRICT = OffTopicRule(distance=1.5, confidence=0.5)


def inspected(root: Path, files: dict[str, Image.Image]) -> list[Item]:
    """Write each picture at its relative path `split/class/name.png` and inspect it as curate does."""
    items = []
    for relative, picture in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        picture.save(path)
        split, class_name, _ = relative.split("/")
        items.append(Item(Entry(relative, split, class_name), inspect_image(path, InspectOptions())))
    return items


def evidence_for(items: list[Item], probabilities: np.ndarray, embeddings: np.ndarray | None) -> Evidence:
    classes = tuple(sorted({item.entry.class_name for item in items}))
    labels = np.array([classes.index(item.entry.class_name) for item in items])
    if embeddings is not None:
        embeddings = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    return Evidence(classes, list(range(len(items))), labels, probabilities, embeddings)


def copies_dataset(tmp_path: Path, copy_at: str) -> tuple[list[Item], Evidence]:
    """Six distinct photos in two classes and a mirrored copy of the first, a big cat photo, at `copy_at`; the
    embeddings put the copy right next to its original and everything else apart."""
    original = make_photo(128, 96, seed=1)
    files = {"train/cat/a.png": original, "train/cat/b.png": make_photo(96, 96, seed=2),
             "train/cat/c.png": make_photo(96, 96, seed=3), "train/dog/d.png": make_photo(96, 96, seed=4),
             "train/dog/e.png": make_photo(96, 96, seed=5), "val/dog/f.png": make_photo(96, 96, seed=6),
             copy_at: original.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((96, 72))}
    items = inspected(tmp_path, files)
    embeddings = np.random.default_rng(0).normal(size=(len(items), 64))
    embeddings[-1] = embeddings[0] + 0.05
    probabilities = np.array([[0.9, 0.1] if item.entry.class_name == "cat" else [0.1, 0.9] for item in items])
    return items, evidence_for(items, probabilities, embeddings)


def test_a_mirrored_copy_across_splits_is_a_leak_and_the_smaller_copy_leaves(tmp_path: Path) -> None:
    items, evidence = copies_dataset(tmp_path, "val/cat/a_mirror.png")
    verdicts = judge(items, evidence, AuditRules(action="quarantine"), DECIDE)
    [group] = verdicts.groups
    assert group.leakage and not group.label_conflict
    assert [(items[m.index].entry.path, m.kept) for m in group.members] == [
        ("train/cat/a.png", True), ("val/cat/a_mirror.png", False)]
    assert verdicts.reasons == {len(items) - 1: "semantic-duplicate"}
    assert verdicts.leakage_pairs == 1
    assert verdicts.similarity[0] == pytest.approx(1.0)


def test_a_copy_under_another_class_is_a_conflict_and_both_leave(tmp_path: Path) -> None:
    items, evidence = copies_dataset(tmp_path, "train/dog/a_mirror.png")
    verdicts = judge(items, evidence, AuditRules(action="quarantine"), DECIDE)
    [group] = verdicts.groups
    assert group.label_conflict and not group.leakage
    assert verdicts.reasons == {0: "semantic-conflict", len(items) - 1: "semantic-conflict"}


def test_report_moves_nothing_but_finds_the_same(tmp_path: Path) -> None:
    items, evidence = copies_dataset(tmp_path, "val/cat/a_mirror.png")
    verdicts = judge(items, evidence, AuditRules(), DECIDE)
    assert len(verdicts.groups) == 1 and verdicts.leakage_pairs == 1
    assert verdicts.reasons == {} and verdicts.relabel == {}


def mislabelled_dataset(tmp_path: Path) -> tuple[list[Item], Evidence, dict[str, int]]:
    """Twenty photos per class (the model is 90% sure of cats, 75% of dogs); four of the cats look like dogs to
    the model, sure, fairly sure or barely, and one cat is a picture of neither: far from both classes and unsure.
    Returns {role: item index}."""
    files = {f"train/{name}/{name}{k}.png": make_photo(64, 64, seed=100 * (name == "dog") + k)
             for name in ("cat", "dog") for k in range(20)}
    items = inspected(tmp_path, files)
    rng = np.random.default_rng(1)
    centres = {"cat": rng.normal(size=32), "dog": rng.normal(size=32)}
    embeddings = np.array([centres[item.entry.class_name] + 1.0 * rng.normal(size=32) for item in items])
    probabilities = np.array([[0.9, 0.1] if item.entry.class_name == "cat" else [0.25, 0.75] for item in items])
    roles = {"sure dog": 0, "fairly sure dog": 1, "dog": 2, "barely dog": 3, "stray": 4}
    for role, p_dog in (("sure dog", 0.97), ("fairly sure dog", 0.8), ("dog", 0.95), ("barely dog", 0.6)):
        probabilities[roles[role]] = [1 - p_dog, p_dog]
        embeddings[roles[role]] = centres["dog"] + 1.0 * rng.normal(size=32)
    probabilities[roles["stray"]] = [0.45, 0.55]
    embeddings[roles["stray"]] = rng.normal(size=32) * 3
    return items, evidence_for(items, probabilities, embeddings), roles


def test_label_issues_suggest_the_other_class_and_a_stray_is_off_topic(tmp_path: Path) -> None:
    items, evidence, roles = mislabelled_dataset(tmp_path)
    verdicts = judge(items, evidence, AuditRules(off_topic=STRICT), DECIDE)
    issues = dict(zip(verdicts.issue_indices(evidence), verdicts.issues.suggested.tolist(), strict=True))
    assert set(issues) == {roles["sure dog"], roles["fairly sure dog"], roles["dog"]}
    assert set(issues.values()) == {evidence.classes.index("dog")}
    assert verdicts.off_topic_indices(evidence) == [roles["stray"]]
    assert verdicts.groups == []


def test_an_image_not_confidently_of_another_class_is_not_an_issue(tmp_path: Path) -> None:
    items, evidence, roles = mislabelled_dataset(tmp_path)
    verdicts = judge(items, evidence, AuditRules(action="quarantine", off_topic=STRICT), DECIDE)
    assert roles["barely dog"] not in verdicts.issue_indices(evidence)
    assert roles["barely dog"] not in verdicts.reasons


def test_relabel_moves_sure_issues_and_quarantines_the_rest_with_off_topic_first(tmp_path: Path) -> None:
    items, evidence, roles = mislabelled_dataset(tmp_path)
    verdicts = judge(items, evidence, AuditRules(action="relabel", relabel_confidence=0.9, off_topic=STRICT), DECIDE)
    assert verdicts.relabel == {roles["sure dog"]: "dog", roles["dog"]: "dog"}
    assert verdicts.reasons == {roles["fairly sure dog"]: "label-issue", roles["stray"]: "off-topic"}


def test_without_embeddings_only_label_issues_are_looked_for(tmp_path: Path) -> None:
    items, evidence, roles = mislabelled_dataset(tmp_path)
    bare = Evidence(evidence.classes, evidence.indices, evidence.labels, evidence.probabilities, None)
    verdicts = judge(items, bare, AuditRules(action="quarantine", off_topic=OffTopicRule()), DECIDE)
    assert verdicts.off_topic is None and verdicts.groups == []
    assert roles["sure dog"] in verdicts.reasons
