"""The ERP protocol (connector/erp/protocol.py) against Tryton 8.0 over JSON-RPC.

Mapping
- Products: `product.product` with a `code`; the code is the SKU, ids are `P<id>`. A template with
  several products is a parent `T<id>` (SKU: the template's code, else `TEMPLATE-<id>`) and its
  products are variants with the product_attribute values as `attributes`. Name, list price
  (`list_price_used`), the category (`category_code`: the template's first category's code, else its name)
  comes from the template; `is_active` is active and salable. A
  product's `modified_at` is the last change of the product or its template.
- Stock: one row per product (goods with a code) and Tryton warehouse (`stock.location` of type
  warehouse, by its code; `warehouses` limits which). `on_hand` is Tryton's `quantity` in the
  warehouse (done moves up to today, all zones of the warehouse); `reserved` depends on `stock_basis`:
  `forecast` (default) = max(0, quantity − forecast_quantity), what confirmed sales and other planned
  moves will take out beyond what planned receipts bring in; `quantity` = 0. `safety_stock` is 0 (Tryton
  has none without stock_supply). A row changes when a stock move or the product changes.
- Customers: `party.party` `C<id>` (number: the party code), found by an identifier without type holding
  one of our references (`WC-CUST-42`; a party may carry several) or by an e-mail contact mechanism
  (case-insensitive); created with e-mail, phone, addresses, that identifier and the VAT id as an `eu_vat`
  identifier. A business is named by its company, the person goes on its addresses (`party_name`).
- Sales orders: `sale.sale` `S<id>` with the external reference in `reference`, product lines plus
  one line without product per shipping charge, fee and discount (so Tryton's untaxed total is the
  order's net; tax is not recomputed: it stays in the comment). Creating is three calls (create,
  quote, which numbers the sale, and confirm, which makes the shipment): an order whose creation
  stopped half-way (a Tryton draft, or a quotation when sales are confirmed) is reported with status
  `draft` and completed by `finish_sales_order`. Cancelling works until the sale's shipment exists.
- Reservations (when Tryton counts an order in its stock rows): with the `forecast` basis a sale
  counts once it is confirmed (confirming creates its planned outgoing moves, which the forecast
  quantity subtracts; a quotation or draft plans nothing); with the `quantity` basis only once it is
  shipped (done moves lower `quantity`). The moment is the sale's last write (the confirm or the
  shipment), in the sale's warehouse. Until then the connector keeps holding the order's quantities.
- Credit notes: a shop refund is a return sale `R<id>` of the sale (reference WC-REFUND-<refund id>) and, for
  restocked units not shipped yet, a refund `sale.amendment` withdrawing them (Tryton credits those itself by
  the sale's invoice method); see "credit notes" below. Sales are read as the shop ordered them, withdrawn
  units counted back and credited.
- Shipments: `stock.shipment.out` in state done, `SH<id>`, bound to their sale through the moves'
  origin; tracking number = the shipment's `reference`, `shipped_at` = its effective date.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal

from connector.erp import tryton_keyset as keyset
from connector.erp.protocol import NotAmendable, Page, Reservation, StaleRevision
from connector.erp.tryton_keyset import Source, last_change, timestamp
from connector.erp.tryton_rpc import TrytonRpc
from connector.errors import InvalidDataError, PermanentError, TransientError

SKU_LOOKUP_LIMIT = 100
TOTALS_LABEL, PAYMENT_LABEL = "Shop totals:", "Payment:"  # the lines of a sale's comment after the shop's note
PRICE_DIGITS = 4  # trytond: product.price_digits = (None, config [product] price_decimal, default 4)
STOCK_BASES = ("forecast", "quantity")
ALL = {"active_test": False}  # deactivated products must reach the shop as inactive
PRODUCT_FIELDS = ("code", "active", "write_date", "create_date", "description", "list_price_used", "attributes",
                  "identifiers.type", "identifiers.code", "template.name", "template.code", "template.active", "template.salable",
                  "template.products", "template.categories.name", "template.categories.code", "template.write_date",
                  "template.create_date")
TEMPLATE_FIELDS = ("name", "code", "active", "salable", "list_price", "products", "categories.name",
                   "categories.code")
SALE_FIELDS = ("number", "reference", "state", "shipment_state", "party", "currency.code", "create_date",
               "untaxed_amount", "tax_amount", "total_amount", "lines.type", "lines.product.code",
               "lines.quantity", "lines.unit_price", "lines.description", "warehouse.code", "write_date", "revision",
               "origin", "comment", *(f"{a}.{f}" for a in ("invoice_address", "shipment_address")
                                      for f in ("street_unstructured", "postal_code", "city", "country.code")))
RETURN_FIELDS = ("number", "reference", "state", "shipment_state", "origin", "description", "shipment_method",
                 "total_amount", "untaxed_amount", "lines.type", "lines.product.code", "lines.quantity",
                 "lines.unit_price",
                 "create_date", "write_date")
AMENDABLE = ("billing_address", "shipping_address", "lines", "shipping", "discounts", "fees", "totals", "note",
             "payment")
CHARGES = ("shipping", "fees", "discounts")
AMENDMENT_PREFIX = "WooCommerce: "  # the description of the sale.amendment records the adapter makes
REFUND_PREFIX = "WC-REFUND-"
REFUND_AMENDMENT = AMENDMENT_PREFIX + "refund "  # then "WC-REFUND-<id> withdraws …": a refund's amendment
FOLLOWS = "; return follows"  # a refund amendment whose refund also needs a return sale
WITHDRAWN_ITEM = re.compile(r"(\d+) × (.+?) \((-?\d+\.\d+), line (\d+)\)")
WITHDRAWN_CHARGES = re.compile(r"charges \((-?\d+\.\d+), lines ([\d ]+)\)")
SALE_STATES = {"draft": "draft", "quotation": "open", "confirmed": "confirmed", "done": "shipped",
               "cancelled": "cancelled"}
PROCESSING_STATES = {"partially shipped": "partially_shipped", "sent": "shipped"}


def _code(prefix: str, value: str) -> int:
    if not value or not value.startswith(prefix) or not value[len(prefix):].isdigit():
        raise PermanentError(f"tryton: {value!r} is not a {prefix}<id> reference", status=404)
    return int(value[len(prefix):])


def _money(value) -> str | None:
    return None if value is None else str(Decimal(value).quantize(Decimal("0.01")))


def exact_lines(line: dict) -> list[tuple[int, Decimal]]:
    """(quantity, unit price) pairs that book exactly the line's amount in Tryton.

    Tryton keeps `sale.line.unit_price` with PRICE_DIGITS decimals (trytond's `[product] price_decimal`,
    default 4) and books round(quantity × unit_price, currency). When the line's amount divided by its
    quantity fits those digits, that is one line (419.75 / 50 = 8.395). Otherwise the line is split into
    two of the same product at cent prices that differ by 0.01: (q − k) × p + k × (p + 0.01) = amount, with
    p = ⌊amount / q⌋ to the cent and k the remaining cents (10.00 / 3 → 2 × 3.33 + 1 × 3.34)."""
    quantity, price = int(line["quantity"]), Decimal(line["unit_price"])
    if line.get("amount") is None:
        return [(quantity, price)]
    total = Decimal(line["amount"])
    step = Decimal(1).scaleb(-PRICE_DIGITS)
    exact = total / quantity
    if exact == exact.quantize(step):  # written as the shop would: 15.00, 8.395
        cents = exact.quantize(Decimal("0.01"))
        return [(quantity, cents if cents == exact else exact.normalize())]
    cents = int((total * 100).to_integral_value())
    base, extra = divmod(cents, quantity)
    low = Decimal(base) / 100
    return [(quantity - extra, low), (extra, low + Decimal("0.01"))]


def _price(value) -> str | None:
    """A unit price with its own digits (8.3950 → "8.395"), at least two decimals."""
    if value is None:
        return None
    price = Decimal(value).normalize()
    return str(price.quantize(Decimal("0.01"))) if price.as_tuple().exponent > -2 else str(price)


class TrytonErp:
    """The ErpAdapter over a Tryton 8.0 database through JSON-RPC (`rpc`). Ids are Tryton ids with a letter
    in front: products "P<id>", templates (variable parents) "T<id>", parties "C<id>", sales "S<id>",
    shipments "SH<id>". `warehouses`: the warehouse codes whose stock counts (all coded warehouses when
    empty); `sale_warehouse`: the code sales ship from; `stock_basis` "forecast" (reserved = quantity −
    forecast, what confirmed sales hold) or "quantity"; `confirm_sales`: confirm each created sale (else
    it stays a quotation). Errors: TransientError for transport and server faults, PermanentError with a
    Tryton reason for refusals (see TrytonRpc), InvalidDataError for what Tryton cannot represent."""
    system = "tryton"

    # sales are booked at the shop's net amounts and Tryton computes its own tax: credit notes are made, and
    # answered, on that basis (a refund's `net_amount`), and reconcile compares them with the refund's net
    CREDIT_BASIS = "net"

    def __init__(self, rpc: TrytonRpc, *, warehouses: tuple[str, ...] = (), sale_warehouse: str = "",
                 stock_basis: str = "forecast", confirm_sales: bool = True):
        if stock_basis not in STOCK_BASES:
            raise ValueError(f"stock_basis must be one of {STOCK_BASES}, got {stock_basis!r}")
        self.rpc = rpc
        self.warehouse_codes = warehouses
        self.sale_warehouse = sale_warehouse
        self.stock_basis = stock_basis
        self.confirm_sales = confirm_sales
        self._cache: dict = {}

    # -- products --------------------------------------------------------------------------------------
    def identity(self) -> dict:
        """The database and the user's company, with the company's creation time: a database rebuilt or
        restored under the same name from another tenant has another company record."""
        company = self.rpc.context.get("company")
        rows = self.rpc.model("company.company", "read", [company], ["create_date"]) if company else []
        if not rows:
            raise PermanentError(f"tryton user {self.rpc.user!r} has no company")
        return {"kind": "tryton", "database": self.rpc.database, "company_id": str(company),
                "company_created": str(rows[0]["create_date"])}

    def list_products(self, modified_since, cursor, limit=100) -> Page:
        """Products with a code and the templates of multi-variant products (as parents), changed since
        `modified_since` (UTC) in keyset order from `cursor`; at most `limit` records a page. A template's
        change lists each of its products. Records as the ErpAdapter's ErpProduct (list_price a decimal
        string in the company currency, weight_kg None: the installed modules give a product no weight)."""
        sources = [Source("product.product", (("code", "!=", None),)), Source("product.template", (), ("products",))]
        events, more = keyset.fetch(self.rpc, sources, modified_since, cursor, limit, ALL)
        product_ids: dict[int, None] = {}
        parent_ids: dict[int, None] = {}
        used = None
        for event in events:  # a template's change is a change of each of its products (and of their parent)
            products = [event.id] if event.model == "product.product" else event.row["products"]
            parents = [event.id] if event.model == "product.template" and len(products) > 1 else []
            grown = len({*product_ids, *products}) + len({*parent_ids, *parents})
            if used is not None and grown > limit:
                break
            product_ids.update(dict.fromkeys(products))
            parent_ids.update(dict.fromkeys(parents))
            used = event
        more = more or (used is not None and used is not events[-1])
        items = self._parents(list(parent_ids)) + self._products(list(product_ids))
        return Page(items=items, next_cursor=keyset.encode_cursor(used) if more and used else None)

    def products_by_sku(self, skus: list[str]) -> list[dict]:
        """Products and parent templates whose code is one of `skus` (≤ SKU_LOOKUP_LIMIT, else PermanentError
        before any call; "TEMPLATE-<id>" names a template without a code); absent SKUs are left out."""
        if len(skus) > SKU_LOOKUP_LIMIT:
            raise PermanentError(f"products_by_sku takes at most {SKU_LOOKUP_LIMIT} SKUs, got {len(skus)}")
        if not skus:
            return []
        ids = self.rpc.model("product.product", "search", [("code", "in", list(skus))], 0, None, None, context=ALL)
        templates = self.rpc.model("product.template", "search_read", [("code", "in", list(skus))], 0, None, None,
                                   ["products"], context=ALL)
        parents = [t["id"] for t in templates if len(t["products"]) > 1]
        parents += [int(sku[len("TEMPLATE-"):]) for sku in skus  # templates without a code
                    if sku.startswith("TEMPLATE-") and sku[len("TEMPLATE-"):].isdigit()]
        return [r for r in self._products(ids) + self._parents(sorted(set(parents))) if r["sku"] in skus]

    def get_product(self, product_id: str) -> dict:
        """One product ("P<id>") or parent template ("T<id>"); PermanentError with status 404 when absent."""
        if product_id.startswith("T"):
            found = self._parents([_code("T", product_id)])
        else:
            found = self._products([_code("P", product_id)])
        if not found:
            raise PermanentError(f"tryton: no product {product_id}", status=404)
        return found[0]

    def _products(self, ids: list[int]) -> list[dict]:
        if not ids:
            return []
        fields = [f for f in PRODUCT_FIELDS if f != "attributes" or self._has_attributes()]
        rows = self._read("product.product", ids, fields, ALL)
        return [self._product(row) for row in rows if row["code"]]  # no code: not for the shop

    def _product(self, row: dict) -> dict:
        template = row["template."]
        variant = len(template["products"]) > 1
        ean = next((i["code"] for i in row.get("identifiers.") or [] if i["type"] in ("ean", "gtin")), None)
        attributes = row.get("attributes") or {}
        if variant and not attributes:
            attributes = {"variant": row["code"]}
        return {
            "id": f"P{row['id']}", "sku": row["code"], "parent_id": f"T{template['id']}" if variant else None,
            "is_parent": False, "name": template["name"], "description": row.get("description") or "",
            "list_price": _money(row["list_price_used"]), "currency": self._currency(), "tax_class": "standard",
            "is_active": bool(row["active"] and template["active"] and template["salable"]), "weight_kg": None,
            "ean": ean, "category_code": self._category(template),
            "attributes": {k: str(v) for k, v in attributes.items()} if variant else {},
            "modified_at": timestamp(last_change(row, template)),
        }

    def _parents(self, template_ids: list[int]) -> list[dict]:
        if not template_ids:
            return []
        rows = self._read("product.template", template_ids, [*TEMPLATE_FIELDS, "write_date", "create_date"], ALL)
        return [{
            "id": f"T{row['id']}", "sku": row["code"] or f"TEMPLATE-{row['id']}", "parent_id": None,
            "is_parent": True, "name": row["name"], "description": "", "list_price": _money(row["list_price"]),
            "currency": self._currency(), "tax_class": "standard",
            "is_active": bool(row["active"] and row["salable"]), "weight_kg": None, "ean": None,
            "category_code": self._category(row), "attributes": {}, "modified_at": timestamp(last_change(row)),
        } for row in rows]

    @staticmethod
    def _category(template: dict) -> str:
        categories = template.get("categories.") or []
        return (categories[0].get("code") or categories[0]["name"]) if categories else ""

    # -- stock -----------------------------------------------------------------------------------------
    def list_inventory(self, modified_since, cursor, limit=100) -> Page:
        """Stock rows `{"sku", "warehouse", "on_hand", "reserved", "safety_stock": 0, "modified_at"}` (whole
        units: on hand floored, reserved ceiled) for goods whose moves, sale lines or record changed since
        `modified_since`, one row per configured warehouse; ≤ `limit` rows a page. PermanentError when a
        configured warehouse code does not exist."""
        goods = (("type", "!=", "service"), ("code", "!=", None))
        of_goods = tuple(("product." + f, op, v) for f, op, v in goods)
        # sale lines too: an amendment lowering a line to 0 (a withdrawal before shipment) deletes its planned
        # moves, so no move date tells that the product's reservation went; the line's write does. Kept last so
        # the stream numbers of the cursors handed out before stay those of the same streams
        sources = [Source("stock.move", of_goods, ("product",)), Source("product.product", goods),
                   Source("sale.line", (*of_goods, ("type", "=", "line")), ("product",))]
        events, more = keyset.fetch(self.rpc, sources, modified_since, cursor, limit, ALL)
        warehouses = self._warehouses()
        per_product = max(1, len(warehouses))
        changed: dict[int, object] = {}
        used = None
        for event in events:
            product = event.row["product"] if event.model != "product.product" else event.id
            if product is None:  # nothing to report: consumed, so the cursor passes it
                used = event
                continue
            if used is not None and product not in changed and (len(changed) + 1) * per_product > limit:
                break
            changed[product] = max(changed.get(product, event.at), event.at)
            used = event
        more = more or (used is not None and used is not events[-1])
        rows = self._stock_rows(changed)
        return Page(items=rows, next_cursor=keyset.encode_cursor(used) if more and used else None)

    def _stock_rows(self, changed: dict) -> list[dict]:
        if not changed:
            return []
        ids = list(changed)
        codes = {r["id"]: r["code"] for r in self.rpc.model("product.product", "read", ids, ["code"], context=ALL)}
        rows = []
        for code, location in self._warehouses().items():
            levels = self.rpc.model("product.product", "read", ids, ["quantity", "forecast_quantity"],
                                    context={**ALL, "locations": [location]})
            for level in levels:
                quantity = level["quantity"] or 0.0
                reserved = quantity - (level["forecast_quantity"] or 0.0) if self.stock_basis == "forecast" else 0
                rows.append({"sku": codes.get(level["id"]), "warehouse": code,
                             "on_hand": max(0, math.floor(quantity + 1e-9)),
                             "reserved": max(0, math.ceil(reserved - 1e-9)), "safety_stock": 0,
                             "modified_at": timestamp(changed[level["id"]])})
        return rows

    def _warehouses(self) -> dict[str, int]:
        """Warehouse code → location id, for the configured codes (all coded warehouses by default)."""
        if "warehouses" not in self._cache:
            domain = [("type", "=", "warehouse"), ("code", "!=", None)]
            if self.warehouse_codes:
                domain.append(("code", "in", list(self.warehouse_codes)))
            found = {r["code"]: r["id"] for r in self.rpc.model("stock.location", "search_read", domain, 0, None,
                                                                [["code", "ASC"]], ["code"])}
            missing = [c for c in self.warehouse_codes if c not in found]
            if missing:
                raise PermanentError(f"tryton has no warehouse with code {', '.join(missing)} (TRYTON_WAREHOUSES)")
            self._cache["warehouses"] = found
        return self._cache["warehouses"]

    # -- shipments -------------------------------------------------------------------------------------
    def list_categories(self, modified_since, cursor, limit=100) -> Page:
        """`product.category` rows: the code is the category's `code`, else its name (as products carry it).
        Accounting categories (account_product's `accounting`, which hold income and tax accounts) are books,
        not a shop's navigation, and are left out."""
        domain = (("accounting", "=", False),) if self._has_accounting_categories() else ()
        events, more = keyset.fetch(self.rpc, [Source("product.category", domain, ("name", "code", "parent"))],
                                    modified_since, cursor, limit)
        parents = {r["id"]: r for r in self._read("product.category",
                                                    sorted({e.row["parent"] for e in events if e.row.get("parent")}),
                                                    ["name", "code"])}
        items = [{"code": e.row.get("code") or e.row["name"], "name": e.row["name"],
                  "parent_code": (parents[e.row["parent"]].get("code") or parents[e.row["parent"]]["name"])
                  if e.row.get("parent") else None, "modified_at": timestamp(e.at)} for e in events]
        return Page(items=items, next_cursor=keyset.encode_cursor(events[-1]) if more and events else None)

    def list_shipments(self, modified_since, cursor, limit=100) -> Page:
        """Done customer shipments changed since `modified_since`: `{"id": "SH<id>", "sales_order_id",
        "external_ref" (the sale's reference, "WC-ORDER-<id>"), "tracking_number" (the shipment's reference),
        "shipped_at", "lines": [{"sku", "quantity"}], "modified_at"}`; only done moves count."""
        sources = [Source("stock.shipment.out", (("state", "=", "done"),),
                          ("reference", "effective_date", "outgoing_moves"))]
        events, more = keyset.fetch(self.rpc, sources, modified_since, cursor, limit)
        move_ids = [m for e in events for m in e.row["outgoing_moves"]]
        moves = {m["id"]: m for m in self._read("stock.move", move_ids, ["state", "quantity", "product.code", "origin"])}
        sales = self._sales_of_lines({m["origin"] for m in moves.values()})
        items = []
        for event in events:
            row, lines, sale = event.row, {}, None
            for move in (moves[m] for m in row["outgoing_moves"]):
                if move["state"] != "done":
                    continue
                sku = (move.get("product.") or {}).get("code")
                lines[sku] = lines.get(sku, 0) + int(round(move["quantity"]))
                sale = sale or sales.get(move["origin"])
            items.append({"id": f"SH{row['id']}", "sales_order_id": f"S{sale['id']}" if sale else None,
                          "external_ref": sale["reference"] if sale else None, "carrier": None,
                          "tracking_number": row.get("reference") or None,
                          "shipped_at": timestamp(row.get("effective_date")),
                          "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines.items()],
                          "modified_at": timestamp(event.at)})
        return Page(items=items, next_cursor=keyset.encode_cursor(events[-1]) if more and events else None)

    def _sales_of_lines(self, origins: set) -> dict[str, dict]:
        """Move origin (`sale.line,<id>`) → {"id", "reference"} of its sale."""
        line_ids = {int(o.split(",")[1]): o for o in origins if o and o.startswith("sale.line,")}
        if not line_ids:
            return {}
        rows = self.rpc.model("sale.line", "read", list(line_ids), ["sale.reference"])
        return {line_ids[r["id"]]: r["sale."] for r in rows if r.get("sale.")}

    # -- customers -------------------------------------------------------------------------------------
    def find_customers(self, *, external_ref=None, email=None) -> list[dict]:
        """Parties holding `external_ref` as an identifier (when given; `email` is then ignored), else whose
        e-mail contact matches `email` trimmed and case-insensitively (no wildcards); lowest id first."""
        if external_ref:
            domain = [("identifiers", "where", [("type", "=", None), ("code", "=", external_ref)])]
        else:  # trimmed and case-folded, as the reference ERP matches it (ilike: no wildcards of ours)
            pattern = (email or "").strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            domain = [("contact_mechanisms", "where", [("type", "=", "email"), ("value", "ilike", pattern)])]
        ids = self.rpc.model("party.party", "search", domain, 0, None, [["id", "ASC"]])
        return self._customers(ids)

    def get_customer(self, customer_id: str) -> dict:
        """One party ("C<id>"); PermanentError (without a status) when Tryton has none."""
        found = self._customers([_code("C", customer_id)])
        if not found:
            raise PermanentError(f"Tryton has no party {customer_id}")
        return found[0]

    def create_customer(self, customer: dict) -> dict:
        """Create a party from an ErpCustomer: name (company or person), e-mail and phone contacts, our
        reference and the VAT id as identifiers, billing and shipping addresses with a country; returns it.
        Tryton's refusals (e.g. a VAT id it finds invalid) come as TrytonRpc's errors."""
        mechanisms = [{"type": kind, "value": customer[key]} for kind, key in (("email", "email"), ("phone", "phone"))
                      if customer.get(key)]
        values = {"name": _party_name(customer), "contact_mechanisms": [["create", mechanisms]]}
        identifiers = [{"type": None, "code": customer["external_ref"]}] if customer.get("external_ref") else []
        identifiers += self._vat_identifier(customer.get("vat_id"))
        if identifiers:
            values["identifiers"] = [["create", identifiers]]
        party_id, = self.rpc.model("party.party", "create", [values])
        for address in (customer.get("billing_address"), customer.get("shipping_address")):
            if address and address.get("country"):
                self._address(party_id, address, _person(customer))
        return self._customers([party_id])[0]

    def update_customer(self, customer_id: str, changes: dict) -> dict:
        """Our reference and the VAT id as party identifiers (added when missing), name (the company for a
        business, else the person), phone as a contact mechanism, addresses as party addresses (found or
        added; each sale names its own addresses). Repeating changes nothing."""
        party_id = _code("C", customer_id)
        current = self.rpc.model("party.party", "read", [party_id], [
            "name", "identifiers.type", "identifiers.code", "contact_mechanisms.type",
            "contact_mechanisms.value"])[0]
        values: dict = {}
        codes = {(i["type"], i["code"]) for i in current.get("identifiers.") or []}
        identifiers = []
        if changes.get("add_external_ref") and (None, changes["add_external_ref"]) not in codes:
            identifiers.append({"type": None, "code": changes["add_external_ref"]})
        identifiers += [i for i in self._vat_identifier(changes.get("vat_id")) if (i["type"], i["code"]) not in codes]
        if identifiers:
            values["identifiers"] = [["create", identifiers]]
        if any(changes.get(k) for k in ("first_name", "last_name", "company")):
            name = _party_name(changes)
            if name != current["name"]:
                values["name"] = name
        phone = changes.get("phone")
        phones = {c["value"] for c in current.get("contact_mechanisms.") or [] if c["type"] == "phone"}
        if phone and phone not in phones:
            values["contact_mechanisms"] = [["create", [{"type": "phone", "value": phone}]]]
        if values:
            self.rpc.model("party.party", "write", [party_id], values)
        for key in ("billing_address", "shipping_address"):
            address = changes.get(key)
            if address and address.get("country"):
                self._address(party_id, address, _person(changes))
        return self._customers([party_id])[0]

    def _vat_identifier(self, vat_id: str | None) -> list[dict]:
        """An `eu_vat` identifier for a VAT id in valid form (Tryton checks the format itself and would refuse
        a malformed one: that one stays with the order note the connector writes)."""
        if not vat_id:
            return []
        from stdnum.eu import vat as eu_vat  # Tryton's own dependency: present wherever trytond is
        try:
            compact = eu_vat.compact(vat_id)
        except ValueError:  # stdnum's errors are ValueErrors: an unknown country prefix, say
            return []
        return [{"type": "eu_vat", "code": compact}] if eu_vat.is_valid(compact) else []

    def _customers(self, ids: list[int]) -> list[dict]:
        if not ids:
            return []
        rows = self.rpc.model("party.party", "read", ids, ["name", "code", "identifiers.type", "identifiers.code",
                                                           "contact_mechanisms.type", "contact_mechanisms.value"])
        out = []
        for row in rows:
            refs = [i["code"] for i in row.get("identifiers.") or [] if not i["type"]]
            vat = [i["code"] for i in row.get("identifiers.") or [] if i["type"] == "eu_vat"]
            emails = [c["value"] for c in row.get("contact_mechanisms.") or [] if c["type"] == "email"]
            phones = [c["value"] for c in row.get("contact_mechanisms.") or [] if c["type"] == "phone"]
            out.append({"id": f"C{row['id']}", "number": row["code"], "name": row["name"],
                        "external_ref": refs[0] if refs else None, "external_refs": refs,
                        "email": emails[0] if emails else None, "phone": phones[-1] if phones else "",
                        "vat_id": vat[-1] if vat else ""})
        return out

    def _address(self, party_id: int, address: dict, person: str | None = None) -> int:
        """The party's address with these fields, created when it has none. `person`: the name the address
        is for (`party_name`), when the party is a company."""
        street = "\n".join(p for p in (address.get("line1"), address.get("line2")) if p) or None
        values = {"street_unstructured": street, "postal_code": address.get("postcode") or None,
                  "city": address.get("city") or None, "country": self._country(address.get("country"))}
        found = self.rpc.model("party.address", "search",
                               [("party", "=", party_id), *((k, "=", v) for k, v in values.items())], 0, 1, None)
        if found:
            return found[0]
        if person:
            values["party_name"] = person
        address_id, = self.rpc.model("party.address", "create", [{"party": party_id, **values}])
        return address_id

    def _country(self, code: str | None) -> int | None:
        """The country by ISO code; None when Tryton does not know it (the address keeps no country)."""
        if not code:
            return None
        countries = self._cache.setdefault("countries", {})
        if code not in countries:
            found = self.rpc.model("country.country", "search", [("code", "=", code.upper())], 0, 1, None)
            countries[code] = found[0] if found else None
        return countries[code]

    # -- sales orders ----------------------------------------------------------------------------------
    def find_sales_orders(self, external_ref: str) -> list[dict]:
        """Sales with `reference` = `external_ref` ("WC-ORDER-<id>"), oldest first, drafts included. Each as
        `{id: "S<id>", number, external_ref, status, customer_id, currency, lines: [{sku, quantity (int),
        unit_price, description}] (goods lines, as Tryton holds them: a split line is two), totals: {net, tax,
        gross} (Tryton's untaxed, tax and total amounts, decimal strings), revision (int, Tryton's),
        billing_address, shipping_address ({line1, line2, city, postcode, country}; Tryton keeps no state),
        shipping {method, amount}, fees [{name, amount}], discounts [{code, amount}] (read back from the lines
        without product), note (the shop's note at the head of the comment), return_of (False: a sale),
        created_at, warehouse, last_change}`."""
        ids = self.rpc.model("sale.sale", "search", [("reference", "=", external_ref)], 0, None, [["id", "ASC"]])
        return self._sales(ids)

    def list_sales_orders(self, modified_since, cursor, limit=100) -> Page:
        """A delta page of sales in the shape of `find_sales_orders`, with `modified_at`; return sales (the
        credit notes, `list_credit_notes`) are left out, so a page may hold fewer than `limit`."""
        events, more = keyset.fetch(self.rpc, [Source("sale.sale")], modified_since, cursor, limit)
        at = {e.id: e.at for e in events}
        items = [dict(sale, modified_at=timestamp(at[int(sale["id"][1:])])) for sale in self._sales(list(at))
                 if not sale["return_of"]]  # return sales are credit notes (list_credit_notes)
        return Page(items=items, next_cursor=keyset.encode_cursor(events[-1]) if more and events else None)

    def create_sales_order(self, order: dict) -> dict:
        """Create, quote and (when configured) confirm a sale for `order` (the protocol's SalesOrder: money as
        decimal strings, quantities ints) and return it as `find_sales_orders` does. InvalidDataError for an
        unknown SKU or currency; a sale left half-way by a failure is found as `draft` and finished."""
        party = _code("C", order["customer_id"])
        products = self._products_by_code({line["sku"] for line in order["lines"]})
        lines = []
        for line in order["lines"]:
            product = products[line["sku"]]
            template = product["template."]
            for quantity, price in exact_lines(line):
                lines.append({"type": "line", "product": product["id"], "quantity": float(quantity),
                              "unit": template.get("sale_uom") or template["default_uom"],
                              "unit_price": price, "description": line.get("description") or None})
        lines += [{"type": "line", "quantity": 1.0, "unit_price": Decimal(amount), "description": text}
                  for text, amount in self._charges(order)]
        values = {"party": party, "reference": order["external_ref"], "currency": self._currency_id(order["currency"]),
                  "invoice_address": self._address(party, order["billing_address"]),
                  "shipment_address": self._address(party, order.get("shipping_address") or order["billing_address"]),
                  "comment": self._comment(order), "lines": [["create", lines]]}
        if order.get("order_date"):
            values["sale_date"] = keyset.parse_since(order["order_date"]).date()
        if self.sale_warehouse:
            values["warehouse"] = self._warehouses_all()[self.sale_warehouse]
        sale_id, = self.rpc.model("sale.sale", "create", [values])
        return self.finish_sales_order(f"S{sale_id}")

    def _products_by_code(self, skus: set[str]) -> dict[str, dict]:
        """SKU → product row with its sale and default units; InvalidDataError naming the unknown SKUs."""
        if not skus:
            return {}
        products = {r["code"]: r for r in self.rpc.model(
            "product.product", "search_read", [("code", "in", sorted(skus))], 0, None, None,
            ["code", "template.sale_uom", "template.default_uom"])}
        unknown = sorted(s for s in skus if s not in products)
        if unknown:
            raise InvalidDataError(f"tryton: SKU {', '.join(unknown)} unknown or inactive in Tryton")
        return products

    def finish_sales_order(self, order_id: str) -> dict:
        """Quote (numbers the sale) and, when configured, confirm an order still in draft or quotation."""
        sale_id = _code("S", order_id)
        state = self._state(sale_id)
        if state == "draft":
            self.rpc.model("sale.sale", "quote", [sale_id])
            state = "quotation"
        if state == "quotation" and self.confirm_sales:
            self.rpc.model("sale.sale", "confirm", [sale_id])
        return self._sale(sale_id)

    def cancel_sales_order(self, order_id: str) -> dict:
        """Cancel sale "S<id>" (a confirmed sale goes back to draft first) and return it; a cancelled sale is
        returned as is, and so is a sale refund amendments withdrew entirely (status cancelled: Tryton cannot cancel
        a processing sale). PermanentError status 409 when it is processing or done (shipments exist)."""
        sale_id = _code("S", order_id)
        state = self._state(sale_id)
        if state in ("processing", "done") and self._sale(sale_id)["status"] == "cancelled":
            return self._sale(sale_id)  # a refund withdrew every line before anything shipped
        if state in ("processing", "done"):
            raise PermanentError(f"tryton: sale {order_id} is {state}; cancel its shipments in Tryton first",
                                 status=409)
        if state == "confirmed":
            self.rpc.model("sale.sale", "draft", [sale_id])
        if state != "cancelled":
            self.rpc.model("sale.sale", "cancel", [sale_id])
        return self._sale(sale_id)

    # -- amendments: Tryton's sale_amendment module ------------------------------------------------------
    def amend_sales_order(self, order_id: str, changes: dict, *, revision: int | None = None) -> dict:
        """Apply `changes` to sale `order_id` ("S<id>") and return the sale as `find_sales_orders` answers it,
        with Tryton's own `revision` (sale_history: 0 at creation, +1 per amendment or return to draft).

        `changes` holds any of billing_address, shipping_address, lines, shipping, discounts, fees, totals, note,
        payment in the shapes of `create_sales_order` (money as decimal strings, quantities as ints). A confirmed
        sale is changed the way a Tryton user does it, by one validated `sale.amendment`: a "party" line for new
        addresses and a "line" line per sale line whose product, quantity, unit price or description changes (a
        line no longer wanted gets quantity 0); validating it bumps the revision and re-plans the waiting
        shipment. The note, the shop's totals and the payment live in the sale's comment, written directly. A
        sale not confirmed yet is edited directly (a quotation goes back to draft, which bumps the revision, and
        is quoted again). Only what differs is changed: the same changes again change nothing, revision included.

        Errors: StaleRevision (412) when `revision` is given and is not the sale's; NotAmendable (409) when the
        sale is cancelled or done or the warehouse has started on it (a shipment assigned, picked, packed or
        done); InvalidDataError when Tryton cannot represent the change (a confirmed sale takes no new line:
        an amendment only changes existing lines) or a SKU is unknown; TransientError while a confirmed sale
        still waits for Tryton's processing queue. Units a refund amendment withdrew (create_credit_note) stay
        withdrawn: `lines` holds the shop's quantities, and a sale line is set to the shop's quantity less them."""
        sale_id = _code("S", order_id)
        sale = self._amendable(sale_id)
        if revision is not None and int(revision) != sale["revision"]:
            raise StaleRevision(f"tryton: sale {order_id} is at revision {sale['revision']}, not {revision}",
                                status=412)
        confirmed = sale["state"] == "processing"
        edits = self._line_edits(*self._withdrawn_back(sale), changes)
        new = [want for line, want in edits if line is None]
        if confirmed and new:
            raise InvalidDataError(
                f"tryton: sale {sale['number'] or order_id} is confirmed and Tryton's sale_amendment only changes "
                f"its existing lines; it cannot add {', '.join(repr(w['description']) for w in new)}: "
                f"add them to a new sale in Tryton")
        party = sale["party"]
        addresses = {}
        for key, field in (("billing_address", "invoice_address"), ("shipping_address", "shipment_address")):
            if changes.get(key) and changes[key].get("country"):
                address = self._address(party, changes[key])
                if address != sale[field]:
                    addresses[field] = address
        comment = _comment_with(sale.get("comment") or "", changes)
        if not edits and not addresses and comment == (sale.get("comment") or ""):
            return self._sale(sale_id)
        what = ", ".join(k for k in AMENDABLE if k in changes)
        if confirmed:
            if comment != (sale.get("comment") or ""):
                self.rpc.model("sale.sale", "write", [sale_id], {"comment": comment})
            self._validate_amendment(sale, addresses, edits, f"{AMENDMENT_PREFIX}{what}")
        else:
            if sale["state"] == "quotation":
                self.rpc.model("sale.sale", "draft", [sale_id])
            lines = []
            for line, want in edits:
                if line is None:
                    lines.append(["create", [dict(want, type="line")]])
                elif want["quantity"]:
                    lines.append(["write", [line["id"]], want])
                else:
                    lines.append(["delete", [line["id"]]])
            self.rpc.model("sale.sale", "write", [sale_id], {"comment": comment, **addresses, "lines": lines})
            if sale["state"] == "quotation":
                self.rpc.model("sale.sale", "quote", [sale_id])
        return self._sale(sale_id)

    def _amendable(self, sale_id: int) -> dict:
        """The sale with what an amendment needs; NotAmendable once Tryton no longer takes changes."""
        rows = self._read("sale.sale", [sale_id], (
            "number", "state", "shipment_state", "revision", "party", "comment", "invoice_address",
            "shipment_address", "shipments.state", "shipments.number", "lines.type", "lines.product",
            "lines.quantity", "lines.unit", "lines.unit_price", "lines.description"))
        if not rows:
            raise PermanentError(f"tryton: no sale S{sale_id}", status=404)
        sale = rows[0]
        name = sale["number"] or f"S{sale_id}"
        if sale["state"] in ("cancelled", "done"):
            raise NotAmendable(f"tryton: sale {name} is {sale['state']}", status=409)
        started = [s for s in sale.get("shipments.") or [] if s["state"] not in ("draft", "waiting", "cancelled")]
        if sale["shipment_state"] in ("partially shipped", "sent") or started:
            shipments = ", ".join(f"{s['number'] or s['id']} {s['state']}" for s in started)
            raise NotAmendable(f"tryton: sale {name} has shipped or is being picked ({shipments or 'shipped'})",
                               status=409)
        if sale["state"] == "confirmed":  # confirmed, its processing (shipment) queued in Tryton: soon amendable
            raise TransientError(f"tryton: sale {name} is confirmed and not processed yet")
        return sale

    def _withdrawn_back(self, sale: dict) -> tuple[dict, dict]:
        """(the sale with the units its refund amendments withdrew counted back on its lines, {line id: units
        withdrawn}): the shop's lines still hold those units, so edits are computed on the sale as ordered."""
        back: dict[int, float] = {}
        if sale["state"] == "processing":
            for a in self._refund_amendments([("sale", "=", sale["id"])]):
                for line_id, units in a["lines"].items():
                    back[line_id] = back.get(line_id, 0) + units
                for line_id in a["charge_lines"]:
                    back[line_id] = back.get(line_id, 0) + 1
        if not back:
            return sale, back
        lines = [dict(li, quantity=li["quantity"] + back.get(li["id"], 0)) for li in sale.get("lines.") or []]
        return dict(sale, **{"lines.": lines}), back

    def _line_edits(self, sale: dict, back: dict, changes: dict) -> list[tuple[dict | None, dict]]:
        """(sale line, or None for a line to add; its wanted values) for each sale line that must change. Goods
        lines are matched to the wanted ones by product and description first, then in order; so are the lines
        without product (shipping, fees, discounts). A line no longer wanted is wanted with quantity 0."""
        lines = [li for li in sale.get("lines.") or [] if li["type"] == "line"]
        edits = []
        if "lines" in changes:
            products = self._products_by_code({line["sku"] for line in changes["lines"]})
            wanted = []
            for line in changes["lines"]:
                product = products[line["sku"]]
                template = product["template."]
                for quantity, price in exact_lines(line):
                    wanted.append({"product": product["id"], "quantity": float(quantity),
                                   "unit": template.get("sale_uom") or template["default_uom"], "unit_price": price,
                                   "description": line.get("description") or None})
            edits += _match([li for li in lines if li.get("product")], wanted)
        if any(k in changes for k in CHARGES):
            current = _charges_of(lines)
            merged = {k: changes[k] if k in changes else current[k] for k in CHARGES}
            wanted = [{"product": None, "quantity": 1.0, "unit": None, "unit_price": Decimal(amount),
                       "description": text} for text, amount in self._charges(merged)]
            edits += _match([li for li in lines if not li.get("product")], wanted)
        if back:  # what a refund withdrew stays withdrawn: the edit asks for the rest
            kept = []
            for line, want in edits:
                if line is not None and back.get(line["id"]):
                    want = dict(want, quantity=max(0.0, float(want["quantity"]) - back[line["id"]]))
                    line = dict(line, quantity=line["quantity"] - back[line["id"]])
                    if not _differs(line, want):
                        continue
                kept.append((line, want))
            edits = kept
        return edits

    def _validate_amendment(self, sale: dict, addresses: dict, edits: list, description: str) -> None:
        """One `sale.amendment` with a line per change, validated (which applies it and bumps the revision).
        A draft amendment of ours left by an interrupted call is removed first: it was never applied."""
        stale = self.rpc.model("sale.amendment", "search", [("sale", "=", sale["id"]), ("state", "=", "draft"),
                                                            ("description", "like", AMENDMENT_PREFIX + "%")],
                               0, None, None)
        if stale:
            self.rpc.model("sale.amendment", "delete", stale)
        lines = []
        if addresses:
            lines.append({"action": "party", "party": sale["party"],
                          "invoice_address": addresses.get("invoice_address", sale["invoice_address"]),
                          "shipment_address": addresses.get("shipment_address", sale["shipment_address"])})
        for line, want in edits:
            lines.append({"action": "line", "line": line["id"], **want,
                          "unit": want["unit"] if want["product"] else line.get("unit")})
        amendment, = self.rpc.model("sale.amendment", "create", [{
            "sale": sale["id"], "description": description[:100], "lines": [["create", lines]] if lines else []}])
        self.rpc.model("sale.amendment", "validate_amendment", [amendment])

    # -- credit notes: return sales and withdrawals ------------------------------------------------------
    # A shop refund is credited in Tryton by what Tryton itself would use, exactly once:
    # - units the warehouse has not shipped yet, when the shop restocked them, are withdrawn from the sale by one
    #   validated `sale.amendment` (module sale_amendment) lowering the quantities of the sale lines that hold
    #   them. Validating it deletes their planned moves (the waiting shipment no longer takes them, the forecast
    #   stock frees them) and Tryton recomputes the sale's invoicing itself: invoice method `order` replaces the
    #   draft invoice's lines, or, once that invoice is posted, makes a draft credit invoice of the withdrawn
    #   value; `fulfillment` never invoices them (only shipped units are invoiced); `manual` invoices what a
    #   person asks for, so a manually invoiced line is not withdrawn (the refund is refused with the reason).
    #   Its description holds the refund reference and what it withdrew ("WooCommerce: refund WC-REFUND-74
    #   withdraws 1 × MUG-BLUE (12.50, line 7)…"), so the credit note is found by its reference like a return.
    #   A refund withdrawing every unit of a sale that shipped nothing also withdraws its shipping, fee and
    #   discount lines when the refund covers them: the sale is then fully withdrawn (reported as cancelled).
    # - shipped units, and what the refund credits beyond the withdrawn units' value (shipping kept on the sale,
    #   tax, goodwill), are a Tryton return sale, what the sale module's "Return Sale" wizard makes: a sale with
    #   negative quantities whose origin is the sold sale and whose reference is WC-REFUND-<refund id>. On
    #   confirmation it makes the credit invoice by the sale's invoice method and, for restocked goods, an
    #   incoming customer return shipment. An amount-only refund is a return sale with one line without product,
    #   like the charges of the sales themselves: it stays tied to its sale and needs no accounts on the line.
    # When a refund needs both, the amendment comes first and says "return follows": until the return exists
    # the credit note is not reported (so the caller asks again and the return is made, never the amendment).
    def find_credit_notes(self, *, external_ref: str | None = None, sales_order_id: str | None = None) -> list[dict]:
        """Credit notes with reference `external_ref` ("WC-REFUND-<id>"), or every credit note of the sale
        `sales_order_id` ("S<id>"), oldest first; the shape of `create_credit_note`'s answer. A credit note is a
        return sale, a refund amendment (units withdrawn before shipment), or both for one refund (answered as
        one). A return whose creation stopped half-way (Tryton's create, quote, confirm and receipt are separate
        calls) is finished here, never created twice; a refund amendment whose return has not been made yet is
        left out (create_credit_note then makes only the return)."""
        if external_ref:
            domain = [("reference", "=", external_ref), ("origin", "like", "sale.sale,%")]
            amendments = self._refund_amendments([("description", "like", f"{REFUND_AMENDMENT}{external_ref} %")])
        else:
            sale_id = _code("S", sales_order_id)
            domain = [("origin", "=", f"sale.sale,{sale_id}")]
            amendments = self._refund_amendments([("sale", "=", sale_id)])
        ids = self.rpc.model("sale.sale", "search", domain, 0, None, [["id", "ASC"]])
        for row in self._read("sale.sale", ids, ("reference", "state", "shipment_method", "shipment_returns")):
            if (row["reference"] or "").startswith(REFUND_PREFIX):  # ours; a person's draft return stays theirs
                self._finish_return(row)
        return self._combined(self._credit_notes(ids), amendments)

    def list_credit_notes(self, modified_since, cursor, limit=100) -> Page:
        """The credit notes with a WC-REFUND- reference (return sales and refund amendments), delta-paged like
        sales (reconciliation). A refund credited by both is listed once, with its return sale."""
        events, more = keyset.fetch(self.rpc, [
            Source("sale.sale", (("reference", "like", REFUND_PREFIX + "%"),)),
            Source("sale.amendment", (("state", "=", "validated"), ("description", "like", REFUND_AMENDMENT + "%")),
                   ("description",))], modified_since, cursor, limit)
        at = {e.id: e.at for e in events if e.model == "sale.sale"}
        amended = [e for e in events if e.model == "sale.amendment" and FOLLOWS not in e.row["description"]]
        notes = self._credit_notes(list(at))
        refs = {n["external_ref"] for n in notes}
        amendments = self._refund_amendments([("description", "like", f"{REFUND_AMENDMENT}{ref} %")
                                              for ref in sorted(refs)], any_of=True) if refs else []
        items = [dict(n, modified_at=timestamp(at[int(n["id"][1:])])) for n in self._combined(notes, amendments)]
        alone = self._refund_amendments([("id", "in", [e.id for e in amended])]) if amended else []
        items += [dict(n, modified_at=timestamp(next(e.at for e in amended if e.id == int(n["id"][1:]))))
                  for n in self._combined([], alone)]
        return Page(items=items, next_cursor=keyset.encode_cursor(events[-1]) if more and events else None)

    def create_credit_note(self, note: dict) -> dict:
        """`{external_ref, sales_order_id, reason, lines: [{sku, quantity, amount, net}], amount, net_amount,
        restock}` (amounts as decimal strings with the shop's tax, `net`/`net_amount` without it, quantities as
        positive ints) → the credit note, answered as `{id,
        number, external_ref, sales_order_id, reason, lines, amount, restock, status, created_at, modified_at}`.

        With `net_amount` (what the connector sends), the credit is made on the sale's basis: net unit prices
        and net amounts (Tryton adds its own taxes, as on the sale); `amount` answered is the untaxed credit.
        Without restock, every goods line becomes a line of the product with the negative quantity on a confirmed
        return sale (split in two at cent prices when the amount does not divide, as for sales; shipment method
        manual: no goods move); without lines, one line without product for `amount`. With restock, units the
        sale has shipped (and not taken back yet) come back by the return sale (its customer return shipment is
        received and put away in the sale's warehouse); units still waiting in an unstarted shipment are withdrawn
        from the sale by one refund amendment (see the comment above), and what the refund credits beyond the
        withdrawn units' value goes onto the return sale as a line without product. A SKU is returned before it
        is withdrawn (shipped units first, like the reference ERP).

        The answer: `id` "R<return id>" and `number` the return sale's number when there is a return; for a
        refund credited by an amendment alone, `id` "A<amendment id>" and `number` "<sale number>/A<amendment
        id>" (what a Tryton user finds on the sale's Amendments tab). `lines` are per SKU, `amount` what the
        return and the amendment credit together. Idempotent: a credit note that exists for `external_ref` is
        answered as is; a refund amendment made by an earlier call that stopped before its return is not made
        again.

        Errors: InvalidDataError for an unknown SKU, a non-positive amount, lines that do not add up to
        `amount`, units to restock that the sale has neither shipped nor waiting in an unstarted shipment, units
        a person invoiced manually, or a refund below the value Tryton withdraws; TransientError while the sale
        waits for Tryton's processing queue; PermanentError (404) when the sale does not exist."""
        sale_id = _code("S", note["sales_order_id"])
        rows = self._read("sale.sale", [sale_id], ("number", "party", "currency", "warehouse", "invoice_address",
                                                   "shipment_address", "state", "invoice_method", "shipment_state"))
        if not rows:
            raise PermanentError(f"tryton: no sale S{sale_id}", status=404)
        sale = rows[0]
        ref, reason = note["external_ref"], (note.get("reason") or "").strip()
        amount = Decimal(str(note.get("amount") or "0"))
        goods = note.get("lines") or []
        total = sum((Decimal(str(ln["amount"])) for ln in goods), Decimal(0))
        if goods and abs(total - amount) > Decimal("0.01") * (len(goods) + 1):
            raise InvalidDataError(f"tryton: credit note {ref}: lines add up to {total}, not {amount}")
        if amount <= 0:
            raise InvalidDataError(f"tryton: credit note {ref}: amount {amount} is not positive")
        found = self.find_credit_notes(external_ref=ref)
        if found:
            return found[0]
        net = note.get("net_amount") is not None  # the sale is booked net: credit on the same basis
        if net:
            amount = Decimal(str(note["net_amount"]))
            goods = [dict(ln, amount=ln["net"] if ln.get("net") is not None else ln["amount"]) for ln in goods]
            if amount <= 0:
                raise InvalidDataError(f"tryton: credit note {ref}: net amount {amount} is not positive")
        products = self._products_by_code({ln["sku"] for ln in goods})
        restock = bool(goods) and bool(note.get("restock"))
        wanted: dict[str, list] = {}  # sku → [units, amount]
        for ln in goods:
            entry = wanted.setdefault(ln["sku"], [0, Decimal(0)])
            entry[0] += int(ln["quantity"])
            entry[1] += Decimal(str(ln["amount"]))
        withdrawn = None
        if restock:
            done = self._refund_amendments([("sale", "=", sale_id),
                                            ("description", "like", f"{REFUND_AMENDMENT}{ref} %")])
            withdrawn = done[0] if done else self._withdraw(sale, ref, reason, wanted, amount)
        lines = []
        rest = amount
        for sku, (units, value) in wanted.items():
            took, worth = (withdrawn or {}).get("units", {}).get(sku, (0, Decimal(0)))
            rest -= value
            if units - took <= 0:
                rest += value - worth  # what the refund gave beyond the withdrawn units' value
                continue
            product = products[sku]
            template = product["template."]
            for quantity, price in exact_lines({"quantity": units - took, "unit_price": "0",
                                                "amount": str(value - worth)}):
                lines.append({"type": "line", "product": product["id"], "quantity": -float(quantity),
                              "unit": template.get("sale_uom") or template["default_uom"], "unit_price": price,
                              "description": f"Return: {sku}"})
        if withdrawn:
            rest -= withdrawn["charges"]
            if not lines and not rest:
                return self._combined([], [withdrawn])[0]
        elif not net:  # gross lines hold the refund's charges and tax: nothing else to credit
            rest = Decimal(0) if goods else amount
        if net and rest < 0:
            raise InvalidDataError(f"tryton: credit note {ref}: its goods lines credit more than its amount")
        if rest:
            lines.append({"type": "line", "quantity": -1.0, "unit_price": rest,
                          "description": f"Refund: {reason or ref}" + (" (beyond the withdrawn units)"
                                                                       if withdrawn else "")})
        returned = {ln["description"][len("Return: "):] for ln in lines if ln.get("product")}
        if restock and returned:
            self._check_returnable(sale_id, sale["number"], ref, [
                {"sku": sku, "quantity": wanted[sku][0] - (withdrawn or {}).get("units", {}).get(sku, (0, 0))[0]}
                for sku in returned])
        ships = restock and bool(returned)
        return_id, = self.rpc.model("sale.sale", "create", [{
            "party": sale["party"], "reference": ref, "origin": f"sale.sale,{sale_id}", "currency": sale["currency"],
            "warehouse": sale["warehouse"], "invoice_address": sale["invoice_address"],
            "shipment_address": sale["shipment_address"], "description": (reason or ref)[:100],
            "shipment_method": "order" if ships else "manual",
            "comment": f"WooCommerce refund {ref} of sale {sale['number']}: {reason or 'no reason given'}.\n"
                       + (f"Amounts without the shop's tax, as the sale books them ({amount} net of "
                          f"{note.get('amount')}); Tryton adds its own taxes." if net else
                          f"Amounts include the shop's tax, as refunded ({amount}).")
                       + (f"\nUnits not shipped yet were withdrawn from the sale by amendment "
                          f"{withdrawn['number']} ({withdrawn['amount']})." if withdrawn else ""),
            "lines": [["create", lines]]}])
        self._finish_return({"id": return_id, "state": "draft", "shipment_method": "order" if ships else "manual",
                             "shipment_returns": []})
        return self._combined(self._credit_notes([return_id]), [withdrawn] if withdrawn else [])[0]

    def _withdraw(self, sale: dict, ref: str, reason: str, wanted: dict, amount: Decimal) -> dict | None:
        """Withdraw by one validated amendment the units of `wanted` ({sku: [units, amount]}) the sale has not
        shipped, after those it shipped and has not taken back (which a return takes); the amendment as
        `_refund_amendments` answers it, None when nothing is to withdraw. InvalidDataError (nothing written)
        when units are neither shipped nor waiting, when a person invoiced them manually, or when the refund is
        below what the withdrawal credits."""
        sale_id, number = sale["id"], sale["number"] or f"S{sale['id']}"
        lines = [li for li in self._read("sale.line", self.rpc.model(
            "sale.line", "search", [("sale", "=", sale_id), ("type", "=", "line")], 0, None, [["id", "ASC"]]),
            ("product", "product.code", "quantity", "unit", "unit_price", "description", "moves", "invoice_lines"))]
        moves = {m["id"]: m for m in self._read("stock.move", [m for li in lines for m in li["moves"]], (
            "state", "quantity", "shipment", "to_location.type", "from_location.type"))}
        shipments = [m["shipment"] for m in moves.values() if (m.get("shipment") or "").startswith("stock.shipment.out,")]
        waiting = {f"stock.shipment.out,{s['id']}" for s in self._read(
            "stock.shipment.out", {int(s.split(",")[1]) for s in shipments}, ("state",))
            if s["state"] in ("draft", "waiting")}
        shipped: dict[str, int] = {}
        open_units: dict[int, int] = {}  # sale line → units in moves nothing has started on
        for li in lines:
            sku = (li.get("product.") or {}).get("code")
            for move in (moves[m] for m in li["moves"] if m in moves):
                to_customer = (move.get("to_location.") or {}).get("type") == "customer"
                if move["state"] == "done" and to_customer:
                    shipped[sku] = shipped.get(sku, 0) + int(round(move["quantity"]))
                elif move["state"] in ("draft", "staging") and to_customer and (
                        not move.get("shipment") or move["shipment"] in waiting):
                    open_units[li["id"]] = open_units.get(li["id"], 0) + int(round(move["quantity"]))
        for sku, units in self._returned(sale_id).items():
            shipped[sku] = shipped.get(sku, 0) - units
        edits, taken, short, invoiced = [], {}, {}, []
        for sku, (units, _value) in wanted.items():
            need = units - max(0, min(units, shipped.get(sku, 0)))
            for li in lines:
                if need <= 0:
                    break
                if (li.get("product.") or {}).get("code") != sku or not open_units.get(li["id"]):
                    continue
                if sale["invoice_method"] == "manual" and li["invoice_lines"]:
                    invoiced.append(sku)
                take = min(need, open_units[li["id"]], int(round(li["quantity"])))
                if take <= 0:
                    continue
                keep = li["quantity"] - take
                worth = _booked(li["quantity"], li["unit_price"]) - _booked(keep, li["unit_price"])
                edits.append((li, keep, take, worth, sku))
                entry = taken.setdefault(sku, [0, Decimal(0)])
                entry[0] += take
                entry[1] += worth
                need -= take
            if need > 0:
                short[sku] = need
        if short:
            units = ", ".join(f"{qty} × {sku}" for sku, qty in sorted(short.items()))
            if sale["state"] == "confirmed":
                raise TransientError(f"tryton: sale {number} is confirmed and not processed yet")
            raise InvalidDataError(
                f"tryton: refund {ref} restocks {units} that sale {number} has not shipped (or already took back) "
                f"and that no unstarted shipment of it holds (the warehouse has started on them, or the sale is "
                f"{sale['state']}); take the units out of the shipment in Tryton, then credit the refund there (a "
                f"return sale of it with reference {ref})")
        if invoiced:
            raise InvalidDataError(
                f"tryton: refund {ref} restocks {', '.join(sorted(set(invoiced)))} of sale {number}, which is invoiced "
                f"manually and already has invoice lines for them; Tryton would not re-invoice the withdrawn units "
                f"by itself: withdraw them by amendment in Tryton and invoice the difference, then credit the rest "
                f"of the refund (a return sale with reference {ref})")
        if not edits:
            return None
        if sale["state"] != "processing":
            raise TransientError(f"tryton: sale {number} is {sale['state']} and not processed yet")
        value = sum((t[1] for t in taken.values()), Decimal(0))
        beyond = amount - value - sum((v - taken.get(s, (0, Decimal(0)))[1] for s, (u, v) in wanted.items()
                                       if u > taken.get(s, (0, 0))[0]), Decimal(0))
        charges, charge_lines = Decimal(0), []
        everything = all(li["quantity"] - sum(t for e_li, _, t, _, _ in edits if e_li is li) == 0
                         for li in lines if li.get("product"))
        if everything and not shipped and sale.get("shipment_state") in ("waiting", "none", None):
            charge_lines = [li for li in lines if not li.get("product") and li["quantity"]]
            charges = sum((_booked(li["quantity"], li["unit_price"]) for li in charge_lines), Decimal(0))
            if beyond < charges:
                charges, charge_lines = Decimal(0), []
        returned_skus = [s for s, (u, _v) in wanted.items() if u > taken.get(s, (0, 0))[0]]
        low = sorted(s for s in returned_skus if wanted[s][1] - taken.get(s, (0, Decimal(0)))[1] <= 0)
        if low:
            raise InvalidDataError(
                f"tryton: refund {ref} credits too little for {', '.join(low)} to withdraw the units of sale {number} "
                f"not shipped yet and return the shipped ones (withdrawing credits their full value in Tryton); a "
                f"person must decide in Tryton")
        if beyond - charges < 0:
            raise InvalidDataError(
                f"tryton: refund {ref} credits {amount}, less than the {value + charges} Tryton credits when it "
                f"withdraws the units not shipped yet from sale {number}; a person must decide in Tryton")
        follows = bool(returned_skus) or beyond - charges > 0
        text = ", ".join(f"{take} × {sku} ({_money(worth)}, line {li['id']})" for li, _, take, worth, sku in edits)
        if charge_lines:
            text += f", charges ({_money(charges)}, lines {' '.join(str(li['id']) for li in charge_lines)})"
        description = (f"{REFUND_AMENDMENT}{ref} withdraws {text}{FOLLOWS if follows else ''}. "
                       f"Reason: {reason or 'none given'}")
        amendment_lines = [{"action": "line", "line": li["id"], "product": li["product"], "quantity": float(keep),
                            "unit": li["unit"], "unit_price": Decimal(str(li["unit_price"])),
                            "description": li["description"]} for li, keep, _, _, _ in edits]
        amendment_lines += [{"action": "line", "line": li["id"], "product": None, "quantity": 0.0, "unit": li["unit"],
                             "unit_price": Decimal(str(li["unit_price"])), "description": li["description"]}
                            for li in charge_lines]
        stale = self.rpc.model("sale.amendment", "search", [
            ("sale", "=", sale_id), ("state", "=", "draft"), ("description", "like", AMENDMENT_PREFIX + "%")],
            0, None, None)
        if stale:  # drafts of ours are never applied: an interrupted call left them
            self.rpc.model("sale.amendment", "delete", stale)
        amendment, = self.rpc.model("sale.amendment", "create", [{
            "sale": sale_id, "description": description, "lines": [["create", amendment_lines]]}])
        self.rpc.model("sale.amendment", "validate_amendment", [amendment])
        return self._refund_amendments([("id", "=", amendment)])[0]

    def _refund_amendments(self, domain: list, any_of: bool = False) -> list[dict]:
        """Validated refund amendments matching `domain` (each clause, or any of them with `any_of`), parsed:
        `{id, ref, sale_id, number, reason, units: {sku: (units, value)}, lines: {sale line id: units},
        charges (Decimal), charge_lines: [ids], follows, amount, created_at, modified_at}`, oldest first."""
        search = [("state", "=", "validated"), ("description", "like", REFUND_AMENDMENT + "%"),
                  ["OR", *domain] if any_of else domain]
        ids = self.rpc.model("sale.amendment", "search", search, 0, None, [["id", "ASC"]])
        if not ids:
            return []
        rows = self._read("sale.amendment", ids, ("description", "sale", "sale.number", "create_date", "write_date"))
        out = []
        for row in rows:
            text = row["description"] or ""
            head, _, reason = text.partition(". Reason: ")
            ref = head[len(REFUND_AMENDMENT):].split(" ", 1)[0]
            units: dict[str, tuple[int, Decimal]] = {}
            per_line: dict[int, int] = {}
            for qty, sku, worth, line in WITHDRAWN_ITEM.findall(head):
                took, value = units.get(sku, (0, Decimal(0)))
                units[sku] = (took + int(qty), value + Decimal(worth))
                per_line[int(line)] = per_line.get(int(line), 0) + int(qty)
            charge = WITHDRAWN_CHARGES.search(head)
            charges = Decimal(charge.group(1)) if charge else Decimal(0)
            out.append({
                "id": row["id"], "ref": ref, "sale_id": row["sale"], "reason": reason,
                "number": f"{(row.get('sale.') or {}).get('number') or 'S' + str(row['sale'])}/A{row['id']}",
                "units": units, "lines": per_line, "charges": charges,
                "charge_lines": [int(i) for i in charge.group(2).split()] if charge else [],
                "follows": head.endswith(FOLLOWS), "created_at": row["create_date"],
                "modified_at": row.get("write_date") or row["create_date"],
                "amount": sum((v for _, v in units.values()), Decimal(0)) + charges})
        return out

    def _combined(self, notes: list[dict], amendments: list[dict]) -> list[dict]:
        """Return-sale credit notes with the refund amendments of the same reference folded in (units, amount),
        plus the amendments credited alone; an amendment whose return is still to come is left out."""
        by_ref = {a["ref"]: a for a in amendments}
        out = []
        for n in notes:
            a = by_ref.pop(n["external_ref"], None)
            if a is None:
                out.append(n)
                continue
            merged = {ln["sku"]: [ln["quantity"], Decimal(ln["amount"])] for ln in n["lines"]}
            for sku, (units, value) in a["units"].items():
                entry = merged.setdefault(sku, [0, Decimal(0)])
                entry[0] += units
                entry[1] += value
            out.append(dict(n, lines=[{"sku": s, "quantity": q, "amount": _money(v)} for s, (q, v) in merged.items()],
                            amount=_money(Decimal(n["amount"]) + a["amount"]), restock=True))
        for a in by_ref.values():
            if a["follows"]:
                continue
            out.append({"id": f"A{a['id']}", "number": a["number"], "external_ref": a["ref"],
                        "sales_order_id": f"S{a['sale_id']}", "reason": a["reason"] if a["reason"] != "none given"
                        else "", "lines": [{"sku": s, "quantity": q, "amount": _money(v)}
                                           for s, (q, v) in a["units"].items()],
                        "amount": _money(a["amount"]), "restock": True, "status": "confirmed",
                        "created_at": timestamp(a["created_at"]), "modified_at": timestamp(a["modified_at"])})
        return sorted(out, key=lambda n: n["created_at"] or "")  # oldest first, returns and amendments alike

    def _returned(self, sale_id: int) -> dict[str, int]:
        """Units per SKU that return sales of the sale take back (restocking returns not cancelled)."""
        ids = self.rpc.model("sale.sale", "search", [("origin", "=", f"sale.sale,{sale_id}"),
                                                     ("shipment_method", "=", "order"), ("state", "!=", "cancelled")],
                             0, None, None)
        back: dict[str, int] = {}
        for row in self._read("sale.sale", ids, ("lines.type", "lines.product.code", "lines.quantity")):
            for li in row.get("lines.") or []:
                sku = (li.get("product.") or {}).get("code")
                if li["type"] == "line" and sku and li["quantity"] < 0:
                    back[sku] = back.get(sku, 0) - int(round(li["quantity"]))
        return back

    def _check_returnable(self, sale_id: int, number: str, ref: str, goods: list[dict]) -> None:
        """InvalidDataError when a restock asks for more units of a SKU than the sale has shipped and not yet
        taken back (units still to ship are withdrawn by `_withdraw` before this is asked)."""
        shipped: dict[str, int] = {}
        rows = self._read("sale.sale", [sale_id], ("lines.moves",))
        move_ids = [m for li in (rows[0].get("lines.") or []) for m in li.get("moves") or []] if rows else []
        for move in self._read("stock.move", move_ids, ("state", "quantity", "product.code", "to_location.type")):
            if move["state"] == "done" and (move.get("to_location.") or {}).get("type") == "customer":
                sku = (move.get("product.") or {}).get("code")
                shipped[sku] = shipped.get(sku, 0) + int(round(move["quantity"]))
        for sku, units in self._returned(sale_id).items():
            shipped[sku] = shipped.get(sku, 0) - units
        wanted: dict[str, int] = {}
        for line in goods:
            wanted[line["sku"]] = wanted.get(line["sku"], 0) + int(line["quantity"])
        short = {sku: qty - max(0, shipped.get(sku, 0)) for sku, qty in wanted.items() if qty > shipped.get(sku, 0)}
        if short:
            units = ", ".join(f"{qty} × {sku}" for sku, qty in sorted(short.items()))
            raise InvalidDataError(
                f"tryton: refund {ref} restocks {units} that sale {number} has not shipped (or already took back); "
                f"a Tryton return only takes back shipped goods: take the units out of the sale's shipment or amend "
                f"the sale in Tryton, then credit the refund there (a return sale of it with reference {ref})")

    def _finish_return(self, row: dict) -> None:
        """Quote and confirm a return sale; receive and put away its customer return shipment if restocked."""
        if row["state"] == "draft":
            self.rpc.model("sale.sale", "quote", [row["id"]])
            row = dict(row, state="quotation")
        if row["state"] == "quotation":
            self.rpc.model("sale.sale", "confirm", [row["id"]])
            row = self._read("sale.sale", [row["id"]], ("state", "shipment_method", "shipment_returns"))[0]
        if row["shipment_method"] != "order" or not row.get("shipment_returns"):
            return
        for shipment in self._read("stock.shipment.out.return", row["shipment_returns"], ("state",)):
            if shipment["state"] == "draft":
                self.rpc.model("stock.shipment.out.return", "receive", [shipment["id"]])
                shipment = dict(shipment, state="received")
            if shipment["state"] == "received":
                self.rpc.model("stock.shipment.out.return", "do", [shipment["id"]])

    def _credit_notes(self, ids: list[int]) -> list[dict]:
        if not ids:
            return []
        out = []
        for row in self._read("sale.sale", ids, RETURN_FIELDS):
            merged: dict[str, list] = {}
            for li in row.get("lines.") or []:
                sku = (li.get("product.") or {}).get("code")
                if li["type"] != "line" or not sku or not li["quantity"]:
                    continue
                entry = merged.setdefault(sku, [0, Decimal(0)])
                entry[0] += -int(round(li["quantity"]))
                entry[1] += -_booked(li["quantity"], li["unit_price"])
            origin = row.get("origin") or ""
            out.append({
                "id": f"R{row['id']}", "number": row["number"], "external_ref": row["reference"],
                "sales_order_id": f"S{origin.split(',')[1]}" if origin.startswith("sale.sale,") else None,
                "reason": row.get("description") or "",
                "lines": [{"sku": sku, "quantity": q, "amount": _money(a)} for sku, (q, a) in merged.items()],
                "amount": _money(-Decimal(row["untaxed_amount"] or 0)),  # the basis credits are made on
                "restock": row["shipment_method"] == "order" and bool(merged), "status": self._status(row),
                "created_at": timestamp(row["create_date"]),
                "modified_at": timestamp(row.get("write_date") or row["create_date"]),
            })
        return out

    def comparable(self, order: dict) -> dict:
        """The amendable fields of `order` as Tryton keeps them, so that a shop order mapped for
        `create_sales_order` and a sale as this adapter answers it compare equal exactly when the sale holds
        what the shop says (order_life and reconcile compare these instead of the raw shapes).

        Tryton keeps: addresses without state (line1, line2, city, postcode, country); goods lines as
        (sku, quantity, amount, description), a line split for Tryton's price digits counted once; shipping
        (method and amount) only when it costs something; fees and discounts that are not zero; the net total
        (Tryton computes its own taxes; the shop's tax is only quoted in the comment); the note. Money as
        decimal strings."""
        lines: list[dict] = []
        for li in order.get("lines") or []:
            amount = Decimal(str(li["amount"])) if li.get("amount") is not None \
                else _booked(li["quantity"], li["unit_price"])
            description = li.get("description") or None
            if lines and (lines[-1]["sku"], lines[-1]["description"]) == (li["sku"], description):
                lines[-1]["quantity"] += int(li["quantity"])
                lines[-1]["amount"] += amount
            else:
                lines.append({"sku": li["sku"], "quantity": int(li["quantity"]), "amount": amount,
                              "description": description})
        shipping = order.get("shipping") or {}
        shipping_amount = Decimal(str(shipping.get("amount") or "0"))
        return {
            "billing_address": _kept_address(order.get("billing_address")),
            "shipping_address": _kept_address(order.get("shipping_address") or order.get("billing_address")),
            "lines": [dict(li, amount=str(li["amount"])) for li in lines],
            "shipping": {"method": shipping.get("method"), "amount": str(shipping_amount)} if shipping_amount
            else {"amount": "0"},
            "fees": [{"name": f.get("name"), "amount": str(Decimal(str(f["amount"])))} for f in order.get("fees") or []
                     if Decimal(str(f.get("amount") or "0"))],
            "discounts": [{"code": d.get("code"), "amount": str(Decimal(str(d["amount"])))}
                          for d in order.get("discounts") or [] if Decimal(str(d.get("amount") or "0"))],
            "totals": {"net": (order.get("totals") or {}).get("net")},
            "note": order.get("note") or "",
        }

    def reservation(self, order: dict) -> Reservation | None:
        """Whether `order` (as returned by this adapter) is already counted as reserved in the stock Tryton
        reports: with the forecast basis from confirmation on, with the quantity basis only once shipped;
        None while it is not (the connector then keeps holding its units)."""
        counted = ("confirmed", "partially_shipped", "shipped") if self.stock_basis == "forecast" else ("shipped",)
        if order.get("status") not in counted:
            return None
        return Reservation(order.get("warehouse"), order.get("last_change"))

    def _state(self, sale_id: int) -> str:
        rows = self._read("sale.sale", [sale_id], ["state"])
        if not rows:
            raise PermanentError(f"tryton: no sale S{sale_id}", status=404)
        return rows[0]["state"]

    def _sale(self, sale_id: int) -> dict:
        found = self._sales([sale_id])
        if not found:
            raise PermanentError(f"tryton: no sale S{sale_id}", status=404)
        return found[0]

    def _sales(self, ids: list[int]) -> list[dict]:
        """The sales as the shop ordered them: units and charges a refund amendment withdrew are counted back on
        their lines and in the totals (the shop's order keeps them too; they are credited, see
        find_credit_notes), so comparing with the shop finds no amendment to make. A sale whose every line a
        refund withdrew (nothing shipped) has status "cancelled"."""
        if not ids:
            return []
        rows = self._read("sale.sale", ids, SALE_FIELDS)
        withdrawals: dict[int, list[dict]] = {}
        if any(r["state"] in ("processing", "done") for r in rows):
            for a in self._refund_amendments([("sale", "in", [r["id"] for r in rows])]):
                withdrawals.setdefault(a["sale_id"], []).append(a)
        return [self._as_ordered(row, withdrawals.get(row["id"], [])) for row in rows]

    def _as_ordered(self, row: dict, withdrawals: list[dict]) -> dict:
        """A sale row with the units and charges of its refund amendments added back, as `_sales` answers it."""
        status = self._status(row)
        if withdrawals:
            lines = row.get("lines.") or []
            if row["state"] in ("processing", "done") and not any(li["quantity"] for li in lines
                                                                 if li["type"] == "line"):
                status = "cancelled"  # every line withdrawn before anything shipped
            back: dict[int, float] = {}
            for a in withdrawals:
                for line_id, units in a["lines"].items():
                    back[line_id] = back.get(line_id, 0) + units
                for line_id in a["charge_lines"]:
                    back[line_id] = back.get(line_id, 0) + 1
            value = sum((a["amount"] for a in withdrawals), Decimal(0))
            row = dict(row, untaxed_amount=Decimal(str(row["untaxed_amount"] or 0)) + value,
                       total_amount=Decimal(str(row["total_amount"] or 0)) + value,
                       **{"lines.": [dict(li, quantity=li["quantity"] + back.get(li["id"], 0)) for li in lines]})
        return {
            "id": f"S{row['id']}", "number": row["number"], "external_ref": row["reference"],
            "status": status,
            "customer_id": f"C{row['party']}", "currency": (row.get("currency.") or {}).get("code"),
            "lines": [{"sku": (li.get("product.") or {}).get("code"), "quantity": int(round(li["quantity"])),
                       "unit_price": _price(li["unit_price"]), "description": li["description"]}
                      for li in row.get("lines.") or [] if li["type"] == "line" and li.get("product.")
                      and li["quantity"]],  # an amendment leaves a line no longer wanted at quantity 0
            "revision": row.get("revision") or 0,
            "billing_address": _address_of(row.get("invoice_address.")),
            "shipping_address": _address_of(row.get("shipment_address.")),
            **_charges_of(row.get("lines.") or []),
            "note": _comment_parts(row.get("comment") or "")[0],
            "return_of": (row.get("origin") or "").startswith("sale.sale,"),
            "totals": {"net": _money(row["untaxed_amount"]), "tax": _money(row["tax_amount"]),
                       "gross": _money(row["total_amount"])},
            "created_at": timestamp(row["create_date"]),
            "warehouse": (row.get("warehouse.") or {}).get("code"),
            "last_change": timestamp(row.get("write_date") or row["create_date"]),
        }

    def _status(self, row: dict) -> str:
        if row["state"] == "processing":
            return PROCESSING_STATES.get(row["shipment_state"], "confirmed")
        if row["state"] == "quotation" and self.confirm_sales:
            return "draft"  # quoted but not confirmed: the creation stopped before its last step
        return SALE_STATES.get(row["state"], row["state"])

    @staticmethod
    def _charges(order: dict) -> list[tuple[str, str]]:
        """Lines without a product: shipping, fees, and discounts (negative)."""
        charges = []
        shipping = order.get("shipping") or {}
        if Decimal(shipping.get("amount") or "0"):
            charges.append((f"Shipping ({shipping.get('method')})", shipping["amount"]))
        charges += [(f"Fee: {fee.get('name')}", fee["amount"]) for fee in order.get("fees") or []
                    if Decimal(fee.get("amount") or "0")]
        charges += [(f"Discount {d.get('code')}", str(-Decimal(d["amount"]))) for d in order.get("discounts") or []
                    if Decimal(d.get("amount") or "0")]
        return charges

    @staticmethod
    def _comment(order: dict) -> str:
        return "\n".join(p for p in (order.get("note") or "", _totals_text(order.get("totals") or {}),
                                      _payment_text(order.get("payment") or {})) if p)

    # -- reference data --------------------------------------------------------------------------------
    def _read(self, model: str, ids, fields, context: dict | None = None) -> list[dict]:
        """The records that exist among `ids`, in id order (a plain read fails on a missing id)."""
        return self.rpc.model(model, "search_read", [("id", "in", list(ids))], 0, None, [["id", "ASC"]], list(fields),
                              context=context)

    def _has_attributes(self) -> bool:
        """Whether product_attribute is activated (variants then carry their attribute values)."""
        if "attributes" not in self._cache:
            self._cache["attributes"] = "attributes" in self.rpc.model("product.product", "fields_get", ["attributes"])
        return self._cache["attributes"]

    def _has_accounting_categories(self) -> bool:
        """Whether account_product is activated (product categories then have an `accounting` flag)."""
        if "accounting" not in self._cache:
            self._cache["accounting"] = "accounting" in self.rpc.model("product.category", "fields_get", ["accounting"])
        return self._cache["accounting"]

    def _currency(self) -> str:
        if "currency" not in self._cache:
            company = self.rpc.context.get("company")
            rows = self.rpc.model("company.company", "read", [company], ["currency.code"]) if company else []
            if not rows:
                raise PermanentError(f"tryton user {self.rpc.user!r} has no company")
            self._cache["currency"] = rows[0]["currency."]["code"]
        return self._cache["currency"]

    def _currency_id(self, code: str) -> int:
        currencies = self._cache.setdefault("currency_ids", {})
        if code not in currencies:
            found = self.rpc.model("currency.currency", "search", [("code", "=", code)], 0, 1, None)
            if not found:
                raise InvalidDataError(f"tryton: currency {code} is not defined in Tryton")
            currencies[code] = found[0]
        return currencies[code]

    def _warehouses_all(self) -> dict[str, int]:
        if "all_warehouses" not in self._cache:
            rows = self.rpc.model("stock.location", "search_read", [("type", "=", "warehouse")], 0, None, None,
                                  ["code"])
            self._cache["all_warehouses"] = {r["code"]: r["id"] for r in rows if r["code"]}
            if self.sale_warehouse not in self._cache["all_warehouses"]:
                raise PermanentError(f"tryton has no warehouse {self.sale_warehouse!r} (TRYTON_SALE_WAREHOUSE)")
        return self._cache["all_warehouses"]


def _person(customer: dict) -> str:
    return " ".join(p for p in (customer.get("first_name"), customer.get("last_name")) if p)


def _party_name(customer: dict) -> str:
    """A business party is named by its company; a consumer by first and last name."""
    return (customer.get("company") or "").strip() or _person(customer) or customer.get("email") \
        or "WooCommerce customer"


def _totals_text(totals: dict) -> str:
    return f"{TOTALS_LABEL} net {totals.get('net')}, tax {totals.get('tax')}, gross {totals.get('gross')}."


def _payment_text(payment: dict) -> str:
    return f"{PAYMENT_LABEL} {payment.get('method')} {payment.get('transaction_id') or ''}".strip() + "."


def _comment_parts(comment: str) -> tuple[str, str, str]:
    """A sale comment the adapter wrote → (note, shop totals line, payment line)."""
    lines = comment.split("\n")
    payment = lines.pop() if lines and lines[-1].startswith(PAYMENT_LABEL) else ""
    totals = lines.pop() if lines and lines[-1].startswith(TOTALS_LABEL) else ""
    return "\n".join(lines), totals, payment


def _comment_with(comment: str, changes: dict) -> str:
    """The comment with the note, shop totals and payment of `changes` in place of its own."""
    note, totals, payment = _comment_parts(comment)
    if "note" in changes:
        note = changes["note"] or ""
    if "totals" in changes:
        totals = _totals_text(changes["totals"] or {})
    if "payment" in changes:
        payment = _payment_text(changes["payment"] or {})
    return "\n".join(p for p in (note, totals, payment) if p)


def _booked(quantity, unit_price) -> Decimal:
    """What Tryton books for a line: quantity × unit price rounded to the cent."""
    return (Decimal(str(quantity)) * Decimal(str(unit_price))).quantize(Decimal("0.01"))


def _address_of(row: dict | None) -> dict:
    """A party.address read with SALE_FIELDS → the protocol's address (Tryton keeps no state here)."""
    row = row or {}
    street = (row.get("street_unstructured") or "").split("\n", 1)
    return {"line1": street[0], "line2": street[1] if len(street) > 1 else "", "city": row.get("city") or "",
            "postcode": row.get("postal_code") or "", "country": ((row.get("country.") or {}).get("code") or "")}


def _charges_of(lines: list[dict]) -> dict:
    """The shipping, fees and discounts a sale's lines without product hold (as `TrytonErp._charges` wrote them)."""
    shipping, fees, discounts = {"method": "none", "amount": "0.00"}, [], []
    for li in lines:
        if li["type"] != "line" or li.get("product") or li.get("product.") or not li["quantity"]:
            continue
        text, amount = li.get("description") or "", _booked(li["quantity"], li["unit_price"])
        if text.startswith("Shipping (") and text.endswith(")"):
            shipping = {"method": text[len("Shipping ("):-1], "amount": str(amount)}
        elif text.startswith("Fee: "):
            fees.append({"name": text[len("Fee: "):], "amount": str(amount)})
        elif text.startswith("Discount "):
            discounts.append({"code": text[len("Discount "):], "amount": str(-amount)})
        else:
            fees.append({"name": text, "amount": str(amount)})
    return {"shipping": shipping, "fees": fees, "discounts": discounts}


def _match(lines: list[dict], wanted: list[dict]) -> list[tuple[dict | None, dict]]:
    """Pair sale lines with wanted line values: same product and description first, then in order; the result
    holds only the pairs that change (a line left over is wanted at quantity 0, a wanted one left over gets
    None: a line to add)."""
    free = list(lines)
    pairs: list[tuple[dict | None, dict]] = []
    rest = []
    for want in wanted:
        same = next((li for li in free if li.get("product") == want["product"]
                     and (li.get("description") or None) == want["description"]), None)
        if same is None:
            rest.append(want)
        else:
            free.remove(same)
            pairs.append((same, want))
    for want in rest:
        pairs.append((free.pop(0) if free else None, want))
    pairs += [(li, {"product": li.get("product"), "quantity": 0.0, "unit": li.get("unit"),
                    "unit_price": Decimal(str(li["unit_price"] or 0)), "description": li.get("description")})
              for li in free if li["quantity"]]
    return [(li, want) for li, want in pairs if li is None or _differs(li, want)]


def _differs(line: dict, want: dict) -> bool:
    return (line.get("product") != want["product"] or float(line["quantity"]) != float(want["quantity"])
            or Decimal(str(line["unit_price"] or 0)) != Decimal(str(want["unit_price"]))
            or (line.get("description") or None) != (want["description"] or None))


def _kept_address(address: dict | None) -> dict:
    address = address or {}
    street = "\n".join(p for p in (str(address.get("line1") or "").strip(), str(address.get("line2") or "").strip())
                       if p)
    return _address_of({"street_unstructured": street, "postal_code": address.get("postcode"),
                        "city": address.get("city"), "country.": {"code": str(address.get("country") or "").upper()}})
