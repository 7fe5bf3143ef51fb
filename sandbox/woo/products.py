"""Routes `products`, `products/<id>`, `products/<pid>/variations[/<id>]` and their `batch` (reference §4, §5).

Behaviours copied: 201 on create (`woocommerce_rest_product_exists` if an id is posted), 404/400
`woocommerce_rest_product_invalid_id` for unknown ids on read/update, writes to a variation through
`products/<id>` → 404 `woocommerce_rest_invalid_product_id` (§4.4), variations under the wrong
parent → 403 `woocommerce_rest_cannot_edit`/`_view`/`_delete`, DELETE trashes unless `force=true`
(410 `woocommerce_rest_already_trashed`), the `sku` list filter that also returns variations (§3.3).
Webhook events: product.created / product.updated / product.deleted (trash) / product.restored (§7.1).
"""
from __future__ import annotations

from sandbox.woo import catalog
from sandbox.woo.batch import run_batch
from sandbox.woo.catalog import get, invalid_id
from sandbox.woo.collections import BASE_ORDERBY, list_response, parse_query, select
from sandbox.woo.rest import ApiError, arg, arg_list, body_params, json_response, to_int, truthy, validate

API = "/wp-json/wc/v3"
PRODUCT_STATUSES = ("any", "future", "trash", "draft", "pending", "private", "publish")
VARIATION_ONLY = ApiError("woocommerce_rest_invalid_product_id",
                          "To manipulate product variations you should use the "
                          "/products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.", 404)


class Products:
    def __init__(self, sb):
        self.sb, self.store = sb, sb.store

    # ------------------------------------------------------------ single-item operations (also used by batch)

    def find(self, pid: int, status: int) -> dict:
        rec = self.store.products.items.get(pid)
        if rec is None:
            raise invalid_id("product", status)
        return rec

    def create(self, params: dict, strict: bool = True, parent: dict | None = None) -> dict:
        is_variation = parent is not None
        if params.get("id"):
            raise ApiError(f"woocommerce_rest_{'product_variation' if is_variation else 'product'}_exists",
                           "Cannot create existing product.", 400)
        with self.store.lock:
            p = catalog.check_write(self.store, params, is_variation, None, strict)
            now = self.store.now()
            rec = {"id": self.store.next_id("post"), "type": "variation" if is_variation else "simple",
                   "status": "publish", "created": now, "modified": now}
            if is_variation:
                rec["parent_id"] = parent["id"]
            else:
                title = p.get("slug") or p.get("name") or "product"
                rec["slug"] = self.store.unique_slug(catalog.sanitize_title(title))
            catalog.apply_write(self.store, rec, {k: v for k, v in p.items() if k != "slug"})
            self.store.products.insert(rec)
            if is_variation:
                parent["variations"] = list(get(parent, "variations")) + [rec["id"]]
            self.sb.emit("product", "created", rec["id"])
            return self.render(rec)

    def update(self, rec: dict, params: dict, strict: bool = True) -> dict:
        with self.store.lock:
            p = catalog.check_write(self.store, params, rec["type"] == "variation", rec, strict)
            before = self.store.products.state(rec)
            catalog.apply_write(self.store, rec, p)
            rec["modified"] = self.store.now()
            self.store.products.changed(rec, before)
            self.sb.emit("product", "updated", rec["id"])  # a REST status change is no untrash: no "restored"
            return self.render(rec)

    def delete(self, rec: dict, force: bool) -> dict:
        with self.store.lock:
            shown = self.render(rec)
            items = self.store.products.items
            family = [items[i] for i in get(rec, "variations") if i in items]
            if force:
                for r in family + [rec]:
                    self._purge(r)
                return shown
            if rec["status"] == "trash":
                raise ApiError("woocommerce_rest_already_trashed", "The product has already been deleted.", 410)
            for r in family + [rec]:
                before = self.store.products.state(r)
                r["pre_trash_status"], r["status"] = r["status"], "trash"
                r["modified"] = self.store.now()
                self.store.products.changed(r, before)
            self.sb.emit("product", "deleted", rec["id"])
            return self.render(rec)

    def _purge(self, rec: dict) -> None:
        self.store.set_sku(rec, "")
        parent = self.store.products.items.get(get(rec, "parent_id"))
        if parent is not None and rec["type"] == "variation":
            parent["variations"] = [i for i in get(parent, "variations") if i != rec["id"]]
        self.store.products.delete(rec)

    def render(self, rec: dict) -> dict:
        """Variations are only written through the variations routes, so they answer in that shape."""
        if rec["type"] == "variation":
            return catalog.render_variation(self.store, rec)
        return catalog.render_product(self.store, rec)

    # ------------------------------------------------------------ collection queries

    def list_products(self):
        q = parse_query(self.store.offset, BASE_ORDERBY + ("price", "popularity", "rating"))
        status = validate({"status": arg("status", "any")}, {"status": PRODUCT_STATUSES})["status"]
        filters = {k: arg(k) for k in ("type", "stock_status", "slug", "featured", "on_sale", "min_price", "max_price")}
        parents, parent_exclude = arg_list("parent"), set(arg_list("parent_exclude") or ())
        store = self.store

        def match(r: dict) -> bool:
            return ((status == "any" and r["status"] != "trash") or r["status"] == status) and all((
                q.search is None or q.search.lower() in (get(r, "name") + " " + get(r, "sku")).lower(),
                filters["type"] is None or get(r, "type") == filters["type"],
                filters["stock_status"] is None or catalog.stock_status(store, r) == filters["stock_status"],
                filters["slug"] is None or get(r, "slug") == filters["slug"],
                filters["featured"] is None or get(r, "featured") == truthy(filters["featured"]),
                filters["on_sale"] is None or catalog.on_sale(store, r) == truthy(filters["on_sale"]),
                filters["min_price"] is None or _num(catalog.price(store, r)) >= _num(filters["min_price"]),
                filters["max_price"] is None or _num(catalog.price(store, r)) <= _num(filters["max_price"]),
                parents is None or str(get(r, "parent_id")) in parents,
                str(get(r, "parent_id")) not in parent_exclude))

        sort_value = {"title": lambda r: get(r, "name").lower(), "slug": lambda r: get(r, "slug"),
                      "price": lambda r: _num(catalog.price(store, r)), "popularity": lambda r: get(r, "total_sales"),
                      "rating": lambda r: 0}.get(q.orderby)
        with store.lock:
            records, residual = self._candidates(status)
            needs_match = (residual or q.search or any(v is not None for v in filters.values())
                           or parents or parent_exclude)
            page, total = select(q, store.products, records, match if needs_match else None, sort_value)
            return list_response([catalog.render_product(store, r) for r in page], total, q)

    def _candidates(self, status: str):
        """(records or None for the index, whether `status` still has to be matched)."""
        items = self.store.products.items
        sku = arg("sku")
        if sku:  # exact, comma list, also the literal whole string; products and variations (§3.3)
            wanted = {s.strip().lower() for s in sku.split(",")} | {sku.lower()}
            ids = set().union(*(self.store.skus.get(s, set()) for s in wanted))
            return [items[i] for i in sorted(ids) if i in items], True
        if status == "trash":
            return [r for r in items.values() if r["type"] != "variation" and r["status"] == "trash"], True
        return None, status != "any"

    def list_variations(self, parent: dict):
        q = parse_query(self.store.offset)
        with self.store.lock:
            kids = [r for r in (self.store.products.items.get(i) for i in get(parent, "variations")) if r]
            status = arg("status", "any")
            kids = [r for r in kids if (status == "any" and r["status"] != "trash") or r["status"] == status]
            page, total = select(q, None, kids, None, lambda r: get(r, "menu_order"))
            return list_response([catalog.render_variation(self.store, r) for r in page], total, q)

    def variation(self, parent_id: int, vid: int, status: int, action: str) -> dict:
        rec = self.store.products.items.get(vid)
        if rec is None or rec["type"] != "variation":
            raise invalid_id("product_variation", status)
        if get(rec, "parent_id") != parent_id:
            raise ApiError(f"woocommerce_rest_cannot_{action}", "Parent product does not match current variation.", 403)
        return rec

    def parent(self, pid: int) -> dict:
        rec = self.store.products.items.get(pid)
        if rec is None or rec["type"] == "variation":
            raise ApiError("woocommerce_rest_product_variation_invalid_parent",
                           "Cannot set attributes due to invalid parent product.", 404)
        return rec


def _num(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def register(app, sb) -> None:
    ops = Products(sb)

    def writable(rec: dict) -> dict:
        if rec["type"] == "variation":
            raise VARIATION_ONLY
        return rec

    @app.route(API + "/products", methods=["GET"], endpoint="products.list")
    def products_list():
        return ops.list_products()

    @app.route(API + "/products", methods=["POST"], endpoint="products.create")
    def products_create():
        return json_response(ops.create(body_params()), 201)

    @app.route(API + "/products/<int:id>", methods=["GET"], endpoint="products.get")
    def products_get(id):
        with sb.store.lock:
            return json_response(catalog.render_product(sb.store, ops.find(id, 404)))

    @app.route(API + "/products/<int:id>", methods=["PUT", "PATCH", "POST"], endpoint="products.update")
    def products_update(id):
        return json_response(ops.update(writable(ops.find(id, 400)), body_params()))

    @app.route(API + "/products/<int:id>", methods=["DELETE"], endpoint="products.delete")
    def products_delete(id):
        return json_response(ops.delete(writable(ops.find(id, 404)), truthy(arg("force"))))

    @app.route(API + "/products/batch", methods=["POST", "PUT", "PATCH"], endpoint="products.batch")
    def products_batch():
        out, n = run_batch(body_params(), lambda item: ops.create(item, strict=False),
                           lambda item: ops.update(writable(ops.find(to_int(item.get("id")), 400)), item, strict=False),
                           lambda rid: ops.delete(writable(ops.find(rid, 404)), True))
        sb.stats.batch(n)
        return json_response(out)

    @app.route(API + "/products/<int:product_id>/variations", methods=["GET"], endpoint="variations.list")
    def variations_list(product_id):
        return ops.list_variations(ops.find(product_id, 404))

    @app.route(API + "/products/<int:product_id>/variations", methods=["POST"], endpoint="variations.create")
    def variations_create(product_id):
        return json_response(ops.create(body_params(), parent=ops.parent(product_id)), 201)

    @app.route(API + "/products/<int:product_id>/variations/<int:id>", methods=["GET"], endpoint="variations.get")
    def variations_get(product_id, id):
        with sb.store.lock:
            return json_response(catalog.render_variation(sb.store, ops.variation(product_id, id, 404, "view")))

    @app.route(API + "/products/<int:product_id>/variations/<int:id>", methods=["PUT", "PATCH", "POST"],
               endpoint="variations.update")
    def variations_update(product_id, id):
        return json_response(ops.update(ops.variation(product_id, id, 400, "edit"), body_params()))

    @app.route(API + "/products/<int:product_id>/variations/<int:id>", methods=["DELETE"], endpoint="variations.delete")
    def variations_delete(product_id, id):
        return json_response(ops.delete(ops.variation(product_id, id, 404, "delete"), truthy(arg("force"))))

    @app.route(API + "/products/<int:product_id>/variations/batch", methods=["POST", "PUT", "PATCH"],
               endpoint="variations.batch")
    def variations_batch(product_id):
        parent = ops.parent(product_id)
        out, n = run_batch(body_params(), lambda item: ops.create(item, strict=False, parent=parent),
                           lambda item: ops.update(ops.variation(product_id, to_int(item.get("id")), 400, "edit"),
                                                   item, strict=False),
                           lambda rid: ops.delete(ops.variation(product_id, rid, 404, "delete"), True))
        sb.stats.batch(n)
        return json_response(out)
