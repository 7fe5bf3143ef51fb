"""Adapter for the reference ERP REST API v1 (docs: reference ERP contract, mirrored by sandbox/erp).

Remote limits: lists are keyset-paged with limit 1..500, `?sku=` takes at most 100 SKUs, `external_ref`
is not unique unless the ERP is configured so, and a POST may commit and still fail to answer.

Reservations (erp-api.md v1.1): the reference ERP reserves an order's quantities when it creates it,
in the warehouse the order answer names (`warehouse`), and its `created_at` is the reservation's
moment: stock rows read with `modified_at >= created_at` count it. So an order counts as reserved
from the moment it exists (open, confirmed, partially shipped: what is left is reserved; shipped:
out of on_hand). A cancelled order reserves nothing.
"""
from __future__ import annotations

import json
from typing import Any

import requests

from connector.erp.protocol import NotAmendable, Page, Reservation, StaleRevision
from connector.errors import PermanentError
from connector.http import exchange, pooled_session

SKU_LOOKUP_LIMIT = 100


class RestErp:
    """ErpAdapter for the reference ERP REST API v1 (shapes and errors: connector.erp.protocol). `url` is the
    ERP's base URL (the adapter adds `/api/v1`), `token` its bearer token; `timeout` in seconds per request;
    `limiter` (connector.ratelimit) is waited on before each request. Every method is one HTTP request;
    422 answers become InvalidDataError, other failures are classified by connector.http."""
    system = "erp"

    def __init__(self, url: str, token: str, timeout: float = 30.0, session: requests.Session | None = None,
                 limiter=None):
        self.base = url.rstrip("/") + "/api/v1"
        self.timeout = timeout
        self.session = session or pooled_session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.limiter = limiter

    def _call(self, method: str, path: str, *, params: dict | None = None, body: Any = None) -> Any:
        return exchange(self.system, lambda headers: self.session.request(
            method, self.base + path, params=params, json=body, headers=headers, timeout=self.timeout),
            limiter=self.limiter, invalid_statuses=(422,))[0]

    def _page(self, path: str, modified_since, cursor, limit, **params) -> Page:
        params = {k: v for k, v in params.items() if v is not None}
        params["limit"] = limit
        if cursor:
            params["cursor"] = cursor
        if modified_since:
            params["modified_since"] = modified_since
        body = self._call("GET", path, params=params)
        return Page(items=body["items"], next_cursor=body.get("next_cursor"))

    def identity(self) -> dict:
        """`GET /system` → `{"kind": "rest", "tenant_id": …}`."""
        body = self._call("GET", "/system")
        return {"kind": "rest", "tenant_id": body["tenant_id"]}

    def list_products(self, modified_since, cursor, limit=100) -> Page:
        """`GET /products`, keyset-paged."""
        return self._page("/products", modified_since, cursor, limit)

    def products_by_sku(self, skus: list[str]) -> list[dict]:
        """`GET /products?sku=A,B`; PermanentError before any call for more than 100 SKUs or a SKU holding a comma
        or surrounding blanks (the ERP splits the list on commas)."""
        if len(skus) > SKU_LOOKUP_LIMIT:
            raise PermanentError(f"products_by_sku takes at most {SKU_LOOKUP_LIMIT} SKUs, got {len(skus)}")
        if not skus:
            return []
        unlisted = [s for s in skus if "," in s or s != s.strip()]
        if unlisted:  # the ERP splits ?sku= on commas: such a SKU is read by id (connector.sync.sku_lookup)
            raise PermanentError(f"products_by_sku cannot list SKUs {unlisted!r}: they contain the separator")
        return self._call("GET", "/products", params={"sku": ",".join(skus)})["items"]

    def get_product(self, product_id: str) -> dict:
        """`GET /products/{id}`; PermanentError (404) when there is none."""
        return self._call("GET", f"/products/{product_id}")

    def list_categories(self, modified_since, cursor, limit=100) -> Page:
        """`GET /categories`, keyset-paged (contract v1.1)."""
        return self._page("/categories", modified_since, cursor, limit)

    def list_inventory(self, modified_since, cursor, limit=100) -> Page:
        """`GET /inventory`, keyset-paged: one StockRow per (sku, warehouse)."""
        return self._page("/inventory", modified_since, cursor, limit)

    def list_shipments(self, modified_since, cursor, limit=100) -> Page:
        """`GET /shipments`, keyset-paged."""
        return self._page("/shipments", modified_since, cursor, limit)

    def find_customers(self, *, external_ref=None, email=None) -> list[dict]:
        """`GET /customers?external_ref=` when given, else `?email=`."""
        params = {"external_ref": external_ref} if external_ref else {"email": email}
        return self._call("GET", "/customers", params=params)["items"]

    def create_customer(self, customer: dict) -> dict:
        """`POST /customers`; InvalidDataError (422) with the ERP's field messages."""
        return self._call("POST", "/customers", body=customer)

    def get_customer(self, customer_id: str) -> dict:
        """`GET /customers/{id}`; PermanentError (404) when there is none."""
        return self._call("GET", f"/customers/{customer_id}")

    def update_customer(self, customer_id: str, changes: dict) -> dict:
        """`PATCH /customers/{id}` (contract v1.1) with `changes` as given."""
        return self._call("PATCH", f"/customers/{customer_id}", body=changes)  # contract v1.1

    def find_sales_orders(self, external_ref: str) -> list[dict]:
        """`GET /sales-orders?external_ref=`."""
        return self._call("GET", "/sales-orders", params={"external_ref": external_ref})["items"]

    def list_sales_orders(self, modified_since, cursor, limit=100) -> Page:
        """`GET /sales-orders`, keyset-paged."""
        return self._page("/sales-orders", modified_since, cursor, limit)

    def create_sales_order(self, order: dict) -> dict:
        """`POST /sales-orders`; the answer has status `open`, `revision` 1 and the reserving `warehouse`."""
        return self._call("POST", "/sales-orders", body=order)

    def finish_sales_order(self, order_id: str) -> dict:
        """`GET /sales-orders/{id}`: the reference ERP numbers orders on create, so nothing is left to finish."""
        return self._call("GET", f"/sales-orders/{order_id}")  # the reference ERP numbers orders on create

    def cancel_sales_order(self, order_id: str) -> dict:
        """`POST /sales-orders/{id}/cancel`; PermanentError (409) for a (partially) shipped order."""
        return self._call("POST", f"/sales-orders/{order_id}/cancel", body={})

    def amend_sales_order(self, order_id: str, changes: dict, *, revision: int | None = None) -> dict:
        """`PATCH /sales-orders/{id}` (contract v1.1), `revision` sent in the body; the ERP's 409 `not_amendable`
        becomes NotAmendable and its 412 StaleRevision."""
        body = dict(changes)
        if revision is not None:
            body["revision"] = revision
        try:
            return self._call("PATCH", f"/sales-orders/{order_id}", body=body)  # contract v1.1
        except PermanentError as e:
            if e.status == 409 and _error_code(e) == "not_amendable":
                raise NotAmendable(f"ERP order {order_id} cannot be amended: {_error_message(e)}",
                                   status=409, excerpt=e.excerpt) from None
            if e.status == 412:
                raise StaleRevision(f"ERP order {order_id} changed since revision {revision}",
                                    status=412, excerpt=e.excerpt) from None
            raise

    def find_credit_notes(self, *, external_ref: str | None = None, sales_order_id: str | None = None) -> list[dict]:
        """`GET /credit-notes?external_ref=` when given, else `?sales_order_id=`."""
        params = {"external_ref": external_ref} if external_ref else {"sales_order_id": sales_order_id}
        return self._call("GET", "/credit-notes", params=params)["items"]

    def list_credit_notes(self, modified_since, cursor, limit=100) -> Page:
        """`GET /credit-notes`, keyset-paged."""
        return self._page("/credit-notes", modified_since, cursor, limit)

    def create_credit_note(self, note: dict) -> dict:
        """`POST /credit-notes` (contract v1.1): amounts with tax, as the contract wants; the net figures the
        connector adds for ERPs crediting net (`net`, `net_amount`) are not sent."""
        body = {k: v for k, v in note.items() if k != "net_amount"}
        body["lines"] = [{k: v for k, v in ln.items() if k != "net"} for ln in note.get("lines") or []]
        return self._call("POST", "/credit-notes", body=body)

    def reservation(self, order: dict) -> Reservation | None:
        """The order counts from its creation: Reservation(its `warehouse`, its `created_at`), None for a draft or a
        cancelled order. No remote call."""
        if order.get("status") in ("draft", "cancelled"):
            return None
        return Reservation(order.get("warehouse"), order.get("created_at"))


def _error_body(error: PermanentError) -> dict:
    try:
        return json.loads(error.excerpt or "").get("error") or {}
    except (ValueError, AttributeError):
        return {}


def _error_code(error: PermanentError) -> str | None:
    return _error_body(error).get("code")


def _error_message(error: PermanentError) -> str:
    return str(_error_body(error).get("message") or error)
