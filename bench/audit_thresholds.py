"""Where the audit's thresholds come from: each is chosen on one generated set and reported on sets it never saw.

The sets are bench/audit_bench.py's, seen through its STAND-IN backbone (a resnet18 trained here on the six CIFAR-10
classes the sets lack; `--backbone` takes a real one):
  choose: 20% symmetric label noise, seed 0, 5% off-topic photos of the stand-in's own classes;
  held out: symmetric seed 1 and asymmetric seeds 0 and 1 (off-topic photos made the same way), and seed 2 sets
            whose off-topic pictures are made other ways: MNIST digits (symmetric, asymmetric), generated shapes.

1. Off-topic: candidate scores side by side (distance to the class centres, kNN similarity to each class, the
   out-of-sample probabilities' top value and entropy, Mahalanobis distance, the spread of the neighbours' labels),
   each with its threshold chosen on the choose set (the goal's precision 0.90 when reachable, else the best F1),
   then applied unchanged to the others. Beside them, the ceiling: a linear classifier told the truth, cross-
   validated (what any rule on these embeddings can hope for).
2. Semantic copies: for each neighbour count, the smallest pixel similarity whose pairs are at least 99% planted
   copies on the choose set; every set reported at it, with what the hash pass found.
3. Relabel confidence: of the label issues found, how many suggest the true class, by suggested probability; the
   smallest probability at which 95% of the suggestions are right on the choose set.

    python bench/audit_thresholds.py [--backbone runs/x/model.pt] [--cache data/audit_bench]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import classify
from bench.audit_bench import (
    AUDITED,
    CIFAR,
    COPY_KINDS,
    STAND_IN,
    AuditedSet,
    Probabilities,
    build_audited_set,
    copy_truth,
    hash_pairs,
    inspect_set,
    out_of_sample,
    stand_in_backbone,
)
from bench.curate_bench import pct, table
from bench.curate_sets import extract_cifar, same_photo
from classify.probe import fit_probe
from collector.curate.audit.confident import find_label_issues
from collector.curate.audit.offtopic import OffTopicRule, class_centres, find_off_topic, nearness
from collector.curate.audit.semantic import grey_copies, instance_vectors, neighbour_pairs, pixel_similarity

SETS = (("symmetric", 0, "cifar"), ("symmetric", 1, "cifar"), ("asymmetric", 0, "cifar"), ("asymmetric", 1, "cifar"),
        ("symmetric", 2, "mnist"), ("asymmetric", 2, "mnist"), ("symmetric", 2, "shapes"))
OFF_TOPIC_PRECISION = 0.90
COPY_PRECISION = 0.99
RELABEL_RIGHT = 0.95
LEAST_FLAGGED = 10  # a precision over fewer flagged (or relabelled) images says nothing
NEIGHBOUR_COUNTS = (1, 2, 3, 5, 8)
# Pairs below this pixel similarity are never copies worth a threshold; it keeps the same_photo checks few.
SIMILARITY_FLOOR = 0.8
DISTANCES = np.round(np.arange(0.0, 4.01, 0.25), 2)
CONFIDENCES = np.round(np.arange(0.1, 1.01, 0.1), 1)


@dataclass
class Seen:
    """One set as the audit sees it: the truth, the out-of-sample evidence and the hash pass's inspections."""

    name: str
    audited: AuditedSet
    oos: Probabilities
    inspections: list

    @property
    def off_topic(self) -> np.ndarray:
        return self.audited.off_topic_truth()

    @property
    def true_labels(self) -> np.ndarray:
        return np.array([sorted(AUDITED).index(t) if t else -1 for t in self.audited.true])


# ---------------------------------------------------------------------------------------------------------------
# 1. Off-topic scores: lower is more off-topic


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def similarity_matrix(vectors: np.ndarray) -> np.ndarray:
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    return similarity


def knn_to_classes(similarity: np.ndarray, labels: np.ndarray, classes: int, k: int) -> np.ndarray:
    """Best over classes of the mean similarity to that class's k most similar members."""
    best = np.full(len(labels), -np.inf)
    for j in range(classes):
        columns = similarity[:, labels == j]
        nearest = -np.partition(-columns, k - 1, axis=1)[:, :k]
        best = np.maximum(best, nearest.mean(axis=1))
    return best


def neighbour_label_order(similarity: np.ndarray, labels: np.ndarray, classes: int, k: int) -> np.ndarray:
    """Less the entropy of the labels of the k nearest images: a picture of no class has neighbours of every
    class (or only other such pictures, filed at random)."""
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    shares = np.stack([(labels[nearest] == j).mean(axis=1) for j in range(classes)], axis=1)
    return (shares * np.log(shares + 1e-12)).sum(axis=1)


def mahalanobis(embeddings: np.ndarray, labels: np.ndarray, classes: int, shrink: float = 0.1) -> np.ndarray:
    """Less the smallest Mahalanobis distance to a class mean under the shared covariance (shrunk to its trace)."""
    means = np.array([embeddings[labels == j].mean(axis=0) for j in range(classes)])
    residual = embeddings - means[labels]
    covariance = residual.T @ residual / len(residual)
    covariance = (1 - shrink) * covariance + shrink * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    precision = np.linalg.inv(covariance)
    return -np.min([np.einsum("ij,jk,ik->i", embeddings - m, precision, embeddings - m) for m in means], axis=0)


def off_topic_scores(seen: Seen) -> dict[str, np.ndarray]:
    embeddings = seen.oos.embeddings.astype(np.float64)
    labels, probabilities = seen.oos.labels, seen.oos.probabilities.astype(np.float64)
    classes = probabilities.shape[1]
    centred = unit(embeddings - embeddings.mean(axis=0))
    similarity = similarity_matrix(centred)
    z = nearness(embeddings, labels, classes)
    top = probabilities.max(axis=1)
    scores = {
        "centre z (offtopic.nearness)": z,
        "centre cosine": (embeddings @ class_centres(embeddings, labels, classes).T).max(axis=1),
        "kNN-10 similarity to a class": knn_to_classes(similarity, labels, classes, 10),
        "kNN-10 similarity, all": -np.partition(-similarity, 9, axis=1)[:, :10].mean(axis=1),
        "top probability": top,
        "less entropy": (probabilities * np.log(probabilities + 1e-12)).sum(axis=1),
        "Mahalanobis": mahalanobis(embeddings, labels, classes),
        "neighbours' label spread (k 20)": neighbour_label_order(similarity, labels, classes, 20),
    }
    rank = {name: np.argsort(np.argsort(values)) / len(values) for name, values in scores.items()}
    scores["centre z + top probability (ranks)"] = rank["centre z (offtopic.nearness)"] + rank["top probability"]
    scores["centre z + label spread (ranks)"] = (rank["centre z (offtopic.nearness)"]
                                                 + rank["neighbours' label spread (k 20)"])
    return scores


def choose_threshold(score: np.ndarray, truth: np.ndarray) -> float:
    """The threshold (flag score <= it) with the most recall at OFF_TOPIC_PRECISION over LEAST_FLAGGED flags or more,
    or else the best F1."""
    order = np.argsort(score, kind="stable")
    hits = np.cumsum(truth[order])
    flagged = np.arange(1, len(order) + 1)
    precision, recall = hits / flagged, hits / max(truth.sum(), 1)
    good = np.flatnonzero((precision >= OFF_TOPIC_PRECISION) & (flagged >= LEAST_FLAGGED))
    if len(good):
        return float(score[order[good[np.argmax(recall[good])]]])
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(score[order[np.argmax(f1)]])


def precision_recall(flagged: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hits = int((flagged & truth).sum())
    return hits / max(int(flagged.sum()), 1), hits / max(int(truth.sum()), 1)


def auc(score: np.ndarray, truth: np.ndarray) -> float:
    """Probability that an off-topic image scores lower than an image of a class."""
    ranks = np.argsort(np.argsort(np.concatenate([score[truth], score[~truth]]))) + 1
    positives, negatives = int(truth.sum()), int((~truth).sum())
    above = ranks[:positives].sum() - positives * (positives + 1) / 2
    return 1 - above / max(positives * negatives, 1)


def supervised_ceiling(seen: Seen, folds: int = 4) -> float:
    """Cross-validated AUC of a linear probe told which images are off-topic: the most the embeddings allow."""
    truth = seen.off_topic.astype(np.int64)
    fold = np.arange(len(truth)) % folds
    probability = np.zeros(len(truth))
    for k in range(folds):
        probe = fit_probe(seen.oos.embeddings[fold != k], truth[fold != k], 2, 0.1)
        probability[fold == k] = probe.probabilities(seen.oos.embeddings[fold == k])[:, 1]
    return auc(-probability, truth.astype(bool))


def report_off_topic(sets: list[Seen]) -> None:
    scored = [off_topic_scores(seen) for seen in sets]
    choose = sets[0]
    print("\n== 1. Off-topic: precision / recall at the threshold chosen on the first set (AUC) ==")
    rows = []
    for name in scored[0]:
        threshold = choose_threshold(scored[0][name], choose.off_topic)
        cells = []
        for seen, scores in zip(sets, scored, strict=True):
            p, r = precision_recall(scores[name] <= threshold, seen.off_topic)
            cells.append(f"{pct(p)} / {pct(r)} ({auc(scores[name], seen.off_topic):.2f})")
        rows.append([name, f"{threshold:.3g}", *cells])
    rows.append(["ceiling: linear probe told the truth (AUC)", "", *[f"({supervised_ceiling(s):.2f})" for s in sets]])
    print(table(["score", "threshold", *[s.name for s in sets]], rows))
    rule = choose_rule(choose)
    print(f"\nthe audit's rule (offtopic.find_off_topic: centre z below -distance and top probability under chance + "
          f"confidence of the way to 1), chosen on the first set: distance {rule.distance}, confidence "
          f"{rule.confidence}")
    cells = []
    for seen in sets:
        p, r = precision_recall(rule_flags(seen, rule), seen.off_topic)
        cells.append(f"{pct(p)} / {pct(r)} ({int(rule_flags(seen, rule).sum())} flagged, {int(seen.off_topic.sum())} off-topic)")
    print(table(["rule", *[s.name for s in sets]], [[f"{rule.distance} / {rule.confidence}", *cells]]))


def rule_flags(seen: Seen, rule: OffTopicRule) -> np.ndarray:
    flagged = np.zeros(len(seen.oos.labels), dtype=bool)
    flagged[find_off_topic(seen.oos.embeddings, seen.oos.labels, seen.oos.probabilities, rule).indices] = True
    return flagged


def choose_rule(seen: Seen) -> OffTopicRule:
    """The grid point with the most recall at OFF_TOPIC_PRECISION over LEAST_FLAGGED flags or more on `seen`, or
    else the best F1."""
    scored = []
    for distance in DISTANCES:
        for confidence in CONFIDENCES:
            rule = OffTopicRule(distance=float(distance), confidence=float(confidence))
            flags = rule_flags(seen, rule)
            p, r = precision_recall(flags, seen.off_topic)
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            sure = p >= OFF_TOPIC_PRECISION and flags.sum() >= LEAST_FLAGGED
            scored.append(((sure, r if sure else f1), rule))
    return max(scored, key=lambda item: item[0])[1]


# ---------------------------------------------------------------------------------------------------------------
# 2. Semantic copies


def candidate_similarities(seen: Seen, neighbours: int) -> tuple[list[tuple[int, int]], np.ndarray]:
    vectors = instance_vectors(seen.oos.embeddings, seen.oos.labels)
    first, second = neighbour_pairs(vectors, neighbours)
    pairs = list(zip(first.tolist(), second.tolist(), strict=True))
    return pairs, pixel_similarity(*grey_copies(seen.inspections), first, second)


def pair_verdicts(seen: Seen, pairs: list[tuple[int, int]], extracted: Path) -> np.ndarray:
    """Per pair: 1 a planted copy, 0 one CIFAR-10 photo twice (same_photo: neither right nor wrong), -1 wrong."""
    truth = copy_truth(seen.audited)
    sources = seen.audited.sources
    return np.array([1 if pair in truth else 0 if same_photo(extracted, sources[pair[0]], sources[pair[1]]) else -1
                     for pair in pairs])


def report_copies(sets: list[Seen], extracted: Path) -> None:
    print(f"\n== 2. Semantic copies: threshold = least pixel similarity whose pairs on the first set are >= "
          f"{COPY_PRECISION:.0%} planted copies (pairs of one CIFAR photo twice left out); per set and kind of copy: "
          "found by the audit / by hashes or the audit / planted; then the audit's pairs: planted, one photo twice, "
          "all ==")
    truths = [copy_truth(seen.audited) for seen in sets]
    hashed = [hash_pairs(seen.inspections) for seen in sets]
    rows, chosen = [], []
    for neighbours in NEIGHBOUR_COUNTS:
        candidates = [candidate_similarities(seen, neighbours) for seen in sets]
        pairs, similarity = candidates[0]
        order = np.argsort(-similarity, kind="stable")
        near = order[similarity[order] >= SIMILARITY_FLOOR]
        verdict = pair_verdicts(sets[0], [pairs[k] for k in near], extracted)
        judged = np.cumsum(verdict != 0)
        precision = np.cumsum(verdict == 1) / np.maximum(judged, 1)
        good = np.flatnonzero((precision >= COPY_PRECISION) & (judged > 0))
        threshold = float(similarity[near[good.max()]]) if len(good) else 1.0
        chosen.append((int((verdict[: good.max() + 1] == 1).sum()) if len(good) else 0, -neighbours, threshold))
        cells = []
        for seen, (found_pairs, values), truth, hashes in zip(sets, candidates, truths, hashed, strict=True):
            found = [pair for pair, value in zip(found_pairs, values, strict=True) if value >= threshold]
            verdicts = pair_verdicts(seen, found, extracted)
            found_set = set(found)
            kinds = []
            for kind in COPY_KINDS:
                planted = [pair for pair, k in truth.items() if k == kind]
                kinds.append(f"{sum(p in found_set for p in planted)}/"
                             f"{sum(p in found_set or p in hashes for p in planted)}/{len(planted)}")
            cells.append(f"{' '.join(kinds)}; {int((verdicts == 1).sum())}, {int((verdicts == 0).sum())}, {len(found)}")
        rows.append([str(neighbours), f"{threshold:.3f}", *cells])
    print(table(["neighbours", "threshold", *[s.name for s in sets]], rows))
    print(f"(kinds in the order {', '.join(COPY_KINDS)})")
    found, neighbours, threshold = max(chosen)
    print(f"chosen: {-neighbours} neighbours, similarity {threshold:.3f} (the most planted copies, {found}, found on the "
          "first set at that precision; fewer neighbours on a tie)")


# ---------------------------------------------------------------------------------------------------------------
# 3. Relabel confidence


def report_relabel(sets: list[Seen]) -> None:
    print(f"\n== 3. Relabel confidence: least suggested probability at which >= {RELABEL_RIGHT:.0%} of the label "
          "issues' suggestions are the true class on the first set; per set: relabelled, right ==")
    found = []
    for seen in sets:
        issues = find_label_issues(seen.oos.labels, seen.oos.probabilities)
        probability = seen.oos.probabilities[issues.indices, issues.suggested]
        right = seen.true_labels[issues.indices] == issues.suggested
        found.append((probability, right))
    probability, right = found[0]
    order = np.argsort(-probability, kind="stable")
    share = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    good = np.flatnonzero((share >= RELABEL_RIGHT) & (np.arange(1, len(order) + 1) >= LEAST_FLAGGED))
    threshold = float(probability[order[good.max()]]) if len(good) else float("nan")
    print(f"chosen: {threshold:.3f}" if len(good) else f"chosen: none (no confidence relabels {LEAST_FLAGGED} or "
          f"more images of the first set with {RELABEL_RIGHT:.0%} right)")
    rows = []
    for value in sorted({0.5, 0.7, 0.8, 0.9, 0.95} | ({threshold} if len(good) else set())):
        cells = []
        for p, r in found:
            moved = p >= value
            cells.append(f"{int(moved.sum())}, {pct(r[moved].mean()) if moved.any() else '-'} right "
                         f"(of {len(p)} issues)")
        rows.append([f"{value:.3f}" + (" (chosen)" if value == threshold else ""), *cells])
    print(table(["relabel confidence", *[s.name for s in [*sets]]], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", type=Path, help="a model.pt; default: audit_bench's stand-in")
    parser.add_argument("--cache", type=Path, default=Path("data/audit_bench"))
    parser.add_argument("--backbone-per-class", type=int, default=STAND_IN.per_class)
    parser.add_argument("--backbone-epochs", type=int, default=STAND_IN.epochs)
    parser.add_argument("--backbone-size", type=int, default=STAND_IN.image_size)
    parser.add_argument("--workers", type=int, default=2, help="processes for curate's hash pass")
    args = parser.parse_args()
    extracted = extract_cifar(CIFAR, args.cache)
    path = args.backbone or stand_in_backbone(extracted, args.cache, args.backbone_per_class, args.backbone_epochs,
                                              args.backbone_size)
    backbone = classify.load_model(path)
    sets = []
    for noise, seed, outside in SETS:
        audited = build_audited_set(extracted, args.cache, noise, seed, 400, 0.2, 0.05, 0.05, outside)
        oos = out_of_sample(audited, "probe", backbone, 4, 0, args.cache, 0)
        sets.append(Seen(f"{noise} {outside} {seed}", audited, oos, inspect_set(audited, args.workers)))
    print(f"backbone: {path}; first set chooses, the others are held out")
    report_off_topic(sets)
    report_copies(sets, extracted)
    report_relabel(sets)


if __name__ == "__main__":
    main()
