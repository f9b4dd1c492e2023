"""The train/val split: a stable function of an image's content."""

from __future__ import annotations

from collector.split import choose_split


def test_split_is_a_stable_function_of_content_and_seed():
    digests = [f"{i:064x}" for i in range(2000)]
    splits = [choose_split(d, 0.2) for d in digests]
    assert splits == [choose_split(d, 0.2) for d in digests]
    assert 0.17 < splits.count("val") / len(splits) < 0.23
    assert splits != [choose_split(d, 0.2, seed=1) for d in digests]
    assert {choose_split(d, 0.0) for d in digests} == {"train"}
