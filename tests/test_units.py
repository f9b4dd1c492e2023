"""Pure logic of the crawler: address policy, image judging, splits, class names, retry timing."""

from __future__ import annotations

import asyncio
import ipaddress
from email.utils import formatdate

import pytest
from PIL import Image

from collector.addresses import AddressPolicy, AddressRefused, Pinner
from collector.classes import ClassSpecError, build_specs, check_name, parse_classes_file
from collector.fetch import ClientPool, Fetcher, FetchError, FetchLimits, parse_retry_after
from collector.split import choose_split
from collector.validate import InvalidImage, validate_image
from tests.fake_engine.server import draw_image, png_header_only
from tests.helpers import encode


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1",
    "::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1", "224.0.0.1",
])
def test_default_policy_refuses_non_public_addresses(address):
    assert not AddressPolicy().permits(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1::248", "::ffff:8.8.8.8"])
def test_default_policy_permits_public_addresses(address):
    assert AddressPolicy().permits(ipaddress.ip_address(address))


def test_policy_allowlist_opens_only_the_listed_network():
    policy = AddressPolicy.from_networks(["127.0.0.1/32"])
    assert policy.permits(ipaddress.ip_address("127.0.0.1"))
    assert not policy.permits(ipaddress.ip_address("127.0.0.2"))
    assert AddressPolicy.allow_all().permits(ipaddress.ip_address("10.0.0.1"))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "BMP"])
def test_validate_accepts_each_kept_format_and_reports_its_size(fmt):
    data = encode(Image.new("RGB", (64, 48), "teal"), fmt)
    info = validate_image(data)
    assert (info.format, info.width, info.height) == (fmt, 64, 48)


def test_validate_trusts_bytes_not_names_a_png_is_a_png():
    assert validate_image(encode(Image.new("RGB", (40, 40)), "PNG")).extension == "png"


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"<!DOCTYPE html><html>blocked</html>", "not-image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not-image"),
    (draw_image("x", (100, 80))[:700], "truncated"),
    (b"\xff\xd8\xff" + bytes(200), "undecodable"),
    (png_header_only(40_000, 40_000), "too-many-pixels"),
])
def test_validate_rejects_what_is_not_a_usable_image(data, reason):
    with pytest.raises(InvalidImage) as caught:
        validate_image(data)
    assert caught.value.reason == reason


def test_validate_rejects_images_below_min_side():
    with pytest.raises(InvalidImage, match="too-small"):
        validate_image(draw_image("small", (100, 20)), min_side=32)


def test_split_is_a_stable_function_of_content_and_seed():
    digests = [f"{i:064x}" for i in range(2000)]
    splits = [choose_split(d, 0.2) for d in digests]
    assert splits == [choose_split(d, 0.2) for d in digests]
    assert 0.17 < splits.count("val") / len(splits) < 0.23
    assert splits != [choose_split(d, 0.2, seed=1) for d in digests]
    assert {choose_split(d, 0.0) for d in digests} == {"train"}


@pytest.mark.parametrize(
    "name", ["", "  ", "..", ".", "a/b", "a\\b", "../etc", ".hidden", "_quarantine", "a:b", "x" * 101]
)
def test_unsafe_class_names_are_rejected(name):
    with pytest.raises(ClassSpecError):
        check_name(name)


def test_classes_file_lines_give_names_and_queries():
    text = "# animals\ncat: cat photo | kitten\n\ndog\nred_panda  # comment\n"
    assert parse_classes_file(text) == [("cat", ["cat photo", "kitten"]), ("dog", []), ("red_panda", [])]


def test_explicit_queries_replace_the_class_name_and_unknown_classes_are_added():
    specs = {s.name: s.queries for s in build_specs(["cat", "red_panda"], None, ["cat=猫", "bird=鸟"])}
    assert specs == {"cat": ("猫",), "red_panda": ("red panda",), "bird": ("鸟",)}


def test_class_names_differing_only_in_case_are_rejected():
    with pytest.raises(ClassSpecError, match="case"):
        build_specs(["Cat", "cat"])


def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("7", now=0) == 7
    assert parse_retry_after(formatdate(1000, usegmt=True), now=990) == pytest.approx(10)
    assert parse_retry_after("soon", now=0) is None


def test_retry_delay_grows_exponentially_honours_retry_after_and_gives_up():
    fetcher = Fetcher(None, AddressPolicy(), FetchLimits(retries=3, backoff=1.0, max_retry_after=60))
    delays = [fetcher._retry_delay(FetchError("timeout", transient=True), n) for n in range(3)]
    assert [0.5 <= d / 2**n <= 1.5 for n, d in enumerate(delays)] == [True] * 3
    assert fetcher._retry_delay(FetchError("timeout", transient=True), 3) is None
    assert fetcher._retry_delay(FetchError("http-404"), 0) is None
    assert fetcher._retry_delay(FetchError("http-429", transient=True, retry_after=30), 0) == 30
    assert fetcher._retry_delay(FetchError("http-429", transient=True, retry_after=3600), 0) is None


def test_pinning_replaces_the_host_by_the_checked_address_and_keeps_the_name_for_host_and_tls():
    pinned = asyncio.run(Pinner(AddressPolicy.allow_all()).pin("http://localhost:8080/a/b.jpg?x=1"))
    assert pinned.url == "http://127.0.0.1:8080/a/b.jpg?x=1"
    assert (pinned.host_header, pinned.tls_hostname) == ("localhost:8080", "localhost")
    pinned = asyncio.run(Pinner(AddressPolicy.allow_all()).pin("https://[::1]/x"))
    assert (pinned.url, pinned.host_header) == ("https://[::1]/x", "[::1]")


def test_pinning_refuses_a_name_that_resolves_to_a_private_address():
    with pytest.raises(AddressRefused, match="non-public address 127.0.0.1"):
        asyncio.run(Pinner(AddressPolicy()).pin("http://localhost/x.jpg"))


def test_a_host_with_any_private_address_is_refused_and_ipv4_is_preferred():
    public4, public6, private = (ipaddress.ip_address(a) for a in ("93.184.216.34", "2606:2800::1", "10.0.0.1"))
    assert AddressPolicy().choose("example.org", [public6, public4]) == public4
    with pytest.raises(AddressRefused):
        AddressPolicy().choose("rebind.example", [public4, private])


def test_fetch_by_host_name_reaches_the_pinned_address_with_the_original_host_header(fake):
    async def fetch():
        async with ClientPool(1, FetchLimits()) as clients:
            fetcher = Fetcher(clients, AddressPolicy.from_networks(["127.0.0.1/32", "::1/128"]), FetchLimits())
            return await fetcher.fetch(f"http://localhost:{fake.server_address[1]}/img/pinned/1.jpg")

    fetched = asyncio.run(fetch())
    assert validate_image(fetched.data).format == "JPEG"
    assert fetched.final_url.startswith("http://localhost:")
    assert fake.fake.hosts["/img/pinned/1.jpg"] == f"localhost:{fake.server_address[1]}"
