"""Routes `products/categories`, `products/categories/<id>` and `products/categories/batch`.

Product categories are WordPress terms of the hierarchical taxonomy `product_cat`: `id` (term ids, their
own sequence; 15 is "Uncategorized"), `name`, `slug` (from the name unless given; unique in the taxonomy),
`parent` (0 = top level), `description`, `display`, `image`, `menu_order`, `count`. Behaviours copied:
create without `name` → 400 `rest_missing_callback_param`; the same name under the same parent → 400
`term_exists` with `data.resource_id` (the existing term); a slug in use → 400 `duplicate_term_slug`;
an unknown parent → 400 `woocommerce_rest_term_invalid` ("Parent term does not exist."); unknown ids →
404 `woocommerce_rest_term_invalid`; DELETE needs `force=true` (501 `woocommerce_rest_trash_not_supported`);
deleting a term moves its children up to its parent. Lists: `page`, `per_page`, `slug` (one or a comma
list), `parent`, `search`, `include`, `hide_empty`, ordered by name unless `orderby=id`. Products refer to
categories as `categories: [{"id": N}]` and are answered with `{id, name, slug}` (unknown ids dropped).
Not simulated: `count` (always 0), images.
"""
from __future__ import annotations

from sandbox.woo.batch import run_batch
from sandbox.woo.catalog import sanitize_title
from sandbox.woo.rest import ApiError, arg, body_params, json_response, to_int, truthy

API = "/wp-json/wc/v3"
UNCATEGORIZED_ID = 15


def invalid(status: int = 404) -> ApiError:
    return ApiError("woocommerce_rest_term_invalid", "Resource does not exist.", status)


def render(store, rec: dict) -> dict:
    return {**{k: rec[k] for k in ("id", "name", "slug", "parent", "description", "display", "menu_order")},
            "image": None, "count": 0,
            "_links": {"self": [{"href": store.api_url(f"products/categories/{rec['id']}")}],
                       "collection": [{"href": store.api_url("products/categories")}],
                       **({"up": [{"href": store.api_url(f"products/categories/{rec['parent']}")}]}
                          if rec["parent"] else {})}}


class Categories:
    def __init__(self, sb):
        self.sb, self.store = sb, sb.store

    def find(self, cid, status: int = 404) -> dict:
        rec = self.store.categories.get(to_int(cid))
        if rec is None:
            raise invalid(status)
        return rec

    def _check(self, rec: dict | None, p: dict) -> dict:
        cats = self.store.categories
        name = p.get("name", rec and rec["name"])
        if not isinstance(name, str) or not name.strip():
            raise ApiError("rest_missing_callback_param", "Missing parameter(s): name", 400, params=["name"])
        parent = to_int(p.get("parent", rec["parent"] if rec else 0))
        if parent and parent not in cats:
            raise ApiError("woocommerce_rest_term_invalid", "Parent term does not exist.", 400)
        if rec is not None and parent:  # no cycles: the new parent must not sit below the term
            up = parent
            while up:
                if up == rec["id"]:
                    raise ApiError("woocommerce_rest_term_invalid", "Parent term does not exist.", 400)
                up = cats[up]["parent"]
        for other in cats.values():
            if other is not rec and other["parent"] == parent and other["name"].lower() == name.strip().lower():
                raise ApiError("term_exists", "A term with the name provided already exists with this parent.",
                               400, resource_id=other["id"])
        slug = sanitize_title(str(p["slug"])) if p.get("slug") else (rec["slug"] if rec else sanitize_title(name))
        if any(o is not rec and o["slug"] == slug for o in cats.values()):
            if p.get("slug"):
                raise ApiError("duplicate_term_slug",
                               f'The slug "{slug}" is already in use by another term.', 400)
            base, n = slug, 2
            while any(o["slug"] == slug for o in cats.values()):
                slug, n = f"{base}-{n}", n + 1
        return {"name": name.strip(), "slug": slug or f"term-{len(cats) + 1}", "parent": parent,
                **{k: p[k] for k in ("description", "display", "menu_order") if k in p}}

    def create(self, p: dict) -> dict:
        with self.store.lock:
            values = self._check(None, p)
            self.store.category_seq += 1
            rec = {"id": self.store.category_seq, "description": "", "display": "default", "menu_order": 0,
                   **values}
            self.store.categories[rec["id"]] = rec
            return render(self.store, rec)

    def update(self, rec: dict, p: dict) -> dict:
        with self.store.lock:
            rec.update(self._check(rec, p))
            return render(self.store, rec)

    def delete(self, rec: dict) -> dict:
        with self.store.lock:
            if rec["id"] == UNCATEGORIZED_ID:
                raise ApiError("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this "
                               "resource.", 403)
            body = render(self.store, rec)
            for child in self.store.categories.values():
                if child["parent"] == rec["id"]:
                    child["parent"] = rec["parent"]
            del self.store.categories[rec["id"]]
            return body

    def list(self):
        with self.store.lock:
            recs = list(self.store.categories.values())
            slugs = [s.strip() for s in (arg("slug") or "").split(",") if s.strip()]
            if slugs:
                recs = [r for r in recs if r["slug"] in slugs]
            if arg("parent") is not None:
                recs = [r for r in recs if r["parent"] == to_int(arg("parent"))]
            if arg("include"):
                wanted = {to_int(x) for x in str(arg("include")).split(",")}
                recs = [r for r in recs if r["id"] in wanted]
            if arg("search"):
                recs = [r for r in recs if str(arg("search")).lower() in r["name"].lower()]
            if truthy(arg("hide_empty")):
                recs = []  # counts are not simulated: every term counts as empty
            recs.sort(key=(lambda r: r["id"]) if arg("orderby") == "id" else (lambda r: (r["name"].lower(), r["id"])))
            if arg("order") == "desc":
                recs.reverse()
            page, per_page = max(1, to_int(arg("page"), 1)), min(100, max(1, to_int(arg("per_page"), 10)))
            total = len(recs)
            body = [render(self.store, r) for r in recs[(page - 1) * per_page:page * per_page]]
        return json_response(body, headers={"X-WP-Total": str(total),
                                            "X-WP-TotalPages": str(-(-total // per_page) if total else 0)})


def register(app, sb) -> None:
    ops = Categories(sb)
    base = API + "/products/categories"

    @app.route(base, methods=["GET"], endpoint="categories.list")
    def categories_list():
        return ops.list()

    @app.route(base, methods=["POST"], endpoint="categories.create")
    def categories_create():
        return json_response(ops.create(body_params()), 201)

    @app.route(base + "/<int:id>", methods=["GET"], endpoint="categories.get")
    def categories_get(id):
        with sb.store.lock:
            return json_response(render(sb.store, ops.find(id)))

    @app.route(base + "/<int:id>", methods=["PUT", "PATCH", "POST"], endpoint="categories.update")
    def categories_update(id):
        return json_response(ops.update(ops.find(id), body_params()))

    @app.route(base + "/<int:id>", methods=["DELETE"], endpoint="categories.delete")
    def categories_delete(id):
        rec = ops.find(id)
        if not truthy(arg("force")):
            raise ApiError("woocommerce_rest_trash_not_supported", "Resource does not support trashing.", 501)
        return json_response(ops.delete(rec))

    @app.route(base + "/batch", methods=["POST", "PUT", "PATCH"], endpoint="categories.batch")
    def categories_batch():
        body, count = run_batch(body_params(), ops.create,
                                lambda item: ops.update(ops.find(item.get("id"), 400), item),
                                lambda cid: ops.delete(ops.find(cid, 400)))
        sb.stats.batch(count)
        return json_response(body)
