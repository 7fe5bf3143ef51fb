"""ERP categories into nested shop categories (created once, renamed, adopted), and reconcile's check that
each product sits in the shop category of its ERP category."""
from connector.sync.categories import CategorySync, category_slug
from tests.unit.test_reconcile import Erp, Shop, erp_product, reconcile, woo_product


class CategoryShop:
    """The shop's product categories as WooCommerce keeps them (ids, slugs, term_exists) and the calls made."""

    def __init__(self):
        self.terms: dict[int, dict] = {}
        self.calls: list[tuple] = []
        self.next_id = 100

    def add(self, name, slug, parent=0) -> dict:
        self.next_id += 1
        self.terms[self.next_id] = {"id": self.next_id, "name": name, "slug": slug, "parent": parent}
        return self.terms[self.next_id]

    def categories_by_slug(self, slugs):
        self.calls.append(("by slug", tuple(slugs)))
        return [dict(t) for t in self.terms.values() if t["slug"] in slugs]

    def batch_categories(self, create=(), update=()):
        self.calls.append(("batch", len(create), len(update)))
        out = {"create": [], "update": []}
        for c in create:
            same = [t for t in self.terms.values() if t["parent"] == c["parent"] and t["name"] == c["name"]]
            out["create"].append({"id": 0, "error": {"code": "term_exists", "message": "exists",
                                                     "data": {"status": 400, "resource_id": same[0]["id"]}}}
                                 if same else dict(self.add(c["name"], c["slug"], c["parent"])))
        for u in update:
            self.terms[u["id"]].update({k: v for k, v in u.items() if k != "id"})
            out["update"].append(dict(self.terms[u["id"]]))
        return out


def cat(code, name, parent=None):
    return {"code": code, "name": name, "parent_code": parent, "modified_at": "2026-01-01T00:00:00.000Z"}


def test_children_follow_their_parents_in_one_batch_per_level_and_repeats_cost_nothing(db):
    shop = CategoryShop()
    sync = CategorySync(db, shop)
    tree = [cat("APPAREL-TSHIRTS", "T-Shirts", "APPAREL"), cat("APPAREL", "Apparel"), cat("HOME", "Home")]
    report = sync.apply(tree)
    assert report.created == 3 and [c for c in shop.calls if c[0] == "batch"] == [("batch", 2, 0), ("batch", 1, 0)]
    ids = sync.woo_ids(["APPAREL", "APPAREL-TSHIRTS", "HOME"])
    assert shop.terms[ids["APPAREL-TSHIRTS"]]["parent"] == ids["APPAREL"]
    assert shop.terms[ids["APPAREL"]]["slug"] == "apparel" and category_slug("Küche/Bad 2") == "kuche-bad-2"
    shop.calls.clear()
    again = sync.apply(tree)
    assert again.unchanged == 3 and not [c for c in shop.calls if c[0] == "batch"]
    renamed = sync.apply([cat("APPAREL", "Clothing")])
    assert renamed.updated == 1 and shop.terms[ids["APPAREL"]]["name"] == "Clothing" and len(shop.terms) == 3


def test_a_category_the_shop_already_has_is_adopted_never_made_twice(db):
    shop = CategoryShop()
    by_hand = shop.add("Garden", "garden")
    lost = shop.add("Tools", "something-else")  # made by an earlier attempt whose answer was lost, other slug
    report = CategorySync(db, shop).apply([cat("GARDEN", "Garden"), cat("TOOLS", "Tools")])
    assert report.linked == 2 and report.created == 0 and len(shop.terms) == 2
    assert CategorySync(db, shop).woo_ids(["GARDEN", "TOOLS"]) == {"GARDEN": by_hand["id"], "TOOLS": lost["id"]}


def test_a_child_whose_parent_never_came_goes_to_the_top_level(db):
    shop = CategoryShop()
    report = CategorySync(db, shop).apply([cat("ORPHAN", "Orphan", "NOWHERE")])
    assert report.created == 1 and list(shop.terms.values())[0]["parent"] == 0


def test_reconcile_reports_products_outside_their_erp_category(db):
    shop_terms = CategoryShop()
    CategorySync(db, shop_terms).apply([cat("X", "Ex"), cat("Y", "Why")])
    x, y = (CategorySync(db, shop_terms).woo_ids(["X", "Y"])[c] for c in ("X", "Y"))
    erp = Erp([erp_product("IN", "10.00"), erp_product("OUT", "10.00"), erp_product("EXTRA", "10.00"),
               erp_product("UNKNOWN", "10.00", category_code="NOT-SENT")])
    shop = Shop([woo_product(1, "IN", categories=[{"id": x, "slug": "x"}]),
                 woo_product(2, "OUT", categories=[{"id": y, "slug": "y"}]),
                 woo_product(3, "EXTRA", categories=[{"id": y, "slug": "y"}, {"id": x, "slug": "x"}]),
                 woo_product(4, "UNKNOWN", categories=[])])
    report = reconcile(db, erp, shop)
    (wrong,) = report.of("category_mismatch")
    assert (wrong.key, wrong.erp_value, wrong.woo_value) == ("OUT", "X", "y")
