"""Contract tests of the ERP sandbox (sandbox/erp) as a real subprocess over HTTP.

They pin the behaviour the connector relies on and the faults it must survive: keyset paging
that never skips an item modified mid-way, non-unique external_ref and the 409 switch, the 422
rules, each fault kind, stats, correlation ids and the request log. The full API surface is
checked by /work/shared/conformance/erp_conformance.py; this file goes deeper on those points.
"""
from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import pytest
import requests

from sandbox.erp.admin import ErpSandboxAdmin, SandboxAdminError
from tests.support.procs import PYTHON, Proc, child_env, free_port, wait_http

TOKEN = "contract-test-token"
API = "/api/v1"
ADDRESS = {"line1": "Hauptstr. 1", "line2": "", "city": "Köln", "postcode": "50667", "state": "",
           "country": "DE"}


class Api:
    """The ERP API as a bare HTTP client sees it (no adapter code involved)."""

    def __init__(self, url: str, token: str = TOKEN):
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params) -> requests.Response:
        return self.session.get(self.url + API + path, params=params, timeout=10)

    def post(self, path: str, body: dict | None = None, **headers) -> requests.Response:
        return self.session.post(self.url + API + path, json=body, headers=headers, timeout=10)

    def page_all(self, path: str, limit: int = 100, **params) -> list[dict]:
        items, cursor = [], None
        while True:
            body = self.get(path, limit=limit, **params, **({"cursor": cursor} if cursor else {})).json()
            items += body["items"]
            cursor = body["next_cursor"]
            if not cursor:
                return items


@dataclass
class ErpSandbox:
    url: str
    admin: ErpSandboxAdmin
    api: Api
    proc: Proc


def start_sandbox(log_dir, *extra: str) -> tuple[Proc, str]:
    port = free_port()
    proc = Proc("erp-sandbox", [PYTHON, "-m", "sandbox.erp", "--port", str(port), "--token", TOKEN, *extra],
                child_env(), log_dir / f"erp-{port}.log").start()
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/_sandbox/config", timeout=10, proc=proc)
    return proc, url


@pytest.fixture(scope="module")
def erp_sandbox(tmp_path_factory):
    proc, url = start_sandbox(tmp_path_factory.mktemp("erp"))
    try:
        yield ErpSandbox(url, ErpSandboxAdmin(url), Api(url), proc)
    finally:
        proc.stop()


@pytest.fixture
def erp(erp_sandbox):
    """A freshly reset and seeded sandbox: 60 sellable products (some variants), 3 warehouses."""
    erp_sandbox.admin.reset()
    erp_sandbox.admin.seed(60, variants_per_parent=3, warehouses=["MAIN", "STORE2", "RETURNS"])
    return erp_sandbox


def sellable_sku(erp: ErpSandbox) -> str:
    return next(p["sku"] for p in erp.api.page_all("/products", limit=500) if not p["is_parent"])


def order_body(ref: str, sku: str, **changes) -> dict:
    body = {"external_ref": ref, "customer_id": None, "currency": "EUR",
            "order_date": "2026-11-20T09:59:58.000Z", "billing_address": dict(ADDRESS),
            "shipping_address": dict(ADDRESS),
            "lines": [{"sku": sku, "quantity": 2, "unit_price": "10.00", "tax_rate": "19.00",
                       "description": "x"}],
            "shipping": {"method": "flat_rate", "amount": "5.00", "tax": "0.95"},
            "discounts": [{"code": "WINTER10", "amount": "2.00"}],
            "fees": [{"name": "Gift wrap", "amount": "1.00"}],
            "totals": {"net": "24.00", "tax": "4.75", "gross": "28.75"},
            "payment": {"method": "bacs", "transaction_id": "", "paid_at": None}, "note": ""}
    body.update(changes)
    return body


def new_ref() -> str:
    return f"WC-ORDER-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------- auth, errors, paging

def test_bearer_auth_and_error_shape(erp):
    assert requests.get(erp.url + API + "/products", timeout=5).status_code == 401
    wrong = Api(erp.url, token="wrong").get("/products")
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "unauthorized"
    missing = erp.api.get("/products/P-999999")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"limit": "ten"},
                                    {"modified_since": "yesterday"}, {"cursor": "not-a-cursor"}])
def test_bad_list_parameters_are_400(erp, params):
    r = erp.api.get("/products", **params)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_request"


def test_cursor_of_another_collection_is_refused(erp):
    cursor = erp.api.get("/inventory", limit=1).json()["next_cursor"]
    assert erp.api.get("/products", cursor=cursor).status_code == 400


def test_pages_are_ordered_and_modified_since_is_inclusive(erp):
    items = erp.api.page_all("/products", limit=7)
    keys = [(p["modified_at"], p["id"]) for p in items]
    assert keys == sorted(keys) and len({p["id"] for p in items}) == len(items)
    pivot = items[len(items) // 2]
    later = erp.api.page_all("/products", limit=500, modified_since=pivot["modified_at"])
    assert later[0]["id"] == pivot["id"]
    assert [p["id"] for p in later] == [p["id"] for p in items[len(items) // 2:]]


def test_item_modified_while_paging_is_served_again_later(erp):
    first = erp.api.get("/products", limit=10).json()
    touched = [p["sku"] for p in first["items"][:3]]
    for sku in touched:
        erp.admin.update_product(sku, name=f"renamed {sku}")
    rest, cursor = [], first["next_cursor"]
    while cursor:
        body = erp.api.get("/products", limit=10, cursor=cursor).json()
        rest += body["items"]
        cursor = body["next_cursor"]
    assert [p["sku"] for p in rest[-3:]] == touched
    assert all(p["name"].startswith("renamed") for p in rest[-3:])


def test_every_write_gets_a_unique_later_modified_at(erp):
    latest = max(p["modified_at"] for p in erp.api.page_all("/products", limit=500))
    changed = set(erp.admin.mutate("price", 20)["changed"])
    stamps = [p["modified_at"] for p in erp.api.page_all("/products", limit=500) if p["id"] in changed]
    assert len(stamps) == 20 and len(set(stamps)) == 20
    assert min(stamps) > latest


def test_stamps_stay_monotonic_across_reset_and_seed(erp):
    erp.admin.mutate("new", 3000)  # 3000 writes in one call run the clock seconds ahead of real time
    latest = erp.api.page_all("/products", limit=500)[-1]["modified_at"]
    erp.admin.reset()
    erp.admin.seed(20)
    assert erp.api.get("/products", limit=1).json()["items"][0]["modified_at"] > latest


@pytest.mark.parametrize("path, kind, key", [
    ("/products", "price", lambda item: item["id"]),
    ("/inventory", "stock", lambda item: (item["sku"], item["warehouse"])),
])
def test_paging_during_concurrent_modification_skips_nothing(erp, path, kind, key):
    before = {key(item) for item in erp.api.page_all(path, limit=500)}
    stop, writes = threading.Event(), []

    def writer():
        admin = ErpSandboxAdmin(erp.url)
        while not stop.wait(0.02):  # slower than the reader, or paging could never catch up
            writes.append(admin.mutate(kind, 3)["changed"])

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen, cursor, pages = [], None, 0
        while pages == 0 or cursor:
            body = erp.api.get(path, limit=9, **({"cursor": cursor} if cursor else {})).json()
            page_keys = [(item["modified_at"], str(key(item))) for item in body["items"]]
            assert page_keys == sorted(page_keys)
            seen += [key(item) for item in body["items"]]
            cursor, pages = body["next_cursor"], pages + 1
            assert pages < 500, "paging does not end"
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join()
    assert len(writes) >= 3, "the writer did not run during paging"
    assert not before - set(seen), f"skipped while paging: {sorted(before - set(seen))[:5]}"
    assert len(seen) > len(set(seen)), "no modified item was served again"


def test_inventory_rows_bump_alone_and_filter_by_warehouse(erp):
    rows = erp.api.page_all("/inventory", limit=500)
    assert Counter((r["sku"], r["warehouse"]) for r in rows).most_common(1)[0][1] == 1
    sku = rows[0]["sku"]
    erp.admin.set_stock(sku, "STORE2", on_hand=40, reserved=12, safety_stock=5)
    after = {(r["sku"], r["warehouse"]): r for r in erp.api.page_all("/inventory", limit=500)}
    old = {(r["sku"], r["warehouse"]): r for r in rows}
    changed = [k for k in after if after[k]["modified_at"] != old[k]["modified_at"]]
    assert changed == [(sku, "STORE2")]
    row = after[(sku, "STORE2")]
    assert (row["on_hand"], row["reserved"], row["safety_stock"]) == (40, 12, 5)
    store2 = erp.api.page_all("/inventory", limit=13, warehouse="STORE2")
    assert {r["warehouse"] for r in store2} == {"STORE2"} and len(store2) == len(rows) // 3
    assert erp.api.get("/inventory", warehouse="NOPE").status_code == 400
    assert {w["code"]: w["sellable"] for w in erp.api.get("/warehouses").json()["items"]} == {
        "MAIN": True, "STORE2": True, "RETURNS": False}


def test_products_by_sku_parents_and_variants(erp):
    erp.admin.add_product("TEE", name="Tee", is_parent=True)
    red = erp.admin.add_product("TEE-RED", parent_sku="TEE", list_price="19.90", attributes={"color": "red"},
                                stock={"MAIN": {"on_hand": 7}})
    found = erp.api.get("/products", sku="TEE,TEE-RED,NO-SUCH").json()["items"]
    by_sku = {p["sku"]: p for p in found}
    assert set(by_sku) == {"TEE", "TEE-RED"}
    assert by_sku["TEE"]["is_parent"] and by_sku["TEE-RED"]["parent_id"] == by_sku["TEE"]["id"]
    assert red["list_price"] == "19.90"
    rows = erp.api.page_all("/inventory", limit=500)
    stock = {r["warehouse"]: r["on_hand"] for r in rows if r["sku"] == "TEE-RED"}
    assert stock == {"MAIN": 7, "STORE2": 0, "RETURNS": 0}
    with pytest.raises(SandboxAdminError) as exc:
        erp.admin.add_product("TEE-RED")
    assert exc.value.status == 409


def test_reset_leaves_default_warehouses_for_hand_made_products(erp_sandbox):
    erp_sandbox.admin.reset()
    mug = erp_sandbox.admin.add_product("MUG", list_price="12.5", weight_kg="0.4",
                                        stock={"MAIN": {"on_hand": 10, "reserved": 2, "safety_stock": 1}})
    assert (mug["list_price"], mug["weight_kg"]) == ("12.50", "0.400")
    assert mug["is_parent"] is False and mug["parent_id"] is None
    rows = {r["warehouse"]: r for r in erp_sandbox.api.page_all("/inventory")}
    assert set(rows) == {"MAIN", "STORE2", "RETURNS"}
    assert (rows["MAIN"]["on_hand"], rows["MAIN"]["reserved"], rows["MAIN"]["safety_stock"]) == (10, 2, 1)


# ---------------------------------------------------------------- customers and orders

def test_customer_create_and_lookup(erp):
    r = erp.api.post("/customers", {"external_ref": "WC-CUST-42", "email": "Jo@Example.com",
                                    "first_name": "Jörg", "billing_address": ADDRESS})
    assert r.status_code == 201
    customer = r.json()
    assert customer["id"].startswith("C-") and customer["number"].startswith("CUST-")
    for lookup in ({"email": "jo@example.com"}, {"external_ref": "WC-CUST-42"}):
        assert [c["id"] for c in erp.api.get("/customers", **lookup).json()["items"]] == [customer["id"]]
    bad = erp.api.post("/customers", {"email": "x@example.com",
                                      "billing_address": {**ADDRESS, "country": ""}})
    assert bad.status_code == 422 and "billing_address.country" in bad.json()["error"]["fields"]


def test_customer_patch_adds_references_and_fields_and_email_lookup_folds(erp):
    email = f"Mixed.{uuid.uuid4().hex[:8]}@Example.COM"
    customer = erp.api.post("/customers", {"email": email, "first_name": "Gus", "billing_address": ADDRESS}).json()
    ref = f"WC-CUST-{uuid.uuid4().int % 10**6}"
    patch = lambda body: erp.api.session.patch(f"{erp.url}{API}/customers/{customer['id']}", json=body, timeout=10)
    for _ in range(2):  # adding the same reference twice keeps one
        r = patch({"add_external_ref": ref})
        assert r.status_code == 200 and r.json()["external_refs"] == [ref] and r.json()["external_ref"] == ref
    other = ref + "-B"
    assert patch({"add_external_ref": other, "company": "Gus GmbH", "vat_id": "DE136695976",
                  "shipping_address": {**ADDRESS, "city": "Bonn"}}).json()["external_refs"] == [ref, other]
    for lookup in ({"external_ref": ref}, {"external_ref": other}, {"email": f"  {email.upper()} "}):
        assert [c["id"] for c in erp.api.get("/customers", **lookup).json()["items"]] == [customer["id"]]
    got = erp.api.get(f"/customers/{customer['id']}").json()
    assert (got["company"], got["vat_id"], got["shipping_address"]["city"], got["first_name"]) == (
        "Gus GmbH", "DE136695976", "Bonn", "Gus")
    bad = patch({"add_external_ref": "", "shipping_address": {**ADDRESS, "country": "Germany"}, "colour": "red"})
    assert bad.status_code == 422
    assert {"add_external_ref", "shipping_address.country", "colour"} <= set(bad.json()["error"]["fields"])
    assert erp.api.session.patch(f"{erp.url}{API}/customers/C-999999", json={"company": "x"},
                                 timeout=10).status_code == 404


def test_categories_are_delta_paged_nested_and_renamed(erp):
    top, child = f"CAT{uuid.uuid4().hex[:6].upper()}", f"SUB{uuid.uuid4().hex[:6].upper()}"
    erp.admin.put_category(top, name="Apparel")
    made = erp.admin.put_category(child, name="T-Shirts", parent_code=top)
    assert (made["code"], made["name"], made["parent_code"]) == (child, "T-Shirts", top)
    since = made["modified_at"]
    assert erp.admin.put_category(child, name="T-Shirts")["modified_at"] == since  # no change, no new stamp
    renamed = erp.admin.put_category(top, name="Clothing")
    listed = {c["code"]: c for c in erp.api.page_all("/categories", limit=1)}
    assert listed[top]["name"] == "Clothing" and listed[child]["parent_code"] == top
    changed = erp.api.get("/categories", modified_since=renamed["modified_at"]).json()["items"]
    assert [c["code"] for c in changed] == [top]
    with pytest.raises(SandboxAdminError):
        erp.admin.put_category(f"{top}-X", name="Lost", parent_code="NO-SUCH-CATEGORY")
    assert erp.api.get("/categories", limit=0).status_code == 400


def test_external_ref_is_not_unique_until_switched(erp):
    sku, ref = sellable_sku(erp), new_ref()
    first, second = (erp.api.post("/sales-orders", order_body(ref, sku)) for _ in range(2))
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert first.json()["status"] == "open" and first.json()["number"].startswith("SO-")
    found = erp.api.get("/sales-orders", external_ref=ref).json()["items"]
    assert sorted(o["id"] for o in found) == sorted([first.json()["id"], second.json()["id"]])
    erp.admin.set_config(enforce_unique_external_ref=True)
    conflict = erp.api.post("/sales-orders", order_body(ref, sku))
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "conflict"
    assert erp.api.post("/sales-orders", order_body(new_ref(), sku)).status_code == 201
    erp.admin.set_config(enforce_unique_external_ref=False)
    assert erp.admin.stats()["orders_by_external_ref"][ref] == 2


@pytest.mark.parametrize("change, field", [
    (lambda b: b["lines"][0].update(sku="NO-SUCH-SKU"), "lines[0].sku"),
    (lambda b: b["lines"][0].update(quantity=0), "lines[0].quantity"),
    (lambda b: b["lines"][0].update(quantity=-1), "lines[0].quantity"),
    (lambda b: b["totals"].update(net="24.10"), "totals.net"),
    (lambda b: b["totals"].update(gross="28.80"), "totals.gross"),
    (lambda b: b["shipping_address"].update(country=""), "shipping_address.country"),
    (lambda b: b["billing_address"].pop("country"), "billing_address.country"),
    (lambda b: b.update(currency="XXX"), "currency"),
    (lambda b: b["lines"][0].update(unit_price=10.0), "lines[0].unit_price"),
])
def test_invalid_orders_are_422_with_fields_and_not_stored(erp, change, field):
    ref = new_ref()
    body = order_body(ref, sellable_sku(erp))
    change(body)
    r = erp.api.post("/sales-orders", body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_failed"
    assert field in r.json()["error"]["fields"]
    assert erp.api.get("/sales-orders", external_ref=ref).json()["items"] == []


def test_totals_tolerance_is_a_cent_per_line_plus_one(erp):
    sku = sellable_sku(erp)
    within = order_body(new_ref(), sku, totals={"net": "24.02", "tax": "4.75", "gross": "28.77"})
    assert erp.api.post("/sales-orders", within).status_code == 201
    beyond = order_body(new_ref(), sku, totals={"net": "24.03", "tax": "4.75", "gross": "28.78"})
    assert erp.api.post("/sales-orders", beyond).status_code == 422


def test_parent_sku_cannot_be_ordered(erp):
    parent = next(p for p in erp.api.page_all("/products", limit=500) if p["is_parent"])
    r = erp.api.post("/sales-orders", order_body(new_ref(), parent["sku"]))
    assert r.status_code == 422 and "lines[0].sku" in r.json()["error"]["fields"]


def test_partial_deliveries_are_several_shipments(erp):
    sku = sellable_sku(erp)
    order = erp.api.post("/sales-orders", order_body(new_ref(), sku)).json()
    first = erp.admin.ship_order(order["id"], [{"sku": sku, "quantity": 1}])
    assert erp.api.get(f"/sales-orders/{order['id']}").json()["status"] == "partially_shipped"
    with pytest.raises(SandboxAdminError) as exc:
        erp.admin.ship_order(order["id"], [{"sku": sku, "quantity": 2}])
    assert exc.value.status == 422
    second = erp.admin.ship_order(order["id"])
    assert second["lines"] == [{"sku": sku, "quantity": 1}]
    assert erp.api.get(f"/sales-orders/{order['id']}").json()["status"] == "shipped"
    shipments = [s for s in erp.api.page_all("/shipments") if s["sales_order_id"] == order["id"]]
    assert [s["id"] for s in shipments] == [first["id"], second["id"]]
    assert all(s["external_ref"] == order["external_ref"] and s["tracking_number"] for s in shipments)
    assert erp.api.post(f"/sales-orders/{order['id']}/cancel").status_code == 409


def test_cancel(erp):
    order = erp.api.post("/sales-orders", order_body(new_ref(), sellable_sku(erp))).json()
    r = erp.api.post(f"/sales-orders/{order['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert erp.api.get(f"/sales-orders/{order['id']}").json()["status"] == "cancelled"


def stock_rows(erp, sku: str) -> dict[str, dict]:
    return {r["warehouse"]: r for r in erp.api.page_all("/inventory", limit=500) if r["sku"] == sku}


def test_orders_reserve_cancel_releases_and_shipments_take_stock_out(erp):
    """erp-api.md v1.1: create reserves in the order's warehouse, cancel releases what is still
    reserved, a shipment takes its quantities out of on_hand and reserved; each bumps modified_at."""
    sku = sellable_sku(erp)
    erp.admin.set_stock(sku, "MAIN", on_hand=1, reserved=0)      # not enough for 2: STORE2 is chosen
    erp.admin.set_stock(sku, "STORE2", on_hand=30, reserved=4)
    before = stock_rows(erp, sku)
    order = erp.api.post("/sales-orders", order_body(new_ref(), sku)).json()
    assert order["warehouse"] == "STORE2"
    after = stock_rows(erp, sku)
    assert (after["STORE2"]["on_hand"], after["STORE2"]["reserved"]) == (30, 6)
    assert after["STORE2"]["modified_at"] > before["STORE2"]["modified_at"]
    assert after["STORE2"]["modified_at"] >= order["created_at"] > before["STORE2"]["modified_at"]
    assert after["MAIN"] == before["MAIN"]
    erp.admin.ship_order(order["id"], [{"sku": sku, "quantity": 1}])
    shipped = stock_rows(erp, sku)["STORE2"]
    assert (shipped["on_hand"], shipped["reserved"]) == (29, 5) and shipped["modified_at"] > after["STORE2"]["modified_at"]
    named = erp.api.post("/sales-orders", order_body(new_ref(), sku, warehouse="MAIN")).json()
    assert named["warehouse"] == "MAIN" and stock_rows(erp, sku)["MAIN"]["reserved"] == 2  # over-reserving is allowed
    assert erp.api.post(f"/sales-orders/{named['id']}/cancel").json()["status"] == "cancelled"
    released = stock_rows(erp, sku)["MAIN"]
    assert (released["on_hand"], released["reserved"]) == (1, 0)
    assert erp.api.post(f"/sales-orders/{named['id']}/cancel").status_code == 200  # again: releases nothing more
    assert stock_rows(erp, sku)["MAIN"]["modified_at"] == released["modified_at"]
    bad = erp.api.post("/sales-orders", order_body(new_ref(), sku, warehouse="NOWHERE"))
    assert bad.status_code == 422 and "warehouse" in bad.json()["error"]["fields"]


def test_mutate_ship_takes_stock_out(erp):
    sku = sellable_sku(erp)
    erp.admin.set_stock(sku, "MAIN", on_hand=10, reserved=0)
    order = erp.api.post("/sales-orders", order_body(new_ref(), sku, warehouse="MAIN")).json()
    erp.admin.mutate("ship", 10)
    assert erp.api.get(f"/sales-orders/{order['id']}").json()["status"] == "shipped"
    row = stock_rows(erp, sku)["MAIN"]
    assert (row["on_hand"], row["reserved"]) == (8, 0)


# ---------------------------------------------------------------- faults

def test_error_fault_with_count_applies_to_the_next_n_requests(erp):
    erp.admin.set_faults([{"method": "GET", "path": API + "/products", "kind": "error", "status": 500,
                           "count": 2}])
    statuses = [erp.api.get("/products", limit=1).status_code for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    assert erp.admin.faults()[0]["count"] == 0
    assert erp.admin.stats()["faults_injected"] == {"error": 2}


def test_fault_rules_match_method_and_exact_prefix_or_glob_paths(erp):
    pid = erp.api.page_all("/products", limit=500)[0]["id"]
    erp.admin.set_faults([{"method": "GET", "path": API + "/products/*", "kind": "error", "status": 503}])
    assert erp.api.get(f"/products/{pid}").status_code == 503
    assert erp.api.get("/products", limit=1).status_code == 200
    erp.admin.set_faults([{"method": "POST", "path": API + "/products", "kind": "error"}])
    assert erp.api.get("/products", limit=1).status_code == 200
    erp.admin.set_faults([{"path": API + "/prod", "match": "prefix", "kind": "error"}])
    assert erp.api.get(f"/products/{pid}").status_code == 503
    assert erp.api.get("/warehouses").status_code == 200


def test_random_rate_is_reproducible_with_a_seed(erp):
    def failures() -> list[int]:
        erp.admin.set_faults([{"path": API + "/warehouses", "kind": "error", "rate": 0.5}], seed=7)
        return [i for i in range(30) if erp.api.get("/warehouses").status_code == 503]

    first = failures()
    assert 0 < len(first) < 30
    assert failures() == first
    erp.admin.set_faults([{"path": API + "/warehouses", "kind": "error", "rate": 0.0}])
    assert all(erp.api.get("/warehouses").status_code == 200 for _ in range(5))


def test_latency_fault_and_configured_latency(erp):
    erp.admin.set_faults([{"path": API + "/warehouses", "kind": "latency", "ms": 300}])
    started = time.monotonic()
    assert erp.api.get("/warehouses").status_code == 200
    assert time.monotonic() - started >= 0.3
    erp.admin.clear_faults()
    erp.admin.set_config(latency_ms=200)
    started = time.monotonic()
    erp.api.get("/warehouses")
    assert time.monotonic() - started >= 0.2
    erp.admin.set_config(latency_ms=0)


def test_server_is_threaded_slow_requests_overlap(erp):
    # six requests that each spend a second in the server: served one by one, at most one is ever inside it.
    # The sandbox's high-water mark of requests in flight tells, without a stopwatch, that all six were
    # inside at once (the second is only there so that six threads surely get in before the first is done)
    erp.admin.set_config(latency_ms=1000)
    results = []
    threads = [threading.Thread(target=lambda: results.append(Api(erp.url).get("/warehouses").status_code))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    erp.admin.set_config(latency_ms=0)
    assert results == [200] * 6
    assert erp.admin.stats()["in_flight_peak"] >= 6, "the six slow requests were not served concurrently"


def test_rate_limit_fault_answers_429_with_retry_after(erp):
    erp.admin.set_faults([{"path": API + "/products", "kind": "rate_limit", "retry_after": 3}])
    r = erp.api.get("/products")
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "3"
    assert r.json()["error"]["code"] == "rate_limited"


def test_drop_fault_closes_the_connection_without_an_answer(erp):
    erp.admin.set_faults([{"path": API + "/warehouses", "kind": "drop", "count": 1}])
    with pytest.raises(requests.ConnectionError):
        erp.api.get("/warehouses")
    assert erp.api.get("/warehouses").status_code == 200
    assert erp.admin.stats()["faults_injected"] == {"drop": 1}


@pytest.mark.parametrize("rule", [{"status": 502}, {"drop": True}])
def test_commit_then_fail_commits_the_order_but_fails_the_answer(erp, rule):
    sku, ref = sellable_sku(erp), new_ref()
    erp.admin.set_faults([{"method": "POST", "path": API + "/sales-orders", "kind": "commit_then_fail",
                           **rule}])
    try:
        answer = erp.api.post("/sales-orders", order_body(ref, sku))
        assert answer.status_code == 502
    except requests.ConnectionError:
        assert rule.get("drop")
    else:
        assert not rule.get("drop")
    erp.admin.clear_faults()
    found = erp.api.get("/sales-orders", external_ref=ref).json()["items"]
    assert len(found) == 1 and found[0]["status"] == "open"
    stats = erp.admin.stats()
    assert stats["orders_by_external_ref"] == {ref: 1}
    assert stats["faults_injected"] == {"commit_then_fail": 1}


def test_commit_then_fail_does_not_fire_when_nothing_was_committed(erp):
    erp.admin.set_faults([{"method": "POST", "path": API + "/sales-orders", "kind": "commit_then_fail",
                           "count": 1}])
    assert erp.api.post("/sales-orders", order_body(new_ref(), "NO-SUCH-SKU")).status_code == 422
    assert erp.admin.stats()["faults_injected"] == {}
    ref = new_ref()
    assert erp.api.post("/sales-orders", order_body(ref, sellable_sku(erp))).status_code == 502
    assert erp.api.post("/sales-orders", order_body(new_ref(), sellable_sku(erp))).status_code == 201
    assert len(erp.api.get("/sales-orders", external_ref=ref).json()["items"]) == 1


def test_commit_then_slow_commits_the_order_before_its_answer_goes_out(erp):
    """A client that gives up (or is killed) while waiting finds the order committed by its reference."""
    sku, ref = sellable_sku(erp), new_ref()
    erp.admin.set_faults([{"method": "POST", "path": API + "/sales-orders", "kind": "commit_then_slow",
                           "ms": 20_000, "count": 1}])
    with pytest.raises(requests.ReadTimeout):
        erp.api.session.post(erp.url + API + "/sales-orders", json=order_body(ref, sku), timeout=2)
    found = erp.api.get("/sales-orders", external_ref=ref).json()["items"]
    assert len(found) == 1 and found[0]["status"] == "open"
    assert erp.admin.stats()["faults_injected"] == {"commit_then_slow": 1}
    assert erp.api.post("/sales-orders", order_body(new_ref(), sku)).status_code == 201  # count used up


def test_bad_fault_rules_are_refused(erp):
    for rule in ({"kind": "explode"}, {"kind": "error", "rate": 2}, {"kind": "error", "colour": "red"}):
        with pytest.raises(SandboxAdminError) as exc:
            erp.admin.set_faults([rule])
        assert exc.value.status == 400


# ---------------------------------------------------------------- observability

def test_stats_count_requests_per_method_and_route_template(erp):
    ids = [p["id"] for p in erp.api.get("/products", limit=3).json()["items"]]
    for pid in ids:
        erp.api.get(f"/products/{pid}")
    erp.api.get("/warehouses")
    erp.api.post("/sales-orders", order_body(new_ref(), "NO-SUCH-SKU"))
    assert erp.admin.stats()["requests"] == {
        "GET /api/v1/products": 1, "GET /api/v1/products/{id}": 3, "GET /api/v1/warehouses": 1,
        "POST /api/v1/sales-orders": 1}


def test_correlation_id_is_echoed_and_logged(erp):
    cid, ref = f"corr-{uuid.uuid4().hex}", new_ref()
    r = erp.api.post("/sales-orders", order_body(ref, sellable_sku(erp)), **{"X-Correlation-ID": cid})
    assert r.status_code == 201 and r.headers["X-Correlation-ID"] == cid
    looked_up = erp.api.session.get(erp.url + API + "/sales-orders", params={"external_ref": ref},
                                    headers={"X-Correlation-ID": cid}, timeout=5)
    assert looked_up.headers["X-Correlation-ID"] == cid
    log = erp.admin.requests(correlation_id=cid)
    assert [(e["method"], e["route"], e["status"]) for e in log] == [
        ("POST", "/api/v1/sales-orders", 201), ("GET", "/api/v1/sales-orders", 200)]
    assert log[0]["body"]["external_ref"] == ref
    assert erp.admin.requests(correlation_id="nobody") == []


def test_mutate_and_seed_are_deterministic(erp):
    first = [p | {"modified_at": None} for p in erp.api.page_all("/products", limit=500)]
    changed = erp.admin.mutate("price", 4)["changed"]
    erp.admin.seed(60, variants_per_parent=3, warehouses=["MAIN", "STORE2", "RETURNS"])
    assert [p | {"modified_at": None} for p in erp.api.page_all("/products", limit=500)] == first
    assert erp.admin.mutate("price", 4)["changed"] == changed
    new = erp.admin.mutate("new", 2)["changed"]
    assert {p["id"] for p in erp.api.page_all("/products", limit=500)[-2:]} == set(new)
    gone = erp.admin.mutate("deactivate", 1)["changed"]
    assert erp.api.get(f"/products/{gone[0]}").json()["is_active"] is False


# ---------------------------------------------------------------- process

def test_starts_with_demo_data_and_stops_cleanly_on_sigterm(tmp_path):
    proc, url = start_sandbox(tmp_path, "--seed-demo")
    try:
        api = Api(url)
        products = api.page_all("/products")
        assert sum(not p["is_parent"] for p in products) == 30 and any(p["is_parent"] for p in products)
        assert [w["code"] for w in api.get("/warehouses").json()["items"]] == ["MAIN", "STORE2", "RETURNS"]
        assert "erp sandbox listening on " + url in proc.log_path.read_text()
        proc.popen.send_signal(signal.SIGTERM)
        assert proc.popen.wait(5) == 0
    finally:
        proc.stop()
