"""Identifiers are never joined into a list query unchecked, and nothing asked for is dropped silently
(finding 5): a SKU with the separator is read by ERP id and looked up alone in the shop; a SKU asked
for and not returned is quarantined with the count."""
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from connector import quarantine
from connector.erp.rest import RestErp
from connector.errors import PermanentError
from connector.sync import sku_lookup
from connector.sync.products import ProductSync
from connector.woo.client import WooClient

WOO = "https://shop.example.com"


class Erp:
    def __init__(self, records):
        self.records = {r["id"]: r for r in records}
        self.listed: list[list[str]] = []

    def products_by_sku(self, skus):
        self.listed.append(list(skus))
        assert all("," not in s for s in skus), "a SKU with the separator went into a list query"
        return [r for r in self.records.values() if r["sku"] in skus]

    def list_products(self, modified_since, cursor, limit=100):
        from connector.erp.protocol import Page
        return Page(items=list(self.records.values()), next_cursor=None)

    def get_product(self, erp_id):
        if erp_id not in self.records:
            raise PermanentError("erp GET products -> 404", status=404)
        return self.records[erp_id]


class Shop:
    def products_by_sku(self, skus):
        return []

    def products_by_id(self, ids):
        return []

    def batch_products(self, create=(), update=()):
        return {"create": [{"id": 100 + i} for i, _ in enumerate(create)], "update": []}


def product(pid, sku):
    return {"id": pid, "sku": sku, "parent_id": None, "name": sku, "description": "", "list_price": "4.20",
            "is_active": True, "weight_kg": None, "category_code": None, "ean": None, "attributes": {},
            "modified_at": "2026-11-20T10:00:00.000Z"}


def test_a_sku_with_the_separator_is_read_by_id_and_a_missing_one_is_quarantined(db):
    erp = Erp([product("P-1", "A,B"), product("P-2", "A"), product("P-3", "PLAIN")])
    report = ProductSync(db, Shop(), erp).apply(["A,B", "A", "PLAIN", "GONE-1"],
                                                {"A,B": "P-1", "A": "P-2", "PLAIN": "P-3", "GONE-1": "P-9"})
    assert erp.listed == [["A", "GONE-1", "PLAIN"]]
    assert report.created == 3
    assert report.quarantined == {"GONE-1": "ERP product GONE-1: asked for by SKU and not returned by the ERP "
                                            "(3 of 4 came back)"}
    held = {h.key: h.reason for h in quarantine.listing(db)}
    assert "not returned by the ERP" in held["GONE-1"] and "A,B" not in held


def test_the_erp_id_comes_from_the_mapping_when_the_caller_has_none(db):
    erp = Erp([product("P-1", "A,B")])
    ProductSync(db, Shop(), erp).apply(["A,B"], {"A,B": "P-1"})
    assert [r["id"] for r in sku_lookup.erp_products(db, erp, ["A,B", "X,Y"])] == ["P-1"]


def test_the_rest_adapter_refuses_to_list_a_sku_with_the_separator():
    with pytest.raises(PermanentError, match="separator"):
        RestErp("https://erp.example.com", "t").products_by_sku(["OK", "A,B"])


@responses.activate
def test_the_shop_is_asked_for_a_sku_with_a_comma_alone_and_only_its_exact_match_is_kept():
    responses.get(f"{WOO}/wp-json/wc/v3/products", json=[{"id": 1, "sku": "A"}, {"id": 2, "sku": "A,B"},
                                                         {"id": 3, "sku": "B"}])
    found = WooClient(WOO, "ck_x", "cs_y", timeout=5).products_by_sku(["X", "A,B"])
    asked = [parse_qs(urlparse(c.request.url).query)["sku"] for c in responses.calls]
    assert asked == [["X"], ["A,B"]]
    assert [p["id"] for p in found] == [1, 2, 3, 2]  # the joined query's answer as is, the lone one exact


def test_a_sku_with_the_separator_and_no_mapping_yet_is_found_in_the_erp(db, sandboxes):
    """F6: an order line `A,B` whose shop product predates the catalog sync is not "unknown in the ERP"."""
    from connector.settings import SANDBOX_ERP_TOKEN
    from sandbox.erp.admin import ErpSandboxAdmin
    erp_url = sandboxes[1]
    admin = ErpSandboxAdmin(erp_url)
    admin.reset()
    for i in range(30):
        admin.add_product(f"FILL-{i}", name=f"filler {i}", list_price="1.00")
    admin.add_product("A,B", name="comma", list_price="2.00")
    admin.add_product("PLAIN", name="plain", list_price="3.00")
    erp = RestErp(erp_url, SANDBOX_ERP_TOKEN, timeout=10)
    records = sku_lookup.erp_products(db, erp, ["A,B", "PLAIN", "NOWHERE,1"])
    assert sorted(r["sku"] for r in records) == ["A,B", "PLAIN"]
    assert sku_lookup.missing(["A,B", "PLAIN", "NOWHERE,1"], records) == ["NOWHERE,1"]
