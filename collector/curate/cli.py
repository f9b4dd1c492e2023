"""`curate`: options in, one-line errors and exit codes out."""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

import click
from PIL import Image

from ..console import EXIT_CODES, one_line_errors
from .audit.judge import ACTIONS
from .inspect import QualityThresholds
from .options import AUDIT_MODES, CurateError, CurateOptions
from .run import run, undo
from .summary import format_summary, format_undo

QUALITY = QualityThresholds()


class Thresholds(click.ParamType):
    """Hamming thresholds: 8, or 10,12 for one per hash kind."""

    name = "bits"

    @staticmethod
    def show(value: int | tuple[int, ...]) -> str:
        return str(value) if isinstance(value, int) else ",".join(map(str, value))

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        if isinstance(value, int | tuple):
            return value
        try:
            values = tuple(int(part) for part in str(value).split(","))
        except ValueError:
            self.fail(f"{value!r} is not a number of bits like 8, or one per hash kind like 10,12", param, ctx)
        if not all(0 <= v <= 64 for v in values):
            self.fail(f"{value!r}: thresholds are 0 to 64 bits", param, ctx)
        return values[0] if len(values) == 1 else values


def curate_options(**fields: object) -> CurateOptions:
    """Options from the command line; a bad combination is a usage error (exit 2), like a bad option."""
    try:
        return CurateOptions(**fields)  # type: ignore[arg-type]
    except CurateError as error:
        raise click.UsageError(str(error)) from None


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
               epilog=EXIT_CODES)
@click.argument("root", type=click.Path(path_type=Path), default=Path("data"), required=False)
@click.option("--min-side", type=click.IntRange(min=1), default=CurateOptions.min_side, show_default=True,
              help="Quarantine images whose shorter side is smaller, in pixels (after EXIF rotation).")
@click.option("--max-aspect", type=click.FloatRange(min=1), default=CurateOptions.max_aspect, show_default=True,
              help="Quarantine images whose long side is more than this many times the short side (banners).")
@click.option("--hash", "hash_kind", default=CurateOptions.hash, show_default=True, metavar="KIND",
              help="Perceptual hash for near duplicates: phash, dhash, whash or ahash. Join kinds with , "
                   "(phash,dhash: near on any one) or with + (phash+dhash: near on every one).")
@click.option("--threshold", type=Thresholds(), default=Thresholds.show(CurateOptions.threshold), show_default=True,
              help="Largest Hamming distance (bits of 64) at which two images count as near duplicates; with "
                   "several hash kinds, one value for all or one per kind (e.g. --hash phash,dhash --threshold 8,7). "
                   "Each picture is hashed as is and through twenty-five views: mirrored, its centre 90%, its four "
                   "corner and four side 90% crops, its mirrored centre, what lies inside its margins (a frame, bars, "
                   "padding or a caption bar, text and all, left out), and the cuts feeds, prints and previews make "
                   "of a wider or taller photo (its largest square and 4:5 portrait at the centre and at either end, "
                   "its 2:3 pin, 9:16 story, 5:4 print, 3:2 photo and 16:9 frame at the centre, its 1.91:1 preview "
                   "at the centre and keeping the upper third), and each of those eight shapes' cut at every place "
                   "along the picture, a 32nd of its length apart, so mirrored, slightly rotated, cropped, framed, "
                   "captioned and cut copies match. A side or a cut is compared only with the whole of another "
                   "picture, as is or mirrored, and a cut only with pictures of its shape, within 6 bits (a cut at "
                   "a place other than those named, within 4); a pair through a crop or the margins must be 2 bits "
                   "closer unless its 16x16 grey copies correlate at 0.9 or more; a mirrored pair need not. On "
                   "eleven sets the default was not chosen on (1,000 edited copies each): recall 97.3%, 98.8%, "
                   "95.7%, 99.4%, 98.2%, 94.1%, 98.0%, 99.6%, 91.7%, 99.3% and 97.5% (the places set, 97.5%: every "
                   "cut at a place drawn anywhere along the picture, each kind 90-100%; the offsets set, 91.7%: "
                   "crops of 7-12% anywhere 87-98%, a trimmed side 84%, a 4-degree rotation cut by 9% 63%), removal "
                   "precision 99.7-100%, mirrors 95.1-100% (even where each is also cut by 6-12%), 10% crops "
                   "95.2-100%. A picture whose 32x32 grey "
                   "copy varies by under 2 grey levels (standard deviation: flat, blank, near-black; every one of "
                   "5,000 photos measured over 6.8) has no hash worth comparing: only identical pixels make it a "
                   "duplicate.")
@click.option("--min-similarity", type=click.FloatRange(-1, 1), default=CurateOptions.min_similarity,
              show_default=True,
              help="Correlation (-1 to 1) that the 16x16 grey copies of two hash-matched pictures must also reach "
                   "to count as duplicates; it drops different pictures whose hashes happen to be close. "
                   "-1 turns the check off.")
@click.option("--keep-conflicts", is_flag=True,
              help="Keep near-duplicate groups that span classes (best copy per class, in one split) instead of "
                   "quarantining the whole group as label-conflict.")
@click.option("--reject-quality", is_flag=True,
              help="Quarantine images with quality flags (dark, bright, blurry, low-information, grayscale in a "
                   "colour dataset, odd-size) instead of only reporting them.")
@click.option("--dark", type=float, default=QUALITY.dark, show_default=True,
              help="Flag images whose mean brightness (0-255) is below this.")
@click.option("--bright", type=float, default=QUALITY.bright, show_default=True,
              help="Flag images whose mean brightness (0-255) is above this.")
@click.option("--blur", type=float, default=QUALITY.blur, show_default=True,
              help="Flag images whose sharpness (variance of the Laplacian) is below this.")
@click.option("--entropy", type=float, default=QUALITY.entropy, show_default=True,
              help="Flag images whose grey-level entropy (bits) is below this: flat, near-empty pictures.")
@click.option("--grayscale", type=float, default=QUALITY.grayscale, show_default=True,
              help="Flag images whose colourfulness is below this (only when most images have colour).")
@click.option("--odd-side", type=click.IntRange(min=1), default=QUALITY.odd_min_side, show_default=True,
              help="Flag accepted images whose shorter side is under this, in pixels.")
@click.option("--odd-aspect", type=click.FloatRange(min=1), default=QUALITY.odd_aspect, show_default=True,
              help="Flag accepted images longer than this many times their short side.")
@click.option("--normalize", is_flag=True,
              help="Re-encode kept images as RGB JPEG (PNG for lossless sources) with EXIF rotation applied; "
                   "originals go to _quarantine/normalized.")
@click.option("--audit", is_flag=True,
              help="After the hash pass, judge every kept image with a model that never trained on it (K-fold): "
                   "label issues (confident learning), off-topic images and copies the hashes missed (embedding "
                   "neighbours confirmed by pixels), with the share each engine, query and domain brought. "
                   "Reported unless --audit-action says otherwise.")
@click.option("--audit-mode", type=click.Choice(AUDIT_MODES), default=CurateOptions.audit_mode, show_default=True,
              help="probe: a linear classifier per fold on frozen backbone embeddings (seconds per thousand images "
                   "once embedded); finetune: classify train per fold (slow on a CPU; no off-topic or semantic "
                   "copies). auto: probe, unless --weights none makes a torchvision backbone untrained.")
@click.option("--backbone", default=CurateOptions.backbone, show_default=True, metavar="MODEL",
              help="A torchvision model name (as classify train --model) or a model.pt that classify train wrote.")
@click.option("--weights", default=CurateOptions.weights, show_default=True, metavar="WEIGHTS",
              help="The backbone's weights as in classify train: DEFAULT (pretrained, downloaded once by torchvision), "
                   "none, or a path; ignored for a model.pt backbone.")
@click.option("--folds", type=click.IntRange(min=2), default=CurateOptions.folds, show_default=True,
              help="Cross-validation folds: each image is judged by a model trained on the other folds.")
@click.option("--seed", type=int, default=CurateOptions.seed, show_default=True, help="Seed of the fold split.")
@click.option("--audit-action", type=click.Choice(ACTIONS), default=CurateOptions.audit_action, show_default=True,
              help="report: move nothing; quarantine: label issues to _quarantine/label-issue, off-topic images to "
                   "_quarantine/off-topic, semantic copies as the hash pass moves duplicates; relabel: as quarantine, "
                   "but label issues at least --relabel-confidence sure move to their suggested class. "
                   "All through the journal: curate --undo restores them.")
@click.option("--off-topic-distance", type=click.FloatRange(min=0), default=CurateOptions.off_topic_distance,
              show_default=True,
              help="Off-topic when this many spreads (robust z-score) below every class's typical similarity to its "
                   "centre, and unsure (--off-topic-confidence). Chosen on one generated set "
                   "(bench/audit_thresholds.py); on six held-out sets, through its weak stand-in backbone: 15-65% "
                   "of off-topic pictures found at 10-43% precision.")
@click.option("--off-topic-confidence", type=click.FloatRange(0, 1), default=CurateOptions.off_topic_confidence,
              show_default=True,
              help="Unsure: top probability below chance plus this share of the way from chance to 1.")
@click.option("--semantic-similarity", type=click.FloatRange(0, 1, min_open=True),
              default=CurateOptions.semantic_similarity, show_default=True,
              help="An image and its nearest embedding neighbour are copies when their small grey copies correlate "
                   "this much (best of mirrored, centre-cropped and sub-pixel shifted views). Chosen on one generated "
                   "set (bench/audit_thresholds.py); on six held-out sets, with the hash pass it found 96-100% of "
                   "mirrored and 10%-cropped copies, and 77-90% of its pairs were copies.")
@click.option("--relabel-confidence", type=click.FloatRange(0, 1), default=CurateOptions.relabel_confidence,
              show_default=True, help="With --audit-action relabel: the suggested class's least probability. "
                                      "Through the bench's stand-in backbone no value relabelled safely "
                                      "(bench/audit_thresholds.py); at 0.9 almost every issue is quarantined.")
@click.option("--device", default=CurateOptions.device, show_default=True,
              help="Where the audit's model runs: auto, cpu, cuda, cuda:1, mps.")
@click.option("--batch-size", type=click.IntRange(min=1), default=CurateOptions.batch_size, show_default=True,
              help="Images per batch when embedding.")
@click.option("--audit-epochs", type=click.IntRange(min=1), default=CurateOptions.audit_epochs, show_default=True,
              help="With --audit-mode finetune: epochs of each fold's training.")
@click.option("--audit-image-size", type=click.IntRange(min=16), default=CurateOptions.audit_image_size,
              show_default=True, help="With --audit-mode finetune: the training image size, in pixels.")
@click.option("--dry-run", is_flag=True, help="Report what would happen; move, write and record nothing.")
@click.option("--undo", "undo_last", is_flag=True,
              help="Put back everything the last curate run on ROOT moved, and its manifest records.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes that decode and hash images, and that load them for --audit. Default: one per CPU core "
                   "this process may use to hash, classify's loader default (2) to audit.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report instead of the table.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def curate(root, min_side, max_aspect, hash_kind, threshold, min_similarity, keep_conflicts, reject_quality, dark,
           bright, blur, entropy, grayscale, odd_side, odd_aspect, normalize, audit, audit_mode, backbone, weights,
           folds, seed, audit_action, off_topic_distance, off_topic_confidence, semantic_similarity,
           relabel_confidence, device, batch_size, audit_epochs, audit_image_size, dry_run, undo_last, workers,
           as_json, quiet) -> None:  # type: ignore[no-untyped-def]
    """Validate, deduplicate and report on the image dataset at ROOT (default: data).

    \b
    ROOT is ROOT/train/<class>/, ROOT/val/<class>/ (and test/), or a flat ROOT/<class>/.
    Broken files, duplicates, label conflicts and train/val leakage move to
    ROOT/_quarantine/<reason>/<original path>; nothing is deleted. The report goes to
    ROOT/curate_report.html and ROOT/curate_report.json; ROOT/manifest.sqlite, when
    there is one, records every move.

    Of each duplicate group the least-edited copy stays: the one closest to the
    others, then colour over grey, then no white, grey or black margin over one
    (a frame, bars or a caption added), then a JPEG without traces of an edit of
    an earlier JPEG (a mirrored grid, stretched quantisation steps) over one with
    them, then the most detail, most pixels inside the margins, finest JPEG steps,
    smallest file, train over val. The report names, for every copy that leaves,
    how it matched the kept one and the first of these it lost on.

    \b
    Examples:
      curate data/ --dry-run
      curate data/ --reject-quality --normalize
      curate data/ --audit --backbone runs/resnet18/model.pt --audit-action quarantine
      curate --undo data/
    """
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    options = curate_options(
        min_side=min_side, max_aspect=max_aspect, hash=hash_kind, threshold=threshold, min_similarity=min_similarity,
        keep_conflicts=keep_conflicts, reject_quality=reject_quality, normalize=normalize, dry_run=dry_run,
        workers=workers, progress=not quiet, audit=audit, audit_mode=audit_mode, backbone=backbone, weights=weights,
        folds=folds, seed=seed, audit_action=audit_action, off_topic_distance=off_topic_distance,
        off_topic_confidence=off_topic_confidence, semantic_similarity=semantic_similarity,
        relabel_confidence=relabel_confidence,
        device=device, batch_size=batch_size, audit_epochs=audit_epochs, audit_image_size=audit_image_size,
        quality=QualityThresholds(dark=dark, bright=bright, blur=blur, entropy=entropy, grayscale=grayscale,
                                  odd_min_side=odd_side, odd_aspect=odd_aspect),
    )
    try:
        with one_line_errors():
            if undo_last:
                undone = undo(root)
                click.echo(json.dumps(asdict(undone), indent=2) if as_json else format_undo(undone, str(root)))
                if undone.conflicts:
                    raise click.ClickException(f"{len(undone.conflicts)} files could not be restored (listed above)")
                return
            report = run(root, options)
    except KeyboardInterrupt:
        click.echo("interrupted: the next curate run rolls back any unfinished moves (or run curate --undo ROOT)",
                   err=True)
        sys.exit(130)
    if report.recovered:
        click.echo(f"rolled back {report.recovered} moves of an interrupted run first", err=True)
    if report.pending_rollback:
        click.echo("note: an interrupted run left moves behind; the next real run rolls them back first, so this "
                   "dry run sees the dataset half-moved", err=True)
    click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False) if as_json else format_summary(report))
