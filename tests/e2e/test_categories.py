"""ERP categories become nested shop categories, products land in them, the EAN fills the GTIN field:
real workers and beat, both sandboxes over HTTP."""
from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.conftest import woo_client
from tests.support.procs import ROOT, wait_until

pytestmark = pytest.mark.e2e


def shop_categories(fleet) -> list[dict]:
    return woo_client(fleet).get("products/categories", per_page=100)


def test_categories_are_created_once_nested_renamed_and_assigned_with_the_gtin(fleet):
    erp = ErpSandboxAdmin(fleet.erp_url)
    erp.put_category("APPAREL", name="Apparel")
    erp.put_category("APPAREL-TSHIRTS", name="T-Shirts", parent_code="APPAREL")
    erp.add_product("TEE-1", name="Tee", list_price="19.00", category_code="APPAREL-TSHIRTS", ean="4006381333931")
    erp.add_product("MUG-1", name="Mug", list_price="9.00", category_code="APPAREL", ean="")
    erp.add_product("TEE-2", name="Tee twin", list_price="19.00", category_code="APPAREL-TSHIRTS",
                    ean="4006381333931")  # the same EAN: the shop refuses it as a GTIN, not the product
    fleet.start_worker()
    fleet.start_beat()
    woo = woo_client(fleet)

    def placed():
        found = {p["sku"]: p for p in woo.products_by_sku(["TEE-1", "MUG-1", "TEE-2"])}
        return found if {"TEE-1", "MUG-1", "TEE-2"} <= found.keys() and all(
            p["categories"][0]["slug"] != "uncategorized" for p in found.values()) else None
    products = wait_until(placed, 60, 0.5, "the products in their categories")
    by_slug = {c["slug"]: c for c in shop_categories(fleet)}
    tshirts, apparel = by_slug["apparel-tshirts"], by_slug["apparel"]
    assert (tshirts["name"], tshirts["parent"], apparel["parent"]) == ("T-Shirts", apparel["id"], 0)
    assert [c["id"] for c in products["TEE-1"]["categories"]] == [tshirts["id"]]
    assert [c["id"] for c in products["MUG-1"]["categories"]] == [apparel["id"]]
    assert sorted(products[s]["global_unique_id"] for s in ("TEE-1", "TEE-2")) == ["", "4006381333931"]
    assert {m["key"]: m["value"] for m in products["TEE-2"]["meta_data"]}["_erp_ean"] == "4006381333931"

    erp.put_category("APPAREL-TSHIRTS", name="Tees")
    wait_until(lambda: {c["slug"]: c for c in shop_categories(fleet)}["apparel-tshirts"]["name"] == "Tees", 60, 0.5,
               "the category renamed in the shop")
    writes = requests.get(f"{fleet.woo_url}/_sandbox/stats", timeout=10).json()["requests"]
    assert writes.get("POST /wp-json/wc/v3/products/categories/batch") == 3  # a create per level, one rename
    assert len([c for c in shop_categories(fleet) if c["slug"].startswith("apparel")]) == 2

    # a product moved to another category by hand is reported by reconcile
    woo.call("PUT", f"products/{products['MUG-1']['id']}", {"categories": [{"id": tshirts["id"]}]})
    out = subprocess.run([sys.executable, "-m", "ops.cli", "reconcile"], cwd=ROOT, env=fleet.env,
                         capture_output=True, text=True, timeout=120)
    assert "category_mismatch" in out.stdout and "MUG-1" in out.stdout, out.stdout + out.stderr
    resync = subprocess.run([sys.executable, "-m", "ops.cli", "sync", "full"], cwd=ROOT, env=fleet.env,
                            capture_output=True, text=True, timeout=120)
    assert resync.returncode == 0, resync.stderr
    wait_until(lambda: [c["id"] for c in woo.get_product(products["MUG-1"]["id"])["categories"]] == [apparel["id"]],
               60, 0.5, "the full resync put the product back into its category")
