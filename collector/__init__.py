"""Crawl image search engines into an ImageFolder dataset with full provenance."""

from .api import collect
from .crawl import CollectError, CollectOptions
from .errors import CollectorError
from .summary import Summary

__all__ = ["CollectError", "CollectOptions", "CollectorError", "Summary", "collect"]
