"""The one record every search engine's results are parsed into."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageHit:
    """One image result as a search engine describes it, before ranking."""

    url: str
    thumbnail_url: str | None = None
    source_page: str | None = None
    title: str | None = None
    license: str | None = None
    license_url: str | None = None
    author: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Candidate:
    """An image URL worth fetching for one class, with its provenance."""

    class_name: str
    query: str
    engine: str
    rank: int
    hit: ImageHit
