"""ERP shipments onto their WooCommerce orders: tracking in meta, one note each, `completed` when all shipped.

Recipe per shipment: skip_if_applied → find_order → validate → write meta `_wooerp_shipment_<id>`
(upsert by key) → add the note unless the order already has it → complete the order once every ordered
quantity has shipped (less the units a refund restocked, once the ERP says its order is `shipped`) → record the shipment as applied (`entity_mapping`, type `shipment`). Until that
record exists each write is checked against the order itself, so a crash in between never doubles a
note. Partial deliveries only add meta and a note. Not here: the delta poll (connector.sync.delta).
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from connector import binding, leases
from connector.db import Database
from connector.errors import InvalidDataError, PermanentError
from connector.logs import event
from connector.mapping.orders import order_ref
from connector.models import OrderSync
from connector.sync.order_life import shop_restocked

log = logging.getLogger("wooerp.shipments")
META_PREFIX = "_wooerp_shipment_"
ORDER_REF = re.compile(r"^WC-ORDER-(\d+)$")
# Statuses a shipment must not move: the order is finished or was stopped in the shop.
FINAL_STATUSES = frozenset({"completed", "cancelled", "refunded", "failed", "trash"})
GONE_STATUSES = (404, 410)


@dataclass
class ShipmentReport:
    """Counts of one or more `ShipmentSync.apply` runs: shipments applied, already applied before, orders
    completed by them, shipments of ERP orders not from the shop (`not_ours`), and quarantined ones."""
    applied: int = 0
    already_applied: int = 0
    completed: int = 0
    not_ours: int = 0
    quarantined: int = 0

    def add(self, other: "ShipmentReport") -> None:
        """Add `other`'s counts to these (in place), to sum the pages of a poll."""
        for name, value in other.__dict__.items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict:
        """The report as a plain dict (a task's JSON-able result)."""
        return self.__dict__.copy()


# -- pure helpers ---------------------------------------------------------------------------------------
def validate(shipment: dict) -> None:
    """Raise InvalidDataError naming the shipment and line unless `shipment` (an ErpShipment) has at least one
    line and each line a non-empty SKU and a positive int quantity."""
    sid = shipment.get("id")
    lines = shipment.get("lines")
    if not isinstance(lines, list) or not lines:
        raise InvalidDataError(f"shipment {sid}: no lines")
    for i, line in enumerate(lines):
        sku, qty = (line.get("sku"), line.get("quantity")) if isinstance(line, dict) else (None, None)
        if not isinstance(sku, str) or not sku:
            raise InvalidDataError(f"shipment {sid}: line {i} has no SKU")
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            raise InvalidDataError(f"shipment {sid}: line {i} ({sku}) quantity {qty!r} is not a positive integer")


def meta_value(shipment: dict) -> dict:
    """The value of the shipment's order meta `_wooerp_shipment_<id>`: carrier, tracking_number, shipped_at
    (as the ERP sent them) and lines [{sku, quantity}]; `fully_shipped` sums these lines."""
    return {"carrier": shipment.get("carrier"), "tracking_number": shipment.get("tracking_number"),
            "shipped_at": shipment.get("shipped_at"),
            "lines": [{"sku": line["sku"], "quantity": line["quantity"]} for line in shipment["lines"]]}


def note_marker(shipment_id: str) -> str:
    """The text that marks an order note as written for ERP shipment `shipment_id` (found again before adding
    one)."""
    return f"(ERP shipment {shipment_id})"


def note_text(shipment: dict) -> str:
    """The order note for `shipment`: "Shipped 2 × MUG-BLUE via DHL, tracking 123 (ERP shipment SH-1)." (carrier
    and tracking only when known)."""
    items = ", ".join(f"{line['quantity']} × {line['sku']}" for line in shipment["lines"])
    via = f" via {shipment['carrier']}" if shipment.get("carrier") else ""
    tracking = f", tracking {shipment['tracking_number']}" if shipment.get("tracking_number") else ""
    return f"Shipped {items}{via}{tracking} {note_marker(shipment['id'])}."


def shipments_in(order: dict) -> dict[str, dict]:
    """The shipments already written to a Woo order, by shipment id (from our meta keys)."""
    return {m["key"][len(META_PREFIX):]: m.get("value") for m in order.get("meta_data") or []
            if str(m.get("key", "")).startswith(META_PREFIX) and isinstance(m.get("value"), dict)}


def fully_shipped(order: dict, *, less_restocked: bool = False) -> bool:
    """Every ordered quantity, by SKU, is covered by the shipments in the order's meta; `less_restocked`:
    less the units the shop's refunds restocked (order_life.shop_restocked), which the ERP withdraws from
    its order when they had not shipped yet (and takes back when they had).
    A line without a SKU (product deleted) can never be matched: such an order is left to a person."""
    ordered: Counter = Counter()
    for item in order.get("line_items") or []:
        if not item.get("sku"):
            return False
        ordered[item["sku"]] += Decimal(str(item.get("quantity") or 0))  # the shop's number, never int()
    if less_restocked:
        for sku, qty in shop_restocked(order).items():
            ordered[sku] -= qty
    shipped: Counter = Counter()
    for value in shipments_in(order).values():
        for line in value.get("lines") or []:
            shipped[line.get("sku")] += int(line.get("quantity") or 0)
    return bool(ordered) and all(shipped[sku] >= qty for sku, qty in ordered.items())


def order_id_from_ref(external_ref: str | None) -> int | None:
    """The shop order id in a `WC-ORDER-<id>` reference; None for any other or no reference."""
    match = ORDER_REF.match(external_ref or "")
    return int(match.group(1)) if match else None


# -- the synchronizer -----------------------------------------------------------------------------------
class ShipmentSync:
    """Writes ERP shipments onto their shop orders (see the module docstring). `db` holds the applied-shipment
    bindings, the order table and the leases; `woo` is a ShopPort; `erp` an ErpAdapter, asked whether an
    order whose refunds restocked units is `shipped` (None: the shop's count alone decides); `lease_seconds`:
    how long an order's shipment lease outlives a dead worker."""
    def __init__(self, db: Database, woo, erp=None, *, lease_seconds: float = 120):
        self.db, self.woo, self.erp = db, woo, erp
        self.lease_seconds = lease_seconds

    def apply(self, shipments: list[dict]) -> ShipmentReport:
        """Apply one page of ERP shipments. TransientError propagates (the poll resumes at its checkpoint)."""
        report = ShipmentReport()
        done = self._applied(shipments)
        orders = self._bound_orders(shipments)
        for shipment in shipments:
            sid = shipment.get("id")
            if not sid:
                report.quarantined += 1
                event(log, "shipment without an id ignored", logging.WARNING, shipment=str(shipment)[:300])
                continue
            if sid in done and done[sid] in (None, shipment.get("modified_at")):
                report.already_applied += 1
                continue
            order_id = orders.get(shipment.get("sales_order_id")) or order_id_from_ref(shipment.get("external_ref"))
            if order_id is None:
                report.not_ours += 1  # an order that did not come from the shop
                continue
            try:
                validate(shipment)
                with leases.held(self.db, f"shipments:order:{order_id}", self.lease_seconds):
                    report.completed += self._write(order_id, shipment)
            except (InvalidDataError, PermanentError) as e:
                if isinstance(e, PermanentError) and e.status not in GONE_STATUSES:
                    raise
                self._record(shipment, order_id, reason=str(e))
                report.quarantined += 1
                event(log, "shipment quarantined", logging.WARNING, shipment_id=sid, order_id=order_id, reason=str(e))
                continue
            self._record(shipment, order_id)
            report.applied += 1
        return report

    # -- steps ---------------------------------------------------------------------------------------
    def _applied(self, shipments: list[dict]) -> dict[str, str | None]:
        """Shipment id → None when applied, or the ERP `modified_at` it was quarantined at."""
        return binding.applied_shipments(self.db, [s["id"] for s in shipments if s.get("id")])

    def _bound_orders(self, shipments: list[dict]) -> dict[str, int]:
        """ERP sales order id → our Woo order id, from the order state table."""
        ids = sorted({s["sales_order_id"] for s in shipments if s.get("sales_order_id")})
        with self.db.session() as s:
            rows = s.execute(select(OrderSync.erp_order_id, OrderSync.woo_order_id)
                             .where(OrderSync.erp_order_id.in_(ids)))
            return {erp_id: woo_id for erp_id, woo_id in rows}

    def _write(self, order_id: int, shipment: dict) -> bool:
        """Meta, note, maybe completion; each step skipped when the order shows it done. True if completed."""
        sid = shipment["id"]
        order = self.woo.get_order(order_id)
        if sid not in shipments_in(order):
            order = self.woo.update_order(order_id, {"meta_data": [{"key": META_PREFIX + sid,
                                                                    "value": meta_value(shipment)}]})
        marker = note_marker(sid)
        if not any(marker in (n.get("note") or "") for n in self.woo.order_notes(order_id)):
            self.woo.add_order_note(order_id, note_text(shipment))
        event(log, "shipment written to the order", order_id=order_id, shipment_id=sid,
              tracking_number=shipment.get("tracking_number"))
        if order.get("status") in FINAL_STATUSES:
            return False
        if not fully_shipped(order) and not (fully_shipped(order, less_restocked=True)
                                             and self._erp_shipped(order_id, shipment)):
            return False
        self.woo.update_order(order_id, {"status": "completed"})
        event(log, "order completed: everything shipped", order_id=order_id, shipment_id=sid)
        return True

    def _erp_shipped(self, order_id: int, shipment: dict) -> bool:
        """Whether the ERP's order of `shipment` has nothing left to ship (status `shipped`). Asked only when
        the shipments cover the order less its restocked units: a restocked unit that had shipped (a return)
        leaves the ERP still owing the rest, which the shop's counts alone cannot tell."""
        if self.erp is None:
            return True
        ref = shipment.get("external_ref") or order_ref(order_id)
        found = [o for o in self.erp.find_sales_orders(ref)
                 if not shipment.get("sales_order_id") or o.get("id") == shipment["sales_order_id"]]
        return len(found) == 1 and found[0].get("status") == "shipped"

    def _record(self, shipment: dict, order_id: int, reason: str | None = None) -> None:
        binding.record_shipment(self.db, shipment["id"], order_id, shipment.get("modified_at"), reason)
