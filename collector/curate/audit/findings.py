"""The audit's verdicts as report records: each finding with its place, scores, origin and what became of it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..decide import Item
from .judge import Evidence, Verdicts
from .records import (
    AuditReport,
    AuditSettings,
    ClassNoise,
    Failed,
    LabelIssue,
    OffTopicImage,
    Origin,
    SemanticGroup,
    SemanticMember,
)
from .sources import source_shares

NO_ORIGIN = Origin()


def audit_report(items: Sequence[Item], evidence: Evidence, verdicts: Verdicts, settings: AuditSettings,
                 moved_to: Mapping[str, str], origins: Mapping[int, Origin], checks: tuple[str, ...]) -> AuditReport:
    """The report of an audit whose moves went as `moved_to` says (source path -> quarantine or relabel path)."""
    classes, probabilities = evidence.classes, evidence.probabilities
    row = {index: k for k, index in enumerate(evidence.indices)}

    def where(index: int) -> tuple[str, str, str]:
        entry = items[index].entry
        return entry.path, entry.split, entry.class_name

    def fate(index: int) -> tuple[str, str | None]:
        target = moved_to.get(items[index].entry.path)
        if target is None:
            return "reported", None
        return ("relabelled" if index in verdicts.relabel else "quarantined"), target

    off_topic_items = verdicts.off_topic_indices(evidence)
    nearness = verdicts.off_topic.nearness if verdicts.off_topic is not None else np.empty(0)
    off_topic = []
    for index in off_topic_items:
        k = row[index]
        top = int(np.argmax(probabilities[k]))
        action, target = fate(index)
        off_topic.append(OffTopicImage(
            *where(index), nearness=round(float(nearness[k]), 3), top_class=classes[top],
            top_probability=round(float(probabilities[k, top]), 4), origin=origins.get(index, NO_ORIGIN),
            action=action, moved_to=target))
    stray = set(off_topic_items)
    issues_found = verdicts.issues
    label_issues = []
    for k, suggested, score in zip(issues_found.indices.tolist(), issues_found.suggested.tolist(),
                                   issues_found.score.tolist(), strict=True):
        index = evidence.indices[k]
        if index in stray:
            continue
        action, target = fate(index)
        label_issues.append(LabelIssue(
            *where(index), suggested=classes[suggested], score=round(score, 4),
            given_probability=round(float(probabilities[k, evidence.labels[k]]), 4),
            suggested_probability=round(float(probabilities[k, suggested]), 4),
            origin=origins.get(index, NO_ORIGIN), action=action, moved_to=target))
    groups = tuple(
        SemanticGroup(group.id, group.label_conflict, group.leakage, tuple(
            SemanticMember(*where(m.index), similarity=round(verdicts.similarity[m.index], 4), kept=m.kept,
                           moved_to=moved_to.get(items[m.index].entry.path))
            for m in group.members))
        for group in verdicts.groups
    )
    wrong = {evidence.indices[k] for k in issues_found.indices.tolist()} - stray
    per_class = tuple(
        ClassNoise(name, images=int((evidence.labels == j).sum()),
                   label_issues=sum(items[i].entry.class_name == name for i in wrong),
                   off_topic=sum(items[i].entry.class_name == name for i in stray),
                   estimated_noise=round(float(issues_found.noise[j]), 4))
        for j, name in enumerate(classes)
    )
    return AuditReport(
        settings=settings, classes=classes, images=len(evidence.indices), checks=checks,
        label_issues=tuple(label_issues), off_topic=tuple(off_topic), semantic_groups=groups,
        leakage_pairs=verdicts.leakage_pairs, per_class=per_class,
        joint=tuple(tuple(int(v) for v in line) for line in issues_found.joint),
        sources=source_shares(origins, evidence.indices, wrong, stray) if origins else (),
        failures=tuple(Failed(*where(index), detail=detail) for index, detail in evidence.failures),
    )
