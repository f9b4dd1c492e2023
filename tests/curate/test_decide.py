"""The pure decision rules, on hand-made inspections: no files, so every rule is seen on its own."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from collector.curate.decide import (
    DecideOptions,
    Decisions,
    Item,
    Probe,
    closest,
    decide,
    of_shape,
    relation,
    view_pairs,
)
from collector.curate.inspect import MIRROR_OF, SHAPES, VIEWS, WHOLE, Inspection
from collector.curate.layout import Entry

BASE = 0x0F0F_3C3C_A5A5_5A5A
ALL_BITS = 2**64 - 1
# A left-to-right ramp: its mirror is its negative, so a mirrored pair correlates at -1 unless the mirror is compared.
RAMP = bytes(16 * column for _ in range(16) for column in range(16))


def item(path: str, *, hash_value: int = BASE, digest: str | None = None, size: int = 1000, width: int = 200,
         height: int = 150, reason: str | None = None, flags: tuple[str, ...] = (), structure: float = 50.0,
         mirror: int | None = None, crops: int | None = None, thumbnail: bytes = RAMP, detail: float = 0.2,
         content: float = 1.0, frame: bool = False) -> Item:
    """A hand-made item; its mirrored views hash far from everything unless `mirror` says otherwise, its crops as
    the whole picture unless `crops` does."""
    split, class_name = (path.split("/")[:2] if path.count("/") == 2 else ("", path.split("/")[0]))
    hashes = {} if reason else {"phash": hash_value}
    views = {} if reason else every_view({"phash": hash_value if crops is None else crops},
                                         {"phash": hash_value ^ ALL_BITS if mirror is None else mirror})
    thumbnails = {name: thumbnail for name in (WHOLE, *VIEWS) if name not in MIRROR_OF}
    inspection = Inspection(Path(path), reason, "why" if reason else "", None if reason else "JPEG", width, height,
                            size, None if reason else (digest or path), hashes, flags,
                            {"brightness": 100.0, "structure": structure, "detail": detail, "content": content,
                             "frame": float(frame)},
                            views, thumbnails)
    return Item(Entry(path, split, class_name), inspection)


def every_view(cropped: dict[str, int], mirrored: dict[str, int]) -> dict[str, dict[str, int]]:
    """`mirrored` for the mirrored views, `cropped` for the crops."""
    return {view: mirrored if view in MIRROR_OF else cropped for view in VIEWS}


def flip(value: int, bits: int) -> int:
    """`value` with its lowest `bits` bits inverted: exactly that Hamming distance away."""
    return value ^ ((1 << bits) - 1)


def test_rejected_files_leave_for_their_reason_and_join_no_group() -> None:
    items = [item("train/cat/a.jpg", reason="truncated"), item("train/cat/b.jpg"), item("train/cat/c.jpg",
             hash_value=flip(BASE, 40))]
    decisions = decide(items, DecideOptions())
    assert decisions.reasons == {0: "truncated"}
    assert decisions.groups == []


def test_near_duplicates_keep_the_member_closest_to_the_others_then_the_most_detail() -> None:
    items = [
        item("train/cat/small.jpg", hash_value=flip(BASE, 3), width=100, height=75, size=9000),
        item("train/cat/big.jpg", hash_value=BASE, width=400, height=300, size=2000),
        item("train/cat/big_central.jpg", hash_value=flip(BASE, 2), width=400, height=300, size=3000),
    ]
    decisions = decide(items, DecideOptions(threshold=4))
    [group] = decisions.groups
    assert group.kind == "near" and not group.label_conflict and not group.leakage
    kept = [m.index for m in group.members if m.kept]
    assert kept == [2]
    assert decisions.reasons == {0: "duplicate", 1: "duplicate"}
    distances = {m.index: m.distance for m in group.members}
    assert distances == {2: 0, 1: 2, 0: 1}  # to the kept member: flip(3) ^ flip(2) differ in one bit


def test_each_copy_says_how_it_matched_the_kept_member() -> None:
    items = [item("train/cat/a.jpg", hash_value=BASE, size=900),
             item("train/cat/b.jpg", hash_value=flip(BASE, 3), size=1000),
             item("train/cat/c.jpg", hash_value=flip(BASE, 24), crops=flip(BASE, 1), size=1100),
             item("train/cat/d.jpg", digest="train/cat/a.jpg", size=1200)]
    [group] = decide(items, DecideOptions(threshold=6)).groups
    assert {m.index: m.match for m in group.members} == {0: None, 1: "as is", 2: "cropped", 3: "identical"}
    mirrored = [item("train/cat/a.jpg", hash_value=BASE, size=900),
                item("train/cat/b.jpg", hash_value=flip(BASE, 30), mirror=flip(BASE, 1), size=1000)]
    [group] = decide(mirrored, DecideOptions(threshold=6)).groups
    assert [m.match for m in group.members] == [None, "mirrored"]


def test_relations_name_the_edit_between_two_views_and_a_mirror_on_both_sides_cancels() -> None:
    assert relation(WHOLE, WHOLE) == "as is"
    assert relation("mirror", "mirror") == "as is"
    assert relation(WHOLE, "mirror") == "mirrored"
    assert relation("top-left", WHOLE) == "cropped"
    assert relation(WHOLE, "mirror-centre") == "mirrored, cropped"
    assert relation("content", "mirror") == "mirrored, inside margins"
    assert relation("centre", "content") == "inside margins"
    assert relation("square-end", WHOLE) == "cut to a square"
    assert relation("mirror", "story") == "mirrored, cut to 9:16"


def test_pairs_beyond_the_threshold_are_not_grouped() -> None:
    items = [item("train/cat/a.jpg", hash_value=BASE), item("train/cat/b.jpg", hash_value=flip(BASE, 9))]
    assert decide(items, DecideOptions(threshold=8)).groups == []
    assert len(decide(items, DecideOptions(threshold=9)).groups) == 1


def test_identical_pixels_are_exact_duplicates_even_with_different_hashes() -> None:
    items = [item("train/cat/a.png", digest="same", hash_value=BASE, size=800),
             item("train/cat/a.jpg", digest="same", hash_value=flip(BASE, 30), size=5000)]
    [group] = decide(items, DecideOptions()).groups
    assert group.kind == "exact"
    assert [(m.index, m.kept, m.distance) for m in group.members] == [(0, True, 0), (1, False, 0)]


def test_train_copy_is_kept_over_val_when_size_ties_and_leakage_is_counted() -> None:
    items = [item("val/cat/a.jpg", digest="d"), item("train/cat/a.jpg", digest="d")]
    decisions = decide(items, DecideOptions())
    [group] = decisions.groups
    assert group.leakage
    assert decisions.reasons == {0: "duplicate"}
    assert decisions.leakage_pairs_fixed == 1


def test_chains_are_grouped_transitively_and_the_member_closest_to_all_others_is_kept() -> None:
    items = [item("train/cat/a.jpg", hash_value=BASE, size=3000), item("train/cat/b.jpg",
             hash_value=flip(BASE, 6), size=2000), item("val/cat/c.jpg", hash_value=flip(BASE, 12), size=1000)]
    decisions = decide(items, DecideOptions(threshold=6))  # a-b and b-c are near; a-c is not
    [group] = decisions.groups
    assert sorted(m.index for m in group.members) == [0, 1, 2]
    assert decisions.reasons == {0: "duplicate", 2: "duplicate"}  # b, 6 bits from each, despite the smaller file
    assert decisions.leakage_pairs_fixed == 1  # only b-c was a near pair across splits


def test_a_member_leaves_only_as_a_direct_match_of_one_that_stays_not_through_a_chain_of_classes() -> None:
    chain = [BASE, flip(BASE, 6), flip(BASE, 6) ^ 0xFC0, flip(BASE, 6) ^ 0xFC0 ^ 0x3F000]  # 6 bits per step
    items = [item(f"train/cat/{name}.jpg", hash_value=value, size=size)
             for name, value, size in zip("abcd", chain, (3000, 1000, 2000, 3000), strict=True)]
    decisions = decide(items, DecideOptions(threshold=6))  # a-b, b-c and c-d are near
    assert decisions.reasons == {0: "duplicate", 2: "duplicate"}  # b stays; d matches only c, which left
    [group] = decisions.groups
    assert [m.index for m in group.members if m.kept] == [1] and 3 not in [m.index for m in group.members]
    items[3] = replace(items[3], entry=Entry("train/dog/d.jpg", "train", "dog"))
    decisions = decide(items, DecideOptions(threshold=6))
    assert decisions.reasons == {0: "duplicate", 2: "duplicate"} and decisions.label_conflicts == 0
    whole = decide(items, DecideOptions(threshold=6, keep_conflicts=True))  # one member per class stays
    assert [len(group.members) for group in whole.groups] == [4] and whole.label_conflicts == 1


def test_a_group_spanning_classes_is_a_label_conflict_and_leaves_whole() -> None:
    items = [item("train/cat/a.jpg", digest="d", size=2000), item("train/dog/a.jpg", digest="d"),
             item("train/dog/other.jpg", hash_value=flip(BASE, 50))]
    decisions = decide(items, DecideOptions())
    [group] = decisions.groups
    assert group.label_conflict and decisions.label_conflicts == 1
    assert not any(m.kept for m in group.members)
    assert decisions.reasons == {0: "label-conflict", 1: "label-conflict"}


def test_keep_conflicts_keeps_the_best_of_each_class_but_never_across_splits() -> None:
    items = [
        item("train/cat/a.jpg", digest="d", size=1000),
        item("train/cat/a_copy.jpg", digest="d", size=3000),
        item("train/dog/a.jpg", digest="d", size=2000),
        item("val/dog/a.jpg", digest="d", size=1500),
    ]
    decisions = decide(items, DecideOptions(keep_conflicts=True))
    [group] = decisions.groups
    assert group.label_conflict
    assert sorted(m.index for m in group.members if m.kept) == [0, 2]
    assert decisions.reasons == {1: "duplicate", 3: "duplicate"}


def test_quality_flags_are_reported_and_only_quarantined_with_reject_quality() -> None:
    items = [item("train/cat/dark.jpg", flags=("dark", "blurry")), item("train/cat/gif.gif", flags=("animated",),
             hash_value=flip(BASE, 40)), item("train/cat/ok.jpg", hash_value=flip(BASE, 20))]
    reported = decide(items, DecideOptions())
    assert reported.reasons == {} and reported.flags == {0: ("dark", "blurry"), 1: ("animated",)}
    rejected = decide(items, DecideOptions(reject_quality=True))
    assert rejected.reasons == {0: "quality-dark"}  # animated is a note, not a quality problem


def test_grayscale_is_flagged_only_in_a_colour_dataset() -> None:
    def dataset(grey: int, colour: int) -> list[Item]:
        return [item(f"train/digit/{k}.png", hash_value=flip(BASE, 10 * k % 64) ^ (k << 40),
                     flags=("grayscale",) if k < grey else ()) for k in range(grey + colour)]

    assert decide(dataset(1, 3), DecideOptions(threshold=0)).flags == {0: ("grayscale",)}
    assert decide(dataset(3, 1), DecideOptions(threshold=0)).flags == {}


def test_combined_hashes_must_be_near_on_every_kind_or_with_match_any_on_one() -> None:
    def with_hashes(path: str, phash: int, dhash: int) -> Item:
        plain = item(path)
        hashes = {"phash": phash, "dhash": dhash}
        views = every_view(hashes, {kind: value ^ ALL_BITS for kind, value in hashes.items()})
        return Item(plain.entry, replace(plain.inspection, hashes=hashes, views=views))

    items = [with_hashes("train/cat/a.jpg", BASE, BASE), with_hashes("train/cat/b.jpg", flip(BASE, 2),
             flip(BASE, 20))]
    assert len(decide(items, DecideOptions(hash_kinds=("phash",))).groups) == 1
    assert decide(items, DecideOptions(hash_kinds=("phash", "dhash"))).groups == []
    assert len(decide(items, DecideOptions(hash_kinds=("phash", "dhash"), threshold=(2, 20))).groups) == 1
    assert decide(items, DecideOptions(hash_kinds=("phash", "dhash"), threshold=(1, 20))).groups == []
    assert len(decide(items, DecideOptions(hash_kinds=("phash", "dhash"), threshold=(1, 20), match_any=True))
               .groups) == 1  # OR: near on dhash is enough
    assert decide(items, DecideOptions(hash_kinds=("phash", "dhash"), threshold=(1, 19), match_any=True)).groups == []
    [group] = decide(items, DecideOptions(hash_kinds=("dhash", "phash"), threshold=(20, 2))).groups
    assert [m.distance for m in group.members] == [0, 20]  # searched on phash (smaller), reported on dhash (first)


def test_pictures_without_structure_match_only_by_identical_pixels() -> None:
    blank = [item("train/bird/flat.jpg", structure=0.4), item("train/dog/black.png", hash_value=flip(BASE, 1),
                                                               structure=0.0)]
    assert decide(blank, DecideOptions()).groups == []
    identical = [item("train/bird/flat.jpg", digest="d", structure=0.4),
                 item("train/dog/flat.png", digest="d", structure=0.4)]
    [group] = decide(identical, DecideOptions()).groups
    assert group.label_conflict


def test_a_mirrored_copy_is_found_through_its_mirror_view_and_verified_mirrored() -> None:
    original = item("train/cat/a.jpg", hash_value=BASE, mirror=flip(BASE, 31), size=1000)
    mirrored = item("val/cat/a_flipped.jpg", hash_value=flip(BASE, 30), mirror=flip(BASE, 1), size=1000,
                    thumbnail=bytes(reversed(RAMP)))
    decisions = decide([original, mirrored], DecideOptions(min_similarity=0.9))
    [group] = decisions.groups
    assert group.leakage and decisions.reasons == {1: "duplicate"} and decisions.leakage_pairs_fixed == 1
    assert [m.distance for m in group.members] == [0, 1]
    assert decide([original, mirrored], DecideOptions(views=(), min_similarity=0.9)).groups == []


def test_a_hash_match_that_does_not_look_alike_on_small_copies_is_dropped() -> None:
    noise = np.random.default_rng(0).integers(0, 256, size=256, dtype=np.uint8).tobytes()
    items = [item("val/bird/a.jpg"), item("val/bird/b.jpg", hash_value=flip(BASE, 8), thumbnail=noise)]
    assert len(decide(items, DecideOptions(min_similarity=None)).groups) == 1
    assert decide(items, DecideOptions(min_similarity=0.6)).groups == []


def lost_on(decisions: Decisions) -> dict[int, str | None]:
    return {m.index: m.lost_on for group in decisions.groups for m in group.members}


def test_an_upscale_has_more_pixels_but_less_detail_and_loses_to_its_source() -> None:
    items = [item("train/cat/big.jpg", width=448, height=336, size=9000, detail=0.004),
             item("train/cat/source.jpg", hash_value=flip(BASE, 1), width=224, height=168, size=3000, detail=0.2)]
    decisions = decide(items, DecideOptions())
    assert decisions.reasons == {0: "duplicate"}
    assert lost_on(decisions) == {0: "less detail", 1: None}


def test_a_framed_copy_has_more_pixels_but_no_more_picture_and_loses_to_its_source() -> None:
    items = [item("train/cat/framed.jpg", width=340, height=240, size=9000, content=300 * 200 / (340 * 240)),
             item("train/cat/source.jpg", hash_value=flip(BASE, 1), width=300, height=200, size=8000)]
    decisions = decide(items, DecideOptions())
    assert decisions.reasons == {0: "duplicate"}
    assert lost_on(decisions) == {0: "larger file", 1: None}


def test_a_copy_with_a_white_grey_or_black_margin_loses_even_where_it_measures_more_detail() -> None:
    items = [item("train/cat/captioned.jpg", width=300, height=240, size=9000, content=0.83, frame=True, detail=0.3),
             item("train/cat/source.jpg", hash_value=flip(BASE, 1), width=300, height=200, size=8000, detail=0.2)]
    decisions = decide(items, DecideOptions())
    assert decisions.reasons == {0: "duplicate"}
    assert lost_on(decisions) == {0: "neutral margin", 1: None}


def test_members_of_a_label_conflict_lost_on_nothing_since_none_is_kept() -> None:
    items = [item("train/cat/a.jpg", size=900), item("train/dog/a.jpg", hash_value=flip(BASE, 1), size=1000)]
    assert lost_on(decide(items, DecideOptions())) == {0: None, 1: None}


def test_a_coloured_backdrop_is_no_frame_so_a_copy_that_lost_it_still_loses_on_detail() -> None:
    items = [item("train/cat/source.jpg", width=160, height=120, size=3200, content=0.75, detail=0.5),
             item("train/cat/half.jpg", hash_value=flip(BASE, 1), width=80, height=60, size=1400, detail=0.5)]
    assert decide(items, DecideOptions()).reasons == {1: "duplicate"}


def test_view_margin_asks_pairs_through_a_crop_to_be_closer_than_whole_pictures() -> None:
    whole_pair = [item("train/cat/a.jpg"), item("train/cat/b.jpg", hash_value=flip(BASE, 8))]
    cropped_pair = [item("train/cat/a.jpg", crops=flip(BASE, 40)),
                    item("train/cat/b.jpg", hash_value=flip(BASE, 40) ^ 0xFF00, crops=flip(BASE, 7))]
    assert len(decide(whole_pair, DecideOptions(threshold=8, view_margin=2)).groups) == 1
    assert len(decide(cropped_pair, DecideOptions(threshold=8)).groups) == 1
    assert decide(cropped_pair, DecideOptions(threshold=8, view_margin=2)).groups == []
    assert len(decide(cropped_pair, DecideOptions(threshold=9, view_margin=2)).groups) == 1


def test_a_pair_through_a_crop_at_the_edge_of_the_threshold_matches_when_it_looks_more_alike() -> None:
    striped = bytes(60 + 8 * column + (23 if row % 2 else -23) for row in range(16) for column in range(16))
    assert 0.8 < np.corrcoef(np.frombuffer(striped, np.uint8), np.frombuffer(RAMP, np.uint8))[0, 1] < 0.9

    def pair(crop_bits: int, thumbnail: bytes) -> list[Item]:
        return [item("train/cat/a.jpg", crops=flip(BASE, 40)),
                item("train/cat/b.jpg", hash_value=flip(BASE, 40) ^ 0xFF00, crops=flip(BASE, crop_bits),
                     thumbnail=thumbnail)]

    options = DecideOptions(threshold=8, view_margin=2, min_similarity=0.8, view_similarity=0.9)
    assert len(decide(pair(7, RAMP), options).groups) == 1
    assert decide(pair(7, striped), options).groups == []
    assert decide(pair(7, RAMP), replace(options, view_similarity=None)).groups == []
    assert len(decide(pair(6, striped), options).groups) == 1  # within threshold - margin: min_similarity only
    whole = [item("train/cat/a.jpg"), item("train/cat/b.jpg", hash_value=flip(BASE, 8), thumbnail=striped)]
    assert len(decide(whole, options).groups) == 1  # the whole pictures are compared at the full threshold


def test_a_mirrored_copy_matches_at_the_threshold_of_an_unflipped_one_despite_the_view_margin() -> None:
    mirrored_pair = [item("train/cat/a.jpg", mirror=flip(BASE, 40)),
                     item("val/cat/b.jpg", hash_value=flip(BASE, 40) ^ 0xFF00, mirror=flip(BASE, 8))]
    decisions = decide(mirrored_pair, DecideOptions(threshold=8, view_margin=2))
    assert len(decisions.groups) == 1 and decisions.reasons == {1: "duplicate"}
    assert decide(mirrored_pair, DecideOptions(threshold=7, view_margin=2)).groups == []


def test_the_square_view_matches_only_a_square_picture_as_is_or_mirrored() -> None:
    """A square cut of a wide picture is found through its square view; two wide pictures whose centres match are
    not, nor is a wide picture that happens to hash as another's centre square."""

    def wide(path: str, whole: int = flip(BASE, 30)) -> Item:
        picture = item(path, hash_value=whole, crops=flip(BASE, 40) ^ whole ^ flip(BASE, 30))
        views = picture.inspection.views | {"square": {"phash": BASE}}
        return replace(picture, inspection=replace(picture.inspection, views=views))

    def other(path: str, width: int, mirrored: bool = False) -> Item:
        far = BASE ^ ALL_BITS
        return item(path, width=width, height=150, hash_value=far if mirrored else BASE, crops=far,
                    mirror=BASE if mirrored else None)

    found = decide([wide("train/cat/a.jpg"), other("val/cat/b.jpg", width=150)], DecideOptions())
    assert found.reasons == {1: "duplicate"} and found.groups[0].members[1].match == "cut to a square"
    flipped = decide([wide("train/cat/a.jpg"), other("val/cat/b.jpg", width=151, mirrored=True)], DecideOptions())
    assert flipped.reasons == {1: "duplicate"} and flipped.groups[0].members[1].match == "mirrored, cut to a square"
    assert decide([wide("train/cat/a.jpg"), other("val/cat/b.jpg", width=200)], DecideOptions()).groups == []
    assert decide([wide("train/cat/a.jpg"), wide("val/cat/b.jpg", whole=BASE ^ ALL_BITS)], DecideOptions()).groups == []


def test_the_distance_of_two_pictures_counts_a_cut_only_against_the_whole_of_a_picture_of_its_shape() -> None:
    """Two wide pictures whose centre squares hash alike are far apart, as matching sees them; a square picture that
    hashes as one's centre square is that picture cut to a square."""

    low, high, alternate = 0xFFFF_FFFF, 0xFFFF_FFFF << 32, 0x5555_5555_5555_5555  # 32 bits each

    def picture(path: str, whole: int, width: int) -> Inspection:
        inspection = item(path, hash_value=whole, crops=whole ^ low, mirror=whole ^ alternate, width=width,
                          height=150).inspection
        return replace(inspection, views=inspection.views | {"square": {"phash": BASE}})

    wide, other_wide, square = (picture("a.jpg", flip(BASE, 30), 267), picture("b.jpg", flip(BASE, 30) ^ high, 267),
                                picture("c.jpg", BASE, 150))
    assert closest(wide, other_wide, "phash", (WHOLE, *VIEWS))[0] > 8
    assert closest(wide, square, "phash", (WHOLE, *VIEWS)) == (0, "cut to a square")


def test_the_distance_of_two_pictures_counts_a_side_only_against_the_whole_of_the_other() -> None:
    """Two pictures whose top views hash alike are far apart, as matching sees them; a picture that hashes as
    another's top view is a crop of it."""
    low, high, alternate = 0xFFFF_FFFF, 0xFFFF_FFFF << 32, 0x5555_5555_5555_5555  # 32 bits each

    def picture(path: str, whole: int) -> Inspection:
        inspection = item(path, hash_value=whole, crops=whole ^ low, mirror=whole ^ alternate).inspection
        return replace(inspection, views=inspection.views | {"top": {"phash": BASE}})

    first, second, cut = picture("a.jpg", flip(BASE, 30)), picture("b.jpg", flip(BASE, 30) ^ high), picture("c.jpg",
                                                                                                         BASE)
    assert closest(first, second, "phash", (WHOLE, *VIEWS))[0] > 8
    assert closest(first, cut, "phash", (WHOLE, *VIEWS)) == (0, "cropped")


def test_a_picture_is_of_a_shape_within_its_tolerance_give_or_take_a_pixel_of_its_shorter_side() -> None:
    def shaped(sizes: list[tuple[int, int]], view: str) -> list[bool]:
        pictures = [item("train/cat/a.jpg", width=width, height=height).inspection for width, height in sizes]
        return of_shape(pictures, SHAPES[view]).tolist()

    # 41 x 40 is 2.5% off square, a pixel from 40 x 40; 206 x 200 is 3% off, 2 pixels past the 2% tolerance
    assert shaped([(40, 40), (400, 408), (41, 40), (206, 200), (300, 200)], "square") == [True, True, True, False,
                                                                                         False]
    # 1.91:1 and 2:1 frames are wide, a 77 x 40 preview shrunk from 128 x 67 too; 16:9 and 3:2 have views of their own
    assert shaped([(382, 200), (400, 200), (77, 40), (320, 180), (300, 200)], "wide") == [True, True, True, False,
                                                                                          False]
    assert shaped([(320, 180), (300, 200)], "video") == [True, False]
    assert shaped([(300, 200), (400, 300)], "photo") == [True, False]
    assert shaped([(108, 192), (160, 200), (150, 200)], "story") == [True, False, False]


def test_view_pairs_finds_every_near_pair_of_two_pictures_a_probed_view_only_against_the_pictures_it_fits() -> None:
    """Against every pair compared: positions view * pictures + k of (whole, mirror, a crop, a cut, a side), the crop
    2 bits closer; the cut and the side only with the whole or mirror of a picture they fit, 2 and 4 bits closer."""
    rng = np.random.default_rng(5)
    pictures, views, threshold, margin = 120, 5, 22, 2
    base = rng.integers(0, 2**64, size=pictures, dtype=np.uint64)
    values = np.concatenate([base ^ rng.integers(0, 2**64, size=pictures, dtype=np.uint64)
                             & np.uint64(0x0000_00FF_0000_FF00) for _ in range(views)])
    probed = {3: Probe(rng.random(pictures) < 0.3, margin), 4: Probe(np.ones(pictures, dtype=bool), 4)}
    first, second = view_pairs({"phash": values}, pictures, (threshold,), view_margin=margin, lossless=2,
                               probes=probed)

    def compared(x: int, y: int, bits: int) -> bool:
        (vx, kx), (vy, ky) = divmod(x, pictures), divmod(y, pictures)
        if kx == ky:
            return False
        if vx in probed or vy in probed:
            (probe, _), (other, k) = sorted([(vx, kx), (vy, ky)], reverse=True)
            return other < 2 and bool(probed[probe].fits[k]) and bits <= threshold - probed[probe].margin
        return bits <= (threshold if vx < 2 and vy < 2 else threshold - margin)

    expected = {(x, y) for x in range(len(values)) for y in range(x + 1, len(values))
                if compared(x, y, int(np.bitwise_count(values[x] ^ values[y])))}
    found = {tuple(sorted(pair)) for pair in zip(first.tolist(), second.tolist(), strict=True)}
    assert found == expected and {y // pictures for _, y in expected} >= {3, 4}


def test_a_large_group_of_identical_pictures_keeps_one_without_ranking_by_centrality() -> None:
    items = [item(f"train/cat/{k:03d}.jpg", digest="placeholder") for k in range(100)]
    [group] = decide(items, DecideOptions()).groups
    assert [m.index for m in group.members if m.kept] == [0]  # every rank key ties but the path
    assert len(decide(items, DecideOptions()).reasons) == 99
