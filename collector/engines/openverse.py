"""Openverse, the openly licensed media index, through its public image search API.

Pages are numbered from 1 and the answer says how many there are (`page_count`);
anonymous clients may ask for at most 20 results a page. `license` takes a comma-joined
list of the same licence codes every result carries in its own `license` field.
"""

from __future__ import annotations

from ..candidate import ImageHit
from ..licenses import CODES
from ._parsing import format_error, http_url, load_json, positive_int, text
from .base import Engine, Page, PageRequest

PATH = "/v1/images/"
PAGE_SIZE = 20
LICENSE_NAMES = {"cc0": "CC0", "pdm": "Public Domain Mark"}
"""Licence codes that are not Creative Commons "CC <CODE>" licences."""


def first_request(query: str, licenses: frozenset[str] | None = None) -> PageRequest:
    request = _request(query, 1)
    if licenses is not None:
        request.params["license"] = ",".join(code for code in CODES if code in licenses)
    return request


def parse(body: bytes, request: PageRequest) -> Page:
    data = load_json(body, "Openverse JSON with 'results'")
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise format_error("Openverse JSON with 'results'", body)
    hits = [hit for result in results if isinstance(result, dict) and (hit := _hit(result)) is not None]
    page, page_count = int(request.params["page"]), positive_int(data.get("page_count"))
    if not results or page_count is None or page >= page_count:
        return Page(hits, None)
    following = _request(request.params["q"], page + 1)
    if "license" in request.params:
        following.params["license"] = request.params["license"]
    return Page(hits, following)


def license_name(code: object, version: object) -> str | None:
    """("by-sa", "2.0") -> "CC BY-SA 2.0"; ("cc0", "1.0") -> "CC0 1.0"; ("pdm", "1.0") -> "Public Domain Mark 1.0"."""
    if not isinstance(code, str) or not code:
        return None
    name = LICENSE_NAMES.get(code.lower(), f"CC {code.upper()}")
    return f"{name} {version}" if isinstance(version, str) and version else name


def _request(query: str, page: int) -> PageRequest:
    return PageRequest(PATH, {"q": query, "page": str(page), "page_size": str(PAGE_SIZE)}, page)


def _hit(result: dict) -> ImageHit | None:
    url = http_url(result.get("url"))
    if url is None:
        return None
    return ImageHit(
        url=url,
        thumbnail_url=http_url(result.get("thumbnail")),
        source_page=http_url(result.get("foreign_landing_url")),
        title=text(result.get("title")),
        license=license_name(result.get("license"), result.get("license_version")),
        license_url=http_url(result.get("license_url")),
        author=text(result.get("creator")),
        width=positive_int(result.get("width")),
        height=positive_int(result.get("height")),
    )


ENGINE = Engine(name="openverse", base_url="https://api.openverse.org", first_request=first_request, parse=parse)
