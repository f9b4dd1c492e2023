"""What an audit found and did, as typed records: the `audit` part of a CurateReport and of `curate_report.json`."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..report import CLASS_KEY, Located


@dataclass(frozen=True)
class Origin:
    """Where an image came from, by its manifest row: empty strings when the dataset has no manifest."""

    engine: str = ""
    query: str = ""
    domain: str = ""


@dataclass(frozen=True)
class LabelIssue(Located):
    """An image whose given class (its folder) the out-of-sample probabilities contradict."""

    suggested: str
    score: float  # p(suggested) - p(given): the larger, the surer the label is wrong
    given_probability: float
    suggested_probability: float
    origin: Origin
    action: str  # reported, quarantined or relabelled
    moved_to: str | None  # the quarantine path, or the file's path in its suggested class


@dataclass(frozen=True)
class OffTopicImage(Located):
    """An image of none of the dataset's classes: far from every class centre and no class probable."""

    nearness: float  # best z-score of similarity to a class centre (very negative: far from all)
    top_class: str
    top_probability: float
    origin: Origin
    action: str  # reported or quarantined
    moved_to: str | None


@dataclass(frozen=True)
class SemanticMember(Located):
    similarity: float  # pixel similarity (semantic.pixel_similarity) to the kept (or best) member; 1.0 for itself
    kept: bool
    moved_to: str | None


@dataclass(frozen=True)
class SemanticGroup:
    """Copies the perceptual hashes missed, proposed by embedding neighbours and confirmed by pixels, judged as the
    hash pass judges groups."""

    id: int
    label_conflict: bool  # the group spans classes
    leakage: bool  # the group spans splits
    members: tuple[SemanticMember, ...]


@dataclass(frozen=True)
class ClassNoise:
    class_name: str = field(metadata=CLASS_KEY)
    images: int
    label_issues: int
    off_topic: int
    estimated_noise: float  # share of the class's labels that confident learning estimates wrong


@dataclass(frozen=True)
class SourceShare:
    """The noise one engine, query or source domain brought: its images, and how many of them were flagged."""

    kind: str  # engine, query or domain
    name: str
    images: int
    label_issues: int
    off_topic: int
    share: float  # (label_issues + off_topic) / images


@dataclass(frozen=True)
class Failed(Located):
    detail: str


@dataclass(frozen=True)
class AuditSettings:
    mode: str  # probe or finetune
    backbone: str
    weights: str
    folds: int
    seed: int
    action: str  # report, quarantine or relabel
    off_topic_distance: float
    off_topic_confidence: float
    semantic_similarity: float
    relabel_confidence: float


@dataclass(frozen=True)
class AuditReport:
    settings: AuditSettings
    classes: tuple[str, ...]
    images: int  # images audited: those the hash pass kept
    checks: tuple[str, ...]  # the findings this mode could look for
    label_issues: tuple[LabelIssue, ...]
    off_topic: tuple[OffTopicImage, ...]
    semantic_groups: tuple[SemanticGroup, ...]
    leakage_pairs: int  # semantic pairs across splits
    per_class: tuple[ClassNoise, ...]
    joint: tuple[tuple[int, ...], ...]  # calibrated confident joint: rows given class, columns true class
    sources: tuple[SourceShare, ...]  # empty without a manifest
    failures: tuple[Failed, ...]
