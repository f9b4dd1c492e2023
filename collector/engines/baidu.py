"""Baidu Images, through the acjson endpoint behind image.baidu.com's endless scroll.

Two shapes are read. The classic one is `{"listNum": N, "data": [item, ..., {}]}`
(always a trailing empty item) with camel-case keys, objURL/fromURL obfuscated by
a substitution cipher and the original under replaceUrl[].ObjURL. The newer one
puts results under `data.images[]` with lower-case keys. Keys are compared
case-insensitively so one item reader serves both. `pn` is the 0-based offset.
Baidu has no licence filter and says nothing of licences, so it cannot search under one.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from ..candidate import ImageHit
from ._parsing import format_error, http_url, load_json, positive_int, text
from .base import BROWSER_HEADERS, Engine, EngineFormatError, Page, PageRequest

PATH = "/search/acjson"
PAGE_SIZE = 30

OBFUSCATED_TOKENS = {"_z2C$q": ":", "_z&e3B": ".", "AzdH3F": "/"}
"""Whole tokens the cipher writes for URL punctuation."""
OBFUSCATED_CHARS = "wkv1ju2it3hs4g5rq6fp7eo8dn9cm0bla"
PLAIN_CHARS = "abcdefghijklmnopqrstuvw1234567890"
"""The cipher's one-character substitutions: OBFUSCATED_CHARS[i] stands for PLAIN_CHARS[i]; others are kept."""

_TOKEN = re.compile("|".join(map(re.escape, OBFUSCATED_TOKENS)))
_DECODE = str.maketrans(OBFUSCATED_CHARS, PLAIN_CHARS)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_JSON_ESCAPES = frozenset('"\\/bfnrtu')


def first_request(query: str, licenses: frozenset[str] | None = None) -> PageRequest | None:
    """The first page; None under any licence filter."""
    return _request(query, offset=0, page=1) if licenses is None else None


def parse(body: bytes, request: PageRequest) -> Page:
    data = load_json(_drop_invalid_escapes(body.decode("utf-8", "replace")), "Baidu JSON with 'data'")
    if not isinstance(data, dict):
        raise format_error("Baidu JSON object with 'data'", body)
    if data.get("antiFlag") in (1, "1"):
        raise EngineFormatError(f"Baidu refused the request: {data.get('message', 'antiFlag set')}")
    payload = data.get("data")
    if isinstance(payload, list):
        items, total = payload, positive_int(data.get("listNum"))
    elif isinstance(payload, dict) and isinstance(payload.get("images"), list):
        items, total = payload["images"], None
    else:
        raise format_error("Baidu JSON with a 'data' list or 'data.images'", body)
    items = [item for item in items if isinstance(item, dict) and item]
    hits = [hit for item in items if (hit := _hit(item)) is not None]
    offset = int(request.params["pn"]) + PAGE_SIZE
    if not items or (total is not None and offset >= total):
        return Page(hits, None)
    return Page(hits, _request(request.params["word"], offset, request.page + 1))


def decode_url(value: str) -> str:
    """Undo the cipher on objURL/fromURL: "ippr_z2C$qAzdH3FAzdH3Fooo_z&e3B..." is "http://www....".

    Tokens go first: their letters must not pass through the character table.
    """
    return _TOKEN.sub(lambda match: OBFUSCATED_TOKENS[match.group()], value).translate(_DECODE)


def _request(query: str, offset: int, page: int) -> PageRequest:
    params = {
        "tn": "resultjson_com", "ipn": "rj", "ct": "201326592", "fp": "result", "word": query, "queryWord": query,
        "cl": "2", "lm": "-1", "ie": "utf-8", "oe": "utf-8", "st": "-1", "face": "0", "istype": "2", "nc": "1",
        "pn": str(offset), "rn": str(PAGE_SIZE),
    }
    referer = "https://image.baidu.com/search/index?" + urlencode({"tn": "baiduimage", "word": query})
    return PageRequest(PATH, params, page, {**BROWSER_HEADERS, "Referer": referer})


def _drop_invalid_escapes(body: str) -> str:
    """Baidu writes escapes JSON does not have, such as \\' for a quote; keep the character, drop the backslash."""
    return _ESCAPE.sub(lambda m: m.group() if m.group(1) in _JSON_ESCAPES else m.group(1), body)


def _hit(item: dict) -> ImageHit | None:
    """The largest image on offer: the original (objURL, replaceUrl) before middleURL before thumbURL."""
    fields = _lower_keys(item)
    originals = [_lower_keys(r) for r in fields.get("replaceurl") or () if isinstance(r, dict)]
    url = _first_http(
        _plain(fields.get("objurl")), *(r.get("objurl") for r in originals),
        fields.get("middleurl"), fields.get("hoverurl"), fields.get("thumburl"),
    )
    if url is None:
        return None
    return ImageHit(
        url=url,
        thumbnail_url=_first_http(fields.get("thumburl"), fields.get("middleurl")),
        source_page=_first_http(_plain(fields.get("fromurl")), *(r.get("fromurl") for r in originals)),
        title=text(fields.get("frompagetitleenc")) or text(fields.get("frompagetitle")) or text(fields.get("title")),
        width=positive_int(fields.get("width")),
        height=positive_int(fields.get("height")),
    )


def _lower_keys(item: dict) -> dict:
    return {str(key).lower(): value for key, value in item.items()}


def _plain(value: object) -> object:
    return decode_url(value) if isinstance(value, str) and value.startswith("ippr") else value


def _first_http(*candidates: object) -> str | None:
    return next((url for candidate in candidates if (url := http_url(candidate)) is not None), None)


ENGINE = Engine(name="baidu", base_url="https://image.baidu.com", first_request=first_request, parse=parse)
