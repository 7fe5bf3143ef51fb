"""Routes `customers` and `customers/<id>` (read and update; WooCommerce REST v3 customer shape).

A customer is a WordPress user with role `customer`: `email`, `first_name`, `last_name`, `username`, a
`billing` address (with `email` and `phone`) and a `shipping` address (with `phone`), `meta_data` (upsert by
id, else key, like orders). Unknown ids: 404 on read, 400 on update (`woocommerce_rest_invalid_id`,
"Invalid resource ID."). Every update fires `customer.updated`. Checkout with a customer id creates the
account (sandbox/woo/checkout.py).
"""
from __future__ import annotations

from sandbox.woo.rest import ApiError, arg, body_params, fmt_date, json_response, to_int

API = "/wp-json/wc/v3"
BILLING = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode", "country",
           "email", "phone")
SHIPPING = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode", "country",
            "phone")


def invalid_id(status: int) -> ApiError:
    return ApiError("woocommerce_rest_invalid_id", "Invalid resource ID.", status)


def _filled(rec: dict) -> dict:
    """The stored record with everything WooCommerce keeps for a user (checkout stores only the person)."""
    now = rec.get("created") or 0
    rec.setdefault("created", now)
    rec.setdefault("modified", now)
    rec.setdefault("meta_data", [])
    rec.setdefault("username", (rec.get("email") or f"customer{rec['id']}").split("@")[0])
    rec.setdefault("billing", {k: rec.get(k, "") if k in ("first_name", "last_name", "email") else ""
                               for k in BILLING})
    rec.setdefault("shipping", {k: "" for k in SHIPPING})
    return rec


def render(store, rec: dict) -> dict:
    rec = _filled(rec)
    offset = store.offset
    return {"id": rec["id"], "date_created": fmt_date(rec["created"], offset), "date_created_gmt": fmt_date(rec["created"]),
            "date_modified": fmt_date(rec["modified"], offset), "date_modified_gmt": fmt_date(rec["modified"]),
            "email": rec.get("email", ""), "first_name": rec.get("first_name", ""),
            "last_name": rec.get("last_name", ""), "role": "customer", "username": rec["username"],
            "billing": dict(rec["billing"]), "shipping": dict(rec["shipping"]), "is_paying_customer": True,
            "avatar_url": "", "meta_data": [dict(m) for m in rec["meta_data"]],
            "_links": {"self": [{"href": store.api_url(f"customers/{rec['id']}")}],
                       "collection": [{"href": store.api_url("customers")}]}}


def register(app, sb) -> None:
    store = sb.store

    def find(cid: int, status: int) -> dict:
        rec = store.customers.get(cid)
        if rec is None:
            raise invalid_id(status)
        return rec

    @app.route(API + "/customers", methods=["GET"], endpoint="customers.list")
    def customers_list():
        email = (arg("email") or "").strip().lower()
        page, per_page = max(1, to_int(arg("page"), 1)), min(100, max(1, to_int(arg("per_page"), 10)))
        with store.lock:
            recs = [c for _, c in sorted(store.customers.items())
                    if not email or (c.get("email") or "").lower() == email]
            body = [render(store, c) for c in recs[(page - 1) * per_page:page * per_page]]
        total = len(recs)
        return json_response(body, headers={"X-WP-Total": str(total),
                                            "X-WP-TotalPages": str(max(1, -(-total // per_page)))})

    @app.route(API + "/customers/<int:id>", methods=["GET"], endpoint="customers.get")
    def customers_get(id):
        with store.lock:
            return json_response(render(store, find(id, 404)))

    @app.route(API + "/customers/<int:id>", methods=["PUT", "PATCH", "POST"], endpoint="customers.update")
    def customers_update(id):
        p = body_params()
        with store.lock:
            rec = _filled(find(id, 400))
            for key in ("email", "first_name", "last_name"):
                if isinstance(p.get(key), str):
                    rec[key] = p[key]
            for part, keys in (("billing", BILLING), ("shipping", SHIPPING)):
                if isinstance(p.get(part), dict):
                    rec[part].update({k: str(v) for k, v in p[part].items() if k in keys and v is not None})
            if isinstance(p.get("meta_data"), list):
                store.upsert_meta(rec["meta_data"], p["meta_data"])
            rec["modified"] = store.now()
            body = render(store, rec)
        sb.emit("customer", "updated", id)
        return json_response(body)
