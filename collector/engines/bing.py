"""Bing Images, through the HTML fragments /images/async feeds to its endless scroll.

Each result is an `<a class="iusc">` whose `m` attribute holds entity-escaped JSON
(murl: image, turl: thumbnail, purl: source page, t: title); the same anchor's href
carries the original size as expw/exph. `first` is the 1-based position of the
first result wanted. Results say nothing of their licence; the `qft` licence filters
of Bing's image search narrow them to a set, which every hit is then labelled with.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

from ..candidate import ImageHit
from ..licenses import CODES, best_option, label
from ._parsing import format_error, http_url, positive_int, text
from .base import BROWSER_HEADERS, Engine, Page, PageRequest

PATH = "/images/async"
PAGE_SIZE = 35
BY_CODES = ("by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd")
LICENSE_FILTERS = {
    "+filterui:licenseType-Any": frozenset(CODES),
    "+filterui:license-L1": frozenset({"cc0", "pdm"}),
    "+filterui:license-L2_L3_L4_L5_L6_L7": frozenset(BY_CODES),
    "+filterui:license-L2_L3_L4": frozenset({"by", "by-sa", "by-nd"}),
    "+filterui:license-L2_L3_L5_L6": frozenset({"by", "by-sa", "by-nc", "by-nc-sa"}),
    "+filterui:license-L2_L3": frozenset({"by", "by-sa"}),
}
"""Bing's licence filters (All Creative Commons, Public domain, Free to share and use, ... commercially,
Free to modify, share and use, ... commercially) and the licences each admits: L1 public domain, L2-L7 CC BY,
BY-SA, BY-ND, BY-NC, BY-NC-SA, BY-NC-ND."""


def first_request(query: str, licenses: frozenset[str] | None = None) -> PageRequest | None:
    """The first page; None when no licence filter of Bing's fits within `licenses`."""
    request = _request(query, first=1, page=1)
    if licenses is not None:
        option = best_option(LICENSE_FILTERS, licenses)
        if option is None:
            return None
        request.params["qft"] = option[0]
    return request


def parse(body: bytes, request: PageRequest) -> Page:
    collector = _ResultAnchors()
    collector.feed(body.decode("utf-8", "replace"))
    anchors = collector.anchors
    if not anchors:
        return Page([], None)
    results = [(metadata, anchor) for anchor in anchors if (metadata := _metadata(anchor)) is not None]
    if not results:
        raise format_error("result anchors with JSON 'm' attributes holding 'murl'", body)
    licensed = _filter_label(request.params.get("qft"))
    hits = [hit for metadata, anchor in results if (hit := _hit(metadata, anchor, licensed)) is not None]
    first = int(request.params["first"]) + len(anchors)
    following = _request(request.params["q"], first, request.page + 1)
    if "qft" in request.params:
        following.params["qft"] = request.params["qft"]
    return Page(hits, following)


def _filter_label(qft: str | None) -> str | None:
    codes = LICENSE_FILTERS.get(qft or "")
    return f"{label(codes)} (Bing licence filter)" if codes else None


def _request(query: str, first: int, page: int) -> PageRequest:
    params = {"q": query, "first": str(first), "count": str(PAGE_SIZE), "mmasync": "1"}
    return PageRequest(PATH, params, page, dict(BROWSER_HEADERS))


class _ResultAnchors(HTMLParser):
    """Collects the (entity-decoded) attributes of every `<a class="iusc">`, Bing's one anchor per result."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "a" and "iusc" in attributes.get("class", "").split():
            self.anchors.append(attributes)


def _metadata(anchor: dict[str, str]) -> dict | None:
    try:
        metadata = json.loads(anchor.get("m", ""))
    except ValueError:
        return None
    return metadata if isinstance(metadata, dict) and "murl" in metadata else None


def _hit(metadata: dict, anchor: dict[str, str], license: str | None) -> ImageHit | None:
    url = http_url(metadata.get("murl"))
    if url is None:
        return None
    width, height = _original_size(anchor.get("href", ""))
    return ImageHit(
        url=url,
        thumbnail_url=http_url(metadata.get("turl")),
        source_page=http_url(metadata.get("purl")),
        title=text(metadata.get("t")),
        license=license,
        width=width,
        height=height,
    )


def _original_size(href: str) -> tuple[int | None, int | None]:
    """The detail-view link names the full image's size: ...&expw=3442&exph=2972."""
    try:
        query = parse_qs(urlsplit(href).query)
    except ValueError:
        return None, None
    return positive_int(query.get("expw", [""])[0]), positive_int(query.get("exph", [""])[0])


ENGINE = Engine(name="bing", base_url="https://www.bing.com", first_request=first_request, parse=parse)
