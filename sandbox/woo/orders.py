"""Orders: `orders`, `orders/<id>`, `orders/batch`, `orders/<id>/notes[/<id>]` (reference §6, §3.4, §5).

Copied behaviours: the §6.1 field set (money as strings, `number` a string, line `price` a number),
`status` list filter (`a,b` or `status[]`), `customer`/`product`/`search` filters, statuses of §6.2,
`set_paid` → `payment_complete()` (processing + `date_paid`), status transitions with the system note
"Order status changed from X to Y.", stock reduced on processing/completed/on-hold and restored on
cancelled/pending (each touched product fires product.updated; a restore leaves out the units restocking
refunds put back since the reduction, as the item's `_reduced_stock` does), `meta_data` upsert by key,
totals recalculated when items or addresses change, DELETE to trash unless `force=true`,
notes 201 `author:"system"`, unknown ids → `woocommerce_rest_shop_order_invalid_id` (404 read, 400 write),
`woocommerce_rest_order_invalid_id` for notes of an unknown order. With the profile's `wc82_answers`
(§11) an API note's author is `WooCommerce` and notes of an unknown order answer
`woocommerce_rest_shop_order_invalid_id`; with `silent_meta_updates` a meta-only PUT fires nothing.
Webhook events: order.created + order.updated on create, order.updated, order.deleted (trash) (§7.1).
Refunds (`orders/<id>/refunds`, the order's `refunds` array, status `refunded`): sandbox/woo/refunds.py.
"""
from __future__ import annotations

import copy
import secrets

from sandbox.woo import catalog, order_lines as lines
from sandbox.woo.batch import run_batch
from sandbox.woo.refunds import RESTOCKED_KEY, order_refunds
from sandbox.woo.collections import list_response, parse_query, select
from sandbox.woo.rest import (ApiError, arg, arg_list, body_params, fmt_date, json_response, money, to_int, truthy,
                              validate)

API = "/wp-json/wc/v3"
STATUS_LABELS = {"pending": "Pending payment", "processing": "Processing", "on-hold": "On hold",
                 "completed": "Completed", "cancelled": "Cancelled", "refunded": "Refunded", "failed": "Failed",
                 "checkout-draft": "Draft", "auto-draft": "Draft"}
ADDRESS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode", "country")
ORDER_SCHEMA = {
    "parent_id": "integer", "status": tuple(STATUS_LABELS), "currency": "string", "customer_id": "integer",
    "customer_note": "string", "billing": "object", "shipping": "object", "payment_method": "string",
    "payment_method_title": "string", "transaction_id": "string", "meta_data": "array", "line_items": "array",
    "shipping_lines": "array", "fee_lines": "array", "coupon_lines": "array", "set_paid": "boolean",
}
ITEM_KEYS = ("line_items", "shipping_lines", "fee_lines", "coupon_lines")


def invalid_order(status: int) -> ApiError:
    return ApiError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", status)


class Orders:
    def __init__(self, sb):
        self.sb, self.store = sb, sb.store

    def find(self, oid: int, status: int) -> dict:
        rec = self.store.orders.items.get(oid)
        if rec is None:
            raise invalid_order(status)
        return rec

    # the 404 each sub-resource controller answers for an unknown parent order (both say "Invalid order ID.")
    PARENT_MISSING = {"notes": "woocommerce_rest_order_invalid_id",  # WC_REST_Order_Notes_Controller
                      "refunds": "woocommerce_rest_invalid_order_id"}  # WC_REST_Order_Refunds_Controller

    def parent(self, oid: int, sub: str) -> dict:
        """The order that `orders/<oid>/<sub>` (notes, refunds) hangs under, or that controller's 404."""
        rec = self.store.orders.items.get(oid)
        if rec is None:
            if sub == "notes" and self.sb.profile["wc82_answers"]:  # what a real WooCommerce 8.2 answered (§11)
                raise invalid_order(404)
            raise ApiError(self.PARENT_MISSING[sub], "Invalid order ID.", 404)
        return rec

    # ------------------------------------------------------------ writes

    def create(self, params: dict, strict: bool = True, extra: dict | None = None, updated: bool = True) -> dict:
        if params.get("id"):
            raise ApiError("woocommerce_rest_shop_order_exists", "Cannot create existing order.", 400)
        store = self.store
        with store.lock:
            p = validate(params, ORDER_SCHEMA, strict)
            now = store.now()
            rec = {"id": store.next_id("post"), "parent_id": 0, "status": "pending", "currency": "EUR",
                   "created": now, "modified": now, "customer_id": 0,
                   "order_key": "wc_order_" + secrets.token_hex(7)[:13],
                   "billing": {k: "" for k in ADDRESS + ("email", "phone")},
                   "shipping": {k: "" for k in ADDRESS + ("phone",)},
                   "payment_method": "", "payment_method_title": "", "transaction_id": "", "customer_ip_address": "",
                   "customer_user_agent": "", "created_via": "rest-api", "customer_note": "", "date_paid": None,
                   "date_completed": None, "cart_hash": "", "meta_data": [], "line_items": [], "shipping_lines": [],
                   "fee_lines": [], "coupon_lines": [], "tax_lines": [], "totals": {}, "stock_reduced": False}
            rec.update(extra or {})
            self._apply(rec, p)
            lines.recalculate(store, rec)
            store.orders.insert(rec)
            self._finish(rec, p, creating=True)
            self.sb.emit("order", "created", rec["id"])
            if updated:  # the second save of a REST create; a checkout draft is saved once
                self.sb.emit("order", "updated", rec["id"])
            return self.render(rec)

    def update(self, rec: dict, params: dict, strict: bool = True) -> dict:
        store = self.store
        with store.lock:
            p = validate(params, ORDER_SCHEMA, strict)
            work = copy.deepcopy(rec)
            self._apply(work, p)
            if any(k in p for k in ("billing", "shipping") + ITEM_KEYS):
                lines.recalculate(store, work)
            before = store.orders.state(rec)
            rec.clear()
            rec.update(work)
            rec["modified"] = store.now()
            store.orders.changed(rec, before)
            self._finish(rec, p, creating=False)
            if not (self.sb.profile["silent_meta_updates"] and set(p) <= {"id", "meta_data"}):
                self.sb.emit("order", "updated", rec["id"])  # a real 8.2 stays silent on meta-only PUTs (§11)
            return self.render(rec)

    def _apply(self, rec: dict, p: dict) -> None:
        cid = p.get("customer_id")
        if cid and cid not in self.store.customers:
            raise ApiError("woocommerce_rest_invalid_customer_id", "Customer ID is invalid.", 400)
        for field in ("parent_id", "currency", "customer_id", "customer_note", "payment_method",
                      "payment_method_title", "transaction_id"):
            if field in p and p[field] is not None:
                rec[field] = p[field]
        for kind in ("billing", "shipping"):
            for k, v in (p.get(kind) or {}).items():
                if k in rec[kind] and v is not None:
                    rec[kind][k] = str(v)
        if isinstance(p.get("meta_data"), list):
            self.store.upsert_meta(rec["meta_data"], p["meta_data"])
        if isinstance(p.get("line_items"), list):
            lines.apply_line_items(self.store, rec, p["line_items"])
        for key in ITEM_KEYS[1:]:
            if isinstance(p.get(key), list):
                lines.apply_other_lines(self.store, rec, key, p[key])

    def _finish(self, rec: dict, p: dict, creating: bool) -> None:
        """save_object(): status after the other fields, then set_paid → payment_complete()."""
        if p.get("status"):
            self.transition(rec, p["status"])
        if p.get("set_paid") is True and (creating or self._needs_payment(rec)):
            rec["transaction_id"] = p.get("transaction_id") or rec["transaction_id"]
            rec["date_paid"] = rec["date_paid"] or self.store.now()
            if rec["status"] in ("pending", "failed", "on-hold", "checkout-draft"):
                self.transition(rec, "processing" if self._needs_processing(rec) else "completed")

    def transition(self, rec: dict, new: str) -> None:
        old = rec["status"]
        if new == old:
            return
        before = self.store.orders.state(rec)
        now = self.store.now()
        rec["status"], rec["modified"] = new, now
        if new in ("processing", "completed") and rec["date_paid"] is None:
            rec["date_paid"] = now
        if new == "completed":
            rec["date_completed"] = now
        self.store.orders.changed(rec, before)
        self.add_note(rec, f"Order status changed from {STATUS_LABELS.get(old, old)} to {STATUS_LABELS.get(new, new)}.")
        if new in ("processing", "completed", "on-hold"):
            self._move_stock(rec, -1)
        elif new in ("cancelled", "pending"):
            self._move_stock(rec, +1)

    def _move_stock(self, rec: dict, sign: int) -> None:
        """wc_maybe_reduce_stock_levels / wc_maybe_increase_stock_levels."""
        if rec["stock_reduced"] == (sign < 0):
            return
        rec["stock_reduced"] = sign < 0
        changes = []
        for it in rec["line_items"]:
            product = self.store.products.items.get(it["variation_id"] or it["product_id"])
            if product is None:
                continue
            owner = catalog.stock_owner(self.store, product)
            if not catalog.get(owner, "manage_stock"):
                continue
            # what the order holds: a restocking refund already put its units back (wc_restock_refunded_items
            # lowers the item's _reduced_stock), so an increase restores only the rest
            moved = it["quantity"] if sign < 0 else max(0, it["quantity"] - it.get(RESTOCKED_KEY, 0))
            it[RESTOCKED_KEY] = 0
            if not moved:
                continue
            before = self.store.products.state(owner)
            old = catalog.get(owner, "stock_quantity") or 0
            owner["stock_quantity"] = old + sign * moved
            catalog.derive_stock_status(owner)
            owner["modified"] = self.store.now()
            self.store.products.changed(owner, before)
            changes.append(f"{catalog.display_name(self.store, product)} ({catalog.get(product, 'sku')}) "
                           f"{old}&rarr;{owner['stock_quantity']}")
            self.sb.emit("product", "updated", owner["id"])
        if changes:
            verb = "reduced" if sign < 0 else "increased"
            self.add_note(rec, f"Stock levels {verb}: " + ", ".join(changes))

    def delete(self, rec: dict, force: bool) -> dict:
        with self.store.lock:
            shown = self.render(rec)
            if force:
                self.store.orders.delete(rec)
                self.store.notes.pop(rec["id"], None)
                self.store.refunds.pop(rec["id"], None)
                return shown
            if rec["status"] == "trash":
                raise ApiError("woocommerce_rest_already_trashed", "The order has already been deleted.", 410)
            before = self.store.orders.state(rec)
            rec["pre_trash_status"], rec["status"], rec["modified"] = rec["status"], "trash", self.store.now()
            self.store.orders.changed(rec, before)
            self.sb.emit("order", "deleted", rec["id"])
            return self.render(rec)

    def add_note(self, rec: dict, text: str, customer_note: bool = False, author: str = "system") -> dict:
        note = {"id": self.store.next_id("comment"), "author": author, "created": self.store.now(),
                "note": text, "customer_note": customer_note}
        self.store.notes.setdefault(rec["id"], []).append(note)
        return note

    # ------------------------------------------------------------ reads

    @staticmethod
    def _needs_payment(rec: dict) -> bool:
        return rec["status"] in ("pending", "failed") and rec["totals"]["total"] > 0

    def _needs_processing(self, rec: dict) -> bool:
        items = self.store.products.items
        for it in rec["line_items"]:
            product = items.get(it["variation_id"] or it["product_id"])
            if product is None or not (catalog.get(product, "virtual") and catalog.get(product, "downloadable")):
                return True
        return False

    def render(self, rec: dict) -> dict:
        store, off, t = self.store, self.store.offset, rec["totals"]
        links = {"self": [{"href": store.api_url(f"orders/{rec['id']}")}],
                 "collection": [{"href": store.api_url("orders")}]}
        if rec["customer_id"]:
            links["customer"] = [{"href": store.api_url(f"customers/{rec['customer_id']}")}]
        if rec["parent_id"]:
            links["up"] = [{"href": store.api_url(f"orders/{rec['parent_id']}")}]
        return {
            "id": rec["id"], "parent_id": rec["parent_id"], "status": rec["status"], "currency": rec["currency"],
            "version": "9.8.5", "prices_include_tax": False, "date_created": fmt_date(rec["created"], off),
            "date_modified": fmt_date(rec["modified"], off), **{k: money(t[k]) for k in (
                "discount_total", "discount_tax", "shipping_total", "shipping_tax", "cart_tax", "total", "total_tax")},
            "customer_id": rec["customer_id"], "order_key": rec["order_key"], "billing": dict(rec["billing"]),
            "shipping": dict(rec["shipping"]), "payment_method": rec["payment_method"],
            "payment_method_title": rec["payment_method_title"], "transaction_id": rec["transaction_id"],
            "customer_ip_address": rec["customer_ip_address"], "customer_user_agent": rec["customer_user_agent"],
            "created_via": rec["created_via"], "customer_note": rec["customer_note"],
            "date_completed": fmt_date(rec["date_completed"], off), "date_paid": fmt_date(rec["date_paid"], off),
            "cart_hash": rec["cart_hash"], "number": str(rec["id"]), "meta_data": [dict(m) for m in rec["meta_data"]],
            "line_items": [lines.render_line(store, it) for it in rec["line_items"]],
            "tax_lines": [lines.render_tax_line(x) for x in rec["tax_lines"]],
            "shipping_lines": [lines.render_shipping_line(x) for x in rec["shipping_lines"]],
            "fee_lines": [lines.render_fee_line(x) for x in rec["fee_lines"]],
            "coupon_lines": [lines.render_coupon_line(x) for x in rec["coupon_lines"]],
            "refunds": order_refunds(store, rec["id"]),
            "payment_url": (f"{store.home_url}/checkout/order-pay/{rec['id']}/"
                            f"?pay_for_order=true&key={rec['order_key']}"),
            "is_editable": rec["status"] in ("pending", "on-hold", "auto-draft", "checkout-draft"),
            "needs_payment": self._needs_payment(rec), "needs_processing": self._needs_processing(rec),
            "date_created_gmt": fmt_date(rec["created"]), "date_modified_gmt": fmt_date(rec["modified"]),
            "date_completed_gmt": fmt_date(rec["date_completed"]), "date_paid_gmt": fmt_date(rec["date_paid"]),
            "currency_symbol": "€", "_links": links,
        }

    def render_note(self, order_id: int, n: dict) -> dict:
        s, off = self.store, self.store.offset
        return {"id": n["id"], "author": n["author"], "date_created": fmt_date(n["created"], off),
                "date_created_gmt": fmt_date(n["created"]), "note": n["note"], "customer_note": n["customer_note"],
                "_links": {"self": [{"href": s.api_url(f"orders/{order_id}/notes/{n['id']}")}],
                           "collection": [{"href": s.api_url(f"orders/{order_id}/notes")}],
                           "up": [{"href": s.api_url(f"orders/{order_id}")}]}}

    def list_orders(self):
        q = parse_query(self.store.offset)
        statuses = set(arg_list("status") or ["any"])
        customer, product = arg("customer"), arg("product")

        def match(r: dict) -> bool:
            return (("any" in statuses and r["status"] not in ("trash", "checkout-draft", "auto-draft"))
                    or r["status"] in statuses) and all((
                customer is None or str(r["customer_id"]) == customer,
                product is None or any(product in (str(i["product_id"]), str(i["variation_id"]))
                                       for i in r["line_items"]),
                q.search is None or q.search.lower() in " ".join([str(r["id"])] + list(r["billing"].values())).lower()))

        with self.store.lock:
            hidden = statuses & {"trash", "checkout-draft", "auto-draft"}
            records = list(self.store.orders.items.values()) if hidden else None
            filtered = statuses != {"any"} or customer is not None or product is not None or q.search
            page, total = select(q, self.store.orders, records, match if filtered else None, lambda r: r["id"])
            return list_response([self.render(r) for r in page], total, q)


def register(app, sb) -> None:
    ops = sb.orders

    def order_for_notes(oid: int) -> dict:
        return ops.parent(oid, "notes")

    def note(oid: int, nid: int) -> dict:
        found = [n for n in sb.store.notes.get(oid, []) if n["id"] == nid]
        if not found:
            raise ApiError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
        return found[0]

    @app.route(API + "/orders", methods=["GET"], endpoint="orders.list")
    def orders_list():
        return ops.list_orders()

    @app.route(API + "/orders", methods=["POST"], endpoint="orders.create")
    def orders_create():
        return json_response(ops.create(body_params()), 201)

    @app.route(API + "/orders/<int:id>", methods=["GET"], endpoint="orders.get")
    def orders_get(id):
        with sb.store.lock:
            return json_response(ops.render(ops.find(id, 404)))

    @app.route(API + "/orders/<int:id>", methods=["PUT", "PATCH", "POST"], endpoint="orders.update")
    def orders_update(id):
        return json_response(ops.update(ops.find(id, 400), body_params()))

    @app.route(API + "/orders/<int:id>", methods=["DELETE"], endpoint="orders.delete")
    def orders_delete(id):
        return json_response(ops.delete(ops.find(id, 404), truthy(arg("force"))))

    @app.route(API + "/orders/batch", methods=["POST", "PUT", "PATCH"], endpoint="orders.batch")
    def orders_batch():
        out, n = run_batch(body_params(), lambda item: ops.create(item, strict=False),
                           lambda item: ops.update(ops.find(to_int(item.get("id")), 400), item, strict=False),
                           lambda rid: ops.delete(ops.find(rid, 404), True))
        sb.stats.batch(n)
        return json_response(out)

    @app.route(API + "/orders/<int:order_id>/notes", methods=["GET"], endpoint="notes.list")
    def notes_list(order_id):
        with sb.store.lock:
            order_for_notes(order_id)
            kind = arg("type", "any")
            notes = [n for n in sb.store.notes.get(order_id, [])
                     if kind == "any" or n["customer_note"] == (kind == "customer")]
            return json_response([ops.render_note(order_id, n) for n in sorted(notes, key=lambda n: -n["id"])])

    @app.route(API + "/orders/<int:order_id>/notes", methods=["POST"], endpoint="notes.create")
    def notes_create(order_id):
        p = validate(body_params(), {"note": "string", "customer_note": "boolean", "added_by_user": "boolean"})
        with sb.store.lock:
            rec = order_for_notes(order_id)
            if not p.get("note"):
                raise ApiError("rest_missing_callback_param", "Missing parameter(s): note", 400, params=["note"])
            author = "admin" if p.get("added_by_user") else (
                "WooCommerce" if sb.profile["wc82_answers"] else "system")
            n = ops.add_note(rec, p["note"], bool(p.get("customer_note")), author)
            return json_response(ops.render_note(order_id, n), 201)

    @app.route(API + "/orders/<int:order_id>/notes/<int:id>", methods=["GET"], endpoint="notes.get")
    def notes_get(order_id, id):
        with sb.store.lock:
            order_for_notes(order_id)
            return json_response(ops.render_note(order_id, note(order_id, id)))

    @app.route(API + "/orders/<int:order_id>/notes/<int:id>", methods=["DELETE"], endpoint="notes.delete")
    def notes_delete(order_id, id):
        with sb.store.lock:
            order_for_notes(order_id)
            n = note(order_id, id)
            if not truthy(arg("force")):
                raise ApiError("woocommerce_rest_trash_not_supported", "The resource does not support trashing.", 501)
            sb.store.notes[order_id].remove(n)
            return json_response(ops.render_note(order_id, n))
