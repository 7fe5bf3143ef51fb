"""WooCommerce REST API v3 adapter.

Hard limits of the remote API: batch endpoints take at most 100 items (413 above), collections at most
per_page=100, prices are strings, variations are written only under their parent, webhooks are
auto-disabled after repeated failed deliveries. The `woocommerce` package (3.0.0, on the design card)
is not used to send: it opens a new connection per call with a 5 s timeout, and its OAuth 1.0a signer
decodes query values before signing (a SKU such as `a%20b` is signed as `a b`, and the shop answers 401)
and leaves `/` unencoded, where WooCommerce verifies the values as sent. So this adapter sends on a pooled
keep-alive session with explicit timeouts and signs as WooCommerce verifies (_Transport and
oauth_signed_query); the package stays the reference client the sandbox's contract tests run.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any, Iterable
from urllib.parse import quote, urlencode

import requests

from connector.errors import AccessDenied, PermanentError
from connector.http import exchange, pooled_session, woocommerce_access_denied, woocommerce_not_found

BATCH_LIMIT = 100
PAGE_LIMIT = 100


def _rawurlencode(value: str) -> str:
    """PHP's rawurlencode (RFC 3986): everything but A-Z a-z 0-9 - _ . ~ is %-escaped, UTF-8 bytes."""
    return quote(value, safe="")


def oauth_signed_query(method: str, url: str, params: dict, key: str, secret: str, *,
                       timestamp: int | None = None, nonce: str | None = None) -> str:
    """The query string of a one-legged OAuth 1.0a request (HMAC-SHA256), signed over exactly what
    WooCommerce's `WC_REST_Authentication::check_oauth_signature` rebuilds: the parameters as PHP decoded
    them into $_GET (i.e. the values we send, never decoded a second time), sorted by key (strcmp),
    each key and value rawurlencoded, every `key=value` rawurlencoded again and joined with `%26`, after
    `METHOD&rawurlencode(url)`; key `secret&`."""
    signed = {str(k): str(v) for k, v in params.items()}
    signed.update(oauth_consumer_key=key, oauth_timestamp=str(int(time.time()) if timestamp is None else timestamp),
                  oauth_nonce=nonce or secrets.token_hex(16), oauth_signature_method="HMAC-SHA256")
    pairs = [_rawurlencode(f"{_rawurlencode(k)}={_rawurlencode(signed[k])}")
             for k in sorted(signed, key=lambda k: k.encode("utf-8"))]
    base = f"{method.upper()}&{_rawurlencode(url)}&{'%26'.join(pairs)}"
    digest = hmac.new(f"{secret}&".encode(), base.encode(), hashlib.sha256).digest()
    signed["oauth_signature"] = base64.b64encode(digest).decode()
    return urlencode(signed, quote_via=quote, safe="")


class _Transport:
    """One WooCommerce REST request, signed as WooCommerce verifies it, sent on a pooled session.

    Why not the package's `API` class: it sends through the module-level `requests.request` (a new
    connection per call) and its public `get/post/...` cannot carry extra headers (the correlation id)
    because its private `__request` passes `headers` twice. Why not its OAuth signer either: it URL-decodes
    every value before signing, so a value holding a valid `%XX` escape (SKU `a%20b`, `%41`) is signed as
    `a b` / `A` while WooCommerce signs the value it received, and answers 401 "Invalid signature"; it also
    leaves `/` unescaped where WooCommerce's rawurlencode escapes it.
    HTTPS: basic auth (or query-string keys); HTTP: an OAuth 1.0a-signed URL (oauth_signed_query).
    """

    version = "wc/v3"
    user_agent = "WooCommerce-Python-REST-API/3.0.0"  # what the package sends; shops may filter on it

    def __init__(self, url: str, key: str, secret: str, *, timeout: float, session: requests.Session,
                 query_string_auth: bool = False, verify_ssl: bool = True):
        self.base = f"{url.rstrip('/')}/wp-json/{self.version}/"
        self.key, self._secret = key, secret
        self.timeout, self.session = timeout, session
        self.is_ssl, self.query_string_auth, self.verify_ssl = url.startswith("https"), query_string_auth, verify_ssl

    def request(self, method: str, endpoint: str, data: Any = None, params: dict | None = None,
                headers: dict | None = None) -> requests.Response:
        params = dict(params or {})
        url = self.base + endpoint
        auth = None
        if self.is_ssl and not self.query_string_auth:
            auth = (self.key, self._secret)
        elif self.is_ssl:
            params.update(consumer_key=self.key, consumer_secret=self._secret)
        else:
            url = f"{url}?{oauth_signed_query(method, url, params, self.key, self._secret)}"
            params = {}  # already inside the signed URL
        sent = {"user-agent": self.user_agent, "accept": "application/json"}
        if data is not None:
            data = json.dumps(data, ensure_ascii=False).encode("utf-8")
            sent["content-type"] = "application/json;charset=utf-8"
        sent.update(headers or {})
        return self.session.request(method, url, params=params, data=data, auth=auth, headers=sent,
                                    timeout=self.timeout, verify=self.verify_ssl)


class WooClient:
    """ShopPort over WooCommerce REST v3 (shapes, limits, errors: connector.woo.port), plus the calls only
    reconciliation and operator tools use. `url`: the shop's base URL; `key`/`secret`: a REST API key pair
    (Basic auth over HTTPS, an OAuth 1.0a-signed URL over HTTP); `timeout`: seconds per request;
    `limiter` (connector.ratelimit) is waited on before each request. Errors come out classified."""

    system = "woocommerce"

    def __init__(self, url: str, key: str, secret: str, timeout: float = 30.0,
                 session: requests.Session | None = None, limiter=None, on_denied=None, slots=None):
        self.url = url
        self.api = _Transport(url, key, secret, timeout=timeout, session=session or pooled_session())
        self.limiter = limiter
        self.on_denied = on_denied  # on_denied(AccessDenied, "PUT orders/5"): counted and shown (connector.shop_access)
        self.slots = slots  # connector.concurrency.Semaphore: WOO_MAX_CONCURRENCY, shared by the fleet

    # -- transport -------------------------------------------------------------------------------
    def call(self, method: str, endpoint: str, data: Any = None, params: dict | None = None,
             invalid_statuses: tuple[int, ...] = ()) -> tuple[Any, requests.Response]:
        """One signed request to `endpoint` (relative to `/wp-json/wc/v3/`), through the rate limiter: returns
        (decoded JSON, response). Raises connector.errors families (NotFound only for WooCommerce's own
        not-found answer); statuses in `invalid_statuses` become InvalidDataError; a refusal for want of permission is
        AccessDenied (reported to `on_denied` first)."""
        try:
            return exchange(self.system, lambda headers: self.api.request(method, endpoint, data, params, headers),
                            limiter=self.limiter, slots=self.slots, invalid_statuses=invalid_statuses,
                            not_found=woocommerce_not_found, denied=woocommerce_access_denied)
        except AccessDenied as e:
            if self.on_denied is not None:
                self.on_denied(e, f"{method} {endpoint}")
            raise

    def get(self, endpoint: str, **params) -> Any:
        """`GET endpoint?params` → the decoded JSON body (errors as `call`)."""
        return self.call("GET", endpoint, params=params)[0]

    def system_status(self) -> dict:
        """`GET system_status` (needs read permission): environment, database and settings of the shop."""
        return self.get("system_status")

    # -- orders ------------------------------------------------------------------------------------
    def get_order(self, order_id: int) -> dict:
        """`GET orders/<id>`."""
        return self.get(f"orders/{int(order_id)}")

    def list_orders(self, *, modified_after: str | None, statuses: Iterable[str], page: int = 1) -> tuple[list, int]:
        """`GET orders` ordered by modification, GMT dates (`dates_are_gmt`)."""
        params = {"per_page": PAGE_LIMIT, "page": page, "orderby": "modified", "order": "asc",
                  "status": ",".join(statuses), "dates_are_gmt": "true"}
        if modified_after:
            params["modified_after"] = modified_after
        body, response = self.call("GET", "orders", params=params)
        return body, int(response.headers.get("X-WP-TotalPages", "1") or 1)

    def list_orders_created_before(self, *, before: str, statuses: Iterable[str], page: int = 1,
                                   fields: Iterable[str] = ()) -> tuple[list, int]:
        """Orders in `statuses` created before `before` (UTC, no zone), oldest id first, trimmed to `fields`."""
        params = {"per_page": PAGE_LIMIT, "page": page, "orderby": "id", "order": "asc",
                  "status": ",".join(statuses), "before": before, "dates_are_gmt": "true"}
        if fields:
            params["_fields"] = ",".join(fields)
        body, response = self.call("GET", "orders", params=params)
        return body, int(response.headers.get("X-WP-TotalPages", "1") or 1)

    def update_order(self, order_id: int, data: dict) -> dict:
        """`PUT orders/<id>` with `data`."""
        return self.call("PUT", f"orders/{int(order_id)}", data)[0]

    def order_refunds(self, order_id: int) -> list[dict]:
        """The order's refunds with their line items (`GET orders/<id>/refunds`, newest first)."""
        return self.get(f"orders/{int(order_id)}/refunds", per_page=100)

    # -- customers ---------------------------------------------------------------------------------
    def get_customer(self, customer_id: int) -> dict:
        """`GET customers/<id>`."""
        return self.get(f"customers/{int(customer_id)}")

    def update_customer(self, customer_id: int, data: dict) -> dict:
        """`PUT customers/<id>` with `data` (e.g. `{"meta_data": [{"key", "value"}]}`, upserted by key); returns
        the customer. Fires the shop's `customer.updated` webhook."""
        return self.call("PUT", f"customers/{int(customer_id)}", data)[0]

    def order_notes(self, order_id: int) -> list[dict]:
        """`GET orders/<id>/notes`: all of them, newest first (the endpoint is not paged)."""
        return self.get(f"orders/{int(order_id)}/notes")

    def add_order_note(self, order_id: int, note: str) -> dict:
        """`POST orders/<id>/notes`, a private note (not sent to the customer)."""
        return self.call("POST", f"orders/{int(order_id)}/notes", {"note": note, "customer_note": False})[0]

    # -- products ----------------------------------------------------------------------------------
    def products_by_sku(self, skus: list[str]) -> list[dict]:
        """Products and variations holding any of `skus` (≤ 100 per call). WooCommerce splits `?sku=` on
        commas (and also matches the whole string), so a SKU with a comma is asked for on its own and only
        its exact match is kept."""
        if not skus:
            return []
        if len(skus) > PAGE_LIMIT:
            raise PermanentError(f"products_by_sku takes at most {PAGE_LIMIT} SKUs, got {len(skus)}")
        plain = [s for s in skus if "," not in s and s == s.strip()]
        found = self.get("products", sku=",".join(plain), per_page=PAGE_LIMIT) if plain else []
        for sku in skus:
            if sku not in plain:
                found += [p for p in self.get("products", sku=sku, per_page=PAGE_LIMIT) if p.get("sku") == sku]
        return found

    def products_by_id(self, ids: list[int]) -> list[dict]:
        """Products with any of `ids` (≤ 100 per call); ids missing from the shop are left out."""
        if not ids:
            return []
        if len(ids) > PAGE_LIMIT:
            raise PermanentError(f"products_by_id takes at most {PAGE_LIMIT} ids, got {len(ids)}")
        return self.get("products", include=",".join(str(int(i)) for i in ids), per_page=PAGE_LIMIT)

    def list_products(self, page: int = 1, fields: Iterable[str] = ()) -> tuple[list, int]:
        """One page of top-level products (any status but trash, oldest id first; variations are not in it)."""
        return self._list("products", page, fields)

    def list_variations(self, parent_id: int, page: int = 1, fields: Iterable[str] = ()) -> tuple[list, int]:
        """`GET products/<parent id>/variations`, one page."""
        return self._list(f"products/{int(parent_id)}/variations", page, fields)

    def _list(self, endpoint: str, page: int, fields: Iterable[str]) -> tuple[list, int]:
        params = {"per_page": PAGE_LIMIT, "page": page, "orderby": "id", "order": "asc"}
        if fields:
            params["_fields"] = ",".join(fields)
        body, response = self.call("GET", endpoint, params=params)
        return body, int(response.headers.get("X-WP-TotalPages", "1") or 1)

    def get_product(self, product_id: int) -> dict:
        """`GET products/<id>`; a variation id answers in product shape. NotFound when the shop has none."""
        return self.get(f"products/{int(product_id)}")

    def batch_products(self, create: list[dict] = (), update: list[dict] = ()) -> dict:
        """`POST products/batch`."""
        return self._batch("products/batch", create, update)

    def batch_variations(self, parent_id: int, create: list[dict] = (), update: list[dict] = ()) -> dict:
        """`POST products/<parent id>/variations/batch`."""
        return self._batch(f"products/{int(parent_id)}/variations/batch", create, update)

    # -- product categories ------------------------------------------------------------------------
    def categories_by_slug(self, slugs: list[str]) -> list[dict]:
        """`GET products/categories?slug=a,b` (one call; [] without a call for no slugs)."""
        if not slugs:
            return []
        return self.get("products/categories", slug=",".join(slugs), per_page=PAGE_LIMIT)

    def list_categories(self, page: int = 1) -> tuple[list, int]:
        """(product categories on `page`, total pages), 100 a page, in WooCommerce's default order (by name)."""
        body, response = self.call("GET", "products/categories", params={"per_page": PAGE_LIMIT, "page": page})
        return body, int(response.headers.get("X-WP-TotalPages") or 1)

    def batch_categories(self, create: list[dict] = (), update: list[dict] = ()) -> dict:
        """`POST products/categories/batch`."""
        return self._batch("products/categories/batch", create, update)

    def _batch(self, endpoint: str, create, update) -> dict:
        create, update = list(create), list(update)
        if len(create) + len(update) > BATCH_LIMIT:
            raise PermanentError(f"{endpoint}: {len(create) + len(update)} items, the limit is {BATCH_LIMIT}")
        body: dict = {}
        if create:
            body["create"] = create
        if update:
            body["update"] = update
        return self.call("POST", endpoint, body)[0]

    # -- webhooks ----------------------------------------------------------------------------------
    def list_webhooks(self) -> list[dict]:
        """`GET webhooks`, the first 100."""
        return self.get("webhooks", per_page=PAGE_LIMIT)

    def create_webhook(self, name: str, topic: str, delivery_url: str, secret: str) -> dict:
        """`POST webhooks`; the shop pings `delivery_url` before it answers."""
        return self.call("POST", "webhooks", {"name": name, "topic": topic, "delivery_url": delivery_url,
                                              "secret": secret})[0]

    def update_webhook(self, webhook_id: int, data: dict) -> dict:
        """`PUT webhooks/<id>` with `data`."""
        return self.call("PUT", f"webhooks/{int(webhook_id)}", data)[0]
