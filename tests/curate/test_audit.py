"""`curate --audit` on small real images with a local backbone (no download): every kind of finding, the report,
reversible quarantine and relabelling, the manifest's provenance, and the command line."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import classify
from collector.curate import CurateOptions, CurateReport, curate, undo
from collector.curate.audit.offtopic import OffTopicRule
from collector.curate.cli import curate as curate_command
from collector.manifest import SCHEMA
from tests.classify.conftest import save_untrained_model
from tests.curate.conftest import make_photo
from tests.curate.datasets import tree_digest

RED, BLUE, GREEN = (220, 40, 40), (40, 60, 220), (40, 200, 60)
# The colours a locally trained backbone learns: none of them is a class of the audited set.
BACKBONE_COLOURS = {"yellow": (230, 210, 40), "cyan": (40, 210, 220), "purple": (150, 40, 200)}
MISLABELLED = ["train/blue/wrong0.png", "train/blue/wrong1.png", "train/blue/wrong2.png"]
OFF_TOPIC = "train/red/green.png"
COPY, ORIGINAL = "val/red/copy.png", "train/red/red3.png"
CACHE = ".imgharvest"
RANDOM_BACKBONE_DISTANCE = 3.0


def tinted(seed: int, colour: tuple[int, int, int], share: float = 0.55) -> Image.Image:
    """A busy 64 px photo washed with `colour`: the colour is the class, the shapes tell pictures apart."""
    photo = np.asarray(make_photo(64, 64, seed)).astype(np.float32)
    return Image.fromarray(((1 - share) * photo + share * np.array(colour)).clip(0, 255).astype(np.uint8))


def build_audited(root: Path) -> Path:
    """Red and blue pictures, 16 train and 4 val per class; three red pictures filed under blue, a green one
    under red, and a 16% crop (off centre) of a train picture in val, which no view of the hash pass matches."""
    for split, count in (("train", 16), ("val", 4)):
        for name, colour in (("red", RED), ("blue", BLUE)):
            for k in range(count):
                path = root / split / name / f"{name}{k}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                tinted(1000 * (name == "blue") + 100 * (split == "val") + k, colour).save(path)
    for k, relative in enumerate(MISLABELLED):
        tinted(500 + k, RED).save(root / relative)
    tinted(700, GREEN).save(root / OFF_TOPIC)
    Image.open(root / ORIGINAL).crop((0, 6, 54, 60)).resize((64, 64)).save(root / COPY)
    return root


@pytest.fixture(scope="module")
def backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A resnet18 model.pt with random weights at 32 px: its features tell these colours apart linearly."""
    return save_untrained_model(tmp_path_factory.mktemp("backbone") / "model.pt", ["a", "b"], seed=3)


@pytest.fixture(scope="module")
def trained_backbone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A resnet18 that `classify train` trains here, from scratch at 32 px, on pictures of colours the audited set
    lacks: the bench's rule for a stand-in backbone, in small."""
    root = tmp_path_factory.mktemp("trained")
    for split, count in (("train", 12), ("val", 4)):
        for number, (name, colour) in enumerate(BACKBONE_COLOURS.items()):
            for k in range(count):
                path = root / "data" / split / name / f"{k}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                tinted(5000 + 100 * number + 50 * (split == "val") + k, colour).save(path)
    run = classify.train(root / "data", model="resnet18", weights="none", image_size=32, epochs=6, batch_size=16,
                         augment="light", workers=0, runs=str(root / "runs"), name="backbone", progress=False)
    return run.run_dir / "model.pt"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_audited(tmp_path_factory.mktemp("audited") / "data")


@pytest.fixture
def audited(pristine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "data"))


@pytest.fixture(scope="module")
def reported(pristine: Path, backbone: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CurateReport]:
    """One default audit (report only) of a copy of the dataset, shared by the tests that only read it."""
    root = Path(shutil.copytree(pristine, tmp_path_factory.mktemp("reported") / "data"))
    return root, audit(root, backbone)


def audit(root: Path, backbone: Path, **options: object) -> CurateReport:
    """curate --audit; through the random backbone (unless `options` say otherwise) with the stricter off-topic
    distance its widely spread features need."""
    options = {"off_topic_distance": RANDOM_BACKBONE_DISTANCE, **options}
    return curate(root, audit=True, backbone=str(backbone), device="cpu", progress=False, workers=1, **options)


def test_the_audit_finds_wrong_labels_off_topic_images_and_copies_the_hashes_missed(reported) -> None:
    _, report = reported
    found = report.audit
    assert found is not None and found.images == 2 * (16 + 4) + len(MISLABELLED) + 2
    assert {(item.path, item.suggested) for item in found.label_issues} == {(path, "red") for path in MISLABELLED}
    assert all(item.action == "reported" and item.moved_to is None for item in found.label_issues)
    assert [item.path for item in found.off_topic] == [OFF_TOPIC]
    [group] = found.semantic_groups
    assert {(m.path, m.kept) for m in group.members} == {(ORIGINAL, True), (COPY, False)}
    assert group.leakage and found.leakage_pairs == 1 and not report.groups
    noise = {row.class_name: row for row in found.per_class}
    assert noise["blue"].label_issues == 3 and noise["blue"].estimated_noise > 0.1
    assert found.joint[found.classes.index("blue")][found.classes.index("red")] == 3
    assert report.totals.accepted == report.totals.scanned  # reported only: nothing moved


def test_the_report_files_hold_the_audit(reported) -> None:
    audited, _ = reported
    saved = json.loads((audited / "curate_report.json").read_text())
    assert {issue["path"] for issue in saved["audit"]["label_issues"]} == set(MISLABELLED)
    assert saved["audit"]["settings"]["mode"] == "probe" and saved["audit"]["sources"] == []
    assert saved["audit"]["settings"]["semantic_similarity"] == CurateOptions.semantic_similarity
    page = (audited / "curate_report.html").read_text()
    assert 'id="audit"' in page and "Label issues" in page and "wrong0.png" in page and "Semantic copies" in page


@pytest.mark.slow
def test_a_locally_trained_backbone_finds_every_kind_of_finding(audited, trained_backbone) -> None:
    found = audit(audited, trained_backbone, off_topic_distance=OffTopicRule().distance).audit
    assert found is not None
    assert {(item.path, item.suggested) for item in found.label_issues} == {(path, "red") for path in MISLABELLED}
    # The default rule is chosen for recall on weak embeddings: the green picture is flagged, and farthest of all.
    assert min(found.off_topic, key=lambda item: item.nearness).path == OFF_TOPIC
    [group] = found.semantic_groups
    assert {(m.path, m.kept) for m in group.members} == {(ORIGINAL, True), (COPY, False)} and group.leakage


@pytest.mark.slow
def test_quarantine_moves_every_finding_and_undo_restores_every_byte(audited, backbone) -> None:
    before = tree_digest(audited)
    report = audit(audited, backbone, audit_action="quarantine")
    moved = {item.path: item.moved_to for item in (*report.audit.label_issues, *report.audit.off_topic)}
    assert moved == {**{p: f"_quarantine/label-issue/{p}" for p in MISLABELLED},
                     OFF_TOPIC: f"_quarantine/off-topic/{OFF_TOPIC}"}
    assert all((audited / target).is_file() and not (audited / source).exists() for source, target in moved.items())
    assert (audited / "_quarantine/semantic-duplicate" / COPY).is_file()
    assert report.counts.after["train"]["blue"] == 16 and report.counts.after["val"]["red"] == 4
    undo(audited)
    assert tree_digest(audited, skip=(CACHE, "_quarantine")) == before


@pytest.mark.slow
def test_relabel_moves_sure_label_issues_to_their_class_and_undo_puts_them_back(audited, backbone) -> None:
    before = tree_digest(audited)
    report = audit(audited, backbone, audit_action="relabel", relabel_confidence=0.5)
    relabelled = {item.path: item.moved_to for item in report.audit.label_issues}
    assert relabelled == {path: path.replace("/blue/", "/red/") for path in MISLABELLED}
    assert all(item.action == "relabelled" for item in report.audit.label_issues)
    assert all((audited / target).is_file() for target in relabelled.values())
    assert report.counts.after["train"]["red"] == 17 + 3 - 1  # three relabelled in, the off-topic one out
    undo(audited)
    assert tree_digest(audited, skip=(CACHE, "_quarantine")) == before


@pytest.mark.slow
def test_a_dry_run_audit_moves_and_writes_nothing(audited, backbone) -> None:
    before = tree_digest(audited)
    report = audit(audited, backbone, audit_action="quarantine", dry_run=True)
    assert len(report.audit.label_issues) == 3
    assert tree_digest(audited) == before and not (audited / ".imgharvest").exists()


@pytest.mark.slow
def test_embeddings_are_cached_by_content_so_a_second_audit_reuses_them(audited, backbone) -> None:
    first = audit(audited, backbone)
    cache = audited / ".imgharvest" / "features.sqlite"
    assert cache.is_file()
    again = audit(audited, backbone)
    assert [i.path for i in again.audit.label_issues] == [i.path for i in first.audit.label_issues]


@pytest.mark.slow
def test_provenance_gives_the_share_of_flagged_images_per_engine_query_and_domain(audited, backbone) -> None:
    paths = sorted(tree_digest(audited))
    db = sqlite3.connect(audited / "manifest.sqlite")
    db.executescript(SCHEMA)
    for number, path in enumerate(paths):
        noisy = path in MISLABELLED or path == OFF_TOPIC
        engine, query = ("bing", "blue thing") if noisy else ("openverse", f"{path.split('/')[1]} photo")
        db.execute("INSERT INTO images (class, query, engine, rank, url, source_page, status, path) VALUES "
                   "(?, ?, ?, 1, ?, ?, 'saved', ?)",
                   (path.split("/")[1], query, engine, f"https://img.example/{number}.png",
                    "https://www.pins.example/p" if noisy else "https://photos.example/p", path))
    db.commit()
    db.close()
    report = audit(audited, backbone, audit_action="quarantine")
    shares = {(row.kind, row.name): row for row in report.audit.sources}
    assert shares[("engine", "bing")].share == 1.0 and shares[("engine", "openverse")].share == 0.0
    assert shares[("domain", "pins.example")].label_issues == 3 and shares[("domain", "pins.example")].off_topic == 1
    assert report.audit.label_issues[0].origin.engine == "bing"
    db = sqlite3.connect(audited / "manifest.sqlite")
    rows = dict(db.execute("SELECT path, status FROM images WHERE path LIKE '_quarantine/%'").fetchall())
    db.close()
    assert rows[f"_quarantine/label-issue/{MISLABELLED[0]}"] == "quarantined:label-issue"
    undo(audited)
    db = sqlite3.connect(audited / "manifest.sqlite")
    assert db.execute("SELECT COUNT(*) FROM images WHERE status != 'saved'").fetchone()[0] == 0
    db.close()


@pytest.mark.slow
def test_the_command_audits_and_prints_its_findings(audited, backbone) -> None:
    result = CliRunner().invoke(curate_command, [str(audited), "--audit", "--backbone", str(backbone),
                                                 "--off-topic-distance", str(RANDOM_BACKBONE_DISTANCE),
                                                 "--device", "cpu", "--workers", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert "audit (probe" in result.output and "3 label issues, 1 off-topic" in result.output
    assert "semantic copies the hashes missed: 1 groups, 1 pairs across splits" in result.output


@pytest.mark.parametrize("arguments, message", [
    (["--backbone", "no-such-model"], "no-such-model"),
    (["--audit-mode", "finetune", "--backbone", "runs/x/model.pt"], "finetune audit trains a torchvision model"),
])
def test_a_bad_backbone_costs_one_error_line_and_moves_nothing(audited, arguments, message) -> None:
    before = tree_digest(audited)
    result = CliRunner().invoke(curate_command, [str(audited), "--audit", "--audit-action", "quarantine",
                                                 "--device", "cpu", "--workers", "1", "-q", *arguments])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert result.output.count("\n") == 1
    assert tree_digest(audited) == before


def test_the_audit_needs_two_classes(tmp_path: Path, backbone) -> None:
    for k in range(6):
        (tmp_path / "train" / "red").mkdir(parents=True, exist_ok=True)
        tinted(k, RED).save(tmp_path / "train" / "red" / f"{k}.png")
    with pytest.raises(Exception, match="at least two"):
        audit(tmp_path, backbone)


@pytest.mark.slow
def test_finetune_mode_trains_per_fold_and_looks_for_label_issues_only(audited) -> None:
    report = curate(audited, audit=True, audit_mode="finetune", backbone="resnet18", weights="none", folds=2,
                    audit_epochs=1, audit_image_size=32, device="cpu", progress=False, workers=1)
    found = report.audit
    assert found.settings.mode == "finetune" and found.checks == ("label-issues",)
    assert found.images == 2 * (16 + 4) + len(MISLABELLED) + 2
    assert found.off_topic == () and found.semantic_groups == ()
    assert sum(map(sum, found.joint)) == found.images


def test_an_audit_action_without_the_audit_is_a_usage_error(audited) -> None:
    result = CliRunner().invoke(curate_command, [str(audited), "--audit-action", "quarantine", "-q"])
    assert result.exit_code == 2 and "add --audit" in result.output
    assert not (audited / "_quarantine").exists()
