"""Find every pair of 64-bit hashes within a Hamming distance, without comparing all pairs, and group them.

Split the 64 bits into k blocks. Two hashes at distance <= t differ in at most t blocks, so they agree exactly on
at least r = k - t of them (pigeonhole). For every choice of r blocks ("a table"), sorting the hashes by those bits
puts such pairs next to each other; candidates in a run of equal keys are checked with a popcount, first on the
other bits of the hash that fit in the sorted word beside the key and the index (most fail there, before their
hashes are fetched). A pair is kept only in the first table it agrees on, so each is reported once. k is chosen by
a cost model of sorting versus checking candidates; small inputs and very large thresholds are compared all-pairs,
which is then cheaper. The tables are shared out among up to MAX_THREADS threads. (Manku, Jain, Das Sarma:
"Detecting near-duplicates for web crawling", WWW 2007.)
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .pool import usable_cpus

BITS = 64
# Seconds per hash per table (key, sort, gather), per candidate pair checked, per table (fixed numpy overhead), and
# per pair of an all-pairs comparison: measured with 1M hashes on this 2-core EPYC; only their ratios steer k.
TABLE_COST_PER_HASH = 30e-9
CANDIDATE_COST = 20e-9
TABLE_OVERHEAD = 3e-4
ALL_PAIRS_COST = 2.5e-9
ALL_PAIRS_ROWS = 256
# Threads that search tables at once, each holding at most 46 bytes per distinct hash besides the shared blocks
# (9 bytes): measured with tracemalloc on 9M random hashes at distance 6.
MAX_THREADS = 4
# cross_pairs keys on two blocks of at least this many: keys of at most 22 bits, whose table of counts (32 MB)
# a query reads in place of a sort.
CROSS_MIN_BLOCKS = 6
# Hashes packed into sort keys at a time: the passes over a part then stay in the core's cache.
PACK_CHUNK = 32768


def near_pairs(hashes: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair i < j with popcount(hashes[i] ^ hashes[j]) <= threshold, as (i, j, distance), sorted by (i, j).

    Exact: no pair is missed or reported twice. Identical hashes are searched once and their pairs expanded.
    """
    if threshold < 0:
        raise ValueError(f"threshold must be 0 or more, not {threshold}")
    values = np.ascontiguousarray(hashes, dtype=np.uint64).ravel()
    unique, inverse = np.unique(values, return_inverse=True)
    u, v, distance = _unique_near_pairs(unique, min(threshold, BITS))
    i, j, distance = _expand(inverse.ravel(), len(unique), u, v, distance)
    order = np.lexsort((j, i))
    return i[order], j[order], distance[order]


def cross_pairs(queries: np.ndarray, targets: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i, j) with popcount(queries[i] ^ targets[j]) <= threshold, sorted by (i, j): many queries (a
    picture's cut at every place) against few targets, without searching the queries among themselves.

    Exact by the same pigeonhole as `near_pairs`, with threshold + 2 blocks or more: a near pair agrees on two of
    them, so each table keys on a pair of blocks. The targets' keys are counted into a table addressed by key, which
    each query reads in place of a sort: the cost is a few passes over the queries per table, not a sort of them.
    """
    if threshold < 0:
        raise ValueError(f"threshold must be 0 or more, not {threshold}")
    queries = np.ascontiguousarray(queries, dtype=np.uint64).ravel()
    targets = np.ascontiguousarray(targets, dtype=np.uint64).ravel()
    if not queries.size or not targets.size:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    edges = _block_edges(max(threshold + 2, CROSS_MIN_BLOCKS))
    tables = list(combinations(range(len(edges)), 2))
    if threshold >= BITS - 1 or queries.size * targets.size * ALL_PAIRS_COST <= len(tables) * (
            queries.size * TABLE_COST_PER_HASH + TABLE_OVERHEAD):
        return _cross_all_pairs(queries, targets, threshold)
    query_blocks, target_blocks = (_block_values(values, edges) for values in (queries, targets))
    key_type = np.min_scalar_type((1 << (2 * edges[0][1])) - 1)
    query_keys = np.empty(queries.size, dtype=key_type)  # refilled for each table: no fresh pages to fault in
    found_i, found_j = [], []
    for a, b in tables:
        shift = key_type.type(edges[b][1])
        target_keys = (target_blocks[a].astype(key_type) << shift) | target_blocks[b]
        order = np.argsort(target_keys, kind="stable")
        counts = np.bincount(target_keys, minlength=1 << (edges[a][1] + edges[b][1])).astype(np.int32)
        query_keys[:] = query_blocks[a]
        query_keys <<= shift
        query_keys |= query_blocks[b]
        hit = np.flatnonzero((counts > 0)[query_keys])
        if not hit.size:
            continue
        keys = np.take(query_keys, hit)
        first = np.take(np.cumsum(counts) - counts, keys)
        hits = np.take(counts, keys)
        i = np.repeat(hit, hits)
        within = np.arange(i.size) - np.repeat(np.cumsum(hits) - hits, hits)
        j = np.take(order, np.repeat(first, hits) + within)
        close = np.flatnonzero(np.bitwise_count(np.take(queries, i) ^ np.take(targets, j)) <= threshold)
        found_i.append(np.take(i, close))
        found_j.append(np.take(j, close))
    if not found_i:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    codes = np.unique(np.concatenate(found_i).astype(np.int64) * targets.size + np.concatenate(found_j))
    return codes // targets.size, codes % targets.size


def _block_values(values: np.ndarray, edges: list[tuple[int, int]]) -> list[np.ndarray]:
    """Each value's bits of each block, as the smallest unsigned type that holds them."""
    return [((values >> np.uint64(start)) & np.uint64((1 << width) - 1)).astype(np.min_scalar_type((1 << width) - 1))
            for start, width in edges]


def _cross_all_pairs(queries: np.ndarray, targets: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    found_i, found_j = [], []
    for first in range(0, queries.size, ALL_PAIRS_ROWS):
        row, column = np.nonzero(np.bitwise_count(queries[first:first + ALL_PAIRS_ROWS, None] ^ targets[None, :])
                                 <= threshold)
        found_i.append(row + first)
        found_j.append(column)
    return np.concatenate(found_i).astype(np.intp), np.concatenate(found_j).astype(np.intp)


def union_groups(n: int, i: np.ndarray, j: np.ndarray) -> list[list[int]]:
    """Connected components of the pairs (i, j) over items 0..n-1, those of two or more items.

    Union-find done for all pairs at once: each root is hooked under the smallest root it is paired with, paths are
    compressed by pointer jumping, until no pair spans two roots. Groups come sorted by their smallest member.
    """
    parent = np.arange(n, dtype=np.int64)
    left, right = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    if left.size and (min(left.min(), right.min()) < 0 or max(left.max(), right.max()) >= n):
        raise ValueError(f"pair indices must lie in 0..{n - 1}")
    while left.size:
        _compress(parent)
        root_left, root_right = parent[left], parent[right]
        apart = root_left != root_right
        left, right = left[apart], right[apart]
        low = np.minimum(root_left[apart], root_right[apart])
        high = np.maximum(root_left[apart], root_right[apart])
        np.minimum.at(parent, high, low)
    _compress(parent)
    sizes = np.bincount(parent, minlength=n)
    members = np.flatnonzero(sizes[parent] >= 2)
    if not members.size:
        return []
    members = members[np.argsort(parent[members], kind="stable")]
    bounds = np.flatnonzero(np.diff(parent[members])) + 1
    return [group.tolist() for group in np.split(members, bounds)]


def _compress(parent: np.ndarray) -> None:
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return
        parent[:] = grand


def _unique_near_pairs(unique: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs among distinct values (indices into `unique`) at distance 1..threshold."""
    n = len(unique)
    if n < 2 or threshold == 0:
        return _empty_pairs()
    blocks = _choose_blocks(n, threshold)
    if blocks is None:
        return _all_pairs(unique, threshold)
    return _table_pairs(unique, threshold, blocks)


def _block_edges(k: int) -> list[tuple[int, int]]:
    """(start bit, width) of k contiguous blocks covering 64 bits, as equal as possible."""
    widths = [BITS // k + (1 if b < BITS % k else 0) for b in range(k)]
    starts = np.cumsum([0, *widths[:-1]])
    return [(int(start), width) for start, width in zip(starts, widths, strict=True)]


def _choose_blocks(n: int, threshold: int) -> int | None:
    """The block count k with the least modelled cost, or None when comparing all pairs is cheaper."""
    index_bits = max(1, (n - 1).bit_length())
    best_k, best_cost = None, n * (n - 1) / 2 * ALL_PAIRS_COST
    for k in range(threshold + 1, BITS + 1):
        agree = k - threshold
        tables = math.comb(k, agree)
        if tables * TABLE_OVERHEAD > best_cost:
            break
        key_bits = BITS * agree / k
        if agree * math.ceil(BITS / k) > BITS - index_bits:
            break
        per_table = n * TABLE_COST_PER_HASH + TABLE_OVERHEAD + n * n / 2 ** (key_bits + 1) * CANDIDATE_COST
        if tables * per_table < best_cost:
            best_k, best_cost = k, tables * per_table
    return best_k


@dataclass(frozen=True)
class _Blocks:
    """The distinct hashes cut into blocks, shared read-only by the threads that search tables."""

    unique: np.ndarray
    threshold: int
    edges: list[tuple[int, int]]  # (start bit, width) of each block
    values: list[np.ndarray]  # each hash's bits of each block, in the smallest unsigned type that holds them
    masks: list[np.uint64]  # each block's bits in place


def _table_pairs(unique: np.ndarray, threshold: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of every table, the tables shared out among threads: numpy sorts and compares without the GIL."""
    edges = _block_edges(k)
    blocks = _Blocks(unique, threshold, edges, _block_values(unique, edges),
                     [np.uint64(((1 << width) - 1) << start) for start, width in edges])
    tables = list(combinations(range(k), k - threshold))
    threads = max(1, min(len(tables), usable_cpus(), MAX_THREADS))
    stop = threading.Event()
    with ThreadPoolExecutor(threads) as pool:
        try:
            futures = [pool.submit(_search_tables, blocks, tables[t::threads], stop) for t in range(threads)]
            parts = [part for future in futures for part in future.result()]
        finally:
            stop.set()  # on Ctrl-C, the threads leave after their current table instead of finishing their share
    if not parts:
        return _empty_pairs()
    u, v, distance = (np.concatenate(column) for column in zip(*parts, strict=True))
    return np.minimum(u, v), np.maximum(u, v), distance


def _search_tables(blocks: _Blocks, tables: list[tuple[int, ...]], stop: threading.Event
                   ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(u, v, distance) of the pairs each table in `tables` (the blocks it keys on) reports first; with `stop` set,
    the rest are left unsearched."""
    n = len(blocks.unique)
    index_bits = max(1, (n - 1).bit_length())
    found = []
    packed, scratch = np.empty(n, dtype=np.uint64), np.empty(PACK_CHUNK, dtype=np.uint64)
    for chosen in tables:
        if stop.is_set():
            break
        window = BITS - index_bits - sum(blocks.edges[block][1] for block in chosen)
        layout = _Layout(chosen, index_bits, window, _window_start(chosen, blocks.edges, window) if window else 0)
        for low in range(0, n, PACK_CHUNK):
            _pack(blocks, layout, slice(low, min(n, low + PACK_CHUNK)), packed, scratch)
        packed.sort()
        earlier_unchosen = [blocks.masks[b] for b in range(max(chosen)) if b not in chosen]
        for a, b, difference, distance in _runs_within(packed, index_bits, window, blocks):
            first_here = np.ones(a.size, dtype=bool)
            for mask in earlier_unchosen:
                first_here &= (difference & mask) != 0
            found.append((np.compress(first_here, a), np.compress(first_here, b), np.compress(first_here, distance)))
    return found


@dataclass(frozen=True)
class _Layout:
    """How a table packs a hash into one sortable word: its chosen blocks (the key) on top, then `window` more of
    its bits from `window_start` on, then its index in the lowest `index_bits`."""

    chosen: tuple[int, ...]
    index_bits: int
    window: int
    window_start: int


def _pack(blocks: _Blocks, layout: _Layout, part: slice, packed: np.ndarray, scratch: np.ndarray) -> None:
    """Fill `packed[part]` as `layout` says."""
    out, scratch = packed[part], scratch[: part.stop - part.start]
    out[:] = np.arange(part.start, part.stop, dtype=np.uint64)
    if layout.window:
        np.right_shift(blocks.unique[part], np.uint64(layout.window_start), out=scratch)
        np.left_shift(scratch, np.uint64(BITS - layout.window), out=scratch)
        np.right_shift(scratch, np.uint64(BITS - layout.window - layout.index_bits), out=scratch)
        out |= scratch
    offset = layout.index_bits + layout.window
    for block in layout.chosen:
        np.left_shift(blocks.values[block][part], np.uint64(offset), out=scratch)
        out |= scratch
        offset += blocks.edges[block][1]


def _window_start(chosen: tuple[int, ...], edges: list[tuple[int, int]], width: int) -> int:
    """The first of the `width` consecutive bits of a hash that hold the most bits outside the `chosen` blocks: the
    bits a table packs between its key and the index, to reject most candidates before their hashes are fetched."""
    outside = np.ones(BITS, dtype=np.int64)
    for block in chosen:
        start, block_width = edges[block]
        outside[start:start + block_width] = 0
    counts = np.convolve(outside, np.ones(width, dtype=np.int64), mode="valid")
    return int(np.argmax(counts))


def _runs_within(packed: np.ndarray, index_bits: int, window: int, blocks: _Blocks):
    """Yield (u, v, xor, distance) for hashes u, v (indices into blocks.unique) within the threshold that lie in one
    run of equal keys of the sorted `packed` (see _Layout).

    Only positions inside runs are visited, and only candidates whose window bits are close enough have their
    hashes fetched (random reads, the costly part). np.take and np.compress with intp indices: several times
    faster here than fancy or boolean indexing.
    """
    start = _equal_key_starts(packed, index_bits + window)
    if not start.size:
        return
    # A run of equal keys is a chain of consecutive starts; each start's run ends one past its chain's last start.
    breaks = np.flatnonzero(np.diff(start) != 1)
    chain = np.zeros(start.size, dtype=np.intp)
    chain[breaks + 1] = 1
    run_last = np.take(np.append(np.take(start, breaks), start[-1]) + 1, np.cumsum(chain))
    index_mask = np.uint64((1 << index_bits) - 1)
    window_mask = np.uint64(((1 << window) - 1) << index_bits)
    first = np.take(packed, start)
    step = 1
    while start.size:
        second = np.take(packed, start + step)
        near = np.flatnonzero(np.bitwise_count((first ^ second) & window_mask) <= blocks.threshold)
        u = (np.take(first, near) & index_mask).astype(np.intp)
        v = (np.take(second, near) & index_mask).astype(np.intp)
        difference = np.take(blocks.unique, u) ^ np.take(blocks.unique, v)
        distance = np.bitwise_count(difference)
        close = np.flatnonzero(distance <= blocks.threshold)
        if close.size:
            yield np.take(u, close), np.take(v, close), np.take(difference, close), np.take(distance, close)
        step += 1
        going_on = np.flatnonzero(run_last >= start + step)
        start, run_last, first = (np.take(column, going_on) for column in (start, run_last, first))


def _equal_key_starts(packed: np.ndarray, key_shift: int) -> np.ndarray:
    """Positions of the sorted `packed` whose key (the bits from `key_shift` up) the next word shares, found a part
    at a time so that each part stays in the core's cache."""
    key_equal, last = np.uint64(1 << key_shift), len(packed) - 1
    parts = [np.flatnonzero((packed[low:high] ^ packed[low + 1:high + 1]) < key_equal) + low
             for low, high in ((low, min(last, low + PACK_CHUNK)) for low in range(0, last, PACK_CHUNK))]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)


def _all_pairs(unique: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    found_u, found_v, found_d = [], [], []
    for first in range(0, len(unique) - 1, ALL_PAIRS_ROWS):
        rows = unique[first : first + ALL_PAIRS_ROWS]
        distance = np.bitwise_count(rows[:, None] ^ unique[None, first + 1 :])
        row, column = np.nonzero(distance <= threshold)
        column_index = column + first + 1
        later = column_index > row + first
        found_u.append(row[later] + first)
        found_v.append(column_index[later])
        found_d.append(distance[row[later], column[later]].astype(np.uint8))
    return np.concatenate(found_u), np.concatenate(found_v), np.concatenate(found_d)


def _expand(inverse: np.ndarray, n_unique: int, u: np.ndarray, v: np.ndarray, distance: np.ndarray):
    """Turn pairs of distinct values into pairs of items, adding the distance-0 pairs within each value."""
    counts = np.bincount(inverse, minlength=n_unique)
    members = np.argsort(inverse, kind="stable")
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    if np.all(counts == 1):
        i, j = members[u], members[v]
        return np.minimum(i, j), np.maximum(i, j), distance
    parts_i, parts_j, parts_d = [], [], []
    per_pair = counts[u] * counts[v]
    pair = np.repeat(np.arange(u.size), per_pair)
    within = np.arange(pair.size) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    parts_i.append(members[first[u[pair]] + within // counts[v[pair]]])
    parts_j.append(members[first[v[pair]] + within % counts[v[pair]]])
    parts_d.append(distance[pair])
    for size in np.unique(counts[counts >= 2]):
        starts = first[counts == size]
        upper_a, upper_b = np.triu_indices(int(size), 1)
        parts_i.append(members[(starts[:, None] + upper_a).ravel()])
        parts_j.append(members[(starts[:, None] + upper_b).ravel()])
        parts_d.append(np.zeros(starts.size * upper_a.size, dtype=np.uint8))
    i, j = np.concatenate(parts_i), np.concatenate(parts_j)
    return np.minimum(i, j), np.maximum(i, j), np.concatenate(parts_d)


def _empty_pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp), np.empty(0, dtype=np.uint8)
