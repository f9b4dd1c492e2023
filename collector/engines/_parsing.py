"""Field readers the engine parsers share: tolerant of junk values, honest about unrecognised bodies."""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import urlsplit

from .base import EngineFormatError

SNIPPET_CHARS = 60
_BREAK = re.compile(r"<(?:br|p|div|li)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def text(value: object) -> str | None:
    """Plain text from an engine's HTML-flavoured string: tags dropped, entities decoded, spaces collapsed."""
    if not isinstance(value, str):
        return None
    plain = html.unescape(_TAG.sub("", _BREAK.sub(" ", value)))
    return " ".join(plain.split()) or None


def http_url(value: object) -> str | None:
    """The value if it is an absolute http(s) URL; engines also hand out data: URIs, relative paths and blanks."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def positive_int(value: object) -> int | None:
    """A positive integer from an int or a numeric string (a size, a count); zero and junk mean unknown."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = int(value)
    except (ValueError, OverflowError):
        return None
    return number if number > 0 else None


def load_json(body: bytes | str, expected: str) -> Any:
    """The decoded JSON, or an EngineFormatError naming what came instead (a block page, usually)."""
    try:
        return json.loads(body, strict=False)
    except ValueError:
        raise format_error(expected, body) from None


def format_error(expected: str, body: bytes | str) -> EngineFormatError:
    return EngineFormatError(f"expected {expected}, got {describe(body)}")


def describe(body: bytes | str) -> str:
    """A short, log-friendly account of a response body: its JSON keys, or how it starts."""
    content = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    content = " ".join(content.split())
    if not content:
        return "an empty body"
    try:
        data = json.loads(content, strict=False)
    except ValueError:
        kind = "HTML page" if content.startswith("<") else "text"
        return f"{kind} starting {content[:SNIPPET_CHARS]!r}"
    if isinstance(data, dict):
        keys = ", ".join(repr(key) for key in list(data)[:6])
        return f"JSON object with keys {keys}" if keys else "an empty JSON object"
    return f"JSON {type(data).__name__} starting {content[:SNIPPET_CHARS]!r}"
