"""What the audit decides for each image, from the out-of-sample evidence alone: no disk and no model, so every
rule is tested on arrays.

Findings, by priority: a semantic copy that leaves its group (as the hash pass decides groups), then off-topic,
then label issues. `action` says what moves: `report` nothing; `quarantine` every finding; `relabel` also
quarantines, except label issues whose suggested class has at least `relabel_confidence`, which move there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..decide import DecideOptions, Group, Item, pair_groups
from .confident import LabelIssues, find_label_issues
from .offtopic import OffTopic, OffTopicRule, find_off_topic
from .semantic import NEIGHBOURS, copy_pairs, grey_copies, instance_vectors, pixel_similarity

ACTIONS = ("report", "quarantine", "relabel")
# Quarantine reasons of the audit's findings (folders under _quarantine/).
LABEL_ISSUE, OFF_TOPIC, SEMANTIC_DUPLICATE, SEMANTIC_CONFLICT = (
    "label-issue", "off-topic", "semantic-duplicate", "semantic-conflict")
AUDIT_REASONS = (LABEL_ISSUE, OFF_TOPIC, SEMANTIC_DUPLICATE, SEMANTIC_CONFLICT)


@dataclass(frozen=True)
class AuditRules:
    action: str = "report"
    off_topic: OffTopicRule = field(default_factory=OffTopicRule)
    # Pixel similarity of an embedding neighbour that makes it a copy: the least with 99% of its pairs planted
    # copies on bench/audit_thresholds.py's choice set (CIFAR-10, trained stand-in backbone); held-out figures in
    # README.md. Rerun the bench with your backbone to choose again.
    similarity: float = 0.872
    # No confidence relabelled ten images of the choice set with 95% of them right (bench/audit_thresholds.py): 0.9
    # moves almost nothing there, the rest is quarantined.
    relabel_confidence: float = 0.9


@dataclass(frozen=True)
class Evidence:
    """Out-of-sample judgement of the images `indices` (into the run's items), row for row."""

    classes: tuple[str, ...]
    indices: list[int]
    labels: np.ndarray  # int (N,) given class of each image
    probabilities: np.ndarray  # (N, C), each row from a model that never trained on that image
    embeddings: np.ndarray | None  # (N, D) unit vectors; None when the mode has no backbone (finetune)
    failures: list[tuple[int, str]] = field(default_factory=list)  # (item index, why it could not be judged)


@dataclass
class Verdicts:
    issues: LabelIssues
    off_topic: OffTopic | None
    groups: list[Group]  # semantic groups, members indexed into the run's items
    similarity: dict[int, float]  # item index -> similarity to its group's kept (or best) member
    reasons: dict[int, str] = field(default_factory=dict)  # item index -> quarantine reason
    relabel: dict[int, str] = field(default_factory=dict)  # item index -> the class folder it moves to
    leakage_pairs: int = 0  # semantic pairs across splits

    def issue_indices(self, evidence: Evidence) -> list[int]:
        return [evidence.indices[k] for k in self.issues.indices]

    def off_topic_indices(self, evidence: Evidence) -> list[int]:
        return [] if self.off_topic is None else [evidence.indices[k] for k in self.off_topic.indices]


def judge(items: Sequence[Item], evidence: Evidence, rules: AuditRules, options: DecideOptions) -> Verdicts:
    """Every audited image's findings and fate under the rules in this module's docstring."""
    issues = find_label_issues(evidence.labels, evidence.probabilities)
    off_topic = None
    groups: list[Group] = []
    similarity: dict[int, float] = {}
    leakage = 0
    if evidence.embeddings is not None:
        off_topic = find_off_topic(evidence.embeddings, evidence.labels, evidence.probabilities, rules.off_topic)
        vectors = instance_vectors(evidence.embeddings, evidence.labels)
        groups, similarity, leakage = semantic_groups(items, evidence.indices, vectors, rules.similarity, options)
    verdicts = Verdicts(issues, off_topic, groups, similarity, leakage_pairs=leakage)
    if rules.action != "report":
        decide_moves(verdicts, evidence, rules)
    return verdicts


def semantic_groups(items: Sequence[Item], indices: Sequence[int], vectors: np.ndarray, threshold: float,
                    options: DecideOptions) -> tuple[list[Group], dict[int, float], int]:
    """Groups of near-copies among `items[indices]` (row k of the instance `vectors` is `items[indices[k]]`),
    formed and split and with the kept member as the hash pass does it (`pair_groups`), each member's pixel
    similarity to it, and the pairs across splits."""
    whole, centre = grey_copies([items[i].inspection for i in indices])
    left, right, _ = copy_pairs(vectors, whole, centre, NEIGHBOURS, threshold)
    index = np.asarray(indices, dtype=np.int64)
    groups = pair_groups(index.tolist(), left, right, items, options)
    row = {int(i): k for k, i in enumerate(index.tolist())}
    similarity: dict[int, float] = {}
    for group in groups:
        best = next((m.index for m in group.members if m.kept), group.members[0].index)
        members = np.array([row[m.index] for m in group.members])
        alike = pixel_similarity(whole, centre, members, np.full(len(members), row[best]))
        for member, value in zip(group.members, alike.tolist(), strict=True):
            similarity[member.index] = 1.0 if member.index == best else value
    leakage = sum(items[int(index[a])].entry.split != items[int(index[b])].entry.split
                  for a, b in zip(left.tolist(), right.tolist(), strict=True))
    return groups, similarity, leakage


def decide_moves(verdicts: Verdicts, evidence: Evidence, rules: AuditRules) -> None:
    """Fill `reasons` and `relabel` for a run that acts on its findings, by the priority in the docstring."""
    for group in verdicts.groups:
        for member in group.members:
            if member.reason:
                verdicts.reasons[member.index] = SEMANTIC_CONFLICT if group.label_conflict else SEMANTIC_DUPLICATE
    for item in verdicts.off_topic_indices(evidence):
        verdicts.reasons.setdefault(item, OFF_TOPIC)
    issues = verdicts.issues
    for local, suggested in zip(issues.indices.tolist(), issues.suggested.tolist(), strict=True):
        item = evidence.indices[local]
        if item in verdicts.reasons:
            continue
        if rules.action == "relabel" and evidence.probabilities[local, suggested] >= rules.relabel_confidence:
            verdicts.relabel[item] = evidence.classes[suggested]
        else:
            verdicts.reasons[item] = LABEL_ISSUE
