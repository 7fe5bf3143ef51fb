"""Reconciliation: compare the ERP and the shop end to end and report what disagrees. Nothing is repaired.

Catalog: every ERP product and stock row (keyset pages) against every shop product. Top-level shop
products are paged (100 a page); variations are looked up by the ERP's SKUs (≤ 100 per call), and only a
variable product holding variations not found that way has its variations listed. Each side keeps only
sku → (id, price, stock). Prices are compared as the full resync compares them (the mapped
`regular_price`); web stock is the inventory formula over the ERP's live stock rows, less the units held
for shop orders not yet in the ERP (connector/holds.py: such a sale is no discrepancy). ERP products the
sync quarantines (no SKU, bad price) are not compared.

Categories: a product (or variable parent) that is not in the shop category bound to its ERP
`category_code` (extra categories set in the shop are fine; codes without a shop category are skipped).

Orders: shop orders in an imported status, created before the grace period, whose meta has no ERP
number (grace RECONCILE_ORDER_GRACE_MINUTES from its creation: an import may wait behind a backlog or a
quarantine); and external references held by more than one ERP order that is not cancelled. The order-life
checks below wait out their own, shorter grace (RECONCILE_CHANGE_GRACE_MINUTES: a change on its way through
webhook, task and ERP call) from their own change: `order_differs` from the order's last modification,
`refund_without_credit_note` from the refund's creation; never from the order's creation, so a young
order refunded wrongly is reported like an old one.

Order life (connector/sync/order_life.py): an ERP order not cancelled and not fully shipped whose addresses,
lines, shipping, discounts, fees, totals, note or currency differ from the shop's order mapped as at creation
(`order_differs`); a shop refund of an imported order with no ERP credit note `WC-REFUND-<id>`
(`refund_without_credit_note`); a credit note whose amount is not the refund's, or several for one refund
(`credit_note_mismatch`); a credit note `WC-REFUND-<id>` of the order's ERP order whose refund the shop no
longer lists (deleted in the shop after it was credited), unless a person accepted it
(`wooerp orders accept-credit-note`), with what the ERP credits for the order in all against what the shop
refunded (`credit_note_without_refund`). The ERP side is read in one pass (orders keep a fingerprint, credit notes their
amounts), the shop side in the pass over its orders.
"""
from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator, NamedTuple

from sqlalchemy import func, select

from connector import binding, holds
from connector.binding import CATEGORY, STOCK
from connector.db import Database
from connector.errors import InvalidDataError, TransientError
from connector.mapping import products as mapping
from connector.mapping import orders as order_mapping
from connector.mapping.orders import order_ref
from connector.models import OrderSync
from connector.paging import SQL_IN_LIMIT, chunked, erp_pages, woo_pages
from connector.sync import order_life
from connector.sync.order_poll import HISTORY
from connector.sync.orders import ERP_NUMBER_META
from connector.sync.resync import differing
from connector.woo.client import PAGE_LIMIT

KINDS = (MISSING_IN_WOO, MISSING_IN_ERP, PRICE_MISMATCH, STOCK_MISMATCH, ORDER_WITHOUT_ERP_NUMBER,
         DUPLICATE_ERP_ORDERS, CATEGORY_MISMATCH, GONE_ORDER_IN_ERP, ORDER_DIFFERS, REFUND_WITHOUT_CREDIT_NOTE,
         CREDIT_NOTE_MISMATCH, CREDIT_NOTE_WITHOUT_REFUND) = (
    "missing_in_woo", "missing_in_erp", "price_mismatch", "stock_mismatch", "order_without_erp_number",
    "duplicate_erp_orders", "category_mismatch", "gone_order_in_erp", "order_differs", "refund_without_credit_note",
    "credit_note_mismatch", "credit_note_without_refund")
PRODUCT_FIELDS = ("id", "sku", "type", "status", "regular_price", "manage_stock", "stock_quantity", "variations",
                  "categories")
VARIATION_FIELDS = ("id", "sku", "status", "regular_price", "manage_stock", "stock_quantity")
ORDER_FIELDS = ("id", "status", "date_created_gmt", "date_modified_gmt", "meta_data", "refunds", "billing", "shipping",
                "line_items", "shipping_lines", "fee_lines", "coupon_lines", "total", "total_tax", "discount_total",
                "shipping_total", "shipping_tax", "customer_note", "currency", "tax_lines")  # tax_lines: line tax rates
ENDED = ("refunded", "cancelled")
ORDER_REF_PREFIX = order_ref(0)[:-1]  # "WC-ORDER-"
REFUND_REF_PREFIX = order_life.refund_ref(0)[:-1]  # "WC-REFUND-"
RETRIES = 4


@dataclass(frozen=True)
class Discrepancy:
    """One disagreement found: its `kind` (one of KINDS), the `key` it is about, what the ERP and the shop hold
    (as text, "" when absent) and a `detail` for people."""
    kind: str
    key: str  # the SKU; the Woo order id (order_without_erp_number); the external reference (duplicates)
    erp_value: str = ""
    woo_value: str = ""
    detail: str = ""


@dataclass
class Report:
    """A reconciliation's result: when it started and finished (as the Reconciler's clock gives them, UTC),
    every Discrepancy, and `checked`, a count of records read per kind ("erp_products", …)."""
    started_at: datetime
    finished_at: datetime | None = None
    discrepancies: list[Discrepancy] = field(default_factory=list)
    checked: Counter = field(default_factory=Counter)

    def add(self, kind: str, key, erp_value="", woo_value="", detail: str = "") -> None:
        """Record one discrepancy of `kind` about `key`; values are stored as text (None → "")."""
        self.discrepancies.append(Discrepancy(kind, str(key), _text(erp_value), _text(woo_value), detail))

    def counts(self) -> dict[str, int]:
        """Discrepancies per kind, every kind of KINDS present (0 when none)."""
        found = Counter(d.kind for d in self.discrepancies)
        return {kind: found[kind] for kind in KINDS}

    def of(self, kind: str) -> list[Discrepancy]:
        """The discrepancies of `kind`, in the order found."""
        return [d for d in self.discrepancies if d.kind == kind]

    @property
    def clean(self) -> bool:
        """True when nothing disagrees."""
        return not self.discrepancies

    @property
    def seconds(self) -> float:
        """How long the run took (0 until it finished)."""
        return ((self.finished_at or self.started_at) - self.started_at).total_seconds()


class _Erp(NamedTuple):
    erp_id: str
    price: str | None  # the mapped regular_price; None for a variable parent
    active: bool
    category: str | None = None  # category_code of a product or parent (variants have no shop categories)


class _Shop(NamedTuple):
    price: str
    stock: int | None  # None when the shop does not manage its stock
    label: str  # "simple product 640", "variation 815 of product 812", …
    categories: tuple = ()  # (id, slug) of the product's shop categories


COMPARED = order_life.AMENDED + ("currency",)  # the currency cannot be amended, but a change is a difference


def fingerprint(order: dict, currency: str | None = None) -> dict:
    """The amendable fields of an ERP order (or a shop order mapped as one), as order_life compares them, and
    its `currency` (given apart when `order` is an ERP's comparable form, which may leave it out)."""
    return {**{k: order_life._norm(k, order.get(k)) for k in order_life.AMENDED},
            "currency": currency if currency is not None else order.get("currency")}


def _text(value) -> str:
    return "" if value is None else str(value)


class Reconciler:
    """Compares the ERP with the shop end to end (see the module docstring); reads only, repairs nothing.
    `warehouses`: the web warehouses of the stock formula; `import_statuses` and `order_grace_minutes`: which
    shop orders must already carry an ERP number; `change_grace_minutes`: how old an amendment or a refund must
    be before its ERP side is expected; `erp_page_size`: ERP records per page (1..500); `clock`
    (aware UTC) and `sleep` are injectable for tests."""
    def __init__(self, db: Database, woo, erp, *, warehouses: tuple[str, ...], import_statuses: tuple[str, ...],
                 order_grace_minutes: float, change_grace_minutes: float = 10, erp_page_size: int = 500,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc), sleep=time.sleep):
        self.db, self.woo, self.erp = db, woo, erp
        self.warehouses, self.import_statuses = warehouses, import_statuses
        self.grace = timedelta(minutes=order_grace_minutes)
        self.change_grace = timedelta(minutes=change_grace_minutes)
        self.erp_page_size, self.clock, self.sleep = erp_page_size, clock, sleep

    def run(self) -> Report:
        """One full comparison; returns the Report. Reads the whole ERP catalog, stock, orders and credit notes and
        the whole shop catalog and orders (pages of 100 to 500): long on a large shop. Each call is retried in
        place on a TransientError (4 tries, honouring retry_after, at most 30 s apart); the last one, a
        PermanentError, or PagingStuck is raised and nothing is reported. Writes nothing."""
        report = Report(started_at=self.clock())
        erp, invalid = self._erp_catalog(report)
        stock = self._erp_stock(report)
        shop = self._shop_catalog(set(erp) | invalid, report)
        self._compare_catalog(erp, invalid, stock, shop, report)
        self._open, self._notes, self._restocked = {}, {}, {}
        self._by_order: dict[str, list[tuple[str, str, str]]] = {}  # ERP order id -> [(ref, id, amount)]
        self._noted_orders: dict[str, set[str]] = {}  # order reference -> its ERP orders holding credit notes
        self._read_credit_notes(report)
        self._duplicate_refs(report)
        self._orders_without_number(report)
        self._gone_orders(report)
        report.finished_at = self.clock()
        return report

    # -- reading, page by page ---------------------------------------------------------------------
    def _call(self, fn, *args, **kwargs):
        """One remote call, retried in place on a transient error so one 503 does not void a long scan."""
        for attempt in range(RETRIES):
            try:
                return fn(*args, **kwargs)
            except TransientError as e:
                if attempt == RETRIES - 1:
                    raise
                self.sleep(min(30.0, e.retry_after if e.retry_after is not None else 2.0 ** attempt))

    def _erp_items(self, lister) -> Iterator[dict]:
        for page in erp_pages(lambda cursor: self._call(lister, None, cursor, self.erp_page_size), name="reconcile"):
            yield from page.items

    def _woo_items(self, lister, *args, **kwargs) -> Iterator[dict]:
        for items in woo_pages(lambda page: self._call(lister, *args, page=page, **kwargs), name="reconcile"):
            yield from items

    # -- catalog -----------------------------------------------------------------------------------
    def _erp_catalog(self, report: Report) -> tuple[dict[str, _Erp], set[str]]:
        erp: dict[str, _Erp] = {}
        invalid: set[str] = set()
        for record in self._erp_items(self.erp.list_products):
            report.checked["erp_products"] += 1
            sku = str(record.get("sku") or "").strip()
            try:
                wanted = mapping.map_product(record)
            except InvalidDataError:
                report.checked["erp_products_invalid"] += 1
                if sku:
                    invalid.add(sku)
                continue
            erp[wanted.get("sku") or sku] = _Erp(str(record.get("id")), wanted.get("regular_price"),
                                                 bool(record.get("is_active", True)),
                                                 None if record.get("parent_id") else record.get("category_code"))
        return erp, invalid - set(erp)

    def _erp_stock(self, report: Report) -> dict[str, int]:
        """Web stock per SKU with stock rows: max(0, Σ web warehouses (on_hand − reserved − safety_stock))."""
        totals: dict[str, int] = {}
        for row in self._erp_items(self.erp.list_inventory):
            report.checked["erp_stock_rows"] += 1
            numbers = [row.get(n) for n in ("on_hand", "reserved", "safety_stock")]
            if not row.get("sku") or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                             for n in numbers):
                continue  # the inventory sync quarantines such a row
            on_hand, reserved, safety = numbers
            totals[row["sku"]] = totals.get(row["sku"], 0) + (
                on_hand - reserved - safety if row.get("warehouse") in self.warehouses else 0)
        return {sku: max(0, total) for sku, total in totals.items()}

    def _shop_catalog(self, erp_skus: set[str], report: Report) -> dict[str, _Shop]:
        shop: dict[str, _Shop] = {}
        seen: set[int] = set()
        parents: dict[int, list[int]] = {}
        for p in self._woo_items(self.woo.list_products, fields=PRODUCT_FIELDS):
            self._keep(shop, seen, p, f"{p.get('type') or 'simple'} product {p['id']}", report)
            if p.get("type") == "variable" and p.get("variations"):
                parents[p["id"]] = list(p["variations"])
        wanted = sorted(erp_skus - shop.keys())  # variants, and products missing in the shop
        for chunk in chunked(wanted, PAGE_LIMIT):
            for p in self._call(self.woo.products_by_sku, chunk):
                parent = p.get("parent_id") if p.get("type") == "variation" else None
                self._keep(shop, seen, p, f"variation {p['id']} of product {parent}" if parent
                           else f"{p.get('type')} product {p['id']}", report)
        for parent_id, variation_ids in parents.items():
            if not seen.issuperset(variation_ids):  # a variation whose SKU the ERP does not know
                for v in self._woo_items(self.woo.list_variations, parent_id, fields=VARIATION_FIELDS):
                    self._keep(shop, seen, v, f"variation {v['id']} of product {parent_id}", report)
        return shop

    @staticmethod
    def _keep(shop: dict, seen: set, p: dict, label: str, report: Report) -> None:
        if p["id"] in seen:
            return
        seen.add(p["id"])
        report.checked["woo_products"] += 1
        sku = str(p.get("sku") or "").strip()
        if not sku:
            report.checked["woo_products_without_sku"] += 1
            return
        managed = p.get("manage_stock") is True
        shop.setdefault(sku, _Shop(_text(p.get("regular_price")),
                                   p.get("stock_quantity") if managed else None, label,
                                   tuple((c.get("id"), c.get("slug")) for c in p.get("categories") or [])))

    def _compare_catalog(self, erp: dict[str, _Erp], invalid: set[str], stock: dict[str, int],
                         shop: dict[str, _Shop], report: Report) -> None:
        drifted: list[tuple[str, int, _Shop]] = []
        held = holds.held_with_orders(self.db)  # few rows: orders not yet in the ERP
        for sku, item in sorted(erp.items()):
            current = shop.get(sku)
            if current is None:
                kind = "variable parent" if item.price is None else "product"
                report.add(MISSING_IN_WOO, sku, erp_value=item.price, detail=f"ERP {kind} {item.erp_id}"
                           + ("" if item.active else " (inactive)"))
                continue
            if item.price is not None and differing({"regular_price": item.price},
                                                    {"regular_price": current.price}, ("regular_price",)):
                report.add(PRICE_MISMATCH, sku, item.price, current.price, f"Woo {current.label}")
            if item.price is not None and sku in stock and current.stock != max(0, stock[sku] - held.get(sku, (0, 0))[0]):
                drifted.append((sku, stock[sku], current))
        self._stock_mismatches(drifted, held, report)
        self._category_mismatches(erp, shop, report)
        for sku, current in sorted(shop.items()):
            if sku not in erp and sku not in invalid:
                report.add(MISSING_IN_ERP, sku, woo_value=current.price, detail=f"Woo {current.label}")

    def _category_mismatches(self, erp: dict[str, _Erp], shop: dict[str, _Shop], report: Report) -> None:
        """Products (and parents) that are not in the shop category bound to their ERP category code. Codes
        the shop has no category for (never sent by the ERP's categories) and extra shop categories set by
        hand are not reported."""
        codes = {item.category for item in erp.values() if item.category}
        bound = binding.woo_ids(self.db, CATEGORY, codes)
        for sku, item in sorted(erp.items()):
            current = shop.get(sku)
            if not item.category or current is None or bound.get(item.category) is None:
                continue
            if bound[item.category] not in {cid for cid, _ in current.categories}:
                report.add(CATEGORY_MISMATCH, sku, erp_value=item.category,
                           woo_value=",".join(slug or str(cid) for cid, slug in current.categories),
                           detail=f"Woo {current.label}; expected shop category {bound[item.category]}")

    def _stock_mismatches(self, drifted: list[tuple[str, int, _Shop]], held: dict, report: Report) -> None:
        """Shop stock that is not the ERP's web stock less what is held for shop orders not yet in the ERP,
        each with what wooerp last wrote: equal to the expected value means the shop changed since (a
        hand edit, a sale not yet seen); another value means the inventory sync has not caught up."""
        drifted = [(sku, max(0, erp_stock - held.get(sku, (0, 0))[0]), current, erp_stock)
                   for sku, erp_stock, current in drifted]
        written = binding.get(self.db, STOCK, [d[0] for d in drifted])
        for sku, expected, current, erp_stock in drifted:
            last = written.get(sku)
            note = ("never written by wooerp" if last is None or not last.last_synced_at else
                    f"wooerp last wrote {last.sync_hash} at {last.last_synced_at:%Y-%m-%d %H:%M} UTC"
                    if last.sync_hash is not None else
                    f"wooerp last wrote it at {last.last_synced_at:%Y-%m-%d %H:%M} UTC; the shop moved its own "
                    f"stock since (an order sold, cancelled or restocked it): the next inventory push writes it")
            if sku in held:
                units, orders = held[sku]
                note += f"; ERP web stock {erp_stock}, {units} held for {orders} orders not yet in the ERP"
            report.add(STOCK_MISMATCH, sku, expected, "not managed" if current.stock is None else current.stock,
                       f"Woo {current.label}; {note}")

    # -- orders ------------------------------------------------------------------------------------
    def _orders_without_number(self, report: Report) -> None:
        """Every shop order in an import or ended status: its order-life checks (each with its own grace, see
        `_order_life`), and, once created before the grace period, whether it carries an ERP number."""
        now = self.clock().astimezone(timezone.utc)
        listed_before = (now + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")  # the shop's dates are whole seconds
        cutoff = (now - self.grace).strftime("%Y-%m-%dT%H:%M:%S")
        changed_before = (now - self.change_grace).strftime("%Y-%m-%dT%H:%M:%S")
        missing = []
        statuses = tuple(dict.fromkeys(self.import_statuses + ENDED))
        # a completed order older than the first order wooerp saw is the shop's history, not a lost import
        with self.db.session() as s:
            first_seen = s.scalar(select(func.min(OrderSync.created_at)))
        history_before = first_seen.strftime("%Y-%m-%dT%H:%M:%S") if first_seen else None
        for o in self._woo_items(self.woo.list_orders_created_before, before=listed_before,
                                 statuses=statuses, fields=ORDER_FIELDS):
            report.checked["woo_orders"] += 1
            meta = {m.get("key"): m.get("value") for m in o.get("meta_data") or []}
            if meta.get(ERP_NUMBER_META):
                self._order_life(o, report, changed_before)
            if (o.get("date_created_gmt") or "") > cutoff:  # its import may still be on its way
                continue
            if o.get("status") not in self.import_statuses:
                continue
            if o.get("status") in HISTORY and (history_before is None
                                               or (o.get("date_created_gmt") or "") < history_before):
                continue
            if not meta.get(ERP_NUMBER_META):
                missing.append((o["id"], o.get("status"), o.get("date_created_gmt")))
        rows = self._order_rows([oid for oid, _, _ in missing])
        for oid, status, created in missing:
            row = rows.get(oid)
            if row is None:
                state = "wooerp has not seen it"
            else:
                state = f"wooerp state {row.state}" + (f": {row.reason}" if row.reason else "")
                state += f"; ERP order {row.erp_order_number or row.erp_order_id}" if row.erp_order_id else ""
            report.add(ORDER_WITHOUT_ERP_NUMBER, oid, row.erp_order_number if row else "", status,
                       f"created {created} UTC; {state}")

    def _order_rows(self, order_ids: list[int]) -> dict[int, OrderSync]:
        rows: dict[int, OrderSync] = {}
        with self.db.session() as s:
            for chunk in chunked(order_ids, SQL_IN_LIMIT):
                rows.update((r.woo_order_id, r) for r in s.scalars(select(OrderSync).where(
                    OrderSync.woo_order_id.in_(chunk))))
        return rows

    def _duplicate_refs(self, report: Report) -> None:
        """References seen on two ERP orders while paging, then confirmed by a lookup (an order modified
        during the scan is served twice by the keyset paging; a cancelled duplicate is resolved)."""
        seen: set[str] = set()
        candidates: set[str] = set()
        for order in self._erp_items(self.erp.list_sales_orders):
            report.checked["erp_orders"] += 1
            ref = order.get("external_ref")
            if ref:
                (candidates if ref in seen else seen).add(ref)
                if order["id"] in self._by_order:
                    self._noted_orders.setdefault(ref, set()).add(order["id"])
                if order.get("status") in order_life.NOT_SHIPPED + ("partially_shipped",):
                    self._open[ref] = (order["id"], order.get("status"),
                                       fingerprint(self._kept(order), order.get("currency")))
        del seen
        for ref in sorted(candidates):
            orders = self._call(self.erp.find_sales_orders, ref)
            live = [o for o in orders if o.get("status") != "cancelled"]
            if len(live) < 2:
                continue
            bound = self._bound_erp_order(ref)
            report.add(DUPLICATE_ERP_ORDERS, ref, ", ".join(f"{o['id']} {o.get('status')}" for o in orders), bound,
                       f"{len(live)} live ERP orders; " + (f"wooerp bound the shop order to {bound}" if bound
                                                          else "wooerp bound none of them"))

    def _kept(self, order: dict) -> dict:
        """The order as the ERP keeps it (an ERP keeping less than the shop sends, e.g. Tryton, says which)."""
        keep = getattr(self.erp, "comparable", None)
        return keep(order) if keep else order

    def _read_credit_notes(self, report: Report) -> None:
        """Credit notes by reference: [(id, amount)]."""
        lister = getattr(self.erp, "list_credit_notes", None)
        if lister is None:  # an ERP adapter without credit notes: nothing to compare
            return
        for note in self._erp_items(lister):
            report.checked["erp_credit_notes"] += 1
            self._notes.setdefault(note.get("external_ref") or "", []).append((note["id"], note.get("amount")))
            if str(note.get("external_ref") or "").startswith(REFUND_REF_PREFIX) and note.get("sales_order_id"):
                self._by_order.setdefault(note["sales_order_id"], []).append(
                    (note["external_ref"], note["id"], note.get("amount")))
            if note.get("restock"):
                self._restocked.setdefault(note.get("external_ref") or "", Counter()).update(
                    {ln["sku"]: int(ln["quantity"]) for ln in note.get("lines") or [] if ln.get("sku")})

    def _order_life(self, o: dict, report: Report, cutoff: str) -> None:
        """An imported shop order against its open ERP order and its credit notes. A check waits only while its own
        change may still be on its way (made after `cutoff`, UTC: the change grace period): `order_differs` from
        the order's last modification (an amendment not applied yet), `refund_without_credit_note` from the
        refund's creation. Whatever the order's own age: an order placed at 03:30 and refunded wrongly at 03:40 is
        reported by the 04:15 daily run."""
        ref = order_ref(o["id"])
        modified = o.get("date_modified_gmt") or o.get("date_created_gmt") or ""
        if ref in self._open and o.get("status") not in ENDED + ("trash",) and modified <= cutoff:
            erp_id, status, erp_print = self._open[ref]
            try:
                mapped = order_mapping.map_order(o, "")
                shop_print = fingerprint(self._kept(mapped), mapped.get("currency"))
            except (InvalidDataError, KeyError, TypeError, ValueError, ArithmeticError):  # quarantined data
                shop_print = None
            if shop_print is not None and erp_print["currency"] is None:  # an ERP that does not say
                shop_print["currency"] = None
            if shop_print is not None and shop_print != erp_print:
                fields = ", ".join(k for k in COMPARED if shop_print[k] != erp_print[k])
                report.add(ORDER_DIFFERS, o["id"], f"{erp_id} {status}", o.get("status"),
                           f"{fields} differ; " + (
                               f"the currency changed in the shop after import ({erp_print['currency']} in the "
                               f"ERP, {shop_print['currency']} in the shop): an ERP order's currency cannot be "
                               f"amended, the order waits for a person in make orders" if "currency" in fields
                               else "amended after shipment: settle it by hand" if status == "partially_shipped"
                               else "wooerp has not applied the amendment yet (make orders shows its state)"))
        if o.get("refunds") is None:
            return
        dates = None
        net = getattr(self.erp, "CREDIT_BASIS", "gross") == "net"
        full = None  # the order's refunds in full (their tax), read only for an ERP crediting net
        for refund in o.get("refunds") or []:
            report.checked["woo_refunds"] += 1
            key = order_life.refund_ref(refund["id"])
            notes = self._notes.get(key, [])
            wanted = abs(Decimal(str(refund.get("total") or "0")))
            if net and notes:
                if full is None:
                    full = {r.get("id"): r for r in self._call(self.woo.order_refunds, o["id"])}
                if refund["id"] in full:
                    wanted = order_life.refund_net(full[refund["id"]])
            if not notes:
                if dates is None:  # the order lists its refunds without their dates: read them, for this order only
                    dates = {r.get("id"): r.get("date_created_gmt") or "" for r in
                             self._call(self.woo.order_refunds, o["id"])}
                if dates.get(refund["id"], "") > cutoff or refund["id"] not in dates:  # fresh, or deleted since
                    report.checked["woo_refunds_in_grace"] += 1
                    continue
                report.add(REFUND_WITHOUT_CREDIT_NOTE, key, "", str(wanted),
                           f"refund {refund['id']} of order {o['id']} has no ERP credit note")
            elif len(notes) > 1 or any(Decimal(str(a or "0")) != wanted for _, a in notes):
                report.add(CREDIT_NOTE_MISMATCH, key, ", ".join(f"{i} {a}" for i, a in notes), str(wanted),
                           f"order {o['id']}: " + (f"{len(notes)} credit notes for one refund" if len(notes) > 1
                                                  else "the credit note's amount is not the refund's"))
        self._unlisted_credit_notes(o, report)
        self._restock_total(o, report)

    def _unlisted_credit_notes(self, o: dict, report: Report) -> None:
        """Credit notes `WC-REFUND-<id>` of the order's ERP order(s) whose refund the shop order no longer lists
        (deleted after it was credited): the ERP credits money the shop does not show. Each is reported with
        what the ERP credits for the order in all and what the shop refunded, unless a person accepted it
        (order meta ACCEPTED_META, written by `wooerp orders accept-credit-note`: counted, not reported)."""
        notes = [n for erp_id in sorted(self._noted_orders.get(order_ref(o["id"]), ()))
                 for n in self._by_order.get(erp_id, [])]
        listed = {order_life.refund_ref(r["id"]) for r in o.get("refunds") or []}
        unlisted = [n for n in notes if n[0] not in listed]
        if not unlisted:
            return
        meta = {str(m.get("key") or "") for m in o.get("meta_data") or []}
        accepted = {n for n in unlisted
                    if order_life.ACCEPTED_META.format(n[0][len(REFUND_REF_PREFIX):]) in meta}
        report.checked["credit_notes_accepted"] += len(accepted)
        if len(accepted) == len(unlisted):
            return
        credited = sum((Decimal(str(n[2] or "0")) for n in notes if n not in accepted), Decimal(0))
        refunded = sum((abs(Decimal(str(r.get("total") or "0"))) for r in o.get("refunds") or []), Decimal(0))
        for ref, note_id, amount in unlisted:
            if (ref, note_id, amount) in accepted:
                continue
            report.add(CREDIT_NOTE_WITHOUT_REFUND, ref, f"{note_id} {amount}", "",
                       f"order {o['id']}: the shop no longer lists refund {ref[len(REFUND_REF_PREFIX):]} (deleted "
                       f"in the shop); the ERP credits {credited} for the order in all, the shop refunded "
                       f"{refunded}. Settle it in the ERP (a credit note cannot be cancelled through the ERP "
                       f"contract; do not refund again in the shop), then `wooerp orders accept-credit-note "
                       f"{o['id']} --reason …`")

    def _restock_total(self, o: dict, report: Report) -> None:
        """Units restocked per SKU: the shop's (per order item) against the ERP's restocking credit notes of the
        order, compared per ORDER, never per refund: WooCommerce does not record which refund restocked, so
        which note carries the restock follows a rule (connector/sync/order_life.attribute_restock) and only
        the total is a fact. Compared once every refund has exactly one credit note (else it is reported above)."""
        refs = [order_life.refund_ref(r["id"]) for r in o.get("refunds") or []]
        if not refs or any(len(self._notes.get(ref, [])) != 1 for ref in refs):
            return
        erp = Counter()
        for ref in refs:
            erp.update(self._restocked.get(ref, Counter()))
        shop = order_life.shop_restocked(o)
        if +erp != +shop:
            show = lambda c: ", ".join(f"{sku} {n}" for sku, n in sorted((+c).items())) or "none"  # noqa: E731
            report.add(CREDIT_NOTE_MISMATCH, order_ref(o["id"]), show(erp), show(shop),
                       f"order {o['id']}: the units its ERP credit notes restock are not the units the shop "
                       f"restocked (compared per order; which refund restocked is not recorded by WooCommerce)")

    def _gone_orders(self, report: Report) -> None:
        """Shop orders gone from WooCommerce (404) for which the ERP still holds a live order."""
        from sqlalchemy import select
        from connector.sync import order_state
        with self.db.session() as s:
            gone = list(s.scalars(select(OrderSync.woo_order_id).where(OrderSync.state == order_state.GONE)))
        for order_id in gone:
            live = [o for o in self._call(self.erp.find_sales_orders, order_ref(order_id))
                    if o.get("status") != "cancelled"]
            if live:
                report.add(GONE_ORDER_IN_ERP, order_id, ", ".join(f"{o['id']} {o.get('status')}" for o in live), "",
                           "the shop order is gone (404); cancel the ERP order by hand if it should not ship")

    def _bound_erp_order(self, ref: str) -> str:
        """The ERP order id wooerp recorded for the shop order behind `ref` ("" if none)."""
        number = ref[len(ORDER_REF_PREFIX):] if ref.startswith(ORDER_REF_PREFIX) else ""
        if not number.isdigit():
            return ""
        row = self._order_rows([int(number)]).get(int(number))
        return (row.erp_order_id or "") if row is not None else ""
