"""Each search engine's real wire format, rendered from a catalogue of hits.

One pure function per engine takes the request path (relative to the engine's
base URL), its query parameters and the catalogue, and answers as that service
does: the same paths, the same pagination, realistic bodies, and each service's
own licence filter (Bing's `qft`, DuckDuckGo's `f`, Commons' `haslicense:`,
Openverse's `license`), unless the catalogue says to ignore it. A query the
catalogue flags as `changed_format` gets a plausible answer in a shape no parser
knows, still with status 200.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, quote_plus, urlencode, urlsplit

from collector.candidate import ImageHit
from collector.engines import baidu, openverse
from collector.licenses import CODES, codes_of


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes


class Catalogue(Protocol):
    def hits(self, query: str) -> list[ImageHit]:
        """Every result for the query, best first; empty for a query nothing matches."""

    def changed_format(self, query: str) -> bool:
        """Whether to answer this query in a format the parsers do not know."""

    def ignores_license_filter(self, query: str) -> bool:
        """Whether to answer this query as if no licence filter had been asked for (a service's bug)."""


HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
NOT_FOUND = Response(404, "text/plain; charset=utf-8", b"not found")
BING_LICENSES = {"1": {"cc0", "pdm"}, "2": {"by"}, "3": {"by-sa"}, "4": {"by-nd"}, "5": {"by-nc"}, "6": {"by-nc-sa"},
                 "7": {"by-nc-nd"}}
"""Bing's licence numbers in `filterui:license-L2_L3`: L1 public domain, then the six CC BY licences."""
DUCKDUCKGO_LICENSES = {"Any": "1_2_3_4_5_6_7", "Public": "1", "Share": "2_3_4_5_6_7", "ShareCommercially": "2_3_4",
                       "Modify": "2_3_5_6", "ModifyCommercially": "2_3"}
"""DuckDuckGo's licence filter names and the Bing licence numbers behind them."""
COMMONS_LICENSES = {"unrestricted": {"cc0", "pdm"}, "attribution": {"by"}, "attribution-same-license": {"by-sa"}}
_BING_LICENSE = re.compile(r"filterui:license(?:Type-Any|-(L\d(?:_L\d)*))")
_HAS_LICENSE = re.compile(r"\s*\bhaslicense:(\S+)")


def licensed(hits: list[ImageHit], codes: set[str] | None) -> list[ImageHit]:
    """The hits a licence filter lets through: those whose licence is one of `codes` (None: no filter)."""
    if codes is None:
        return hits
    return [hit for hit in hits if (found := codes_of(hit.license)) and found <= codes]


def _bing_codes(numbers: str) -> set[str]:
    return {code for number in numbers.replace("L", "").split("_") for code in BING_LICENSES[number]}


def respond_bing(path: str, params: dict[str, str], catalogue: Catalogue) -> Response:
    """/images/async: an HTML fragment of `count` results from the 1-based position `first`."""
    if path != "/images/async":
        return NOT_FOUND
    query = params.get("q", "")
    first = max(_number(params.get("first"), 1), 1)
    match = _BING_LICENSE.search(params.get("qft", ""))
    codes = None if match is None else _bing_codes(match.group(1)) if match.group(1) else set(CODES)
    hits = _filtered(catalogue, query, codes)[first - 1 : first - 1 + _number(params.get("count"), 35)]
    changed = catalogue.changed_format(query)
    items = [_bing_item(hit, first + i, query, changed) for i, hit in enumerate(hits)]
    rows = "".join(
        f'<ul data-row="{row}" class="dgControl_list " data-infullrow="1">{"".join(items[start : start + 5])}</ul>'
        for row, start in enumerate(range(0, len(items), 5))
    )
    following = {"q": query, "first": first + len(hits), "count": 35, "relp": 35, "layout": "RowBased", "mmasync": 1}
    return Response(200, HTML, (
        '<div class="dg_b" role="main" data-pagewidth="0" data-clientwidth="0" data-disableRefreshOnIFrame="1">'
        f'<div id="mmComponent_images_{first}" class="dgControl hover"'
        f' data-nextUrl="{html.escape("/images/async?" + urlencode(following))}"'
        f' data-postData="" data-iid="images.5056" data-layout="row">{rows}'
        f'<div id="mmComponent_images_{first}_exp" class="expandButton txtaft" data-expandOn=" scroll"></div></div>'
        '<div id="bop_container" class="invis" data-chkfstpg="1">'
        '<div id="bop_announce" class="b_hide" tabindex="-1" title="New images loaded"></div></div></div>'
    ).encode())


def _bing_item(hit: ImageHit, position: int, query: str, changed: bool) -> str:
    """One `<li>`: the `a.iusc` anchor with its entity-escaped `m` JSON, the thumbnail, the size and source host."""
    key = _digest(hit.url)
    names = ("mediaurl", "thumburl", "pageurl", "title") if changed else ("murl", "turl", "purl", "t")
    fields = _present(dict(zip(names, (hit.url, hit.thumbnail_url, hit.source_page, hit.title), strict=True)))
    metadata = {"cid": key[:8], **fields, "md5": key[:32], "shkey": key[32:76], "mid": key[:40].upper(), "desc": ""}
    size = {"exph": hit.height, "expw": hit.width} if hit.width and hit.height else {}
    detail = {"view": "detailV2", "ccid": key[:8], "id": key[:40].upper(), "mediaurl": hit.url, **size, "q": query,
              "selectedIndex": position - 1, "FORM": "IRPRST"}
    host = urlsplit(hit.source_page or hit.url).hostname or ""
    caption = f"{hit.width} x {hit.height} &#183; jpeg" if size else "jpeg"
    return (
        f'<li data-idx="{position}" style="width:232px; height: 200px">'
        '<div class="iuscp varh" style="width:232px" data-hovstyle="" data-evt="1"><div class="imgpt">'
        f'<a class="iusc" style="height:200px;width:232px" m="{html.escape(_compact(metadata))}"'
        " onclick=\"sj_evt.fire('IFrame.Navigate', this.href); return false;\""
        f' href="{html.escape("/images/search?" + urlencode(detail))}" h="ID=images,5025.1">'
        '<div class="img_cont hoff"><img class="mimg" height="200" width="232"'
        f' src="{html.escape(hit.thumbnail_url or "")}" alt="Image result for {html.escape(query)}"/></div></a>'
        f'<div class="img_info hon"><span class="nowrap">{caption}</span><div class="lnkw">'
        f'<a title="{host}" target="_blank" href="{html.escape(hit.source_page or "")}" h="ID=images,5053.1">'
        f"{host}</a></div></div></div></div></li>"
    )


def respond_baidu(path: str, params: dict[str, str], catalogue: Catalogue) -> Response:
    """/search/acjson: `rn` results from offset `pn`; the classic shape for pn=0, the newer `data.images` after.

    Like Baidu, it escapes / as \\/ and ' as \\' (which JSON does not allow).
    """
    if path != "/search/acjson":
        return NOT_FOUND
    query = params.get("word", "")
    if catalogue.changed_format(query):
        return Response(200, HTML, BAIDU_CAPTCHA.encode())
    hits = catalogue.hits(query)
    offset, size = _number(params.get("pn"), 0), _number(params.get("rn"), 30)
    window = list(enumerate(hits[offset : offset + size], start=offset))
    if offset == 0:
        body = {
            "queryEnc": quote(query), "queryExt": query, "listNum": len(hits), "displayNum": len(hits),
            "gsm": format(offset + size, "x"), "bdFmtDispNum": f"约{len(hits):,}", "bdSearchTime": "",
            "isNeedAsyncRequest": 0, "bdIsClustered": "1",
            "data": [*(_baidu_classic_item(hit, index, query) for index, hit in window), {}],
        }
    else:
        body = {"status": 0, "message": "success",
                "data": {"images": [_baidu_newer_item(hit, index) for index, hit in window]}}
    text = _compact(body).replace("/", "\\/").replace("'", "\\'")
    return Response(200, JSON, text.encode())


_OBFUSCATE = str.maketrans(baidu.PLAIN_CHARS, baidu.OBFUSCATED_CHARS)
_PUNCTUATION_TOKENS = {plain: token for token, plain in baidu.OBFUSCATED_TOKENS.items()}


def obfuscate_url(url: str) -> str:
    """Baidu's objURL cipher, the exact inverse of `collector.engines.baidu.decode_url`."""
    return "".join(_PUNCTUATION_TOKENS.get(char, char) for char in url.translate(_OBFUSCATE))


def _baidu_classic_item(hit: ImageHit, index: int, query: str) -> dict[str, Any]:
    key = _digest(hit.url)
    thumb, page = hit.thumbnail_url or "", hit.source_page or ""
    title = html.escape(hit.title or "")
    if query:
        title = title.replace(html.escape(query), f"<strong>{html.escape(query)}</strong>")
    return {
        "adType": "0", "hasAspData": "0", "thumbURL": thumb, "middleURL": thumb, "largeTnImageUrl": "",
        "hasLarge": 0, "hoverURL": thumb, "pageNum": index, "objURL": obfuscate_url(hit.url),
        "fromURL": obfuscate_url(page), "fromURLHost": urlsplit(page).hostname or "", "currentIndex": "",
        "width": hit.width or 0, "height": hit.height or 0, "type": "jpg", "is_gif": 0, "isCopyright": 0,
        "strategyAssessment": "531810_0_0_0", "filesize": "", "bdSrcType": "0", "di": str(int(key[:6], 16)),
        "pi": "0", "is": "0,0", "imgCollectionWord": "",
        "replaceUrl": [{"ObjURL": hit.url, "ObjUrl": hit.url, "FromURL": page, "FromUrl": page}],
        "hasThumbData": "0", "bdSetImgNum": 0, "partnerId": 0, "spn": 0, "bdImgnewsDate": "2024-03-11 19:23",
        "fromPageTitle": title,
        "fromPageTitleEnc": hit.title or "", "bdSourceName": "", "bdFromPageTitlePrefix": "", "isAspDianjing": 0,
        "token": "", "imgType": "", "cs": f"{int(key[:8], 16)},{int(key[8:16], 16)}",
        "os": f"{int(key[16:24], 16)},{int(key[24:32], 16)}", "simid": "0,0", "personalized": "0",
        "simid_info": None, "face_info": None, "xiangshi_info": None, "adPicId": "0", "source_type": "",
    }


def _baidu_newer_item(hit: ImageHit, index: int) -> dict[str, Any]:
    key = _digest(hit.url)
    thumb, page = hit.thumbnail_url or "", hit.source_page or ""
    return {
        "pid": index, "thumburl": thumb, "middleurl": thumb, "objurl": hit.url, "fromurl": page,
        "fromurlhost": urlsplit(page).hostname or "", "title": hit.title or "", "width": hit.width or 0,
        "height": hit.height or 0, "type": "jpg", "cs": f"{int(key[:8], 16)},{int(key[8:16], 16)}",
    }


BAIDU_CAPTCHA = (
    '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>百度安全验证</title>'
    '<meta name="viewport" content="width=device-width, initial-scale=1.0, user-scalable=no">'
    '<link rel="stylesheet" href="https://ppui-static-wap.cdn.bcebos.com/static/touch/css/api/mkdjump.css">'
    '</head><body><div class="timeout hide-callback"><div class="timeout-img"></div>'
    '<div class="timeout-title">网络不给力，请稍后重试</div>'
    '<button type="button" class="timeout-button">返回首页</button>'
    '</div><div class="timeout-feedback hide-callback"><div class="timeout-feedback-icon"></div>'
    '<p class="timeout-feedback-title">问题反馈</p></div>'
    '<script src="https://wappass.baidu.com/static/machine/js/api/mkd.js"></script>'
    '<script>var _mkdConfig = {"type": "spin"};</script>'
    "</body></html>"
)


def respond_duckduckgo(path: str, params: dict[str, str], catalogue: Catalogue) -> Response:
    """The search page at / embeds the query's vqd token; /i.js serves 100 results from offset `s` for it."""
    query = params.get("q", "")
    vqd = _vqd(query)
    if path == "/":
        return Response(200, HTML, DUCKDUCKGO_PAGE.format(
            title=html.escape(query), query=quote_plus(query), vqd=vqd
        ).encode())
    if path != "/i.js":
        return NOT_FOUND
    if params.get("vqd") != vqd:
        return Response(403, HTML, b"<!DOCTYPE html><html><body><h1>403 Forbidden</h1></body></html>")
    name = params.get("f", "").rpartition(",")[2].removeprefix("license:")
    hits = _filtered(catalogue, query, _bing_codes(DUCKDUCKGO_LICENSES[name]) if name else None)
    offset = _number(params.get("s"), 0)
    results = [_duckduckgo_result(hit) for hit in hits[offset : offset + 100]]
    if catalogue.changed_format(query):
        body: dict[str, Any] = {"response_type": "images", "query": query, "images": results}
    else:
        body = {"ads": None, "query": query, "queryEncoded": quote_plus(query), "response_type": "images",
                "results": results, "vqd": {query: vqd}}
        if offset + 100 < len(hits):
            body["next"] = "i.js?" + urlencode({"q": query, "o": "json", "p": "1", "s": offset + 100, "u": "bing",
                                               "f": params.get("f", ",,,,,"), "l": "us-en", "vqd": vqd}, safe=",:")
    return Response(200, JSON, _compact(body).encode())


def _duckduckgo_result(hit: ImageHit) -> dict[str, Any]:
    key = _digest(hit.url)
    return {
        "height": hit.height or 0, "image": hit.url, "image_token": key[:64], "source": "Bing",
        "thumbnail": hit.thumbnail_url or "", "thumbnail_token": key[64:128], "title": hit.title or "",
        "url": hit.source_page or "", "width": hit.width or 0,
    }


DUCKDUCKGO_PAGE = (
    '<!DOCTYPE html><html lang="en-US" class="no-js has-zcm no-theme"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} at DuckDuckGo</title>'
    '<link rel="stylesheet" href="/dist/s.b49dcfb5899df4f917ee.css" type="text/css">'
    '<link rel="stylesheet" href="/dist/r.e4a7c9d4e0e5e3b5f3c2.css" type="text/css"></head>'
    '<body class="body--serp"><input id="state_hidden" name="state_hidden" type="text" size="1">'
    '<div class="site-wrapper js-site-wrapper"><div id="header_wrapper" class="header-wrap js-header-wrap">'
    '<div id="header" class="header cw"><form id="search_form" class="search--adv search--header" name="x"'
    ' action="/"><input type="text" name="q" value="{title}" id="search_form_input"></form></div></div>'
    '<div id="zero_click_wrapper" class="zci-wrap"></div><div id="vertical_wrapper" class="verticals"></div>'
    '<div id="web_content_wrapper" class="content-wrap"><div class="serp__results js-serp-results">'
    '<div class="results--main"><div id="links" class="results js-results"></div></div></div></div></div>'
    '<script type="text/javascript" src="/dist/lib/l.3f7c4a6e6f.js"></script>'
    '<script type="text/javascript" src="/locale/en_US/duckduckgo85.js"></script>'
    '<script type="text/javascript">DDG.page = new DDG.Pages.SERP({{showSetAsDefault: false}});</script>'
    "<script type=\"text/javascript\">;DDG.deep.initialize('/d.js?q={query}&l=us-en&s=0&a=h_&dl=en&ct=US"
    "&vqd={vqd}&bing_market=en-US&p_ent=&ex=-1&dfrsp=1', false);"
    ";DDG.duckbar.future_signal_tab({{signal:'medium',from:'images'}});</script></body></html>"
)


def respond_wikimedia(path: str, params: dict[str, str], catalogue: Catalogue) -> Response:
    """/w/api.php: a generator=search batch of `gsrlimit` files from `gsroffset`, with a `continue` until the last."""
    if path != "/w/api.php":
        return NOT_FOUND
    search = params.get("gsrsearch", "")
    match = _HAS_LICENSE.search(search)
    query = _HAS_LICENSE.sub("", search)
    codes = None if match is None else {c for name in match.group(1).split("|") for c in COMMONS_LICENSES[name]}
    hits = _filtered(catalogue, query, codes)
    offset, limit = _number(params.get("gsroffset"), 0), _number(params.get("gsrlimit"), 10)
    window = list(enumerate(hits[offset : offset + limit], start=offset + 1))
    if catalogue.changed_format(query):
        search = [{"ns": 6, "title": _file_title(hit, index), "pageid": _page_id(hit, index)} for index, hit in window]
        return _json({"batchcomplete": "", "query": {"searchinfo": {"totalhits": len(hits)}, "search": search}})
    if not hits:
        return _json({"batchcomplete": "", "query": {"searchinfo": {"totalhits": 0}}})
    if not window:
        return _json({"batchcomplete": ""})
    pages = sorted((_wikimedia_page(hit, index) for index, hit in window), key=lambda page: page["pageid"])
    body: dict[str, Any] = {"batchcomplete": ""}
    if offset + limit < len(hits):
        body["continue"] = {"gsroffset": offset + limit, "continue": "gsroffset||"}
    body["query"] = {"pages": {str(page["pageid"]): page for page in pages}}
    return _json(body)


def _wikimedia_page(hit: ImageHit, index: int) -> dict[str, Any]:
    """A File: page as prop=imageinfo describes it, extmetadata (licence, HTML artist link) included."""
    page_id = _page_id(hit, index)
    metadata = _present({
        "ObjectName": hit.title and {"value": html.escape(hit.title), "source": "mediawiki-metadata", "hidden": ""},
        "LicenseShortName": hit.license and {"value": hit.license, "source": "commons-desc-page", "hidden": ""},
        "LicenseUrl": _deed(hit.license) and {"value": _deed(hit.license).rstrip("/"), "source": "commons-desc-page",
                                              "hidden": ""},
        "Artist": hit.author and {
            "value": f'<a href="//commons.wikimedia.org/wiki/User:{quote(hit.author)}"'
                     f' title="User:{html.escape(hit.author)}">{html.escape(hit.author)}</a>',
            "source": "commons-desc-page",
        },
    })
    thumb = {"thumburl": hit.thumbnail_url, "thumbwidth": 320, "thumbheight": 240} if hit.thumbnail_url else {}
    info = {
        **thumb, "url": hit.url, **_present({"descriptionurl": hit.source_page}),
        "descriptionshorturl": f"https://commons.wikimedia.org/w/index.php?curid={page_id}",
        "size": 48213 + index, "width": hit.width or 0, "height": hit.height or 0, "mime": _mime(hit.url),
        "extmetadata": metadata,
    }
    return {"pageid": page_id, "ns": 6, "title": _file_title(hit, index), "index": index,
            "imagerepository": "local", "imageinfo": [info]}


def respond_openverse(path: str, params: dict[str, str], catalogue: Catalogue) -> Response:
    """/v1/images/: page `page` (from 1) of `page_size` results, with the page count."""
    if path != "/v1/images/":
        return NOT_FOUND
    query = params.get("q", "")
    wanted = params.get("license")
    hits = _filtered(catalogue, query, set(wanted.split(",")) if wanted else None)
    page, size = max(_number(params.get("page"), 1), 1), max(_number(params.get("page_size"), 20), 1)
    results = [_openverse_result(hit) for hit in hits[(page - 1) * size : page * size]]
    page_count = math.ceil(len(hits) / size)
    if catalogue.changed_format(query):
        return _json({"count": len(hits), "pages": page_count, "items": results})
    return _json({"result_count": len(hits), "page_count": page_count, "page_size": size, "page": page,
                  "results": results, "warnings": []})


def _openverse_result(hit: ImageHit) -> dict[str, Any]:
    key = _digest(hit.url)
    identifier = f"{key[:8]}-{key[8:12]}-{key[12:16]}-{key[16:20]}-{key[20:32]}"
    code, version = _license_code(hit.license)
    return {
        "id": identifier, "title": hit.title, "indexed_on": "2023-06-14T09:21:43Z",
        "foreign_landing_url": hit.source_page, "url": hit.url, "creator": hit.author, "creator_url": None,
        "license": code, "license_version": version, "license_url": _deed(hit.license), "provider": "flickr",
        "source": "flickr", "category": "photograph", "filesize": None, "filetype": "jpg", "tags": [],
        "attribution": f'"{hit.title or "This work"}" by {hit.author or "an unknown creator"} is licensed under'
                       f" {hit.license or 'an unknown licence'}.",
        "fields_matched": ["title"], "mature": False, "height": hit.height, "width": hit.width,
        "thumbnail": hit.thumbnail_url, "detail_url": f"https://api.openverse.org/v1/images/{identifier}/",
        "related_url": f"https://api.openverse.org/v1/images/{identifier}/related/", "unstable__sensitivity": [],
    }


def _license_code(name: str | None) -> tuple[str, str | None]:
    """The inverse of `collector.engines.openverse.license_name`: "CC BY-SA 2.0" -> ("by-sa", "2.0")."""
    if not name:
        return "", None
    label, _, version = name.rpartition(" ")
    codes = {label: code for code, label in openverse.LICENSE_NAMES.items()}
    return codes.get(label, label.removeprefix("CC ").lower()), version


def _deed(name: str | None) -> str | None:
    """The Creative Commons page of a licence name such as "CC BY-SA 2.0" or "CC0 1.0"."""
    code, version = _license_code(name)
    if code == "cc0":
        return "https://creativecommons.org/publicdomain/zero/1.0/"
    if code == "pdm":
        return "https://creativecommons.org/publicdomain/mark/1.0/"
    return f"https://creativecommons.org/licenses/{code}/{version}/" if code in CODES and version else None


def _filtered(catalogue: Catalogue, query: str, codes: set[str] | None) -> list[ImageHit]:
    hits = catalogue.hits(query)
    return hits if catalogue.ignores_license_filter(query) else licensed(hits, codes)


RESPONDERS: dict[str, Callable[[str, dict[str, str], Catalogue], Response]] = {
    "bing": respond_bing,
    "baidu": respond_baidu,
    "duckduckgo": respond_duckduckgo,
    "wikimedia": respond_wikimedia,
    "openverse": respond_openverse,
}
"""Each engine's responder, by the engine's name."""


def _json(body: dict[str, Any]) -> Response:
    return Response(200, JSON, _compact(body).encode())


def _compact(data: Any) -> str:
    """JSON as these services send it: no spaces, non-ASCII as is."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _number(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _digest(text: str) -> str:
    """Stable pseudo-random hex (128 digits) for the ids and tokens real services attach to results."""
    return hashlib.sha512(text.encode()).hexdigest()


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value}


def _vqd(query: str) -> str:
    return "4-" + str(int(_digest(query)[:32], 16))


def _page_id(hit: ImageHit, index: int) -> int:
    """Unique per result, yet not in search order, as real page ids are not."""
    return int(_digest(hit.url)[:5], 16) * 1000 + index


def _file_title(hit: ImageHit, index: int) -> str:
    suffix = urlsplit(hit.url).path.rpartition(".")[2].lower()
    extension = suffix if suffix in ("jpg", "jpeg", "png", "gif", "webp") else "jpg"
    return f"File:{hit.title or f'Image {index}'}.{extension}"


def _mime(url: str) -> str:
    suffix = urlsplit(url).path.rpartition(".")[2].lower()
    return {"png": "image/png", "gif": "image/gif", "webp": "image/webp"}.get(suffix, "image/jpeg")
