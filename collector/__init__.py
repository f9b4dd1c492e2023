"""Crawl image search engines into an ImageFolder dataset with full provenance."""

from .crawl import CollectError, CollectOptions, collect
from .summary import Summary

__all__ = ["CollectError", "CollectOptions", "Summary", "collect"]
