"""The engine parsers against hand-written, real-shaped responses, and each engine walked through the fake engine."""

from __future__ import annotations

import dataclasses
import html
import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from collector.candidate import ImageHit
from collector.engines import (
    DEFAULT_ENGINE,
    ENGINES,
    EngineFormatError,
    Page,
    PageRequest,
    baidu,
    bing,
    duckduckgo,
    openverse,
    wikimedia,
)
from collector.engines.base import BROWSER_HEADERS, USER_AGENT
from collector.licenses import license_url
from tests.fake_engine.formats import RESPONDERS, obfuscate_url


@dataclasses.dataclass
class Catalogue:
    """The fake engine's catalogue protocol over a fixed list of hits."""

    results: list[ImageHit]
    changed: bool = False
    lawless: bool = False

    def hits(self, query: str) -> list[ImageHit]:
        return self.results

    def changed_format(self, query: str) -> bool:
        return self.changed

    def ignores_license_filter(self, query: str) -> bool:
        return self.lawless


def catalogue_of(count: int) -> list[ImageHit]:
    """Hits with every field set, and titles with the characters engines escape differently (& ' " and non-ASCII)."""
    return [
        ImageHit(
            url=f"https://img{i % 3}.example.org/foxes/{i}.jpg",
            thumbnail_url=f"https://thumbs.example.org/th?id=OIP.{i}&pid=15.1",
            source_page=f"https://blog.example.org/post/{i}?lang=en&ref='feed'",
            title=f'Red fox & "cub" in the snow, Fuchs süß №{i}',
            license="CC BY-SA 4.0",
            author=f"Jane O'Neil {i}",
            width=1200 + i,
            height=800,
        )
        for i in range(count)
    ]


CARRIES_LICENCE = {"wikimedia", "openverse"}


def as_carried(engine: str, hit: ImageHit) -> ImageHit:
    """What an engine's format can carry of a hit: only Commons and Openverse say who made it and under what licence
    (and link the licence's deed, Commons without the trailing slash)."""
    if engine in CARRIES_LICENCE:
        deed = license_url(hit.license)
        return dataclasses.replace(hit, license_url=deed.rstrip("/") if engine == "wikimedia" else deed)
    return dataclasses.replace(hit, license=None, author=None)


def walk(engine: str, catalogue: Catalogue, query: str = "red fox") -> tuple[list[ImageHit], list[PageRequest]]:
    """Every page of a query, the way the crawler walks it, through a real URL's encoding and decoding."""
    request: PageRequest | None = ENGINES[engine].first_request(query)
    hits: list[ImageHit] = []
    requests: list[PageRequest] = []
    while request is not None:
        requests.append(request)
        params = dict(parse_qsl(urlsplit(request.url("http://127.0.0.1:1")).query))
        response = RESPONDERS[engine](request.path, params, catalogue)
        assert response.status == 200, response
        page = ENGINES[engine].parse(response.body, request)
        hits += page.hits
        request = page.next
    return hits, requests


def m_attribute(**metadata: object) -> str:
    return html.escape(json.dumps(metadata, ensure_ascii=False))


# Bing

BING_FRAGMENT = f"""<div class="dg_b" role="main" data-pagewidth="0" data-clientwidth="0">
<div id="mmComponent_images_2" class="dgControl hover" data-nextUrl="/images/async?q=red+fox&amp;first=40&amp;count=35"
 data-iid="images.5531" data-layout="row"><ul data-row=0 class="dgControl_list " data-infullrow=1>
<li data-idx=36 style="width:270px; height: 180px"><div class="iuscp varh" data-evt="1"><div class="imgpt">
<a class="iusc" style="height:180px;width:270px" m="{m_attribute(
    cid="aX3kP0q", purl="https://www.nationalgeographic.com/animals/mammals/facts/red-fox",
    murl="https://i.natgeofe.com/n/red-fox.jpg", turl="https://tse2.mm.bing.net/th?id=OIP.aX3kP0q&pid=15.1",
    md5="697dc4a4", t="Red Fox &amp; <b>Kits</b> | National Geographic", mid="C1D2", desc="")}"
 onclick="sj_evt.fire('IFrame.Navigate', this.href); return false;"
 href="/images/search?view=detailV2&amp;ccid=aX3kP0q&amp;id=C1D2&amp;exph=2048&amp;expw=3072&amp;q=red+fox&amp;FORM=IRPRST"
 h="ID=images,5025.1"><div class="img_cont hoff"><img class="mimg" height="180" width="270"
 src="https://tse2.mm.bing.net/th?id=OIP.aX3kP0q&amp;w=270&amp;h=180&amp;c=7" alt="Image result for red fox"/></div></a>
<div class="img_info hon"><span class="nowrap">3072 x 2048 &#183; jpeg</span><div class="lnkw">
<a title="nationalgeographic.com" target="_blank" href="https://www.nationalgeographic.com/">nationalgeographic.com</a>
</div></div></div></div></li>
<li data-idx=37><div class="iuscp varh"><div class="imgpt"><a class="iusc" style="height:180px;width:240px"
 m="{{&quot;cid&quot;:&quot;broken&quot;,&quot;murl&quot;:&quot;https://example.org/cut"
 href="/images/search?view=detailV2"><div class="img_cont hoff">
<img class="mimg" src="https://tse1.mm.bing.net/th?id=OIP.broken"/></div></a></div></div></li>
<li data-idx=38><div class="iuscp varh"><div class="imgpt"><a class="iusc" style="height:180px;width:180px"
 m="{m_attribute(cid="inline", murl="data:image/png;base64,iVBORw0KGgo=", t="inline picture")}"
 href="/images/search?view=detailV2&amp;ccid=inline"></a></div></div></li>
</ul><ul data-row=1 class="dgControl_list ">
<li data-idx=39><div class="iuscp varh"><div class="imgpt"><a href="/images/search?view=detailV2" style="height:180px"
 m="{m_attribute(cid="q9", murl="http://upload.example.net/fox-in-snow.png", purl="ftp://mirror.example.net/fox")}"
 class="iusc"></a></div></div></li>
</ul></div></div>"""


def test_bing_reads_each_result_anchor_m_json_and_the_original_size_from_its_link() -> None:
    page = bing.parse(BING_FRAGMENT.encode(), PageRequest("/images/async", {"q": "red fox", "first": "36"}, 2))

    assert page.hits == [
        ImageHit(
            url="https://i.natgeofe.com/n/red-fox.jpg",
            thumbnail_url="https://tse2.mm.bing.net/th?id=OIP.aX3kP0q&pid=15.1",
            source_page="https://www.nationalgeographic.com/animals/mammals/facts/red-fox",
            title="Red Fox & Kits | National Geographic",
            width=3072,
            height=2048,
        ),
        ImageHit(url="http://upload.example.net/fox-in-snow.png"),
    ]


def test_bing_next_request_starts_after_every_anchor_received_malformed_ones_included() -> None:
    page = bing.parse(BING_FRAGMENT.encode(), bing.first_request("red fox"))

    assert page.next == PageRequest(
        "/images/async", {"q": "red fox", "first": "5", "count": "35", "mmasync": "1"}, 2, BROWSER_HEADERS
    )


def test_bing_fragment_without_result_anchors_is_the_end() -> None:
    body = b'<div class="dg_b" role="main"><div id="mmComponent_images_9" class="dgControl hover"></div></div>'

    assert bing.parse(body, bing.first_request("qwxzzy")) == Page([], None)


def test_bing_anchors_without_any_usable_m_attribute_are_a_format_error() -> None:
    body = f'<ul><li><a class="iusc" data-m="{m_attribute(mediaurl="https://x.org/a.jpg")}"></a></li></ul>'

    with pytest.raises(EngineFormatError, match="'murl', got HTML page starting '<ul><li><a class"):
        bing.parse(body.encode(), bing.first_request("red fox"))


# Baidu

# A result from a real acjson response, saved in the public repository luhaoaimama1/ZAutoTurnPage
# (MeiZiData.java): objURL and fromURL decode to the original its replaceUrl names.
REAL_OBJ_URL = (
    "ippr_z2C$qAzdH3FAzdH3Fv_z&e3Bitri5p5f_z&e3Bkwt17_z&e3Bv54AzdH3FkwthjAzdH3Ff%nDddaAzdH3Fft2g=9baj0nw9u81nc0dvmdjdl"
    "k1jkw8dmncdAzdH3Fdln9n9lkannkckkcbknca9knnc1n1cnlk0aakvlb_z&e3B3r2"
)
REAL_IMAGE = (
    "http://c.hiphotos.baidu.com/baike/s%3D220/sign=480e73a4f1d3572c62e29bdeba126352/"
    "2934349b033b5bb58b3504b335d3d539b700bc98.jpg"
)
REAL_FROM_URL = (
    "ippr_z2C$qAzdH3FAzdH3Fkwthj_z&e3Bkwt17_z&e3Bv54AzdH3Ff7ketjoAzdH3F8a9cnlAzdH3F8d8a0ald_z&e3Bip4?u6=wsw11tg"
)
REAL_PAGE = "http://baike.baidu.com/subview/104539/12107092.htm?fr=aladdin"


def test_baidu_decodes_a_real_obfuscated_obj_url_and_from_url() -> None:
    assert baidu.decode_url(REAL_OBJ_URL) == REAL_IMAGE
    assert baidu.decode_url(REAL_FROM_URL) == REAL_PAGE
    assert baidu.decode_url("ippr_z2C$qAzdH3FAzdH3Fooo_z&e3Bktstktst_z&e3Bv54AzdH3Fet1j5AzdH3Fwecaa8lbm") == (
        "http://www.bilibili.com/video/av5001986"
    )


@pytest.mark.parametrize("url", [
    REAL_IMAGE, REAL_PAGE, "https://127.0.0.1:8123/img/red%20fox/17.jpg?thumb=1&x=y_z",
    "https://EXAMPLE.org/Über/ä-ö_ü.JPEG#frag", "http://xyz.example/~user/a+b;c=d",
])
def test_fake_engine_obfuscation_is_the_exact_inverse_of_the_decoder(url: str) -> None:
    assert baidu.decode_url(obfuscate_url(url)) == url


BAIDU_CLASSIC = r"""{"queryEnc":"red+fox","queryExt":"red fox","listNum":1738,"displayNum":52099,"gsm":"1e",
"bdFmtDispNum":"约52,000","bdSearchTime":"","isNeedAsyncRequest":0,"bdIsClustered":"1","data":[
{"adType":"0","hasAspData":"0",
"thumbURL":"https:\/\/img1.baidu.com\/it\/u=3720282129,530287169&fm=253&fmt=auto?w=220&h=177",
"middleURL":"https:\/\/img1.baidu.com\/it\/u=3720282129,530287169&fm=253&fmt=auto?w=440&h=354","largeTnImageUrl":"",
"hasLarge":0,"hoverURL":"","pageNum":0,"objURL":"OBJ","fromURL":"FROM","fromURLHost":"baike.baidu.com","width":220,
"height":177,"type":"jpg","is_gif":0,"replaceUrl":[{"ObjURL":"http:\/\/img4.imgtn.bdimg.com\/it\/u=3720282129&fm=214",
"ObjUrl":"http:\/\/img4.imgtn.bdimg.com\/it\/u=3720282129&fm=214","FromURL":"http:\/\/baike.baidu.com\/x",
"FromUrl":"http:\/\/baike.baidu.com\/x"}],"bdImgnewsDate":"2014-12-11 19:23",
"fromPageTitle":"The <strong>red fox<\/strong>\'s den","fromPageTitleEnc":"The red fox\'s den",
"cs":"3720282129,530287169"},
{"thumbURL":"https:\/\/img2.baidu.com\/it\/u=1,2&fm=253?w=200&h=150","middleURL":"","objURL":"",
"replaceUrl":[{"ObjURL":"https:\/\/cdn.example.cn\/fox\/original.jpg","FromURL":"https:\/\/example.cn\/fox"}],
"fromPageTitle":"<strong>red fox<\/strong> 赤狐","width":"1600","height":"1200"},
{"thumbURL":"https:\/\/img3.baidu.com\/it\/u=3,4&fm=253?w=200&h=150",
"middleURL":"https:\/\/img3.baidu.com\/it\/u=3,4&fm=253?w=400&h=300","objURL":"","fromURL":"","width":0,"height":0},
{"thumbURL":"https:\/\/img5.baidu.com\/it\/u=5,6&fm=253?w=200&h=150","objURL":"","fromURL":""},
{"thumbURL":"","middleURL":"","objURL":"javascript:void(0)","fromPageTitle":"an advert"},
"not an item",
{}]}""".replace("OBJ", REAL_OBJ_URL).replace("FROM", REAL_FROM_URL)


def test_baidu_classic_page_yields_the_largest_image_each_item_offers_skipping_unusable_ones() -> None:
    page = baidu.parse(BAIDU_CLASSIC.encode(), baidu.first_request("red fox"))

    assert page.hits == [
        ImageHit(
            url=REAL_IMAGE,
            thumbnail_url="https://img1.baidu.com/it/u=3720282129,530287169&fm=253&fmt=auto?w=220&h=177",
            source_page=REAL_PAGE, title="The red fox's den", width=220, height=177,
        ),
        ImageHit(
            url="https://cdn.example.cn/fox/original.jpg",
            thumbnail_url="https://img2.baidu.com/it/u=1,2&fm=253?w=200&h=150",
            source_page="https://example.cn/fox", title="red fox 赤狐", width=1600, height=1200,
        ),
        ImageHit(
            url="https://img3.baidu.com/it/u=3,4&fm=253?w=400&h=300",
            thumbnail_url="https://img3.baidu.com/it/u=3,4&fm=253?w=200&h=150",
        ),
        ImageHit(
            url="https://img5.baidu.com/it/u=5,6&fm=253?w=200&h=150",
            thumbnail_url="https://img5.baidu.com/it/u=5,6&fm=253?w=200&h=150",
        ),
    ]


def test_baidu_next_request_advances_pn_by_rn_with_the_same_query() -> None:
    page = baidu.parse(BAIDU_CLASSIC.encode(), baidu.first_request("red fox"))

    assert page.next is not None and page.next.page == 2
    assert page.next.path == "/search/acjson"
    assert {k: page.next.params[k] for k in ("tn", "word", "queryWord", "pn", "rn")} == {
        "tn": "resultjson_com", "word": "red fox", "queryWord": "red fox", "pn": "30", "rn": "30",
    }


def test_baidu_classic_page_reaching_list_num_is_the_last() -> None:
    body = BAIDU_CLASSIC.replace('"listNum":1738', '"listNum":45')
    request = baidu.parse(BAIDU_CLASSIC.encode(), baidu.first_request("red fox")).next

    assert baidu.parse(body.encode(), request).next is None


def test_baidu_newer_data_images_form_is_read_and_paged() -> None:
    body = json.dumps({"status": 0, "message": "success", "data": {"images": [
        {"pid": 30, "thumburl": "https://img0.baidu.com/it/u=9,9&fm=253?w=200&h=133",
         "objurl": "https://upload.example.org/red-fox.jpg", "fromurl": "https://example.org/wildlife/red-fox",
         "title": "The <em>red fox</em> at dawn", "width": 1800, "height": 1200},
        {"pid": 31, "thumburl": "", "objurl": "", "title": "nothing to fetch"},
    ]}})
    request = PageRequest("/search/acjson", {**baidu.first_request("red fox").params, "pn": "30"}, 2)

    page = baidu.parse(body.encode(), request)

    assert page.hits == [ImageHit(
        url="https://upload.example.org/red-fox.jpg",
        thumbnail_url="https://img0.baidu.com/it/u=9,9&fm=253?w=200&h=133",
        source_page="https://example.org/wildlife/red-fox", title="The red fox at dawn", width=1800, height=1200,
    )]
    assert page.next is not None and (page.next.params["pn"], page.next.page) == ("60", 3)


@pytest.mark.parametrize("body", [
    '{"queryEnc":"qwxzzy","listNum":0,"displayNum":0,"data":[{}]}',
    '{"status":0,"message":"success","data":{"images":[]}}',
])
def test_baidu_empty_result_is_an_empty_last_page(body: str) -> None:
    assert baidu.parse(body.encode(), baidu.first_request("qwxzzy")) == Page([], None)


@pytest.mark.parametrize(("body", "message"), [
    ('{"antiFlag":1,"message":"Forbid spider access","bfe_log_id":"1"}', "Forbid spider access"),
    ("<!DOCTYPE html><html><head><title>百度安全验证</title></head><body></body></html>",
     "got HTML page starting '<!DOCTYPE html><html><head><title>百度安全验证</title>"),
    ('{"result":{"list":[]},"status":0}', "got JSON object with keys 'result', 'status'"),
])
def test_baidu_block_page_or_changed_format_is_a_format_error(body: str, message: str) -> None:
    with pytest.raises(EngineFormatError, match=message):
        baidu.parse(body.encode(), baidu.first_request("red fox"))


# DuckDuckGo

VQD = "4-123456789012345678901234567890123456"


@pytest.mark.parametrize("script", [
    f"DDG.deep.initialize('/d.js?q=red+fox&l=us-en&s=0&ct=US&vqd={VQD}&p_ent=&ex=-1', false);",
    f'DDG.page.load({{query: "red fox"}});window.vqd="{VQD}";',
    f"var vqd='{VQD}', safe = 1;",
])
def test_duckduckgo_token_page_leads_to_i_js_with_its_vqd(script: str) -> None:
    body = f'<!DOCTYPE html><html><head><title>red fox at DuckDuckGo</title></head><body><script>{script}</script>'

    page = duckduckgo.parse(body.encode(), duckduckgo.first_request("red fox"))

    assert page == Page([], PageRequest(
        "/i.js", {"l": "us-en", "o": "json", "q": "red fox", "vqd": VQD, "f": ",,,,,", "p": "1"}, 1,
        {**BROWSER_HEADERS, "Referer": "https://duckduckgo.com/"},
    ))


def test_duckduckgo_token_page_without_vqd_is_a_format_error() -> None:
    body = b"<!DOCTYPE html><html><head><title>DuckDuckGo</title></head><body>Unusual traffic</body></html>"

    with pytest.raises(EngineFormatError, match="vqd token, got HTML page"):
        duckduckgo.parse(body, duckduckgo.first_request("red fox"))


def i_js_request(**params: str) -> PageRequest:
    token = duckduckgo.parse(f'vqd="{VQD}"'.encode(), duckduckgo.first_request("red fox")).next
    assert token is not None
    return dataclasses.replace(token, params={**token.params, **params})


DUCKDUCKGO_RESULTS = {
    "ads": None,
    "next": f"i.js?q=red%20fox&o=json&p=1&s=100&u=bing&f=,,,,,&l=us-en&vqd={VQD}",
    "query": "red fox", "queryEncoded": "red%20fox", "response_type": "images",
    "results": [
        {"height": 1365, "image": "https://upload.example.org/fox.jpg", "image_token": "a1", "source": "Bing",
         "thumbnail": "https://tse4.mm.bing.net/th?id=OIP.x1&pid=Api", "thumbnail_token": "b1",
         "title": "Red fox &amp; kits - Wildlife", "url": "https://example.org/foxes", "width": 2048},
        {"height": 0, "image": "//cdn.example.org/relative.jpg", "source": "Bing", "thumbnail": "", "title": "x",
         "url": "", "width": 0},
        "not a result",
        {"height": "", "image": "http://photos.example.net/f.png", "source": "Bing", "thumbnail": None, "title": "",
         "url": "https://photos.example.net/", "width": None},
    ],
    "vqd": {"red fox": VQD},
}


def test_duckduckgo_i_js_results_are_read_and_next_keeps_the_vqd() -> None:
    request = i_js_request()

    page = duckduckgo.parse(json.dumps(DUCKDUCKGO_RESULTS).encode(), request)

    assert page.hits == [
        ImageHit(url="https://upload.example.org/fox.jpg",
                 thumbnail_url="https://tse4.mm.bing.net/th?id=OIP.x1&pid=Api", source_page="https://example.org/foxes",
                 title="Red fox & kits - Wildlife", width=2048, height=1365),
        ImageHit(url="http://photos.example.net/f.png", source_page="https://photos.example.net/"),
    ]
    assert page.next is not None
    assert (page.next.path, page.next.page, page.next.headers) == ("/i.js", 2, request.headers)
    assert {k: page.next.params[k] for k in ("q", "s", "vqd", "o", "l")} == {
        "q": "red fox", "s": "100", "vqd": VQD, "o": "json", "l": "us-en",
    }


def test_duckduckgo_answer_without_next_is_the_last_page() -> None:
    body = {key: value for key, value in DUCKDUCKGO_RESULTS.items() if key != "next"}

    assert duckduckgo.parse(json.dumps(body).encode(), i_js_request(s="100")).next is None


def test_duckduckgo_empty_results_are_an_empty_last_page() -> None:
    body = {**DUCKDUCKGO_RESULTS, "results": []}

    assert duckduckgo.parse(json.dumps(body).encode(), i_js_request()) == Page([], None)


def test_duckduckgo_html_where_json_was_expected_is_a_format_error() -> None:
    body = b"<!DOCTYPE html><html><head><title>DuckDuckGo - Protection. Privacy. Peace of mind.</title>"

    with pytest.raises(EngineFormatError, match="expected i.js JSON with 'results', got HTML page starting"):
        duckduckgo.parse(body, i_js_request())


# Wikimedia Commons

def commons_page(index: int, name: str, mime: str, **info: object) -> dict:
    page_id = 90000 - index * 37
    return {"pageid": page_id, "ns": 6, "title": f"File:{name}", "index": index, "imagerepository": "local",
            "imageinfo": [{"url": f"https://upload.wikimedia.org/wikipedia/commons/a/ab/{name}",
                           "descriptionurl": f"https://commons.wikimedia.org/wiki/File:{name}", "mime": mime,
                           "width": 4000, "height": 3000, **info}]}


ARTIST_WITH_WIKIDATA_LINK = (
    '<bdi><a href="https://www.wikidata.org/wiki/Q1" class="mw-redirect">Ana Pérez</a>\n</bdi><br>(own work)'
)
ARTIST_WITH_USER_LINK = '<a href="//commons.wikimedia.org/wiki/User:Fox" title="User:Fox">Fox</a>'
COMMONS = {
    "batchcomplete": "",
    "continue": {"gsroffset": 50, "continue": "gsroffset||"},
    "query": {"pages": {str(page["pageid"]): page for page in [
        commons_page(3, "Vulpes vulpes in snow.png", "image/png", thumburl="https://upload.wikimedia.org/thumb/f.png",
                     extmetadata={"Artist": {"value": ARTIST_WITH_WIKIDATA_LINK, "source": "commons-desc-page"},
                                  "LicenseShortName": {"value": "CC BY 2.0", "source": "commons-desc-page"}}),
        commons_page(1, "Red fox range map.svg", "image/svg+xml"),
        commons_page(4, "Fox scan.tif", "image/tiff"),
        commons_page(2, "Red Fox (Vulpes vulpes) (1).jpg", "image/jpeg",
                     extmetadata={"ObjectName": {"value": "Red Fox &amp; Kit", "source": "mediawiki-metadata"},
                                  "LicenseShortName": {"value": "CC BY-SA 4.0"},
                                  "Artist": {"value": ARTIST_WITH_USER_LINK}}),
        {"pageid": 12, "ns": 6, "title": "File:Missing.jpg", "index": 5, "missing": ""},
        commons_page(6, "Fox call.webm", "video/webm"),
        commons_page(7, "Fox.webp", "image/webp", width=0, height=0),
    ]}},
}


def test_wikimedia_keeps_raster_files_in_search_order_with_licence_and_artist_as_text() -> None:
    page = wikimedia.parse(json.dumps(COMMONS).encode(), wikimedia.first_request("red fox"))

    base = "https://upload.wikimedia.org/wikipedia/commons/a/ab/"
    assert page.hits == [
        ImageHit(url=base + "Red Fox (Vulpes vulpes) (1).jpg",
                 source_page="https://commons.wikimedia.org/wiki/File:Red Fox (Vulpes vulpes) (1).jpg",
                 title="Red Fox & Kit", license="CC BY-SA 4.0", author="Fox", width=4000, height=3000),
        ImageHit(url=base + "Vulpes vulpes in snow.png", thumbnail_url="https://upload.wikimedia.org/thumb/f.png",
                 source_page="https://commons.wikimedia.org/wiki/File:Vulpes vulpes in snow.png",
                 title="Vulpes vulpes in snow", license="CC BY 2.0", author="Ana Pérez (own work)", width=4000,
                 height=3000),
        ImageHit(url=base + "Fox.webp", source_page="https://commons.wikimedia.org/wiki/File:Fox.webp", title="Fox"),
    ]


def test_wikimedia_continue_parameters_are_merged_into_the_next_request() -> None:
    request = wikimedia.first_request("red fox")

    page = wikimedia.parse(json.dumps(COMMONS).encode(), request)

    assert page.next == PageRequest(
        "/w/api.php", {**request.params, "gsroffset": "50", "continue": "gsroffset||"}, 2,
        {"User-Agent": USER_AGENT},
    )


def test_wikimedia_answer_without_continue_is_the_last_page() -> None:
    body = {key: value for key, value in COMMONS.items() if key != "continue"}

    assert wikimedia.parse(json.dumps(body).encode(), wikimedia.first_request("red fox")).next is None


def test_wikimedia_batchcomplete_without_query_is_an_empty_last_page() -> None:
    assert wikimedia.parse(b'{"batchcomplete":""}', wikimedia.first_request("qwxzzy")) == Page([], None)


@pytest.mark.parametrize("body", [
    '{"batchcomplete":"","query":{"searchinfo":{"totalhits":0}}}',
    ('{"batchcomplete":"","query":{"searchinfo":{"totalhits":0,"suggestion":"red box",'
     '"suggestionsnippet":"red <em>box</em>"}}}'),
])
def test_wikimedia_search_without_hits_is_an_empty_last_page(body: str) -> None:
    assert wikimedia.parse(body.encode(), wikimedia.first_request("red foxx")) == Page([], None)


@pytest.mark.parametrize(("body", "message"), [
    (('{"error":{"code":"maxlag","info":"Waiting for 10.64.48.23: 5 seconds lagged.","*":"See api.php"},'
      '"servedby":"mw1234"}'), "MediaWiki error maxlag: Waiting for 10.64.48.23: 5 seconds lagged."),
    ('{"batchcomplete":"","query":{"searchinfo":{"totalhits":3},"search":[{"ns":6,"title":"File:Fox.jpg"}]}}',
     "expected MediaWiki JSON with 'query.pages', got JSON object with keys 'batchcomplete', 'query'"),
    ("<!DOCTYPE html><html><head><title>Wikimedia Error</title>", "got HTML page starting '<!DOCTYPE html>"),
])
def test_wikimedia_api_error_or_unknown_shape_is_a_format_error(body: str, message: str) -> None:
    with pytest.raises(EngineFormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        wikimedia.parse(body.encode(), wikimedia.first_request("red fox"))


# Openverse

def openverse_result(**fields: object) -> dict:
    return {"id": "4bc43a04-ef46-4544-a0c1-63c63f56e276", "title": "Red Fox", "indexed_on": "2020-04-07T03:11:39Z",
            "foreign_landing_url": "https://www.flickr.com/photos/9416923@N06/5421337425",
            "url": "https://live.staticflickr.com/5055/5421337425_1dd36b6bb0_b.jpg", "creator": "Peter G Trimming",
            "creator_url": "https://www.flickr.com/photos/9416923@N06", "license": "by", "license_version": "2.0",
            "license_url": "https://creativecommons.org/licenses/by/2.0/", "provider": "flickr", "source": "flickr",
            "category": None, "filesize": None, "filetype": None, "tags": [], "mature": False, "height": 683,
            "width": 1024, "thumbnail": "https://api.openverse.org/v1/images/4bc43a04/thumb/", **fields}


OPENVERSE = {"result_count": 9, "page_count": 3, "page_size": 20, "page": 1, "results": [
    openverse_result(),
    openverse_result(url="https://upload.example.org/cc0.png", title="<em>Fox</em> kit", creator=None,
                     license="cc0", license_version="1.0", width=None, height=None, thumbnail=None,
                     license_url="https://creativecommons.org/publicdomain/zero/1.0/"),
    openverse_result(url=None),
    openverse_result(url="https://upload.example.org/pdm.jpg", license="pdm", license_version="1.0", title=None,
                     license_url="https://creativecommons.org/publicdomain/mark/1.0/"),
]}


def test_openverse_results_carry_licence_creator_and_size() -> None:
    page = openverse.parse(json.dumps(OPENVERSE).encode(), openverse.first_request("red fox"))

    landing = "https://www.flickr.com/photos/9416923@N06/5421337425"
    assert page.hits == [
        ImageHit(url="https://live.staticflickr.com/5055/5421337425_1dd36b6bb0_b.jpg",
                 thumbnail_url="https://api.openverse.org/v1/images/4bc43a04/thumb/", source_page=landing,
                 title="Red Fox", license="CC BY 2.0", license_url="https://creativecommons.org/licenses/by/2.0/",
                 author="Peter G Trimming", width=1024, height=683),
        ImageHit(url="https://upload.example.org/cc0.png", source_page=landing, title="Fox kit", license="CC0 1.0",
                 license_url="https://creativecommons.org/publicdomain/zero/1.0/"),
        ImageHit(url="https://upload.example.org/pdm.jpg",
                 thumbnail_url="https://api.openverse.org/v1/images/4bc43a04/thumb/", source_page=landing,
                 license="Public Domain Mark 1.0", license_url="https://creativecommons.org/publicdomain/mark/1.0/",
                 author="Peter G Trimming", width=1024, height=683),
    ]


@pytest.mark.parametrize(("code", "version", "name"), [
    ("by", "4.0", "CC BY 4.0"), ("by-nc-sa", "2.0", "CC BY-NC-SA 2.0"), ("cc0", "1.0", "CC0 1.0"),
    ("pdm", "1.0", "Public Domain Mark 1.0"), ("by-sa", None, "CC BY-SA"), ("", "1.0", None), (None, None, None),
])
def test_openverse_licence_codes_are_named_as_people_write_them(code: str | None, version: str | None,
                                                                 name: str | None) -> None:
    assert openverse.license_name(code, version) == name


def test_openverse_next_request_asks_for_the_following_page_until_page_count() -> None:
    first = openverse.parse(json.dumps(OPENVERSE).encode(), openverse.first_request("red fox"))
    last = openverse.parse(json.dumps({**OPENVERSE, "page": 3}).encode(),
                           PageRequest("/v1/images/", {"q": "red fox", "page": "3", "page_size": "20"}, 3))

    assert first.next == PageRequest("/v1/images/", {"q": "red fox", "page": "2", "page_size": "20"}, 2)
    assert last.next is None


def test_openverse_empty_result_is_an_empty_last_page() -> None:
    body = b'{"result_count":0,"page_count":0,"page_size":20,"page":1,"results":[],"warnings":[]}'

    assert openverse.parse(body, openverse.first_request("qwxzzy")) == Page([], None)


def test_openverse_error_answer_is_a_format_error() -> None:
    with pytest.raises(EngineFormatError, match="got JSON object with keys 'detail'"):
        openverse.parse(b'{"detail":"Invalid page."}', openverse.first_request("red fox"))


# All engines, end to end through the fake engine's renderers

def test_engines_are_registered_in_order_with_a_renderer_each() -> None:
    assert list(ENGINES) == ["bing", "baidu", "duckduckgo", "wikimedia", "openverse"]
    assert all(engine.name == name for name, engine in ENGINES.items())
    assert DEFAULT_ENGINE == "bing"
    assert list(RESPONDERS) == list(ENGINES)


@pytest.mark.parametrize(("engine", "path", "params"), [
    ("bing", "/images/async", {"q": "red fox", "first": "1", "count": "35", "mmasync": "1"}),
    ("baidu", "/search/acjson", {"tn": "resultjson_com", "ipn": "rj", "word": "red fox", "queryWord": "red fox",
                                 "pn": "0", "rn": "30", "ie": "utf-8", "oe": "utf-8"}),
    ("duckduckgo", "/", {"q": "red fox", "iax": "images", "ia": "images"}),
    ("wikimedia", "/w/api.php", {"action": "query", "format": "json", "generator": "search", "gsrsearch": "red fox",
                                 "gsrnamespace": "6", "gsrlimit": "50", "prop": "imageinfo",
                                 "iiprop": "url|size|mime|extmetadata"}),
    ("openverse", "/v1/images/", {"q": "red fox", "page": "1", "page_size": "20"}),
])
def test_first_request_uses_the_services_path_and_parameters(engine: str, path: str, params: dict[str, str]) -> None:
    request = ENGINES[engine].first_request("red fox")

    assert request.path == path
    assert params.items() <= request.params.items()
    assert request.page == (0 if engine == "duckduckgo" else 1)


@pytest.mark.parametrize("count", [0, 75, 250])
@pytest.mark.parametrize("engine", list(ENGINES))
def test_every_hit_comes_back_once_in_order_across_all_pages(engine: str, count: int) -> None:
    catalogue = catalogue_of(count)

    hits, requests = walk(engine, Catalogue(catalogue))

    assert hits == [as_carried(engine, hit) for hit in catalogue]
    assert [r.page for r in requests] == list(range(requests[0].page, requests[0].page + len(requests)))


@pytest.mark.parametrize("engine", list(ENGINES))
def test_changed_format_from_the_fake_engine_is_a_format_error(engine: str) -> None:
    with pytest.raises(EngineFormatError):
        walk(engine, Catalogue(catalogue_of(5), changed=True))


@pytest.mark.parametrize("engine", list(ENGINES))
def test_fake_engine_answers_404_to_a_path_the_service_does_not_have(engine: str) -> None:
    assert RESPONDERS[engine]("/nope", {"q": "red fox"}, Catalogue(catalogue_of(3))).status == 404


def test_fake_baidu_answers_the_classic_form_first_then_the_newer_one() -> None:
    catalogue = Catalogue(catalogue_of(40))
    first = RESPONDERS["baidu"]("/search/acjson", {"word": "red fox", "pn": "0", "rn": "30"}, catalogue).body
    second = RESPONDERS["baidu"]("/search/acjson", {"word": "red fox", "pn": "30", "rn": "30"}, catalogue).body

    assert b"\\'" in first and b'"objURL":"ipprf_z2C$qAzdH3FAzdH3F' in first and first.endswith(b"{}]}")
    assert b'"data":{"images":[' in second
