"""Every setting of a curate run, with its default, checked once: the command and `curate()` both read them here."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import CollectorError
from .audit.judge import ACTIONS, AuditRules
from .audit.offtopic import OffTopicRule
from .decide import DecideOptions
from .inspect import HASHERS, VIEWS, InspectOptions, QualityThresholds

# Chosen by bench/curate_bench.py on one set of 4,000 CIFAR-10 photos with 2,667 edited copies, confirmed on eleven
# held-out sets: pHash within 8 bits on the whole picture and its mirror, 6 through any of the crops (centre, four
# corners, mirrored centre) or the picture inside its margins, or 8 through them when their small grey copies
# correlate at 0.9 or more (a side or a cut within 6, each only against the whole of another picture:
# decide.probes; a cut at any other place within 4: decide.slide_pairs); every pair's small grey copies correlated
# at 0.8 or more. Held out: recall 97.3%, 98.8%, 95.7%, 99.4%, 98.2%, 94.1%, 98.0%, 99.6%, 91.7%, 99.3% and 97.5%,
# pair precision 98.8-100%, removal precision 99.7-100%, no valid odd file lost (imagededup's PHash default: recall
# 19.9-80.8%, removal precision 90.1-97.3%).
DEFAULT_HASH = "phash"
DEFAULT_THRESHOLD = 8
DEFAULT_MIN_SIMILARITY = 0.8
DEFAULT_VIEW_MARGIN = 2
DEFAULT_VIEW_SIMILARITY = 0.9
AUDIT_MODES = ("auto", "probe", "finetune")


class CurateError(CollectorError):
    """The run cannot start or finish: bad options, or a ROOT that is not a usable dataset."""


@dataclass(frozen=True)
class CurateOptions:
    """Every setting of a curate run; the defaults are the command's.

    hash: one of phash, dhash, whash, ahash; several joined by `,` (near on any one) or by `+` (near on every one).
    threshold: Hamming bits (of 64) at which two images are near duplicates: one for every hash kind, or one per
    kind. views: what else of each picture is hashed besides the whole (its mirror, its centre, corners and the
    middle of each side, its mirrored centre, the picture inside its margins, the cuts a feed makes of it: see
    inspect.SHAPES); view_margin: how many bits closer than the threshold a match through another view must be,
    unless its grey copies correlate at view_similarity or more (None: no exception); min_similarity: the
    correlation of 16x16 grey copies a hash match must also reach (None or -1: no check). quality: where an accepted
    image gets a quality flag. workers: processes that inspect files and load them for the audit (None: one per
    usable CPU to inspect, classify's default to load). audit: after the hash pass, judge every kept image with a
    model (the `audit_*`, `backbone`, `weights`, `folds`, `seed`, `off_topic_*`, `semantic_similarity`,
    `relabel_confidence`, `device` and `batch_size` settings are its; `audit_epochs` and `audit_image_size` are the
    finetune mode's training). The others are the command's options of the same name.
    """

    min_side: int = 32
    max_aspect: float = 5.0
    hash: str = DEFAULT_HASH
    threshold: int | tuple[int, ...] = DEFAULT_THRESHOLD
    views: tuple[str, ...] = VIEWS
    view_margin: int = DEFAULT_VIEW_MARGIN
    view_similarity: float | None = DEFAULT_VIEW_SIMILARITY
    min_similarity: float | None = DEFAULT_MIN_SIMILARITY
    keep_conflicts: bool = False
    reject_quality: bool = False
    quality: QualityThresholds = field(default_factory=QualityThresholds)
    normalize: bool = False
    dry_run: bool = False
    workers: int | None = None
    audit: bool = False
    audit_mode: str = "auto"
    backbone: str = "resnet18"
    weights: str = "DEFAULT"
    folds: int = 4
    seed: int = 0
    audit_action: str = "report"
    off_topic_distance: float = OffTopicRule.distance
    off_topic_confidence: float = OffTopicRule.confidence
    semantic_similarity: float = AuditRules.similarity
    relabel_confidence: float = AuditRules.relabel_confidence
    device: str = "auto"
    batch_size: int = 64
    audit_epochs: int = 10
    audit_image_size: int = 224
    progress: bool = True

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.hash_kinds if kind not in HASHERS]
        if unknown or not self.hash_kinds or ("+" in self.hash and "," in self.hash):
            raise CurateError(f"unknown hash {self.hash!r}; choose from {', '.join(HASHERS)}, or join them with + "
                              "(near on every kind) or with , (near on any kind)")
        thresholds = self.thresholds
        if len(thresholds) != len(self.hash_kinds) or not all(0 <= t <= 64 for t in thresholds):
            raise CurateError(f"threshold must be 0 to 64 bits, one value or one per hash kind, got {self.threshold}")
        if self.min_side < 1 or self.max_aspect < 1:
            raise CurateError("min side must be at least 1 px and max aspect at least 1")
        if self.workers is not None and self.workers < 1:
            raise CurateError("workers must be at least 1")
        if self.audit_mode not in AUDIT_MODES:
            raise CurateError(f"audit mode must be one of {', '.join(AUDIT_MODES)}, got {self.audit_mode!r}")
        if self.audit_action not in ACTIONS:
            raise CurateError(f"audit action must be one of {', '.join(ACTIONS)}, got {self.audit_action!r}")
        if self.audit_action != "report" and not self.audit:
            raise CurateError(f"audit action {self.audit_action!r} acts on the audit's findings: add --audit")
        if self.folds < 2 or self.batch_size < 1 or self.audit_epochs < 1 or self.audit_image_size < 16:
            raise CurateError("the audit needs at least 2 folds, a batch size and epochs of at least 1, and an image "
                              "size of at least 16 px")
        if not (0 < self.semantic_similarity <= 1 and 0 <= self.off_topic_confidence <= 1 and 0 <= self.relabel_confidence <= 1
                and self.off_topic_distance >= 0):
            raise CurateError("semantic similarity must be in (0, 1], off-topic and relabel confidences in [0, 1], and the "
                              "off-topic distance at least 0")

    @property
    def mode(self) -> str:
        """probe or finetune: `auto` probes unless the backbone would be an untrained torchvision network."""
        if self.audit_mode != "auto":
            return self.audit_mode
        untrained = self.weights.lower() == "none" and not self.backbone.endswith(".pt")
        return "finetune" if untrained else "probe"

    def audit_rules(self) -> AuditRules:
        return AuditRules(action=self.audit_action, similarity=self.semantic_similarity,
                          relabel_confidence=self.relabel_confidence,
                          off_topic=OffTopicRule(distance=self.off_topic_distance,
                                                 confidence=self.off_topic_confidence))

    @property
    def hash_kinds(self) -> tuple[str, ...]:
        return hash_kinds(self.hash)

    @property
    def thresholds(self) -> tuple[int, ...]:
        """One Hamming threshold per hash kind, in the order of `hash_kinds`."""
        return self.decide_options().thresholds()

    def inspect_options(self) -> InspectOptions:
        return InspectOptions(min_side=self.min_side, max_aspect=self.max_aspect, hash_kinds=self.hash_kinds,
                              quality=self.quality)

    def decide_options(self) -> DecideOptions:
        return DecideOptions(hash_kinds=self.hash_kinds, match_any="," in self.hash, threshold=self.threshold,
                             keep_conflicts=self.keep_conflicts, reject_quality=self.reject_quality,
                             views=self.views, view_margin=self.view_margin, view_similarity=self.view_similarity,
                             min_similarity=self.min_similarity)


def hash_kinds(spec: str) -> tuple[str, ...]:
    """The kinds named in a `hash` setting such as `phash,dhash` or `phash+dhash`, in order."""
    return tuple(kind for kind in spec.replace(",", "+").split("+") if kind)
