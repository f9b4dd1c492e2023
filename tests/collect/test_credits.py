"""The credit file (`<split>/metadata.jsonl`) and the dataset card (`README.md`) that collect and curate keep current."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from collector.credits import CARD_MARK, Credit, write_credits
from collector.curate import curate, undo
from tests.collect.helpers import collect_from, image_files, manifest_rows

FIELDS = list(Credit.__dataclass_fields__)


def credit_lines(out: Path) -> dict[str, dict]:
    """Every metadata.jsonl line, keyed by the image's path from the dataset root."""
    lines = {}
    for metadata in sorted(out.glob("*/metadata.jsonl")):
        for line in metadata.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            lines[f"{metadata.parent.name}/{record['file_name']}"] = record
    return lines


def card_table(card: str, heading: str) -> list[list[str]]:
    """The rows of the Markdown table under `## heading`, header and rule left out."""
    section = card.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


def test_every_image_gets_one_credit_line_with_its_provenance(fake, tmp_path):
    collect_from(fake, tmp_path, ["cat", "dog"], engines=("openverse",))

    lines = credit_lines(tmp_path)
    files = {path.relative_to(tmp_path).as_posix() for path in image_files(tmp_path)}
    assert set(lines) == files
    saved = {r["path"]: r for r in manifest_rows(tmp_path) if r["status"] == "saved"}
    for path, record in lines.items():
        row = saved[path]
        assert list(record) == FIELDS
        assert record["label"] == path.split("/")[1]
        assert record["source_page"] == (row["source_page"] or "") and record["author"] == (row["author"] or "")
        assert record["license"] == (row["license"] or "") and record["license_url"] == (row["license_url"] or "")
        assert record["url"] == row["final_url"] and record["engine"] == "openverse" and record["query"] == row["query"]
    licensed = [r for r in lines.values() if r["license"] == "CC BY-SA 4.0"]
    assert licensed and all(r["license_url"] == "https://creativecommons.org/licenses/by-sa/4.0/" for r in licensed)


def test_credit_lines_suit_the_imagefolder_loader(fake, tmp_path):
    """It reads `<split>/metadata.jsonl` beside the class folders, and refuses splits whose columns differ in type."""
    collect_from(fake, tmp_path, ["cat", "dog"], engines=("openverse", "bing"))

    for metadata in tmp_path.glob("*/metadata.jsonl"):
        for line in metadata.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            assert list(record) == FIELDS and all(isinstance(value, str) for value in record.values())
            assert (metadata.parent / record["file_name"]).is_file()
    assert {p.parent.name for p in tmp_path.glob("*/metadata.jsonl")} == {"train", "val"}
    assert not (tmp_path / "metadata.jsonl").exists()


def test_card_counts_classes_splits_engines_queries_and_licences(fake, tmp_path):
    collect_from(fake, tmp_path, ["cat", "dog"], queries=["cat=cat", "cat=kitten", "dog=dog"],
                 engines=("openverse", "wikimedia"))

    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert card.startswith(CARD_MARK)
    files = [path.relative_to(tmp_path).parts for path in image_files(tmp_path)]
    per_class = Counter((cls, split) for split, cls, _ in files)
    assert card_table(card, "Classes") == [
        *([cls, str(per_class[cls, "train"]), str(per_class[cls, "val"]), str(per_class[cls, "train"]
           + per_class[cls, "val"])] for cls in ("cat", "dog")),
        ["all", str(sum(1 for f in files if f[0] == "train")), str(sum(1 for f in files if f[0] == "val")),
         str(len(files))],
    ]
    lines = credit_lines(tmp_path).values()
    engines = Counter(line["engine"] for line in lines)
    queries = {engine: ", ".join(sorted({line["query"] for line in lines if line["engine"] == engine}))
               for engine in engines}
    assert card_table(card, "Sources") == [[engine, str(n), queries[engine]] for engine, n in sorted(engines.items())]
    assert {line["query"] for line in lines} == {"cat", "kitten", "dog"}
    licences = Counter(line["license"] or "unknown" for line in lines)
    assert {row[0]: int(row[1]) for row in card_table(card, "Licences")} == licences
    days = sorted(r["fetched_at"][:10] for r in manifest_rows(tmp_path) if r["status"] == "saved")
    assert f"Downloaded between {days[0]} and {days[-1]} (UTC)." in card
    assert 'load_dataset("imagefolder"' in card


def test_curate_refreshes_credits_and_card_after_quarantining_and_after_undo(fake, tmp_path):
    root = tmp_path / "data"
    collect_from(fake, root, ["cat"], engines=("openverse",))
    victim = next(r for r in manifest_rows(root) if r["status"] == "saved")
    data = (root / victim["path"]).read_bytes()
    (root / victim["path"]).write_bytes(data[: len(data) // 2])
    before = credit_lines(root)

    curate(root, workers=1, progress=False)

    after = credit_lines(root)
    assert set(after) == set(before) - {victim["path"]}
    card = (root / "README.md").read_text(encoding="utf-8")
    assert card_table(card, "Classes")[-1][-1] == str(len(before) - 1)
    assert "`curate` has moved 1 image to `_quarantine/`" in card

    undo(root)

    assert credit_lines(root) == before
    assert "`curate` has moved" not in (root / "README.md").read_text(encoding="utf-8")


def test_a_split_left_without_images_loses_its_credit_file(fake, tmp_path):
    collect_from(fake, tmp_path, ["cat"], engines=("openverse",))
    assert (tmp_path / "val" / "metadata.jsonl").is_file()
    for path in (tmp_path / "val").glob("*/*"):
        path.unlink()

    write_credits(tmp_path)

    assert not (tmp_path / "val" / "metadata.jsonl").exists()
    assert set(credit_lines(tmp_path)) == {p.relative_to(tmp_path).as_posix() for p in image_files(tmp_path)}


def test_a_readme_the_user_wrote_is_left_alone_and_the_run_says_so(fake, tmp_path):
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "README.md").write_text("# my notes\n", encoding="utf-8")

    summary = collect_from(fake, tmp_path, ["cat"], engines=("openverse",))

    assert (tmp_path / "README.md").read_text(encoding="utf-8") == "# my notes\n"
    assert any(re.search(r"README\.md was not written by imgharvest", w) for w in summary.warnings)
    assert credit_lines(tmp_path)


def test_a_dry_run_writes_no_credits(fake, tmp_path):
    out = tmp_path / "data"
    collect_from(fake, out, ["cat"], engines=("openverse",), dry_run=True)
    assert not out.exists()
