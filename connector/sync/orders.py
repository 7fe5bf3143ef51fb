"""Importing one WooCommerce order into the ERP exactly once, and writing the ERP number back.

Recipe: lease the order → re-read it from WooCommerce → validate → ensure the customer → adopt an ERP
order that already carries our reference, or create one → record its id at once → write back.
Every step is safe to repeat: a retry after a crash or a commit-then-timeout finds the ERP order by
its `WC-ORDER-<id>` reference instead of creating a second one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass


from connector import holds, leases
from connector.db import Database, utcnow
from connector.errors import InvalidDataError
from connector.logs import event, get_correlation_id
from connector.mapping import orders as mapping
from connector.models import OrderSync
from connector.sync import order_state as st

log = logging.getLogger("wooerp.orders")
ERP_ID_META, ERP_NUMBER_META = "_erp_order_id", "_erp_order_number"


@dataclass
class OrderReport:
    order_id: int
    state: str
    erp_order_id: str | None = None
    detail: str = ""

    def as_dict(self) -> dict:
        return self.__dict__.copy()


class OrderImporter:
    def __init__(self, db: Database, woo, erp, *, import_statuses: tuple[str, ...], currencies: tuple[str, ...],
                 lease_seconds: float = 120):
        self.db, self.woo, self.erp = db, woo, erp
        self.import_statuses = import_statuses
        self.currencies = currencies
        self.lease_seconds = lease_seconds

    # -- entry point ---------------------------------------------------------------------------------
    def run(self, order_id: int) -> OrderReport:
        with leases.held(self.db, f"order:{order_id}", self.lease_seconds):
            row = self._row(order_id)
            order = self.woo.get_order(order_id)
            self._remember(order_id, order)
            if order.get("status") == "cancelled":
                return self._cancel(row, order)
            if row.state in st.IMPORTED:
                return self._write_back(order_id, order)
            if row.state in (st.CANCELLED, st.CONFLICT):
                return self._report(order_id, f"no action in state {row.state}")
            if order.get("status") not in self.import_statuses:
                self._move(order_id, st.SKIPPED, reason=f"Woo status {order.get('status')} is not imported")
                return self._report(order_id, "status not imported")
            try:
                self._validate(order)
            except InvalidDataError as e:
                self._move(order_id, st.QUARANTINED, reason=str(e))
                event(log, "order quarantined", logging.WARNING, order_id=order_id, reason=str(e))
                return self._report(order_id, str(e))
            if row.state not in st.IN_FLIGHT:
                self._move(order_id, st.VALIDATED, reason=None)
            customer_id = self._ensure_customer(order)
            if not self._find_or_create(order, customer_id):
                return self._report(order_id, "flagged: several ERP orders carry this reference")
            return self._write_back(order_id, order)

    # -- steps ---------------------------------------------------------------------------------------
    def _row(self, order_id: int) -> OrderSync:
        with self.db.session() as s:
            row = s.get(OrderSync, order_id)
            if row is None:
                now = utcnow()
                row = OrderSync(woo_order_id=order_id, state=st.RECEIVED, attempts=0, created_at=now, updated_at=now,
                                correlation_id=get_correlation_id())
                s.add(row)
            row.attempts += 1
            return row

    def _remember(self, order_id: int, order: dict) -> None:
        """Note the order's Woo status, and keep its stock holds in step with it (connector/holds.py):
        an order not yet in the ERP holds its lines while its status is imported, else holds nothing."""
        with self.db.session() as s:
            row = s.get(OrderSync, order_id)
            if row.state not in st.IMPORTED:
                if order.get("status") in self.import_statuses and row.state != st.CANCELLED:
                    holds.hold(s, order_id, order)
                else:
                    holds.release(s, order_id)
            if row.woo_modified_gmt and row.state in st.IMPORTED and row.woo_modified_gmt != order.get("date_modified_gmt"):
                event(log, "order changed in Woo after import; ERP order left as is", order_id=order_id,
                      woo_status=order.get("status"))
            row.woo_status = order.get("status")
            row.woo_modified_gmt = order.get("date_modified_gmt")

    def _move(self, order_id: int, new: str, also=None, **fields) -> None:
        """Change the order's state; `also(session)` runs in the same transaction."""
        with self.db.session() as s:
            row = s.get(OrderSync, order_id)
            if row.state != new:
                st.check(row.state, new)
            row.state = new
            row.updated_at = utcnow()
            for k, v in fields.items():
                setattr(row, k, v)
            if also is not None:
                also(s)

    def _validate(self, order: dict) -> None:
        skus = sorted({li["sku"] for li in order.get("line_items") or [] if li.get("sku")})
        known: set[str] = set()
        for i in range(0, len(skus), 100):
            known.update(p["sku"] for p in self.erp.products_by_sku(skus[i:i + 100]))
        mapping.validate(order, known_skus=known, currencies=self.currencies)

    def _ensure_customer(self, order: dict) -> str:
        kind, key = mapping.customer_key(order)
        with leases.held(self.db, f"customer:{kind}:{key}", self.lease_seconds):
            found = self.erp.find_customers(**{kind: key})
            if found:
                return found[0]["id"]
            created = self.erp.create_customer(mapping.map_customer(order))
            event(log, "ERP customer created", customer_id=created["id"], kind=kind)
            return created["id"]

    def _find_or_create(self, order: dict, customer_id: str) -> bool:
        """Bind the order to its one ERP order, creating it if absent; False when the ERP holds several."""
        order_id = order["id"]
        ref = mapping.order_ref(order_id)
        existing = self.erp.find_sales_orders(ref)
        if len(existing) > 1:
            ids = ", ".join(o["id"] for o in existing)
            self._move(order_id, st.CONFLICT, reason=f"ERP already holds {len(existing)} orders with {ref}: {ids}")
            event(log, "several ERP orders carry one reference; not creating another", logging.ERROR,
                  order_id=order_id, erp_order_ids=ids)
            return False
        if existing:
            erp_order = existing[0]
            event(log, "adopted existing ERP order", order_id=order_id, erp_order_id=erp_order["id"])
            if erp_order.get("status") == "draft":  # an earlier attempt stopped between the ERP's steps
                erp_order = self.erp.finish_sales_order(erp_order["id"])
        else:
            self._move(order_id, st.SUBMITTED, erp_customer_id=customer_id)
            erp_order = self.erp.create_sales_order(mapping.map_order(order, customer_id))
            event(log, "ERP order created", order_id=order_id, erp_order_id=erp_order["id"])
        # the holds go over to the ERP's stock row in the transaction that records the order as in the ERP
        reservation = self.erp.reservation(erp_order)
        self._move(order_id, st.IN_ERP, also=lambda s: holds.hand_over(s, order_id, reservation),
                   erp_order_id=erp_order["id"], erp_order_number=erp_order.get("number"),
                   erp_customer_id=customer_id, reason=None)
        return True

    def _write_back(self, order_id: int, order: dict) -> OrderReport:
        with self.db.session() as s:
            row = s.get(OrderSync, order_id)
            erp_id, number, state = row.erp_order_id, row.erp_order_number, row.state
        if state == st.WRITTEN_BACK:
            return self._report(order_id, "already written back")
        meta = {m.get("key"): m.get("value") for m in order.get("meta_data") or []}
        note = f"Imported into the ERP as {number} ({erp_id})."
        if meta.get(ERP_NUMBER_META) != number:
            self.woo.update_order(order_id, {"meta_data": [{"key": ERP_ID_META, "value": erp_id},
                                                           {"key": ERP_NUMBER_META, "value": number}]})
            self.woo.add_order_note(order_id, note)
        elif not any(n.get("note") == note for n in self.woo.order_notes(order_id)):
            self.woo.add_order_note(order_id, note)
        self._move(order_id, st.WRITTEN_BACK)
        return self._report(order_id, "written back")

    def _cancel(self, row: OrderSync, order: dict) -> OrderReport:
        order_id = order["id"]
        if row.state == st.CANCELLED:
            return self._report(order_id, "already cancelled")
        if row.state in st.IMPORTED:
            self.erp.cancel_sales_order(row.erp_order_id)
            event(log, "ERP order cancelled", order_id=order_id, erp_order_id=row.erp_order_id)
        if row.state in st.TRANSITIONS and st.CANCELLED in st.TRANSITIONS[row.state]:
            self._move(order_id, st.CANCELLED, reason="cancelled in WooCommerce")
        return self._report(order_id, "cancelled")

    def _report(self, order_id: int, detail: str) -> OrderReport:
        with self.db.session() as s:
            row = s.get(OrderSync, order_id)
            return OrderReport(order_id, row.state, row.erp_order_id, detail)


def reset_for_retry(db: Database, order_id: int) -> bool:
    """Let a quarantined order be tried again (after the cause was fixed). False if it is not quarantined."""
    with db.session() as s:
        row = s.get(OrderSync, order_id)
        if row is None or row.state != st.QUARANTINED:
            return False
        row.reason = None
        row.updated_at = utcnow()
        return True
