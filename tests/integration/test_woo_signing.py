"""F5: the adapter's OAuth 1.0a signature matches what WooCommerce verifies for any query value, so a SKU
holding a valid `%XX` escape, a `/` or a `+` is looked up like any other (the sandbox checks signatures
exactly as WooCommerce's WC_REST_Authentication does)."""
from __future__ import annotations

import pytest

from connector.errors import PermanentError
from connector.settings import SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET
from connector.woo.client import WooClient
from sandbox.woo.admin import WooSandboxAdmin

ODD_SKUS = ["pct%2C", "a%20b", "%41", "A/B", "50%OFF", "a+b", "X&Y", "Sp ace", "ü-1", "100%"]


@pytest.fixture
def woo(sandboxes):
    woo_url, _ = sandboxes
    WooSandboxAdmin(woo_url).reset()
    return WooClient(woo_url, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, timeout=10)


def test_skus_with_escapes_slashes_and_plus_are_found_in_one_signed_lookup(woo):
    assert woo.url.startswith("http://")  # OAuth 1.0a, not basic auth
    for sku in ODD_SKUS:
        woo.call("POST", "products", {"name": f"odd {sku}", "sku": sku, "regular_price": "1.00"})
    found = woo.products_by_sku(ODD_SKUS)
    assert sorted(p["sku"] for p in found) == sorted(ODD_SKUS)
    assert [p["sku"] for p in woo.products_by_sku(["%41"])] == ["%41"]  # not read as "A"


def test_a_wrong_secret_is_still_refused(sandboxes):
    bad = WooClient(sandboxes[0], SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET + "x", timeout=10)
    with pytest.raises(PermanentError) as e:
        bad.products_by_sku(["a%20b"])
    assert e.value.status == 401
