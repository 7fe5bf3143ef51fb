"""Webhook resource: `webhooks`, `webhooks/<id>`, `webhooks/batch` (reference §7.7, §7.5, §7.1).

Create needs `topic` and `delivery_url` (missing → 400 `rest_missing_callback_param`, invalid →
`woocommerce_rest_shop_webhook_invalid_topic` / `_invalid_delivery_url`), always stores status
`active`, answers 201 + `Location`, never returns the secret (a random 50-char one is generated when
none is given) and pings the delivery URL synchronously (result ignored). Update changes only the
given non-empty fields; an active webhook pings again when its URL changed or its ping is still
pending. Re-activation keeps `failure_count`. DELETE without `force=true` → 501.
Delivery URLs are checked at send time by the profile's address rules (§11: a refused URL still gives
an active webhook, and the failed ping is not reported). With `wc82_answers`, reading an unknown (e.g.
deleted) webhook answers 400 as a real WooCommerce 8.2 did, else 404.
"""
from __future__ import annotations

import re
import secrets
import string

from sandbox.woo.batch import run_batch
from sandbox.woo.collections import list_response, parse_query, select
from sandbox.woo.rest import ApiError, arg, body_params, fmt_date, json_response, to_int, truthy, validate

API = "/wp-json/wc/v3"
RESOURCES = ("coupon", "customer", "order", "product")
EVENTS = ("created", "updated", "deleted", "restored")
HOOKS = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded", "woocommerce_delete_order_refund"],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
    "product.created": ["woocommerce_process_product_meta", "woocommerce_new_product",
                        "woocommerce_new_product_variation"],
    "product.updated": ["woocommerce_process_product_meta", "woocommerce_update_product",
                        "woocommerce_update_product_variation"],
    "product.deleted": ["wp_trash_post"], "product.restored": ["untrashed_post"],
    "customer.created": ["user_register", "woocommerce_created_customer", "woocommerce_new_customer"],
    "customer.updated": ["profile_update", "woocommerce_update_customer"], "customer.deleted": ["delete_user"],
    "coupon.created": ["woocommerce_process_shop_coupon_meta", "woocommerce_new_coupon"],
    "coupon.updated": ["woocommerce_process_shop_coupon_meta", "woocommerce_update_coupon"],
    "coupon.deleted": ["wp_trash_post"], "coupon.restored": ["untrashed_post"],
}
SCHEMA = {"name": "string", "status": ("active", "paused", "disabled"), "topic": "string", "delivery_url": "string",
          "secret": "string"}


def valid_topic(topic: str) -> bool:
    if topic.startswith("action."):
        hook = topic[7:]
        return hook.startswith(("woocommerce_", "wc_")) and hook != "woocommerce_login_credentials"
    return topic in HOOKS


def parts(topic: str) -> tuple[str, str]:
    resource, _, event = topic.partition(".")
    return resource, event


class Webhooks:
    def __init__(self, sb):
        self.sb, self.store = sb, sb.store

    def find(self, wid: int, status: int = 404) -> dict:
        wh = self.store.webhooks.get(wid)
        if wh is None:
            raise ApiError("woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.", status)
        return wh

    def _check(self, p: dict, creating: bool) -> dict:
        p = validate(p, SCHEMA)
        if creating:
            missing = [k for k in ("topic", "delivery_url") if k not in p]
            if missing:
                raise ApiError("rest_missing_callback_param", f"Missing parameter(s): {', '.join(missing)}", 400,
                               params=missing)
        if "topic" in p and (creating or p["topic"]) and not valid_topic(p["topic"].lower()):
            raise ApiError("woocommerce_rest_shop_webhook_invalid_topic",
                           "Webhook topic is required and must be valid.", 400)
        url = p.get("delivery_url")
        if url is not None and (creating or url) and not re.match(r"^https?://[^\s/]+", url):
            raise ApiError("woocommerce_rest_shop_webhook_invalid_delivery_url",
                           "Webhook delivery URL must be a valid URL starting with http:// or https://.", 400)
        return p

    def create(self, params: dict) -> dict:
        p = self._check(params, creating=True)
        with self.store.lock:
            now = self.store.now()
            wid = self.store.next_id("webhook")
            alphabet = string.ascii_letters + string.digits + "!@#$%^&*()-_ []{}<>~`+=,.;:/?|"
            wh = {"id": wid, "name": p.get("name") or f"Webhook created on {fmt_date(now, self.store.offset)}",
                  "status": "active", "topic": p["topic"].lower(), "delivery_url": p["delivery_url"],
                  "secret": p.get("secret") or "".join(secrets.choice(alphabet) for _ in range(50)),
                  "api_version": "wp_api_v3", "failure_count": 0, "pending_delivery": True,
                  "created": now, "modified": now}
            self.store.webhooks[wid] = wh
            shown = self.render(wh)
        self.sb.dispatcher.ping(wid)
        return shown

    def update(self, wh: dict, params: dict) -> dict:
        p = self._check(params, creating=False)
        with self.store.lock:
            url_changed = bool(p.get("delivery_url")) and p["delivery_url"] != wh["delivery_url"]
            for field in ("name", "topic", "delivery_url", "secret", "status"):
                if p.get(field):
                    wh[field] = p[field].lower() if field == "topic" else p[field]
            wh["modified"] = self.store.now()
            ping = wh["status"] == "active" and (url_changed or wh["pending_delivery"])
        if ping:
            self.sb.dispatcher.ping(wh["id"])
        with self.store.lock:
            return self.render(wh)

    def delete(self, wh: dict, force: bool) -> dict:
        if not force:
            raise ApiError("woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.", 501)
        with self.store.lock:
            self.store.webhooks.pop(wh["id"], None)
            return self.render(wh)

    def render(self, wh: dict) -> dict:
        off = self.store.offset
        resource, event = parts(wh["topic"])
        return {"id": wh["id"], "name": wh["name"], "status": wh["status"], "topic": wh["topic"],
                "resource": "action" if resource == "action" else resource, "event": event,
                "hooks": HOOKS.get(wh["topic"], [event]), "delivery_url": wh["delivery_url"],
                "date_created": fmt_date(wh["created"], off), "date_created_gmt": fmt_date(wh["created"]),
                "date_modified": fmt_date(wh["modified"], off), "date_modified_gmt": fmt_date(wh["modified"]),
                "_links": {"self": [{"href": self.store.api_url(f"webhooks/{wh['id']}")}],
                           "collection": [{"href": self.store.api_url("webhooks")}]}}

    def list(self):
        q = parse_query(self.store.offset, ("date", "id", "title"))
        status = arg("status", "all")
        with self.store.lock:
            hooks = [w for w in self.store.webhooks.values()
                     if (status == "all" or w["status"] == status)
                     and (q.search is None or q.search.lower() in w["name"].lower())]
            page, total = select(q, None, hooks, None, lambda w: w["name"].lower())
            return list_response([self.render(w) for w in page], total, q)


def register(app, sb) -> None:
    ops = Webhooks(sb)

    @app.route(API + "/webhooks", methods=["GET"], endpoint="webhooks.list")
    def webhooks_list():
        return ops.list()

    @app.route(API + "/webhooks", methods=["POST"], endpoint="webhooks.create")
    def webhooks_create():
        shown = ops.create(body_params())
        return json_response(shown, 201, {"Location": sb.store.api_url(f"webhooks/{shown['id']}")})

    @app.route(API + "/webhooks/<int:id>", methods=["GET"], endpoint="webhooks.get")
    def webhooks_get(id):
        with sb.store.lock:
            return json_response(ops.render(ops.find(id, 400 if sb.profile["wc82_answers"] else 404)))

    @app.route(API + "/webhooks/<int:id>", methods=["PUT", "PATCH", "POST"], endpoint="webhooks.update")
    def webhooks_update(id):
        return json_response(ops.update(ops.find(id, 400), body_params()))

    @app.route(API + "/webhooks/<int:id>", methods=["DELETE"], endpoint="webhooks.delete")
    def webhooks_delete(id):
        return json_response(ops.delete(ops.find(id), truthy(arg("force"))))

    @app.route(API + "/webhooks/batch", methods=["POST", "PUT", "PATCH"], endpoint="webhooks.batch")
    def webhooks_batch():
        out, n = run_batch(body_params(), ops.create,
                           lambda item: ops.update(ops.find(to_int(item.get("id")), 400), item),
                           lambda rid: ops.delete(ops.find(rid), True))
        sb.stats.batch(n)
        return json_response(out)
