"""Importing one WooCommerce order into the ERP exactly once, and writing the ERP number back.

Recipe: lease the order → re-read it from WooCommerce → validate → ensure the customer → adopt an ERP
order that already carries our reference, or create one → record its id at once → write back.
Every step is safe to repeat: a retry after a crash or a commit-then-timeout finds the ERP order by
its `WC-ORDER-<id>` reference instead of creating a second one.
Once imported and written back, every later run follows the shop's order (amendments, cancellation, trash,
restore, refunds → credit notes): connector/sync/order_life.py.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass

from connector import dead_letters, holds, leases
from connector.db import Database, utcnow
from connector.errors import InvalidDataError, NotFound, PermanentError
from connector.logs import event, get_correlation_id
from connector.mapping import customers as customer_mapping
from connector.mapping import orders as mapping
from connector.models import OrderSync
from connector.sync import order_life
from connector.sync import order_state as st
from connector.sync import sku_lookup
from connector.sync.customers import CustomerLinker

log = logging.getLogger("wooerp.orders")
ERP_ID_META, ERP_NUMBER_META = "_erp_order_id", "_erp_order_number"


@dataclass
class OrderReport:
    """The outcome of one OrderImporter.run: the shop order id, its state afterwards (connector.sync.order_state),
    its ERP order id once it has one, and a line for people (`detail`: "written back", a quarantine reason…)."""
    order_id: int
    state: str
    erp_order_id: str | None = None
    detail: str = ""

    def as_dict(self) -> dict:
        """The report as a plain dict (a task's JSON-able result)."""
        return self.__dict__.copy()


class OrderImporter:
    """Imports shop orders into the ERP exactly once and follows them after import (see the module docstring).
    `woo` a ShopPort, `erp` an ErpAdapter; `import_statuses`: the shop statuses that are imported (others are
    skipped); `currencies`: the ISO codes the ERP takes; `lease_seconds`: how long an order's lease outlives a
    dead worker; `vat_meta_keys`: where a VAT id is read (CustomerLinker)."""
    def __init__(self, db: Database, woo, erp, *, import_statuses: tuple[str, ...], currencies: tuple[str, ...],
                 lease_seconds: float = 120, vat_meta_keys: tuple[str, ...] = ()):
        self.db, self.woo, self.erp = db, woo, erp
        self.import_statuses = import_statuses
        self.currencies = currencies
        self.lease_seconds = lease_seconds
        self.customers = CustomerLinker(db, woo, erp, vat_meta_keys=vat_meta_keys, lease_seconds=lease_seconds)
        # what one run remembers, per thread: a worker with a thread pool runs several imports at once
        self._run_state = threading.local()

    @property
    def _customer(self) -> dict | None:
        """The ERP customer this run found or created (saves a re-read)."""
        return getattr(self._run_state, "customer", None)

    @_customer.setter
    def _customer(self, value: dict | None) -> None:
        self._run_state.customer = value

    @property
    def _woo_customer(self) -> dict | None:
        """The registered buyer's shop record, read once per run."""
        return getattr(self._run_state, "woo_customer", None)

    @_woo_customer.setter
    def _woo_customer(self, value: dict | None) -> None:
        self._run_state.woo_customer = value

    # -- entry point ---------------------------------------------------------------------------------
    def run(self, order_id: int) -> OrderReport:
        """Bring shop order `order_id` (an int) one step nearer its end state and report where it is: skipped,
        quarantined (with the reason), imported and written back, followed (amended, cancelled, credited), or gone.
        Safe to repeat and to run concurrently (one lease per order). Re-reads the order from the shop, calls the
        ERP, writes the ERP number, notes and meta back to the shop, and commits each state change (and the
        order's stock holds) as it goes. An order the validation or the ERP refuses is quarantined (state and reason), not raised. Raises
        TransientError (lease busy, timeouts, 5xx: retry) and PermanentError (dead-letter); an order with an open
        dead letter is not run."""
        self._customer = self._woo_customer = None
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
            except NotFound as e:  # WooCommerce's own answer; a bare 404 is a TransientError (connector/http.py)
                if row.state in st.IMPORTED | st.FOLLOWED:
                    return self._missing_after_import(row, e)
                # a sale the shop no longer has holds no stock
                erp_side = f"ERP order {row.erp_order_id} exists" if row.erp_order_id else "never imported"
                self._move(order_id, st.GONE, also=lambda s: holds.release(s, order_id),
                           reason=f"gone in WooCommerce ({e.status}); {erp_side}")
                event(log, "order gone in WooCommerce", logging.WARNING, order_id=order_id,
                      erp_order_id=row.erp_order_id)
                return self._report(order_id, "gone in WooCommerce")
            self._remember(order_id, order)
            if row.state == st.WRITTEN_BACK and self._lost_in_shop(row, order):
                row = self._row_after_reset(order_id)
            if row.state in st.IMPORTED:
                report = self._write_back(order_id, order)
                if report.state != st.WRITTEN_BACK:
                    return report
                followed = self._follow(order_id, order)
                return report if followed.detail == order_life.IN_STEP else followed
            if row.state in st.FOLLOWED and row.erp_order_id:
                return self._follow(order_id, order)
            if order.get("status") in order_life.ENDED:
                return self._cancel(row, order)
            if row.state == st.CONFLICT or row.state == st.CANCELLED and row.erp_order_id:
                return self._report(order_id, f"no action in state {row.state}")
            if row.state == st.CANCELLED:  # ended before import, now re-opened: nothing of it is in the ERP
                event(log, "order cancelled before import is re-opened in the shop; handled as a new order",
                      order_id=order_id, status=order.get("status"))
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
        """Note the order's Woo status, and keep its stock holds in step with it (connector/holds.py):
        an order not yet in the ERP holds its lines while its status is imported, else holds nothing."""
        with self.db.session() as s:
            row = s.get(OrderSync, order_id)
            if row.state not in st.IMPORTED and row.state != st.ATTENTION:  # in the ERP: its reservation counts
                revivable = row.state != st.CANCELLED or not row.erp_order_id  # ended before import: re-opened
                if order.get("status") in self.import_statuses and revivable:
                    holds.hold(s, order_id, order)
                else:
                    holds.release(s, order_id)
            elif row.woo_status != order.get("status") and {row.woo_status, order.get("status")} & RESTOCKING:
                # in the ERP: cancelled or reopened in the shop, which put its units back on sale (or took
                # them again) by itself; whatever the ERP does, the shop's figure must be written again
                holds.shop_moved(s, holds.demand(order), released=True)
            row.woo_status = order.get("status")
            row.woo_modified_gmt = order.get("date_modified_gmt")

    @staticmethod
    def _lost_in_shop(row: OrderSync, order: dict) -> bool:
        """True when we recorded this order as written back but the shop's order lacks our ERP number: the
        shop was restored from a backup, or replaced, and reuses the id for an order the ERP has never seen."""
        meta = {m.get("key"): m.get("value") for m in order.get("meta_data") or []}
        return meta.get(ERP_NUMBER_META) != row.erp_order_number

    def _row_after_reset(self, order_id: int) -> OrderSync:
        """Forget the recorded import, so the order goes through validation and lookup-before-create again."""
        with self.db.session() as s:
            row = s.get(OrderSync, order_id)
            event(log, "order recorded as written back lacks our ERP number in the shop; importing it again",
                  logging.WARNING, order_id=order_id, recorded_erp_order_id=row.erp_order_id,
                  recorded_erp_order_number=row.erp_order_number)
            st.check(row.state, st.RECEIVED)
            row.state, row.updated_at = st.RECEIVED, utcnow()
            row.erp_order_id = row.erp_order_number = row.erp_customer_id = None
            row.reason = None
            return row

    def _missing_after_import(self, row: OrderSync, e: NotFound) -> OrderReport:
        """The shop says an order we already put into the ERP does not exist. That is never decided by one
        read: its ERP order stays, and a person looks (attention), since cancelling a live, paid ERP order on
        a wrong answer costs far more than a look. A cancelled one has nothing left to undo."""
        oid = row.woo_order_id
        if row.state == st.CANCELLED:
            return self._report(oid, f"not in WooCommerce ({e.status}); its ERP order is cancelled")
        reason = (f"WooCommerce answers that order {oid} does not exist ({e.status}) but ERP order "
                  f"{row.erp_order_number or row.erp_order_id} holds it: check the shop (deleted for good?) "
                  f"and cancel the ERP order if so, then `wooerp orders retry {oid}`")
        self._move(oid, st.ATTENTION, reason=reason)
        event(log, "imported order not found in WooCommerce", logging.WARNING, order_id=oid,
              erp_order_id=row.erp_order_id, status=e.status)
        return self._report(oid, reason)

    def _move(self, order_id: int, new: str, also=None, **fields) -> None:
        """Change the order's state; `also(session)` runs in the same transaction."""
        with self.db.session() as s:
            row = s.get(OrderSync, order_id)
            if row.state != new:
                st.check(row.state, new, bound=row.erp_order_id is not None)
            row.state = new
            row.updated_at = utcnow()
            for k, v in fields.items():
                setattr(row, k, v)
            if also is not None:
                also(s)

    def _validate(self, order: dict) -> None:
        skus = sorted({li["sku"] for li in order.get("line_items") or [] if li.get("sku")})
        known = {p["sku"] for p in sku_lookup.erp_products(self.db, self.erp, skus)}
        mapping.validate(order, known_skus=known, currencies=self.currencies)

    def _ensure_customer(self, order: dict) -> str:
        """Find (by reference, else e-mail), link, update or create the buyer's one ERP customer."""
        woo_customer = self._shop_customer(order)
        self._customer, _vat = self.customers.for_order(order, woo_customer)
        return self._customer["id"]

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
            self._adopt(order_id, existing[0], customer_id)
            return True
        self._move(order_id, st.SUBMITTED, erp_customer_id=customer_id)
        erp_order = self.erp.create_sales_order(mapping.map_order(order, customer_id))
        event(log, "ERP order created", order_id=order_id, erp_order_id=erp_order["id"])
        self._bind(order_id, erp_order, customer_id)
        return True

    def _adopt(self, order_id: int, erp_order: dict, customer_id: str) -> None:
        """Bind the order to the ERP order an earlier attempt created (found by our reference)."""
        event(log, "adopted existing ERP order", order_id=order_id, erp_order_id=erp_order["id"])
        if erp_order.get("status") == "draft":  # an earlier attempt stopped between the ERP's steps
            erp_order = self.erp.finish_sales_order(erp_order["id"])
        self._bind(order_id, erp_order, customer_id)

    def _bind(self, order_id: int, erp_order: dict, customer_id: str) -> None:
        # the holds go over to the ERP's stock row in the transaction that records the order as in the ERP
        reservation = self.erp.reservation(erp_order)
        self._move(order_id, st.IN_ERP, also=lambda s: holds.hand_over(s, order_id, reservation),
                   erp_order_id=erp_order["id"], erp_order_number=erp_order.get("number"),
                   erp_customer_id=customer_id, reason=None)

    def _write_back(self, order_id: int, order: dict) -> OrderReport:
        with self.db.session() as s:
            row = s.get(OrderSync, order_id)
            erp_id, number, state, customer_id = row.erp_order_id, row.erp_order_number, row.state, row.erp_customer_id
        if state == st.WRITTEN_BACK:
            return self._report(order_id, "already written back")
        meta = {m.get("key"): m.get("value") for m in order.get("meta_data") or []}
        note = f"Imported into the ERP as {number} ({erp_id})."
        guest = customer_mapping.customer_ref(order.get("customer_id")) is None
        updates = []
        if meta.get(ERP_NUMBER_META) != number:
            updates += [{"key": ERP_ID_META, "value": erp_id}, {"key": ERP_NUMBER_META, "value": number}]
        if guest and customer_id and not meta.get(customer_mapping.CUSTOMER_NUMBER_META):
            updates.append({"key": customer_mapping.CUSTOMER_NUMBER_META, "value": self._erp_customer(customer_id)["number"]})
        if updates:
            self.woo.update_order(order_id, {"meta_data": updates})
        notes = None
        if meta.get(ERP_NUMBER_META) != number:
            self.woo.add_order_note(order_id, note)
        else:
            notes = [n.get("note") for n in self.woo.order_notes(order_id)]
            if note not in notes:
                self.woo.add_order_note(order_id, note)
        woo_customer = None if guest else self._shop_customer(order)
        vat = customer_mapping.customer_from_order(order, self.customers.vat_meta_keys,
                                                   (woo_customer or {}).get("meta_data"))[1]
        if vat.problem:
            notes = notes if notes is not None else [n.get("note") for n in self.woo.order_notes(order_id)]
            if vat.problem not in notes:
                self.woo.add_order_note(order_id, vat.problem)
        if woo_customer is not None and customer_id:  # the ERP customer number into its meta, once
            self.customers.write_number_to_customer(woo_customer, self._erp_customer(customer_id))
        self._move(order_id, st.WRITTEN_BACK)
        return self._report(order_id, "written back")

    def _erp_customer(self, customer_id: str) -> dict:
        if self._customer is not None and self._customer.get("id") == customer_id:
            return self._customer
        return self.erp.get_customer(customer_id)

    def _shop_customer(self, order: dict) -> dict | None:
        """The registered buyer's shop customer (its meta may hold the VAT id; ours gets the ERP number);
        None for a guest or an account the shop no longer has (the order still imports)."""
        cid = int(order.get("customer_id") or 0)
        if cid <= 0:
            return None
        if self._woo_customer is None or self._woo_customer.get("id") != cid:
            try:
                self._woo_customer = self.woo.get_customer(cid)
            except PermanentError as e:
                if getattr(e, "status", None) not in (400, 404):
                    raise
                event(log, "shop customer not readable; its meta is not used", logging.WARNING,
                      woo_customer_id=cid, error=str(e))
                return None
        return self._woo_customer

    def _follow(self, order_id: int, order: dict) -> OrderReport:
        """An imported order: amendments, cancellation, trash, restore and refunds (connector/sync/order_life.py)."""
        with self.db.session() as s:
            row = s.get(OrderSync, order_id)
            s.expunge(row)
        return self._report(order_id, order_life.OrderLife(self).follow(row, order))

    def hold_uncounted(self, order_id: int, order: dict, erp_order: dict | None) -> None:
        """Stock holds of an order followed after import (connector/sync/order_life.py), before anything is
        done to its ERP order. Ended in the shop (not an import status): it holds nothing. Live, and its ERP
        order does not count it (cancelled, no longer there: `erp_order` None, or not counted yet, as
        `ErpAdapter.reservation` says): it holds its lines as they are now (connector/holds.py `uncounted`).
        Live and counted: its holds are left to `holds.hand_over` and `holds.recheck`. No remote call."""
        live = order.get("status") in self.import_statuses
        if live and erp_order is not None and self.erp.reservation(erp_order) is not None:
            return
        with self.db.session() as s:
            holds.uncounted(s, order_id, order, live)

    def _cancel(self, row: OrderSync, order: dict) -> OrderReport:
        """An order not (known to be) in the ERP ends in the shop (cancelled, refunded, trashed). An earlier
        attempt may have created its ERP order and lost the answer (state submitted, or skipped or quarantined
        since), so the ERP is asked by our reference first: an ERP order found is adopted and then followed
        like any imported order, which cancels it (or flags it, if it shipped); none found, nothing to undo."""
        order_id = order["id"]
        if row.state == st.CANCELLED:
            return self._report(order_id, "already cancelled")
        if row.state == st.CONFLICT:
            return self._report(order_id, f"no action in state {row.state}")
        existing = self.erp.find_sales_orders(mapping.order_ref(order_id))
        if len(existing) > 1:
            ids = ", ".join(o["id"] for o in existing)
            self._move(order_id, st.CONFLICT, reason=f"{order.get('status')} in WooCommerce, and the ERP holds "
                                                     f"{len(existing)} orders with {mapping.order_ref(order_id)}: {ids}")
            return self._report(order_id, "flagged: several ERP orders carry this reference")
        if existing:
            if row.state not in st.IN_FLIGHT:
                self._move(order_id, st.VALIDATED, reason=None)
            self._adopt(order_id, existing[0], existing[0].get("customer_id") or row.erp_customer_id)
            report = self._write_back(order_id, order)
            return report if report.state != st.WRITTEN_BACK else self._follow(order_id, order)
        self._move(order_id, st.CANCELLED, reason=f"{order.get('status')} in WooCommerce before import")
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


def gone_reason(db: Database, order_id: int) -> str | None:
    """Why the order is gone (WooCommerce said it does not exist), None if it is not gone."""
    with db.session() as s:
        row = s.get(OrderSync, order_id)
        return (row.reason or "no reason recorded") if row is not None and row.state == st.GONE else None


def reset_for_retry(db: Database, order_id: int, by: str | None = None) -> bool:
    """Let a quarantined order, or one with an open dead letter, be tried again (after the cause was fixed):
    the letter is closed as superseded by this retry. False if the order is neither."""
    letters = dead_letters.open_for(db, [dead_letters.order_resource(order_id)])
    for letter in letters.values():
        dead_letters.discard(db, letter.id, f"superseded by a retry of order {order_id}", by=by)
    with db.session() as s:
        row = s.get(OrderSync, order_id)
        if row is None or (row.state not in (st.QUARANTINED, st.ATTENTION) and not letters):
            return False
        if row.state == st.QUARANTINED:
            row.reason = None
        if row.state == st.ATTENTION:  # a person fixed it (in the ERP or the shop): compare again
            row.state, row.reason = st.WRITTEN_BACK, None
        row.updated_at = utcnow()
        return True


# WooCommerce puts an order's units back on sale when it enters these statuses and takes them again when it
# leaves them (wc_maybe_increase_stock_levels / wc_maybe_reduce_stock_levels)
RESTOCKING = frozenset({"cancelled", "pending"})
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
