"""Which engine, query and source domain brought the noise: the share of flagged images among each one's images."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from urllib.parse import urlsplit

from .records import Origin, SourceShare

KINDS = ("engine", "query", "domain")


def domain(*urls: str | None) -> str:
    """The host of the first URL that has one, without `www.`: the site a picture was published on."""
    for url in urls:
        host = urlsplit(url or "").hostname
        if host:
            return host.removeprefix("www.")
    return ""


def source_shares(origins: Mapping[int, Origin], audited: Sequence[int], issues: Collection[int],
                  off_topic: Collection[int]) -> tuple[SourceShare, ...]:
    """Per engine, query and domain of the `audited` images with an origin: images, issues, off-topic and their
    share; within each kind the noisiest first."""
    shares = []
    for kind in KINDS:
        images: Counter[str] = Counter()
        wrong: Counter[str] = Counter()
        stray: Counter[str] = Counter()
        for index in audited:
            origin = origins.get(index)
            name = getattr(origin, kind) if origin else ""
            if not name:
                continue
            images[name] += 1
            wrong[name] += index in issues
            stray[name] += index in off_topic
        rows = [SourceShare(kind, name, count, wrong[name], stray[name], round((wrong[name] + stray[name]) / count, 4))
                for name, count in images.items()]
        shares.extend(sorted(rows, key=lambda row: (-row.share, -row.images, row.name)))
    return tuple(shares)
