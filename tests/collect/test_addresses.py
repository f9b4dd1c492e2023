"""Which addresses the crawler may reach, and pinning a host to the address that was checked."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from collector.addresses import AddressPolicy, AddressRefused, Pinner


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
