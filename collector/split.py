"""Train/val assignment by content, so an image never moves between splits when the dataset grows."""

from __future__ import annotations

import hashlib


def choose_split(sha256: str, val_fraction: float, seed: int = 0) -> str:
    """'val' for a stable `val_fraction` share of contents, 'train' for the rest."""
    digest = hashlib.sha256(f"{seed}:{sha256}".encode()).digest()
    return "val" if int.from_bytes(digest[:8], "big") < val_fraction * 2**64 else "train"
