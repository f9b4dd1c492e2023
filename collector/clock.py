"""The one clock for every time collector records: UTC, to the second, ISO 8601."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> str:
    """Like `2026-11-23T10:00:00+00:00`."""
    return datetime.now(UTC).isoformat(timespec="seconds")
