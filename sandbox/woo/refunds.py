"""Order refunds: `orders/<id>/refunds`, `orders/<id>/refunds/<refund id>` (WC_REST_Order_Refunds_Controller
and wc_create_refund(), as WooCommerce 8-9 do them).

- POST `{amount, reason, refunded_by, meta_data, line_items: [{id, quantity, refund_total, refund_tax:
  [{id, refund_total}]}], api_refund (default true), api_restock (default true; `restock_items` is taken as
  its older name)}` → 201 with the refund. Refund ids come from the post id sequence (so `orders/<refund id>`
  is an invalid order id). A negative amount is 400 `woocommerce_rest_invalid_order_refund`; an amount above
  what is left to refund is 500 `woocommerce_rest_cannot_create_order_refund` "Invalid refund amount.";
  `api_refund: true` on a gateway without automatic refunds (bacs, cheque, cod, …) is the same 500 with
  "The payment gateway for this order does not support automatic refunds." A missing amount is the sum of
  the lines' refund totals and taxes. Line items naming no item of the order are ignored.
- The refund's own line items carry negative quantities and totals and `_refunded_item_id` meta.
- Restocking puts the refunded quantities of reduced-stock items back (product.updated, an order note
  "Item #<id> stock increased from a to b.") and counts them in the order item's `_restock_refunded_items`
  meta, as wc_restock_refunded_items() does; together they never put back more than the order reduced, and a
  later cancel restores only what is left (the item's `_reduced_stock` is lowered by each restock).
- The order lists its refunds newest first as `refunds: [{id, reason, total: "-x.xx"}]`; a refund that
  leaves nothing to refund moves the order to `refunded` (wc_order_fully_refunded). Every refund, and
  deleting one (`DELETE … ?force=true`; without force 501), fires `order.updated`.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sandbox.woo import catalog
from sandbox.woo.rest import ApiError, arg, body_params, fmt_date, json_response, money, truthy, validate

API = "/wp-json/wc/v3"
REFUND_GATEWAYS = ("stripe", "woocommerce_payments", "ppcp-gateway", "paypal", "braintree_credit_card")
SCHEMA = {"amount": "string", "reason": "string", "refunded_by": "integer", "meta_data": "array",
          "line_items": "array", "api_refund": "boolean", "api_restock": "boolean", "restock_items": "boolean"}
ZERO = Decimal(0)
RESTOCKED_META = "_restock_refunded_items"  # order item meta: units restocked by refunds so far (WC 5.0+)
RESTOCKED_KEY = "restocked_since_reduced"  # internal, not rendered: units restocked since the order reduced stock


def cannot_create(message: str) -> ApiError:
    return ApiError("woocommerce_rest_cannot_create_order_refund", message, 500)


def refunds_of(store, order_id: int) -> list[dict]:
    return store.refunds.setdefault(order_id, [])


def refunded_total(store, order_id: int) -> Decimal:
    return sum((r["amount"] for r in store.refunds.get(order_id, [])), ZERO)


def order_refunds(store, order_id: int) -> list[dict]:
    """The order's `refunds` array: newest first, totals negative."""
    return [{"id": r["id"], "reason": r["reason"], "total": money(-r["amount"])}
            for r in sorted(store.refunds.get(order_id, []), key=lambda r: -r["id"])]


def _decimal(value, default: Decimal = ZERO) -> Decimal:
    if value in (None, ""):
        return default
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return default
    return number if number.is_finite() else default


class Refunds:
    def __init__(self, sb):
        self.sb, self.store = sb, sb.store

    def create(self, rec: dict, params: dict) -> dict:
        p = validate(params, SCHEMA)
        store = self.store
        with store.lock:
            items = {it["id"]: (kind, it) for kind in ("line_items", "shipping_lines", "fee_lines")
                     for it in rec[kind]}
            lines = []
            for raw in p.get("line_items") or []:
                if not isinstance(raw, dict) or int(raw.get("id") or 0) not in items:
                    continue
                kind, item = items[int(raw["id"])]
                tax = sum((_decimal(t.get("refund_total")) for t in raw.get("refund_tax") or []
                           if isinstance(t, dict)), ZERO)
                qty = int(_decimal(raw.get("quantity")))
                lines.append((kind, item, max(qty, 0), _decimal(raw.get("refund_total")), tax))
            amount = _decimal(p.get("amount"), None) if p.get("amount") not in (None, "") else \
                sum((total + tax for *_, total, tax in lines), ZERO)
            if amount is None:
                raise cannot_create("Invalid refund amount.")
            if amount < 0:
                raise ApiError("woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero.",
                               400)
            left = rec["totals"]["total"] - refunded_total(store, rec["id"])
            if amount > left:
                raise cannot_create("Invalid refund amount.")
            api_refund = p.get("api_refund", True) is not False
            if api_refund and rec["payment_method"] not in REFUND_GATEWAYS:
                raise cannot_create("The payment gateway for this order does not support automatic refunds.")
            restock = p.get("api_restock", p.get("restock_items", True)) is not False
            refund = {"id": store.next_id("post"), "order_id": rec["id"], "created": store.now(), "amount": amount,
                      "reason": p.get("reason") or "", "refunded_by": int(p.get("refunded_by") or 0),
                      "refunded_payment": api_refund, "meta_data": [],
                      "items": {k: [] for k in ("line_items", "shipping_lines", "fee_lines")}}
            if isinstance(p.get("meta_data"), list):
                store.upsert_meta(refund["meta_data"], p["meta_data"])
            for kind, item, qty, total, tax in lines:
                refund["items"][kind].append({"id": store.next_id("item"), "item": item, "quantity": qty,
                                              "total": total, "tax": tax})
            refunds_of(store, rec["id"]).append(refund)
            before = store.orders.state(rec)
            rec["modified"] = store.now()
            store.orders.changed(rec, before)
            if restock:
                self._restock(rec, [(item, qty) for kind, item, qty, *_ in lines if kind == "line_items" and qty])
            if amount == left:  # wc_order_fully_refunded
                self.sb.orders.transition(rec, "refunded")
            self.sb.emit("order", "updated", rec["id"])
            return self.render(refund)

    def delete(self, rec: dict, refund: dict) -> dict:
        with self.store.lock:
            shown = self.render(refund)
            refunds_of(self.store, rec["id"]).remove(refund)
            before = self.store.orders.state(rec)
            rec["modified"] = self.store.now()
            self.store.orders.changed(rec, before)
            self.sb.emit("order", "updated", rec["id"])
            return shown

    def _restock(self, rec: dict, lines: list[tuple[dict, int]]) -> None:
        """wc_restock_refunded_items: only items whose stock the order reduced."""
        if not rec.get("stock_reduced"):
            return
        for item, qty in lines:
            product = self.store.products.items.get(item["variation_id"] or item["product_id"])
            if product is None:
                continue
            owner = catalog.stock_owner(self.store, product)
            if not catalog.get(owner, "manage_stock"):
                continue
            before = self.store.products.state(owner)
            old = catalog.get(owner, "stock_quantity") or 0
            back = min(qty, item["quantity"] - item.get(RESTOCKED_KEY, 0))  # never more than the order reduced
            if back <= 0:
                continue
            item[RESTOCKED_KEY] = item.get(RESTOCKED_KEY, 0) + back
            owner["stock_quantity"] = old + back
            done = next((int(m["value"]) for m in item["meta_data"] if m["key"] == RESTOCKED_META), 0)
            self.store.upsert_meta(item["meta_data"], [{"key": RESTOCKED_META, "value": str(done + back)}])
            catalog.derive_stock_status(owner)
            owner["modified"] = self.store.now()
            self.store.products.changed(owner, before)
            self.sb.orders.add_note(rec, f"Item #{product['id']} stock increased from {old} to "
                                         f"{owner['stock_quantity']}.")
            self.sb.emit("product", "updated", owner["id"])

    def render(self, refund: dict) -> dict:
        store, off = self.store, self.store.offset
        oid = refund["order_id"]

        def item(x: dict) -> dict:
            it = x["item"]
            product = store.products.items.get(it.get("variation_id") or it.get("product_id") or 0)
            out = {"id": x["id"], "name": it.get("name") or it.get("method_title", ""),
                   "quantity": -x["quantity"], "subtotal": money(-x["total"]), "total": money(-x["total"]),
                   "total_tax": money(-x["tax"]), "meta_data": [{"key": "_refunded_item_id", "value": str(it["id"])}],
                   "refund_total": float(x["total"])}
            if "product_id" in it:
                out.update(product_id=it["product_id"], variation_id=it["variation_id"],
                           sku=catalog.get(product, "sku") if product else None)
            return out

        return {"id": refund["id"], "date_created": fmt_date(refund["created"], off),
                "date_created_gmt": fmt_date(refund["created"]), "amount": money(refund["amount"]),
                "reason": refund["reason"], "refunded_by": refund["refunded_by"],
                "refunded_payment": refund["refunded_payment"], "meta_data": [dict(m) for m in refund["meta_data"]],
                **{k: [item(x) for x in v] for k, v in refund["items"].items()},
                "_links": {"self": [{"href": store.api_url(f"orders/{oid}/refunds/{refund['id']}")}],
                           "collection": [{"href": store.api_url(f"orders/{oid}/refunds")}],
                           "up": [{"href": store.api_url(f"orders/{oid}")}]}}


def register(app, sb) -> None:
    ops = Refunds(sb)

    def order(oid: int) -> dict:
        return sb.orders.parent(oid, "refunds")

    def refund(oid: int, rid: int) -> dict:
        found = [r for r in sb.store.refunds.get(oid, []) if r["id"] == rid]
        if not found:
            raise ApiError("woocommerce_rest_invalid_id", "Invalid ID.", 404)
        return found[0]

    @app.route(API + "/orders/<int:order_id>/refunds", methods=["GET"], endpoint="refunds.list")
    def refunds_list(order_id):
        with sb.store.lock:
            order(order_id)
            rows = sorted(sb.store.refunds.get(order_id, []), key=lambda r: -r["id"])
            return json_response([ops.render(r) for r in rows], headers={"X-WP-Total": str(len(rows)),
                                                                         "X-WP-TotalPages": "1"})

    @app.route(API + "/orders/<int:order_id>/refunds", methods=["POST"], endpoint="refunds.create")
    def refunds_create(order_id):
        return json_response(ops.create(order(order_id), body_params()), 201)

    @app.route(API + "/orders/<int:order_id>/refunds/<int:id>", methods=["GET"], endpoint="refunds.get")
    def refunds_get(order_id, id):
        with sb.store.lock:
            order(order_id)
            return json_response(ops.render(refund(order_id, id)))

    @app.route(API + "/orders/<int:order_id>/refunds/<int:id>", methods=["DELETE"], endpoint="refunds.delete")
    def refunds_delete(order_id, id):
        rec = order(order_id)
        found = refund(order_id, id)
        if not truthy(arg("force")):
            raise ApiError("woocommerce_rest_trash_not_supported", "Refunds do not support trashing.", 501)
        return json_response(ops.delete(rec, found))
