"""near_pairs and union_groups agree with brute force on random and planted hashes."""

from __future__ import annotations

import numpy as np
import pytest

from collector.curate import neighbours
from collector.curate.neighbours import cross_pairs, near_pairs, union_groups


def brute_pairs(hashes: np.ndarray, threshold: int) -> set[tuple[int, int, int]]:
    distance = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
    i, j = np.nonzero(np.triu(distance <= threshold, 1))
    return {(int(a), int(b), int(distance[a, b])) for a, b in zip(i, j, strict=True)}


def brute_groups(n: int, pairs) -> list[list[int]]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for x in range(n):
        groups.setdefault(find(x), []).append(x)
    return sorted(group for group in groups.values() if len(group) >= 2)


def planted(n: int, threshold: int, seed: int) -> np.ndarray:
    """Random hashes, a third of them rewritten as copies of others with 0..threshold+2 bits flipped."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64, size=n, dtype=np.uint64, endpoint=False)
    for target in rng.choice(n, size=n // 3, replace=False):
        source = hashes[rng.integers(n)]
        bits = rng.choice(64, size=rng.integers(0, threshold + 3), replace=False)
        hashes[target] = source ^ np.uint64(sum(1 << int(bit) for bit in bits))
    return hashes


def as_set(i: np.ndarray, j: np.ndarray, d: np.ndarray) -> set[tuple[int, int, int]]:
    return set(zip(i.tolist(), j.tolist(), d.tolist(), strict=True))


@pytest.mark.parametrize("threshold", [0, 1, 3, 6, 8, 10, 14])
def test_near_pairs_equal_brute_force_on_planted_hashes(threshold: int) -> None:
    hashes = planted(3000, threshold, seed=threshold)
    i, j, d = near_pairs(hashes, threshold)
    assert len(i) == len(as_set(i, j, d)), "a pair was reported twice"
    assert as_set(i, j, d) == brute_pairs(hashes, threshold)
    assert np.all(i < j)


@pytest.mark.parametrize("threshold", [2, 8, 12])
def test_block_tables_are_exact_where_the_cost_model_would_compare_all_pairs(
    threshold: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(neighbours, "ALL_PAIRS_COST", 1.0)
    hashes = planted(1500, threshold, seed=100 + threshold)
    assert neighbours._choose_blocks(len(np.unique(hashes)), threshold) is not None
    i, j, d = near_pairs(hashes, threshold)
    assert len(i) == len(as_set(i, j, d)), "a pair was reported twice"
    assert as_set(i, j, d) == brute_pairs(hashes, threshold)


@pytest.mark.parametrize("threads", [1, 3, 4])
def test_tables_shared_out_among_threads_find_each_pair_once(threads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(neighbours, "ALL_PAIRS_COST", 1.0)
    monkeypatch.setattr(neighbours, "MAX_THREADS", threads)
    monkeypatch.setattr(neighbours, "usable_cpus", lambda: 8)
    hashes = planted(1500, 6, seed=7)
    i, j, d = near_pairs(hashes, 6)
    assert len(i) == len(as_set(i, j, d)), "a pair was reported twice"
    assert as_set(i, j, d) == brute_pairs(hashes, 6)


def test_hashes_near_in_every_block_pattern_are_all_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each pair differs in a different set of blocks, so every table and the first-table rule are exercised."""
    monkeypatch.setattr(neighbours, "ALL_PAIRS_COST", 1.0)
    threshold, rng = 4, np.random.default_rng(7)
    k = neighbours._choose_blocks(5000, threshold)
    edges = neighbours._block_edges(k)
    hashes = []
    for _ in range(400):
        base = int(rng.integers(0, 2**63)) * 2 + 1
        differing = rng.choice(k, size=threshold, replace=False)
        flipped = sum(1 << int(edges[block][0] + rng.integers(edges[block][1])) for block in differing)
        hashes += [base, base ^ flipped]
    hashes = np.array(hashes, dtype=np.uint64)
    i, j, d = near_pairs(hashes, threshold)
    assert len(i) == len(as_set(i, j, d)) == 400
    assert as_set(i, j, d) == brute_pairs(hashes, threshold)


def test_identical_hashes_pair_with_each_other_and_with_their_neighbours() -> None:
    hashes = np.array([5, 5, 5, 7, 1 << 40, 5, 7], dtype=np.uint64)
    i, j, d = near_pairs(hashes, 1)
    assert as_set(i, j, d) == brute_pairs(hashes, 1)
    assert (0, 1, 0) in as_set(i, j, d) and (0, 3, 1) in as_set(i, j, d)


def test_results_are_sorted_and_typed() -> None:
    i, j, d = near_pairs(planted(500, 6, seed=1), 6)
    assert np.all(np.diff(i * 500 + j) > 0)
    assert i.dtype.kind == "i" and j.dtype.kind == "i" and d.dtype == np.uint8


def test_trivial_inputs() -> None:
    assert all(part.size == 0 for part in near_pairs(np.array([], dtype=np.uint64), 8))
    assert all(part.size == 0 for part in near_pairs(np.array([3], dtype=np.uint64), 8))
    everything = near_pairs(np.array([0, 2**64 - 1, 12345], dtype=np.uint64), 64)
    assert len(everything[0]) == 3
    with pytest.raises(ValueError, match="threshold"):
        near_pairs(np.array([1, 2], dtype=np.uint64), -1)


def test_union_groups_equal_brute_force_components() -> None:
    rng = np.random.default_rng(3)
    for n, edges in ((50, 30), (400, 300), (2000, 2500)):
        i, j = rng.integers(0, n, size=edges), rng.integers(0, n, size=edges)
        assert union_groups(n, i, j) == brute_groups(n, zip(i.tolist(), j.tolist(), strict=True))


def test_union_groups_joins_a_long_chain_into_one_group() -> None:
    n = 10_000
    order = np.random.default_rng(4).permutation(n)
    assert union_groups(n, order[:-1], order[1:]) == [list(range(n))]


def test_union_groups_of_near_pairs_follow_transitive_links() -> None:
    hashes = np.array([0b0000, 0b0011, 0b1111, 0b111 << 50, 0b1111 << 20], dtype=np.uint64)
    assert union_groups(len(hashes), *near_pairs(hashes, 2)[:2]) == [[0, 1, 2]]
    assert union_groups(3, np.array([], dtype=int), np.array([], dtype=int)) == []


def test_union_groups_refuses_indices_outside_the_items() -> None:
    with pytest.raises(ValueError, match="0..2"):
        union_groups(3, np.array([0]), np.array([3]))


@pytest.mark.parametrize(("queries", "targets", "threshold"), [(3000, 400, 2), (3000, 400, 4), (5000, 300, 6),
                                                                (40, 30, 8), (2000, 50, 40)])
def test_cross_pairs_equal_brute_force_on_planted_hashes(queries: int, targets: int, threshold: int) -> None:
    rng = np.random.default_rng(queries + threshold)
    wholes = planted(targets, threshold, seed=threshold)
    places = rng.integers(0, 2**64, size=queries, dtype=np.uint64)
    near = rng.choice(queries, size=queries // 10, replace=False)
    for k, target in zip(near.tolist(), rng.integers(0, targets, size=near.size).tolist(), strict=True):
        flips = rng.choice(64, size=int(rng.integers(0, threshold + 1)), replace=False)
        places[k] = wholes[target] ^ np.uint64(sum(1 << int(bit) for bit in flips))
    i, j = cross_pairs(places, wholes, threshold)
    expected_i, expected_j = np.nonzero(np.bitwise_count(places[:, None] ^ wholes[None, :]) <= threshold)
    assert np.array_equal(i, expected_i) and np.array_equal(j, expected_j)
    assert i.size >= near.size


def test_cross_pairs_of_nothing_and_a_negative_threshold() -> None:
    some = np.array([1, 2], dtype=np.uint64)
    assert all(part.size == 0 for part in cross_pairs(np.array([], dtype=np.uint64), some, 4))
    assert all(part.size == 0 for part in cross_pairs(some, np.array([], dtype=np.uint64), 4))
    with pytest.raises(ValueError, match="threshold"):
        cross_pairs(some, some, -1)
