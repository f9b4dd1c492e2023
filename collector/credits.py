"""The credit file and the dataset card, rewritten from the manifest and the files on disk after `collect` or `curate`.

Credits go to `<split>/metadata.jsonl`, one line per image file, which is where Hugging Face's `imagefolder`
loader reads per-image columns from (it ignores a metadata file above the split folders). Every value is a
string, empty when unknown: the loader refuses splits whose columns differ in type, and a column that is
null throughout one split would (as would fetch times, which it reads as timestamps, beside an image with none).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from .licenses import license_url
from .manifest import FILENAME, LIVE_STATUSES, QUARANTINED

log = logging.getLogger("collector")

METADATA = "metadata.jsonl"
CARD = "README.md"
CARD_MARK = "<!-- imgharvest dataset card: collect and curate rewrite this file; edits are lost -->"
SPLITS = ("train", "val", "test")
UNKNOWN = "unknown"
LOADING = """```python
from datasets import load_dataset

dataset = load_dataset("imagefolder", data_dir="{name}")  # image, label, source_page, author, license, ...
```"""
ABOUT = (
    "It was collected from image search engines by imgharvest. Each split folder holds one folder per class and a "
    "`metadata.jsonl` that credits every image: its source page, author, licence and licence URL (empty where the "
    "engine did not say)."
)
LICENCE_NOTE = (
    "CC BY and CC BY-SA require credit to the author, a link to the licence and to the source wherever an image is "
    "shared; BY-SA adaptations must carry the same licence. NC licences forbid commercial use and ND licences forbid "
    'sharing modified images. A licence that names several ("CC BY or CC BY-SA (Bing licence filter)") is what the '
    "engine's filter guarantees: check the source page for the exact one. An unknown licence means all rights "
    "reserved until the source page says otherwise."
)


@dataclass(frozen=True)
class Credit:
    """One image's line in metadata.jsonl; `file_name` is relative to its split folder."""

    file_name: str
    label: str
    source_page: str
    author: str
    license: str
    license_url: str
    url: str
    engine: str
    query: str
    title: str


@dataclass(frozen=True)
class ImageFile:
    """A file in a class folder of a split, where ImageFolder readers look."""

    split: str
    class_name: str
    path: str  # relative to the dataset root, with forward slashes


def write_credits(root: Path) -> list[str]:
    """Rewrite each split's metadata.jsonl and the card when ROOT has a manifest; returns warnings for the user.

    A README.md that this module did not write is left alone (and reported).
    """
    if not (root / FILENAME).is_file():
        return []
    files = list_images(root)
    rows, quarantined = read_manifest(root / FILENAME)
    credits = {image.path: credit(image, rows.get(image.path, {})) for image in files}
    fetched = sorted(row["fetched_at"] for image in files if (row := rows.get(image.path)) and row["fetched_at"])
    for split in SPLITS:
        lines = [credits[image.path] for image in files if image.split == split]
        if lines:
            write_atomic(root / split / METADATA,
                         "".join(json.dumps(asdict(c), ensure_ascii=False) + "\n" for c in lines))
        else:  # a split curate emptied: a stale file would name images that are gone
            (root / split / METADATA).unlink(missing_ok=True)
    card = root / CARD
    if card.exists() and not card.read_text(encoding="utf-8", errors="replace").startswith(CARD_MARK):
        return [f"{card} was not written by imgharvest; the dataset card was not updated"]
    write_atomic(card, render_card(root.name, files, credits, fetched, quarantined))
    return []


def refresh_credits(root: Path) -> None:
    """write_credits for a caller without a summary of its own (curate): warnings go to the log."""
    for message in write_credits(root):
        log.warning("%s", message)


def list_images(root: Path) -> list[ImageFile]:
    """Every visible file under ROOT/<split>/<class>/, sorted by path, as ImageFolder readers see them."""
    images = []
    for split in SPLITS:
        if not (root / split).is_dir():
            continue
        for class_dir in sorted(p for p in (root / split).iterdir() if p.is_dir() and _visible(p.name)):
            for folder, dirs, names in os.walk(class_dir):
                dirs[:] = sorted(d for d in dirs if _visible(d))
                for name in sorted(n for n in names if _visible(n)):
                    path = (Path(folder) / name).relative_to(root).as_posix()
                    images.append(ImageFile(split, class_dir.name, path))
    return sorted(images, key=lambda image: image.path)


def _visible(name: str) -> bool:
    """Hidden files (collect's `.tmp`, `.DS_Store`) are never part of a dataset."""
    return not name.startswith(".")


def read_manifest(path: Path) -> tuple[dict[str, dict], int]:
    """({path: row} of the images in the dataset, how many `curate` quarantined)."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        marks = ",".join("?" * len(LIVE_STATUSES))
        rows = {row["path"]: dict(row) for row in db.execute(
            f"SELECT * FROM images WHERE status IN ({marks}) AND path IS NOT NULL ORDER BY id", LIVE_STATUSES)}
        quarantined = db.execute("SELECT COUNT(*) FROM images WHERE status LIKE ?", (f"{QUARANTINED}%",)).fetchone()[0]
    finally:
        db.close()
    return rows, quarantined


def credit(image: ImageFile, row: dict) -> Credit:
    """An image's credit from its manifest row; an image the manifest does not know gets empty fields."""
    def value(name: str) -> str:
        return str(row.get(name) or "")

    return Credit(
        file_name=image.path.split("/", 1)[1],
        label=image.class_name,
        source_page=value("source_page"),
        author=value("author"),
        license=value("license"),
        license_url=value("license_url") or license_url(row.get("license")) or "",
        url=value("final_url") or value("url"),
        engine=value("engine"),
        query=value("query"),
        title=value("title"),
    )


def render_card(name: str, files: list[ImageFile], credits: dict[str, Credit], fetched: list[str],
                quarantined: int) -> str:
    """The Markdown dataset card: classes and counts per split, engines and queries, licence mix, and the dates
    `fetched` (sorted ISO times) spans."""
    splits = [split for split in SPLITS if any(image.split == split for image in files)]
    per_class: dict[str, Counter[str]] = {}
    for image in files:
        per_class.setdefault(image.class_name, Counter())[image.split] += 1
    class_rows = [[cls, *(counts[s] for s in splits), sum(counts.values())] for cls, counts in sorted(per_class.items())]
    class_rows.append(["all", *(sum(c[s] for c in per_class.values()) for s in splits), len(files)])
    known = [c for c in credits.values() if c.engine]
    queries: dict[str, set[str]] = {}
    for c in known:
        queries.setdefault(c.engine, set()).add(c.query)
    engine_rows = [[engine, n, ", ".join(sorted(queries[engine]))]
                   for engine, n in sorted(Counter(c.engine for c in known).items())]
    licences = Counter(c.license or UNKNOWN for c in credits.values())
    unsourced = len(files) - len(known)
    dates = f"Downloaded between {fetched[0][:10]} and {fetched[-1][:10]} (UTC)." if fetched else ""
    moved = f"`curate` has moved {quarantined} image{'s' * (quarantined != 1)} to `_quarantine/`." if quarantined else ""
    sections = [
        f"{CARD_MARK}\n# {name}",
        f"An image-classification dataset of {len(files)} images in {len(per_class)} classes. {ABOUT}",
        "## Classes", _table(["class", *splits, "all"], class_rows),
        "## Sources", _table(["engine", "images", "queries"], engine_rows),
        f"{unsourced} images are not in the manifest, so their source is unknown." if unsourced else "",
        "## Licences", _table(["licence", "images"], [[licence, n] for licence, n in licences.most_common()]),
        LICENCE_NOTE,
        "## Collected", dates or "No download dates are recorded.", moved,
        "## Loading", LOADING.format(name=name),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _table(header: list[str], rows: Iterable[list[object]]) -> str:
    def cells(values: Iterable[object]) -> str:
        return "| " + " | ".join(str(v).replace("|", "\\|") for v in values) + " |"

    return "\n".join([cells(header), cells("---" for _ in header), *(cells(row) for row in rows)])


def write_atomic(path: Path, text: str) -> None:
    """Temp file and rename, so a reader never sees half a file."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
