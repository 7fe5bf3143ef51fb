"""Importing one WooCommerce order into the ERP exactly once, and writing the ERP number back.

Recipe: lease the order → re-read it from WooCommerce → validate → ensure the customer → adopt an ERP
order that already carries our reference, or create one → record its id at once → write back.
Every step is safe to repeat: a retry after a crash or a commit-then-timeout finds the ERP order by
its `WC-ORDER-<id>` reference instead of creating a second one.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass


import json

from connector import dead_letters, leases
from connector.db import Database, utcnow
from connector.errors import InvalidDataError, PermanentError
from connector.logs import event, get_correlation_id
from connector.mapping import orders as mapping
from connector.models import OrderSync
from connector.sync import order_state as st
from connector.sync import sku_lookup

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
            letter = dead_letters.open_for(self.db, [dead_letters.order_resource(order_id)])
            if letter:  # one open failure per order: wait for the replay (or discard) of that letter
                letter_id = next(iter(letter.values())).id
                return self._report(order_id, f"not run: dead letter {letter_id} is open; replay or discard it")
            if row.state == st.GONE:
                return self._report(order_id, "gone in WooCommerce")
            try:
                order = self.woo.get_order(order_id)
            except PermanentError as e:
                if e.status not in (404, 410):
                    raise
                self._move(order_id, st.GONE, reason=f"gone in WooCommerce ({e.status}); "
                                                     + (f"ERP order {row.erp_order_id} exists" if row.erp_order_id
                                                        else "never imported"))
                event(log, "order gone in WooCommerce", logging.WARNING, order_id=order_id,
                      erp_order_id=row.erp_order_id)
                return self._report(order_id, "gone in WooCommerce")
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
            try:
                customer_id = self._ensure_customer(order)
                if not self._find_or_create(order, customer_id):
                    return self._report(order_id, "flagged: several ERP orders carry this reference")
            except InvalidDataError as e:  # the ERP's own validation (422): a data fix, not a replay, helps
                reason = f"Order {order_id}: the ERP refused it: {erp_refusal(e)}"
                self._move(order_id, st.QUARANTINED, reason=reason)
                event(log, "order quarantined", logging.WARNING, order_id=order_id, reason=reason)
                return self._report(order_id, reason)
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
        with self.db.session() as s:
            row = s.get(OrderSync, order_id)
            if row.woo_modified_gmt and row.state in st.IMPORTED and row.woo_modified_gmt != order.get("date_modified_gmt"):
                event(log, "order changed in Woo after import; ERP order left as is", order_id=order_id,
                      woo_status=order.get("status"))
            row.woo_status = order.get("status")
            row.woo_modified_gmt = order.get("date_modified_gmt")

    def _move(self, order_id: int, new: str, **fields) -> None:
        with self.db.session() as s:
            row = s.get(OrderSync, order_id)
            if row.state != new:
                st.check(row.state, new)
            row.state = new
            row.updated_at = utcnow()
            for k, v in fields.items():
                setattr(row, k, v)

    def _validate(self, order: dict) -> None:
        skus = sorted({li["sku"] for li in order.get("line_items") or [] if li.get("sku")})
        known = {p["sku"] for p in sku_lookup.erp_products(self.db, self.erp, skus)}
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
        self._move(order_id, st.IN_ERP, erp_order_id=erp_order["id"], erp_order_number=erp_order.get("number"),
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


def erp_refusal(error: InvalidDataError) -> str:
    """The ERP's field messages ("shipping_address.country: required …") from a validation_failed answer."""
    try:
        body = json.loads(error.excerpt or "")
        problem = body["error"]
        fields = problem.get("fields") or {}
        if fields:
            return "; ".join(f"{k}: {v}" for k, v in fields.items())
        return str(problem.get("message") or error)
    except (ValueError, KeyError, TypeError, AttributeError):
        return str(error)


def reset_for_retry(db: Database, order_id: int, by: str | None = None) -> bool:
    """Let a quarantined order, or one with an open dead letter, be tried again (after the cause was fixed):
    the letter is closed as superseded by this retry. False if the order is neither."""
    letters = dead_letters.open_for(db, [dead_letters.order_resource(order_id)])
    for letter in letters.values():
        dead_letters.discard(db, letter.id, f"superseded by a retry of order {order_id}", by=by)
    with db.session() as s:
        row = s.get(OrderSync, order_id)
        if row is None or (row.state != st.QUARANTINED and not letters):
            return False
        if row.state == st.QUARANTINED:
            row.reason = None
        row.updated_at = utcnow()
        return True


PENDING = {st.RECEIVED: "waiting for its import", st.VALIDATED: "valid; its ERP order is being created",
           st.SUBMITTED: "sent to the ERP; waiting for the answer or a retry",
           st.IN_ERP: "in the ERP; the ERP number is being written back to the shop"}


def not_done(db: Database, state: str | None = None) -> list[tuple[int, str, str | None, str]]:
    """(order id, state, ERP order id, reason) for every order that is not done, or every order in `state`;
    an order with an open dead letter shows state `dead_letter` and the letter's error."""
    from sqlalchemy import select
    with db.session() as s:
        q = select(OrderSync).order_by(OrderSync.woo_order_id)
        q = q.where(OrderSync.state == state) if state and state != "dead_letter" else \
            q.where(OrderSync.state.not_in([st.WRITTEN_BACK, st.CANCELLED]))
        rows = [(r.woo_order_id, r.state, r.erp_order_id, r.reason, r.attempts) for r in s.scalars(q)]
    letters = dead_letters.open_for(db, [dead_letters.order_resource(r[0]) for r in rows])
    out = []
    for oid, row_state, erp_id, reason, attempts in rows:
        letter = letters.get(dead_letters.order_resource(oid))
        if letter is not None:
            out.append((oid, "dead_letter", erp_id, f"dead letter {letter.id} ({row_state}): {letter.exc_type}: "
                                                   f"{letter.exc_message[:200]}; replay it or `make retry-order`"))
        elif state != "dead_letter":
            text = reason or PENDING.get(row_state, "") or row_state
            if row_state == st.GONE:
                text = f"gone in WooCommerce: {reason or ''}".rstrip(": ")
            elif not reason and row_state in PENDING:
                text += f" (attempt {attempts})"
            out.append((oid, row_state, erp_id, text))
    return out
