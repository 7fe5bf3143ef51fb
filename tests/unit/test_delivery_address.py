"""`bootstrap` warns when a real WooCommerce would refuse to deliver to SHIM_URL (reference §11)."""
from __future__ import annotations

import logging

import pytest

from connector.settings import load
from connector.woo.delivery_address import refusal
from ops.bootstrap import warn_if_undeliverable

SHOP = "https://shop.example.com"


@pytest.mark.parametrize("url,why", [
    ("https://hooks.example.com/webhooks/woocommerce", None),
    ("http://203.0.113.9:8080/webhooks/woocommerce", None),
    ("http://203.0.113.9:8000/webhooks/woocommerce", "port 8000 is not 80, 443 or 8080"),
    ("http://127.0.0.1/webhooks/woocommerce", "127.0.0.1 is a private or loopback address"),
    ("http://10.0.4.2/webhooks/woocommerce", "10.0.4.2 is a private or loopback address"),
    ("https://172.20.1.1/webhooks/woocommerce", "172.20.1.1 is a private or loopback address"),
    ("http://192.168.1.20:443/webhooks/woocommerce", "192.168.1.20 is a private or loopback address"),
    ("http://localhost:8080/webhooks/woocommerce", "localhost is a private or loopback address"),
    ("https://shop.example.com:8443/wooerp", "port 8443 is not 80, 443 or 8080"),
])
def test_wordpress_refuses_other_ports_and_private_addresses(url, why):
    assert refusal(url, SHOP) == why


def test_the_shops_own_host_is_checked_for_the_port_only():
    assert refusal("http://10.0.0.5/hooks", "http://10.0.0.5:8000") is None
    assert refusal("http://10.0.0.5:8000/hooks", "http://10.0.0.5:8000") is None  # the site's own port
    assert refusal("http://10.0.0.5:9000/hooks", "http://10.0.0.5:8000") == "port 9000 is not 80, 443 or 8080"


def settings(**env):
    return load({"WOO_WEBHOOK_SECRET": "unit-secret", "WOO_URL": SHOP, "WOO_CONSUMER_KEY": "ck_" + "1" * 40,
                 "WOO_CONSUMER_SECRET": "cs_" + "2" * 40, **env})


def test_bootstrap_warns_in_one_line_when_the_shop_cannot_reach_the_shim(caplog):
    with caplog.at_level(logging.WARNING, logger="wooerp.bootstrap"):
        text = warn_if_undeliverable(settings(SHIM_URL="http://127.0.0.1:8000"))
    assert text and "\n" not in text and "port 8000 is not 80, 443 or 8080" in text and "deploy/README.md" in text
    assert [r.getMessage() for r in caplog.records] == [text]


def test_bootstrap_is_quiet_for_a_public_https_shim_and_for_the_bundled_sandbox(caplog):
    with caplog.at_level(logging.WARNING, logger="wooerp.bootstrap"):
        assert warn_if_undeliverable(settings(SHIM_URL="https://hooks.example.com")) is None
        assert warn_if_undeliverable(load({"WOO_WEBHOOK_SECRET": "unit-secret",
                                           "SHIM_URL": "http://127.0.0.1:8000"})) is None
    assert caplog.records == []
