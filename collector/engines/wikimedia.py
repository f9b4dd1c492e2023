"""Wikimedia Commons, through the MediaWiki action API: a file search with each file's image info.

`query.pages` is keyed by page id, so results are put back in search order by
their `index`. The `continue` object holds exactly the parameters to add to the
request for the next batch; its absence is the end. Commons hosts no NonCommercial or
NoDerivatives files; its search narrows by licence with the `haslicense:` keyword
(the buckets of its MediaSearch licence filter, read from structured data).
"""

from __future__ import annotations

from ..candidate import ImageHit
from ._parsing import format_error, http_url, load_json, positive_int, text
from .base import USER_AGENT, Engine, EngineFormatError, Page, PageRequest

PATH = "/w/api.php"
PAGE_SIZE = 50
RASTER_MIMES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
"""Commons also hosts SVG, TIFF, PDF, DjVu, audio and video files; a photo dataset wants none of them."""
LICENSE_BUCKETS = {
    "unrestricted": frozenset({"cc0", "pdm"}),
    "attribution": frozenset({"by"}),
    "attribution-same-license": frozenset({"by-sa"}),
}
"""`haslicense:` values and the licence codes each one holds."""


def first_request(query: str, licenses: frozenset[str] | None = None) -> PageRequest | None:
    """The search; None when `licenses` holds nothing Commons hosts."""
    search = query
    if licenses is not None:
        buckets = [name for name, codes in LICENSE_BUCKETS.items() if codes & licenses]
        if not buckets:
            return None
        search = f"{query} haslicense:{'|'.join(buckets)}"
    params = {
        "action": "query", "format": "json",
        "generator": "search", "gsrsearch": search, "gsrnamespace": "6", "gsrlimit": str(PAGE_SIZE),
        "prop": "imageinfo", "iiprop": "url|size|mime|extmetadata", "iiurlwidth": "320",
        "iiextmetadatafilter": "LicenseShortName|LicenseUrl|Artist|ObjectName",
    }
    return PageRequest(PATH, params, 1, {"User-Agent": USER_AGENT})  # Wikimedia asks for a descriptive one


def parse(body: bytes, request: PageRequest) -> Page:
    data = load_json(body, "MediaWiki JSON with 'query'")
    if not isinstance(data, dict):
        raise format_error("a MediaWiki JSON object", body)
    if isinstance(data.get("error"), dict):
        error = data["error"]
        raise EngineFormatError(f"MediaWiki error {error.get('code', '')}: {error.get('info', '')}".strip())
    query, following = data.get("query"), data.get("continue")
    if query is None and following is None and "batchcomplete" in data:
        return Page([], None)
    if _no_hits(query) and following is None:
        return Page([], None)
    pages = query.get("pages") if isinstance(query, dict) else None
    if not isinstance(pages, dict):
        raise format_error("MediaWiki JSON with 'query.pages'", body)
    ranked = sorted((page for page in pages.values() if isinstance(page, dict)), key=_search_rank)
    hits = [hit for page in ranked if (hit := _hit(page)) is not None]
    if not isinstance(following, dict):
        return Page(hits, None)
    params = {**request.params, **{str(key): str(value) for key, value in following.items()}}
    return Page(hits, PageRequest(request.path, params, request.page + 1, request.headers))


def _no_hits(query: object) -> bool:
    """A search that matched nothing answers `query.searchinfo.totalhits` 0 (and maybe a suggestion), no pages."""
    if not isinstance(query, dict) or "pages" in query:
        return False
    info = query.get("searchinfo")
    return isinstance(info, dict) and info.get("totalhits") == 0


def _search_rank(page: dict) -> float:
    index = page.get("index")
    return index if isinstance(index, int | float) else float("inf")


def _hit(page: dict) -> ImageHit | None:
    infos = page.get("imageinfo")
    info = infos[0] if isinstance(infos, list) and infos and isinstance(infos[0], dict) else {}
    url = http_url(info.get("url"))
    if url is None or info.get("mime") not in RASTER_MIMES:
        return None
    metadata = info.get("extmetadata") if isinstance(info.get("extmetadata"), dict) else {}

    def value(name: str) -> object:
        entry = metadata.get(name)
        return entry.get("value") if isinstance(entry, dict) else None

    return ImageHit(
        url=url,
        thumbnail_url=http_url(info.get("thumburl")),
        source_page=http_url(info.get("descriptionurl")),
        title=text(value("ObjectName")) or _file_name(page.get("title")),
        license=text(value("LicenseShortName")),
        license_url=http_url(text(value("LicenseUrl"))),
        author=text(value("Artist")),
        width=positive_int(info.get("width")),
        height=positive_int(info.get("height")),
    )


def _file_name(title: object) -> str | None:
    """ "File:Red fox in snow.jpg" -> "Red fox in snow"."""
    if not isinstance(title, str):
        return None
    name = title.partition(":")[2] or title
    stem, dot, _ = name.rpartition(".")
    return text(stem if dot else name)


ENGINE = Engine(
    name="wikimedia", base_url="https://commons.wikimedia.org", first_request=first_request, parse=parse
)
