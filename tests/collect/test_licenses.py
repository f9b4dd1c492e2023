"""`--license`: the vocabulary, each engine's own filter in its request, and the check on every result."""

from __future__ import annotations

from collections import Counter

import pytest

from collector.candidate import Candidate, ImageHit
from collector.crawl import CollectError
from collector.engines import ENGINES, bing, duckduckgo, wikimedia
from collector.licenses import CODES, LicenseError, LicenseFilter, codes_of, label, license_url
from collector.manifest import Manifest
from tests.collect.helpers import collect_from, manifest_rows
from tests.fake_engine.server import LICENSES

COMMERCIAL = frozenset({"cc0", "pdm", "by", "by-sa", "by-nd"})


@pytest.mark.parametrize(("spec", "codes"), [
    ("any", None),
    ("ANY", None),
    ("cc", frozenset(CODES)),
    ("commercial", COMMERCIAL),
    ("modification", frozenset({"cc0", "pdm", "by", "by-sa", "by-nc", "by-nc-sa"})),
    ("commercial,modification", frozenset({"cc0", "pdm", "by", "by-sa"})),
    ("cc0, by,by-sa", frozenset({"cc0", "by", "by-sa"})),
    ("by,by-nc,commercial", frozenset({"by"})),
])
def test_license_spec_names_the_accepted_codes(spec: str, codes: frozenset[str] | None) -> None:
    assert LicenseFilter.parse(spec).codes == codes


@pytest.mark.parametrize(("spec", "message"), [
    ("cc-by", "unknown licence 'cc-by'"),
    ("any,cc", "unknown licence 'any'"),
    ("", "unknown licence ''"),
    ("by-nc,commercial", "no licence satisfies 'by-nc,commercial'"),
])
def test_license_spec_outside_the_vocabulary_is_refused_with_the_choices(spec: str, message: str) -> None:
    with pytest.raises(LicenseError, match=message) as error:
        LicenseFilter.parse(spec)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(("text", "codes"), [
    ("CC BY-SA 4.0", {"by-sa"}),
    ("cc-by-sa-4.0", {"by-sa"}),
    ("CC BY 2.0 DE", {"by"}),
    ("CC BY-NC-ND 3.0", {"by-nc-nd"}),
    ("CC0", {"cc0"}),
    ("CC0 1.0", {"cc0"}),
    ("Public domain", {"pdm"}),
    ("Public Domain Mark 1.0", {"pdm"}),
    ("PD-old-100", {"pdm"}),
    ("CC BY or CC BY-SA (Bing licence filter)", {"by", "by-sa"}),
    ("GFDL", set()),
    ("Attribution", set()),
    ("CC BY or GFDL", set()),
    (None, None),
    ("  ", None),
])
def test_licence_texts_engines_write_map_to_codes(text: str | None, codes: set[str] | None) -> None:
    assert codes_of(text) == (None if codes is None else frozenset(codes))


def test_unknown_licence_is_kept_only_under_any_and_a_set_only_when_all_of_it_is_accepted() -> None:
    commercial = LicenseFilter.parse("commercial")
    assert LicenseFilter.parse("any").admits(None)
    assert not commercial.admits(None) and not commercial.admits("GFDL")
    assert commercial.admits("CC BY-ND 2.0") and not commercial.admits("CC BY-NC 4.0")
    assert commercial.admits("CC BY or CC BY-SA (Bing licence filter)")
    assert not commercial.admits("CC BY or CC BY-NC (Bing licence filter)")


@pytest.mark.parametrize(("text", "url"), [
    ("CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0/"),
    ("CC BY 2.0 DE", "https://creativecommons.org/licenses/by/2.0/"),
    ("CC0 1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
    ("Public Domain Mark 1.0", "https://creativecommons.org/publicdomain/mark/1.0/"),
    ("Public domain", None),
    ("CC BY", None),
    ("CC BY or CC BY-SA (Bing licence filter)", None),
    ("GFDL", None),
])
def test_licence_url_only_for_one_versioned_creative_commons_licence(text: str, url: str | None) -> None:
    assert license_url(text) == url


def test_label_lists_codes_in_the_vocabulary_order() -> None:
    assert label(frozenset({"by-sa", "cc0", "by"})) == "CC0 or CC BY or CC BY-SA"


@pytest.mark.parametrize(("engine", "accepted", "sent"), [
    ("bing", COMMERCIAL, ("qft", "+filterui:license-L2_L3_L4")),
    ("bing", frozenset({"cc0", "pdm"}), ("qft", "+filterui:license-L1")),
    ("bing", frozenset(CODES), ("qft", "+filterui:licenseType-Any")),
    ("duckduckgo", COMMERCIAL, ("iaf", "license:ShareCommercially")),
    ("duckduckgo", frozenset({"by", "by-sa", "by-nc", "by-nc-sa"}), ("iaf", "license:Modify")),
    ("wikimedia", COMMERCIAL, ("gsrsearch", "red fox haslicense:unrestricted|attribution|attribution-same-license")),
    ("wikimedia", frozenset({"by-sa", "by-nc"}), ("gsrsearch", "red fox haslicense:attribution-same-license")),
    ("openverse", COMMERCIAL, ("license", "cc0,pdm,by,by-sa,by-nd")),
])
def test_each_engine_asks_its_service_for_the_licences_in_its_own_parameter(
    engine: str, accepted: frozenset[str], sent: tuple[str, str]
) -> None:
    request = ENGINES[engine].first_request("red fox", accepted)

    assert request is not None
    name, value = sent
    assert request.params[name] == value


@pytest.mark.parametrize(("engine", "accepted"), [
    ("baidu", frozenset(CODES)),
    ("bing", frozenset({"by-sa"})),
    ("duckduckgo", frozenset({"by-nd", "cc0"})),
    ("wikimedia", frozenset({"by-nc", "by-nd"})),
])
def test_an_engine_that_cannot_search_within_the_licences_says_so(engine: str, accepted: frozenset[str]) -> None:
    assert ENGINES[engine].first_request("red fox", accepted) is None


def test_bing_and_duckduckgo_keep_their_licence_filter_on_every_following_page() -> None:
    request = bing.first_request("red fox", COMMERCIAL)
    anchor = '<a class="iusc" m="{&quot;murl&quot;:&quot;https://example.org/a.jpg&quot;}" href="/x"></a>'
    page = bing.parse(anchor.encode(), request)
    assert page.next is not None and page.next.params["qft"] == "+filterui:license-L2_L3_L4"
    assert page.hits == [ImageHit(url="https://example.org/a.jpg",
                                  license="CC BY or CC BY-SA or CC BY-ND (Bing licence filter)")]

    token = duckduckgo.parse(b'vqd="4-123"', duckduckgo.first_request("red fox", COMMERCIAL)).next
    assert token is not None and token.params["f"] == ",,,,,license:ShareCommercially"
    body = b'{"results":[{"image":"https://example.org/b.jpg"}],"next":"i.js?q=red+fox&s=100&f=,,,,,&vqd=4-123"}'
    page = duckduckgo.parse(body, token)
    assert page.next is not None and page.next.params["f"] == ",,,,,license:ShareCommercially"
    assert page.hits[0].license == "CC BY or CC BY-SA or CC BY-ND (DuckDuckGo licence filter)"


def test_commons_reads_the_licence_url_its_extmetadata_gives() -> None:
    body = (b'{"batchcomplete":"","query":{"pages":{"7":{"pageid":7,"ns":6,"title":"File:Fox.jpg","index":1,'
            b'"imageinfo":[{"url":"https://upload.wikimedia.org/a/ab/Fox.jpg","mime":"image/jpeg",'
            b'"descriptionurl":"https://commons.wikimedia.org/wiki/File:Fox.jpg","extmetadata":{'
            b'"LicenseShortName":{"value":"CC BY-SA 3.0","source":"commons-desc-page","hidden":""},'
            b'"LicenseUrl":{"value":"https://creativecommons.org/licenses/by-sa/3.0","source":"commons-desc-page",'
            b'"hidden":""}}}]}}}}')

    [hit] = wikimedia.parse(body, wikimedia.first_request("fox")).hits

    assert (hit.license, hit.license_url) == ("CC BY-SA 3.0", "https://creativecommons.org/licenses/by-sa/3.0")


def stated_licence(url: str) -> str | None:
    """The licence the fake engine's catalogue gives image N of a query (".../img/cat/N.jpg")."""
    return LICENSES[int(url.rsplit("/", 1)[1].split(".")[0]) % len(LICENSES)]


FILTER_PARAMETER = {
    "bing": ("/bing/images/async", "qft", "filterui:license-L2_L3_L4"),
    "duckduckgo": ("/duckduckgo/i.js", "f", "license:ShareCommercially"),
    "wikimedia": ("/wikimedia/w/api.php", "gsrsearch", "haslicense:unrestricted|attribution|attribution-same-license"),
    "openverse": ("/openverse/v1/images/", "license", "cc0,pdm,by,by-sa,by-nd"),
}
"""Where each service reads its licence filter: the request path, the parameter, what it must hold."""


@pytest.mark.parametrize(("engine", "recorded"), [
    ("bing", {"CC BY or CC BY-SA or CC BY-ND (Bing licence filter)"}),
    ("duckduckgo", {"CC BY or CC BY-SA or CC BY-ND (DuckDuckGo licence filter)"}),
    ("wikimedia", {"CC BY 4.0", "CC BY-SA 4.0", "CC0 1.0"}),
    ("openverse", {"CC BY 4.0", "CC BY-SA 4.0", "CC0 1.0", "CC BY-ND 2.0"}),
])
def test_licence_filter_is_pushed_down_and_only_images_within_it_are_saved(fake, tmp_path, engine, recorded):
    summary = collect_from(fake, tmp_path, ["cat"], engines=(engine,), license="commercial")

    path, parameter, value = FILTER_PARAMETER[engine]
    requests = fake.fake.request_params[path]
    assert requests and all(value in params.get(parameter, "") for params in requests)
    saved = [r for r in manifest_rows(tmp_path) if r["status"] == "saved"]
    assert saved and {r["license"] for r in saved} == recorded
    assert all(codes_of(stated_licence(r["url"])) <= COMMERCIAL for r in saved)
    assert summary.license == "commercial" and not summary.license_dropped


@pytest.mark.parametrize("engine", ["wikimedia", "openverse"])
def test_results_a_service_returns_outside_the_filter_are_dropped_and_counted(fake, tmp_path, engine):
    summary = collect_from(fake, tmp_path, ["cat"], queries=["cat=lawless cat"], engines=(engine,),
                           license="commercial")

    hits = fake.fake.hits("lawless cat")
    outside = [hit for hit in hits if not LicenseFilter.parse("commercial").admits(hit.license)]
    assert len(outside) == 7  # NC, unknown, and the two aliases and the shared image nobody licensed
    assert summary.license_dropped == Counter({engine: len(outside)})
    assert summary.classes["cat"].license_dropped == Counter({engine: len(outside)})
    rows = manifest_rows(tmp_path)
    assert len(rows) == len(hits) - len(outside)
    assert all(codes_of(r["license"]) <= COMMERCIAL for r in rows)


def test_a_run_whose_every_result_is_outside_the_filter_says_so(fake, tmp_path):
    summary = collect_from(fake, tmp_path, ["cat"], queries=["cat=lawless cat"], engines=("openverse",),
                           license="by-nc-nd")

    assert summary.classes["cat"].candidates == 0
    assert summary.failure_cause() == "every search result was outside --license by-nc-nd"


def test_unknown_licences_are_kept_under_any(fake, tmp_path):
    summary = collect_from(fake, tmp_path, ["cat"], engines=("openverse",))

    licences = {r["license"] for r in manifest_rows(tmp_path) if r["status"] == "saved"}
    assert None in licences and "CC BY-NC 4.0" in licences
    assert summary.license == "any" and not summary.license_dropped


def test_an_engine_that_cannot_filter_is_skipped_with_a_warning(fake, tmp_path):
    summary = collect_from(fake, tmp_path, ["cat"], engines=("baidu", "openverse"), license="cc")

    assert any(w.startswith("baidu: no licence filter of this engine fits --license cc") for w in summary.warnings)
    assert fake.fake.requests("/baidu/search/acjson") == 0
    assert {r["engine"] for r in manifest_rows(tmp_path)} == {"openverse"}


def test_no_engine_able_to_filter_is_a_clear_error(fake, tmp_path):
    with pytest.raises(CollectError, match="none of the engines baidu can search within --license cc"):
        collect_from(fake, tmp_path, ["cat"], engines=("baidu",), license="cc")


def test_a_rerun_under_a_filter_does_not_download_pending_rows_outside_it(fake, tmp_path):
    tmp_path.mkdir(exist_ok=True)
    manifest = Manifest(tmp_path / "manifest.sqlite")
    unknown = ImageHit(url=f"{fake.url}/img/cat/4.jpg")
    licensed = ImageHit(url=f"{fake.url}/img/cat/0.jpg", license="CC BY 4.0")
    manifest.add([Candidate("cat", "cat", "bing", rank, hit) for rank, hit in enumerate((unknown, licensed), 1)])
    manifest.close()

    collect_from(fake, tmp_path, ["cat"], queries=["cat=nothing here"], engines=("openverse",), license="cc")

    status = {r["url"]: r["status"] for r in manifest_rows(tmp_path)}
    assert status == {unknown.url: "pending", licensed.url: "saved"}
