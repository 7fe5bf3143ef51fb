"""Flask application factory of the WooCommerce sandbox: wiring, request gate and error bodies.

Every `/wp-json/` request is counted (`METHOD /route/<template>`), then host-level fault rules run
(they sit in front of WordPress, so before auth), then authentication (§1.2) and the WP permission
check: unauthenticated → 401 `woocommerce_rest_cannot_view|create|edit|delete|batch` (§2.2);
unknown route or method → 404 `rest_no_route`. `_fields=a,b` trims answers (WP core). The route
indexes `GET /wp-json/` and `GET /wp-json/wc/v3` are public, as in WordPress. `/_sandbox/` control
routes are never faulted, counted or authenticated.
"""
from __future__ import annotations

import re
import time

from flask import Flask, g, has_request_context, request

from sandbox.woo import (auth, categories, control, customers, faults as faultmod, orders, products, refunds, system,
                        webhooks)
from sandbox.woo.catalog import render_product
from sandbox.woo.defaults import credentials
from sandbox.woo.delivery import Dispatcher
from sandbox.woo.faults import Faults
from sandbox.woo.profile import Profile
from sandbox.woo.rest import ApiError, error_response, json_response, not_found_route, php_json
from sandbox.woo.stats import Stats
from sandbox.woo.store import Store

CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
DENIED = {"list": ("view", "Sorry, you cannot list resources."),
          "view": ("view", "Sorry, you cannot view this resource."),
          "create": ("create", "Sorry, you are not allowed to create resources."),
          "edit": ("edit", "Sorry, you are not allowed to edit this resource."),
          "delete": ("delete", "Sorry, you are not allowed to delete this resource."),
          "batch": ("batch", "Sorry, you are not allowed to batch manipulate this resource.")}


class Sandbox:
    """Everything one simulated store owns; `app.extensions["woo_sandbox"]`."""

    def __init__(self, key: str, secret: str, home_url: str, utc_offset_minutes: int, profile: Profile,
                 delivery_workers: int):
        self.store = Store(home_url, utc_offset_minutes)
        self.keys = auth.KeyRing()
        self.keys.add(key, secret)
        self.profile = profile
        self.faults = Faults(profile["delivery_delay_ms"])
        self.stats = Stats()
        self.dispatcher = Dispatcher(self.store, self.faults, self.stats, delivery_workers, profile)
        self.orders = orders.Orders(self)
        profile.on_change = self._apply_profile
        self._apply_profile(profile.snapshot())

    def _apply_profile(self, v: dict) -> None:
        """Push the profile's switches into the parts that read them on their hot path."""
        self.faults.set_base(delay_ms=v["delivery_delay_ms"], coalesce=v["coalesce"])
        self.store.taxes_enabled = v["tax"]
        self.keys.www_authenticate = not v["wc82_answers"]

    def emit(self, resource: str, event: str, rid: int) -> None:
        seen = g.setdefault("woo_seen", set()) if has_request_context() else None
        self.dispatcher.emit(resource, event, rid, seen)

    def payload(self, resource: str, rid: int) -> dict:
        """Webhook body for created/updated/restored: the GET body, or the REST error if it is gone."""
        with self.store.lock:
            if resource == "order" and rid in self.store.orders.items:
                return self.orders.render(self.store.orders.items[rid])
            if resource == "product" and rid in self.store.products.items:
                return render_product(self.store, self.store.products.items[rid])
            if resource == "customer" and rid in self.store.customers:
                return customers.render(self.store, self.store.customers[rid])
        if resource == "customer":
            return customers.invalid_id(404).body()
        post_type = "shop_order" if resource == "order" else "product"
        return ApiError(f"woocommerce_rest_{post_type}_invalid_id", "Invalid ID.", 404).body()


def create_app(key: str | None = None, secret: str | None = None, *, home_url: str = "http://127.0.0.1",
               utc_offset_minutes: int = 60, delivery_delay_ms: int | None = None, delivery_workers: int = 8,
               profile: str = "fast", **switches) -> Flask:
    """A fresh simulated store. `home_url` is the site URL used in `_links` and X-WC-Webhook-Source;
    `profile` a preset of `sandbox.woo.profile` and `switches` its single switches (they win)."""
    default_key, default_secret = credentials()
    if delivery_delay_ms is not None:
        switches["delivery_delay_ms"] = delivery_delay_ms
    sb = Sandbox(key or default_key, secret or default_secret, home_url, utc_offset_minutes,
                 Profile(profile, **switches), delivery_workers)
    sb.dispatcher.renderers = {"order": lambda rid: sb.payload("order", rid),
                               "product": lambda rid: sb.payload("product", rid),
                               "customer": lambda rid: sb.payload("customer", rid)}
    app = Flask("sandbox.woo")
    app.url_map.strict_slashes = False
    app.extensions["woo_sandbox"] = sb
    categories.register(app, sb)  # before products: `products/categories` is not a product id
    products.register(app, sb)
    orders.register(app, sb)
    refunds.register(app, sb)
    customers.register(app, sb)
    webhooks.register(app, sb)
    system.register(app, sb)
    control.register(app, sb)

    @app.before_request
    def gate():
        if not request.path.startswith("/wp-json/"):
            return None
        rule = request.url_rule.rule if request.url_rule else request.path
        g.woo_route = request.method + " " + CONVERTER.sub(r"<\1>", rule)
        sb.stats.request(g.woo_route)
        sb.stats.enter()
        g.woo_in_flight = True
        g.woo_faults = sb.faults.firing(request.method, request.path)
        injected = faultmod.apply_before(g.woo_faults)
        if injected is not None:
            return injected
        try:
            key = auth.authenticate(sb.keys)
        except ApiError as e:
            return error_response(e)
        if request.routing_exception is not None or request.url_rule is None:
            return error_response(not_found_route())
        if request.url_rule.endpoint.startswith("index."):
            return None
        if key is None:
            action, message = DENIED[_action(request.method, request.url_rule.rule)]
            return error_response(ApiError(f"woocommerce_rest_cannot_{action}", message, 401))
        def charged(ms: int) -> None:  # called once a PHP worker is free: the request's service starts
            sb.stats.charge(ms)
            g.woo_served_from = time.perf_counter()
        g.woo_slot = sb.profile.begin(_batch_items() if request.url_rule.rule.endswith("/batch")
                                      else int(request.method in ("POST", "PUT", "PATCH", "DELETE")), charged)
        return None

    @app.teardown_request
    def release(_exc):
        sb.profile.end(g.pop("woo_slot", None))
        served_from = g.pop("woo_served_from", None)
        if served_from is not None:
            sb.stats.served(g.get("woo_route", ""), time.perf_counter() - served_from)
        if g.pop("woo_in_flight", False):
            sb.stats.leave()

    @app.route("/wp-json/", methods=["GET"], endpoint="index.site")
    def site_index():
        return json_response({"name": "WooERP sandbox shop", "url": sb.store.home_url, "home": sb.store.home_url,
                              "namespaces": ["wc/v3"], "routes": _routes(app)})

    @app.route("/wp-json/wc/v3", methods=["GET"], endpoint="index.wc")
    def namespace_index():
        return json_response({"namespace": "wc/v3", "routes": _routes(app)})

    @app.after_request
    def finish(response):
        fields = request.args.get("_fields") if request.path.startswith("/wp-json/") else None
        if fields and response.status_code < 300 and response.is_json:
            response.set_data(php_json(_only_fields(response.get_json(), fields.split(","))))
        return faultmod.apply_after(g.get("woo_faults", []), response)

    @app.errorhandler(ApiError)
    def api_error(e: ApiError):
        return error_response(e)

    @app.errorhandler(404)
    @app.errorhandler(405)
    def no_route(_e):
        return error_response(not_found_route())

    @app.errorhandler(500)
    def crashed(_e):
        return json_response({"code": "internal_server_error", "message": faultmod.CRITICAL,
                              "data": {"status": 500}, "additional_errors": []}, 500)

    return app


def _routes(app: Flask) -> dict:
    """The public route index of WP (`GET /wp-json/`), templates without converters."""
    routes: dict[str, set] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/wp-json/wc/v3/"):
            route = CONVERTER.sub(r"(?P<\1>[\\d]+)", rule.rule[len("/wp-json"):])
            routes.setdefault(route, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    return {k: {"namespace": "wc/v3", "methods": sorted(v)} for k, v in sorted(routes.items())}


def _batch_items() -> int:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return 0
    return min(sum(len(body[k]) for k in ("create", "update", "delete") if isinstance(body.get(k), list)), 100)


def _only_fields(data, fields: list[str]):
    """WP core `_fields`: keep only the named top-level keys of each object (and `id`, §3.1)."""
    if isinstance(data, list):
        return [_only_fields(x, fields) for x in data]
    return {k: v for k, v in data.items() if k in fields or k == "id"} if isinstance(data, dict) else data


def _action(method: str, rule: str) -> str:
    if rule.endswith("/batch"):
        return "batch"
    item = rule.endswith(">")
    if method in ("GET", "HEAD"):
        return "view" if item else "list"
    if method == "DELETE":
        return "delete"
    return "edit" if item else "create"
