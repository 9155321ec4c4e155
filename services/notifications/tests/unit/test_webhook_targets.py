"""Which addresses a webhook may reach (issue 10, item 10), and how a checked target is called:
pure rules, no network (the registration and delivery paths have their service tests)."""

from __future__ import annotations

import ipaddress

import pytest

from notifications.adapters.webhook import pinned
from notifications.adapters.webhook_targets import (
    CheckedTarget,
    TargetRules,
    UnsafeTarget,
    check,
    parse,
    refusal,
)

DEV = TargetRules.of(environment="development", allowed_networks=[])
PRODUCTION = TargetRules.of(environment="production", allowed_networks=[])


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "bouclage"),
        ("::1", "bouclage"),
        ("::ffff:127.0.0.1", "bouclage"),
        ("10.0.0.1", "privé"),
        ("172.16.5.4", "privé"),
        ("192.168.0.1", "privé"),
        ("fc00::1", "privé"),
        ("169.254.169.254", "métadonnées"),
        ("169.254.170.2", "métadonnées"),
        ("100.100.100.200", "métadonnées"),
        ("fd00:ec2::254", "métadonnées"),
        ("169.254.1.1", "lien local"),
        ("fe80::1", "lien local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "non spécifiée"),  # noqa: S104 (an address refused, not bound)
        ("100.64.0.1", "non publique"),
        ("192.0.2.10", "privé"),  # documentation range (TEST-NET-1)
    ],
)
def test_addresses_inside_a_network_or_a_cloud_are_refused(address: str, reason: str) -> None:
    found = refusal(ipaddress.ip_address(address), DEV)
    assert found is not None
    assert reason in found


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700:4700::1111", "8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), DEV) is None


def test_allowed_networks_lift_the_public_rule_but_never_for_metadata() -> None:
    rules = TargetRules.of(
        environment="production", allowed_networks=["10.20.0.0/16", "169.254.0.0/16"]
    )
    assert refusal(ipaddress.ip_address("10.20.3.4"), rules) is None
    assert refusal(ipaddress.ip_address("10.21.3.4"), rules) is not None
    assert "métadonnées" in (refusal(ipaddress.ip_address("169.254.169.254"), rules) or "")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://erp.example/hooks", "https"),
        ("ftp://erp.example/hooks", "http(s)"),
        ("https://user:pw@erp.example/hooks", "identifiants"),
        ("https:///hooks", "nom d'hôte"),
        ("https://erp.example:99999/", "illisible"),
    ],
)
def test_outside_development_only_plain_https_urls_are_accepted(url: str, message: str) -> None:
    with pytest.raises(UnsafeTarget, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(url, PRODUCTION)


async def test_an_ip_literal_is_checked_without_dns() -> None:
    with pytest.raises(UnsafeTarget, match="métadonnées"):
        await check("https://[::ffff:169.254.169.254]/latest", PRODUCTION)
    target = await check("https://93.184.215.14:8443/hooks", PRODUCTION)
    assert (target.host, target.port, target.addresses) == (
        "93.184.215.14",
        8443,
        (ipaddress.ip_address("93.184.215.14"),),
    )


def test_the_call_is_pinned_to_the_checked_address_keeping_the_host_name_for_tls() -> None:
    target = CheckedTarget("https", "erp.example", 443, (ipaddress.ip_address("93.184.215.14"),))
    url, host, extensions = pinned("https://erp.example/hooks/coop?x=1", target)
    assert str(url) == "https://93.184.215.14/hooks/coop?x=1"
    assert host == "erp.example"
    assert extensions == {"sni_hostname": "erp.example"}

    v6 = CheckedTarget("http", "erp.example", 8080, (ipaddress.ip_address("2606:4700::1"),))
    url, host, extensions = pinned("http://erp.example:8080/h", v6)
    assert str(url) == "http://[2606:4700::1]:8080/h"
    assert (host, extensions) == ("erp.example:8080", {})
