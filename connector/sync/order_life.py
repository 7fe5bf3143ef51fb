"""An imported order's life after import: amendments, cancellation, full refund, trash and restore, and one
ERP credit note per shop refund (the rules are the state table in README "The order's life").

Runs inside the importer's lease on the order, after the ERP number is written back, so one worker at a time
follows one order. Every step is a lookup before a write, so a retry after a crash, a lost answer
(commit-then-fail) or a duplicate delivery finds the work done instead of doing it again:
- an amendment compares the shop's order (mapped as for creation) with the ERP order it re-reads, and
  patches only what differs, naming the ERP revision it read (a concurrent change answers 412: retried);
- a refund's credit note is looked up by its reference `WC-REFUND-<refund id>` on the ERP order before one
  is created; its number goes into the shop order's meta `_erp_credit_note_<refund id>` and one note.
"""
from __future__ import annotations

import logging
from collections import Counter
from decimal import Decimal

from connector import holds
from connector.erp.protocol import NotAmendable, StaleRevision, Unsupported
from connector.errors import InvalidDataError, PermanentError, TransientError
from connector.logs import event
from connector.mapping import orders as mapping
from connector.sync import order_state as st

log = logging.getLogger("wooerp.order_life")
AMENDED = ("billing_address", "shipping_address", "lines", "shipping", "discounts", "fees", "totals", "note")
ENDED = ("cancelled", "refunded", "trash")
UNPAID = ("pending", "failed")  # an imported order moved back to these lost its payment (reversed, failed)
NOT_SHIPPED = ("open", "confirmed", "draft")
CREDIT_NOTE_META = "_erp_credit_note_{}"
# a person's acceptance of the credit note of refund <id> that the shop no longer lists: {credit_note, by, at, reason}
ACCEPTED_META = "_erp_credit_note_accepted_{}"
ACCEPT_COMMAND = "wooerp orders accept-credit-note {} --reason '…'"
RESTOCKED_META = "_restock_refunded_items"  # WooCommerce's order item meta: units restocked by refunds
IN_STEP = "in step with the ERP"


def refund_ref(refund_id: int) -> str:
    """The ERP credit note's external reference for shop refund `refund_id`: "WC-REFUND-<id>", its idempotency key."""
    return f"WC-REFUND-{int(refund_id)}"


class OrderLife:
    """Follows an imported order (state written_back, cancelled or attention) for `importer` (the OrderImporter,
    whose shop, ERP, database and moves it uses): amendments, cancellation, trash and restore, refunds as credit
    notes. Each `follow` compares the shop's order with the ERP order it re-reads, so repeating it changes
    nothing; what needs a person becomes state `attention` with the reason."""
    def __init__(self, importer):
        self.imp = importer
        self.woo, self.erp = importer.woo, importer.erp
        self._restocked_now = False  # this run created a restocking credit note (units may have been withdrawn)

    def follow(self, row, order: dict) -> str:
        """Bring the ERP order in line with the shop's order; the report's detail."""
        order_id, status = order["id"], order.get("status")
        erp_order = self._erp_order(row)
        self.imp.hold_uncounted(order_id, order, erp_order)  # a live order the ERP no longer counts holds its units
        if erp_order is None:
            return self._attention(row, f"its ERP order {row.erp_order_id} is no longer in the ERP")
        problems = self._credit_notes(row, order, erp_order)
        if self._restocked_now and erp_order.get("status") == "partially_shipped":
            # the new restocking credit notes withdrew units not shipped yet, perhaps the last ones: what is left
            # to ship is the ERP's to say (every unit shipped or withdrawn reads `shipped`), so read it again
            erp_order = self._erp_order(row) or erp_order
        erp_status = erp_order.get("status")
        if status in ENDED:
            if erp_status in NOT_SHIPPED:
                try:
                    self.erp.cancel_sales_order(erp_order["id"])
                except PermanentError as e:
                    if e.status != 409:  # the ERP's own "cannot cancel" (e.g. Tryton with a shipment)
                        raise
                    problems.append(f"{status} in WooCommerce; the ERP refused to cancel: {e}")
                    return self._settle(row, st.WRITTEN_BACK, "", problems)
                event(log, "ERP order cancelled", order_id=order_id, erp_order_id=erp_order["id"], woo_status=status)
                erp_status = "cancelled"
            if erp_status == "cancelled":
                return self._settle(row, st.CANCELLED, f"{status} in WooCommerce; ERP order cancelled", problems)
            if status == "trash":
                problems.append(f"trashed in WooCommerce after the ERP shipped it ({erp_status}); a person must "
                                f"decide (return, credit note or restore the order)")
            elif status == "cancelled" and not order.get("refunds"):
                problems.append(f"cancelled in WooCommerce after the ERP shipped it ({erp_status}) and nothing "
                                f"refunded; a person must decide")
            elif erp_status == "partially_shipped":  # the rest would still ship, for an order the shop ended
                problems.append(f"{status} in WooCommerce after the ERP shipped part of it; its ERP order "
                                f"{erp_order['id']} still has units to ship: a person must stop them (or ship "
                                f"them, if the refund was for the shipped part)")
            return self._settle(row, st.WRITTEN_BACK, f"{status} after shipment; credit notes follow the refunds",
                                problems)
        if status in UNPAID and erp_status != "cancelled":
            return self._settle(row, st.WRITTEN_BACK, "", problems + [
                f"{status} in WooCommerce (its payment is not there) while its ERP order {erp_order['id']} is "
                f"{erp_status}: a person must hold or cancel it in the ERP, or the shop order is paid again"])
        if erp_status == "cancelled":
            return self._settle(row, st.CANCELLED, "", problems + [
                f"{status} in WooCommerce (restored or reopened) but its ERP order {erp_order['id']} is cancelled; "
                f"it is not revived: a person must re-enter or refund it"])
        amended = self._amend(row, order, erp_order, problems)
        return self._settle(row, st.WRITTEN_BACK, f"ERP order amended: {amended}" if amended else IN_STEP, problems)

    # -- ERP order ---------------------------------------------------------------------------------
    def _erp_order(self, row) -> dict | None:
        found = [o for o in self.erp.find_sales_orders(mapping.order_ref(row.woo_order_id))
                 if o["id"] == row.erp_order_id]
        return found[0] if found else None

    def _amend(self, row, order: dict, erp_order: dict, problems: list[str]) -> str:
        """The fields patched ("" if none); what could not be applied goes into `problems`."""
        try:
            self.imp._validate(order)
            wanted = mapping.map_order(order, row.erp_customer_id)
        except InvalidDataError as e:
            problems.append(f"amended in WooCommerce into an order the ERP cannot take: {e}")
            return ""
        problem = currency_changed(wanted, erp_order)
        if problem:
            problems.append(problem)
            return ""
        keep = getattr(self.erp, "comparable", None)  # an ERP keeping less than the shop sends (Tryton) compares that
        shop, erp = (keep(wanted), keep(erp_order)) if keep else (wanted, erp_order)
        changes = {k: wanted[k] for k in AMENDED if _norm(k, shop.get(k)) != _norm(k, erp.get(k))}
        if not changes:
            return ""
        fields = ", ".join(changes)
        if "totals" in changes and order.get("refunds"):
            credited = sum((Decimal(str(n.get("amount") or "0"))
                            for n in self.erp.find_credit_notes(sales_order_id=erp_order["id"])), Decimal(0))
            gross = Decimal(str((wanted.get("totals") or {}).get("gross") or "0"))
            if credited > gross:
                problems.append(f"amended in WooCommerce to a gross of {gross}, below the {credited} the ERP has "
                                f"already credited for this order; not applied: a person must decide")
                return ""
        if erp_order.get("status") not in NOT_SHIPPED:
            problems.append(f"amended after shipment ({erp_order.get('status')}): {fields} differ from ERP order "
                            f"{erp_order['id']}; a person must decide")
            return ""
        try:
            amended = self.erp.amend_sales_order(erp_order["id"], changes, revision=erp_order.get("revision"))
        except StaleRevision as e:  # someone changed the ERP order since we read it: read again and compare
            raise TransientError(str(e), status=412) from None
        except NotAmendable as e:
            problems.append(f"amended in WooCommerce but the ERP order cannot be amended: {e}")
            return ""
        except InvalidDataError as e:
            problems.append(f"amended in WooCommerce; the ERP refused the amendment: {e}")
            return ""
        event(log, "ERP order amended", order_id=row.woo_order_id, erp_order_id=erp_order["id"], fields=fields,
              revision=amended.get("revision"), woo_modified_gmt=order.get("date_modified_gmt"))
        return fields

    # -- refunds -----------------------------------------------------------------------------------
    def _credit_notes(self, row, order: dict, erp_order: dict) -> list[str]:
        self._restocked_now = False
        problems = _unbacked_credit_notes(order)
        if not order.get("refunds"):
            return problems
        order_id = order["id"]
        # only refunds the order read lists: its item meta (what was restocked) is of the same read, so a refund
        # made since waits for the next run instead of being credited without its restock
        listed = {r.get("id") for r in order.get("refunds") or []}
        refunds = sorted((r for r in self.woo.order_refunds(order_id) if r["id"] in listed), key=lambda r: r["id"])
        existing = self.erp.find_credit_notes(sales_order_id=erp_order["id"])
        restock_left = shop_restocked(order) - _erp_restocked(existing)
        new = [r for r in refunds if not any(n.get("external_ref") == refund_ref(r["id"]) for n in existing)]
        restocked, ambiguous = attribute_restock(new, restock_left)
        written = []
        for refund in refunds:
            ref = refund_ref(refund["id"])
            notes = [n for n in existing if n.get("external_ref") == ref]
            if len(notes) > 1:
                problems.append(f"the ERP holds {len(notes)} credit notes for {ref}: "
                                f"{', '.join(n['id'] for n in notes)}")
                continue
            if not notes:
                body = credit_note(refund, erp_order["id"], restock_left, restock=refund["id"] in restocked,
                                   ambiguous=ambiguous)
                try:
                    note = self.erp.create_credit_note(body)
                except (InvalidDataError, Unsupported) as e:
                    problems.append(f"the ERP refused the credit note for refund {refund['id']}: {e}")
                    continue
                event(log, "ERP credit note created", order_id=order_id, refund_id=refund["id"],
                      credit_note_id=note["id"], amount=body["amount"], restock=body["restock"])
                moved = [ln["sku"] for ln in body["lines"] if shop_restocked(order)[ln["sku"]]]
                if moved:  # the shop put these units back on sale by itself: write its figure again
                    with self.imp.db.session() as s:
                        holds.shop_moved(s, moved, released=True)
                if body["restock"]:
                    restock_left -= Counter({ln["sku"]: ln["quantity"] for ln in body["lines"]})
                    self._restocked_now = True
            else:
                note = notes[0]
            written.append((refund["id"], note))
        self._write_numbers(order, written)
        return problems

    def _write_numbers(self, order: dict, written: list[tuple[int, dict]]) -> None:
        """Each credit note's number into the order's meta and one order note, once."""
        meta = {m.get("key"): m.get("value") for m in order.get("meta_data") or []}
        missing = [(rid, n) for rid, n in written if meta.get(CREDIT_NOTE_META.format(rid)) != n.get("number")]
        if missing:
            self.woo.update_order(order["id"], {"meta_data": [
                {"key": CREDIT_NOTE_META.format(rid), "value": n.get("number")} for rid, n in missing]})
        if not written:
            return
        notes = {n.get("note") for n in self.woo.order_notes(order["id"])}
        for rid, n in written:
            text = credit_note_text(rid, n)
            if text not in notes:
                self.woo.add_order_note(order["id"], text)

    # -- state -------------------------------------------------------------------------------------
    def _settle(self, row, state: str, detail: str, problems: list[str]) -> str:
        if problems:
            return self._attention(row, "; ".join(problems))
        if row.state != state:
            self.imp._move(row.woo_order_id, state, reason=None if state == st.WRITTEN_BACK else detail)
        return detail

    def _attention(self, row, reason: str) -> str:
        self.imp._move(row.woo_order_id, st.ATTENTION, reason=reason)
        event(log, "order needs a person", logging.WARNING, order_id=row.woo_order_id, reason=reason)
        return reason


def currency_changed(wanted: dict, erp_order: dict) -> str:
    """The reason an amendment cannot be applied when the shop order's currency (`wanted`, mapped as at
    creation) is not the ERP order's: no ERP contract amends a sales order's currency (its prices, credit
    notes and payments are in it). "" when both agree or one side does not say."""
    shop, erp = wanted.get("currency"), erp_order.get("currency")
    if not shop or not erp or shop == erp:
        return ""
    return (f"its currency changed in WooCommerce from {erp} to {shop} after import; an ERP order's currency "
            f"cannot be amended (ERP order {erp_order.get('id')} stays in {erp}): a person must set the shop "
            f"order back to {erp}, or cancel it in the shop and place a new order in {shop}")


def refund_goods(refund: dict) -> Counter:
    """Units per SKU a shop refund takes back (its line items' quantities are negative in WooCommerce)."""
    wanted = Counter()
    for li in refund.get("line_items") or []:
        qty = -int(li.get("quantity") or 0)
        if qty > 0 and li.get("sku"):
            wanted[li["sku"]] += qty
    return wanted


ATTRIBUTION_LIMIT = 12  # refunds credited in one run beyond this: the creation-order rule without the search


def attribute_restock(refunds: list[dict], restock_left: Counter) -> tuple[set, dict]:
    """Which of `refunds` (not credited yet, any order) restocked, from `restock_left`: units per SKU the shop
    restocked (its `_restock_refunded_items` item meta) that no ERP credit note took back yet.

    WooCommerce restocks a refund all or nothing (`restock_items`), but records only a running total per order
    item, not which refund restocked. So every choice of refunds whose goods add up to `restock_left` exactly is
    a possible answer. One choice: it is the truth. Several (e.g. two refunds of one unit of the same SKU, one
    restocked): the rule is creation order, the restocked units go to the earliest refunds; totals per SKU are
    right either way. None (a restock WooCommerce could only do in part): refunds in creation order take the
    restock while the units left cover all their goods. Returns (ids of the refunds to credit as restocked,
    {refund id: the ids it was a possible choice among} for the refunds whose attribution was ambiguous)."""
    goods = [(r["id"], refund_goods(r)) for r in sorted(refunds, key=lambda r: r["id"]) if refund_goods(r)]
    skus = set(restock_left)
    for _, wanted in goods:
        skus |= set(wanted)
    fits = []
    if len(goods) <= ATTRIBUTION_LIMIT:
        for mask in range(1 << len(goods)):
            total = Counter()
            for i, (_, wanted) in enumerate(goods):
                if mask >> i & 1:
                    total += wanted
            if all(total[sku] == restock_left[sku] for sku in skus if any(w[sku] for _, w in goods)):
                fits.append(frozenset(rid for i, (rid, _) in enumerate(goods) if mask >> i & 1))
    if fits:
        order = {rid: i for i, (rid, _) in enumerate(goods)}
        chosen = min(fits, key=lambda f: sorted(order[rid] for rid in f) + [len(goods)] * (len(goods) - len(f)))
    else:
        chosen, left = set(), Counter(restock_left)
        for rid, wanted in goods:
            if all(left[sku] >= qty for sku, qty in wanted.items()):
                chosen.add(rid)
                left -= wanted
    undecided = {rid for rid, _ in goods if len({rid in f for f in fits}) > 1} if len(fits) > 1 else \
        ({rid for rid, _ in goods} if not fits else set())
    ambiguous = {rid: sorted(undecided) for rid in undecided}
    return set(chosen), ambiguous


def credit_note(refund: dict, sales_order_id: str, restock_left: Counter, *, restock: bool | None = None,
                ambiguous: dict | None = None) -> dict:
    """The ERP credit note for one shop refund: its goods lines (quantity, amount with tax, `net` without it) and
    its amount (with tax; `net_amount` without it, see `refund_net`: for ERPs crediting on the net basis); a
    refund of shipping, fees or a free amount alongside goods is added to the last line (the contract wants
    Σ lines = amount); without goods it is an amount-only note. Restocked when `restock` (as `attribute_restock`
    decided), or, without it, when the shop restocked every unit of it (`restock_left`). When the attribution
    was ambiguous (`ambiguous` names this refund) the reason says so and which rule decided."""
    amount = Decimal(str(refund.get("amount") or "0"))
    lines = []
    for li in refund.get("line_items") or []:
        qty = -int(li.get("quantity") or 0)
        if qty > 0 and li.get("sku"):
            value = -(Decimal(str(li.get("total") or "0")) + Decimal(str(li.get("total_tax") or "0")))
            lines.append({"sku": li["sku"], "quantity": qty, "amount": value,
                          "net": -Decimal(str(li.get("total") or "0"))})
    reason = refund.get("reason") or ""
    rest = amount - sum((ln["amount"] for ln in lines), Decimal(0))
    if lines and rest:
        lines[-1]["amount"] += rest
        reason = f"{reason} (incl. {rest} not on goods lines)".strip()
    wanted = Counter()
    for ln in lines:
        wanted[ln["sku"]] += ln["quantity"]
    if restock is None:
        restock = all(restock_left[sku] >= qty for sku, qty in wanted.items())
    restock = bool(lines) and restock
    among = (ambiguous or {}).get(refund["id"])
    if lines and among:
        others = ", ".join(str(i) for i in among if i != refund["id"])
        reason = (f"{reason} (restock {'attributed' if restock else 'not attributed'} by rule: WooCommerce "
                  f"counts restocked units per order item, not per refund; refunds {refund['id']} and {others} "
                  f"could each be the restocked one, the earliest are taken)").strip()
    return {"external_ref": refund_ref(refund["id"]), "sales_order_id": sales_order_id, "reason": reason,
            "lines": [dict(ln, amount=str(ln["amount"]), net=str(ln["net"])) for ln in lines], "amount": str(amount),
            "net_amount": str(refund_net(refund)), "restock": restock}


def refund_net(refund: dict) -> Decimal:
    """What shop refund `refund` gives back without the shop's tax: its amount less the tax refunded on its
    goods, shipping and fee lines (an amount beyond its lines is taken as it is: the shop says no tax of it).
    An ERP that books the sale at net amounts and computes its own tax (Tryton) credits this, never the gross."""
    tax = sum((Decimal(str(li.get("total_tax") or "0")) for kind in ("line_items", "shipping_lines", "fee_lines")
               for li in refund.get(kind) or []), Decimal(0))
    return Decimal(str(refund.get("amount") or "0")) + tax  # the shop writes a refund's tax negative


def unbacked_credit_notes(order: dict, *, accepted: bool = False) -> dict[int, str]:
    """{refund id: credit note number} of the credit notes written back for refunds the shop's order no longer
    lists (a refund deleted in the shop after it was credited): money the ERP credits that the shop does not
    show. Those a person accepted (`ACCEPTED_META`, see `accept_unbacked`) are left out, or only those are
    given with `accepted`."""
    refunds = {str(r.get("id")) for r in order.get("refunds") or []}
    meta = {str(m.get("key") or ""): m.get("value") for m in order.get("meta_data") or []}
    prefix, gone = CREDIT_NOTE_META.format(""), {}
    for key, value in meta.items():
        rid = key[len(prefix):]
        if key.startswith(prefix) and rid.isdigit() and rid not in refunds \
                and (ACCEPTED_META.format(rid) in meta) == accepted:
            gone[int(rid)] = str(value)
    return gone


def _unbacked_credit_notes(order: dict) -> list[str]:
    gone = unbacked_credit_notes(order)
    if not gone:
        return []
    notes = ", ".join(f"{number} (refund {rid})" for rid, number in sorted(gone.items()))
    return [f"the ERP credits {notes}, which the shop no longer lists among the order's refunds (deleted in the "
            f"shop). The ERP contract cannot cancel a credit note, and refunding again in the shop would credit "
            f"a second time: a person settles it in the ERP by its own means (e.g. re-invoices the amount) or "
            f"confirms the customer was refunded, then records it with "
            f"`{ACCEPT_COMMAND.format(order.get('id'))}`"]


def accept_unbacked(woo, order_id: int, *, by: str, reason: str, at: str) -> dict[int, str]:
    """A person's acceptance of the credit notes of order `order_id` whose shop refund was deleted, after they
    settled the money in the ERP or confirmed it: per refund, the order meta `ACCEPTED_META` {credit_note,
    by, at, reason} and one order note; the credit note's own meta stays (nothing of the history is removed).
    The order's next follow no longer stops for them and reconcile no longer counts them. Returns {refund
    id: credit note number} accepted now (empty when the order has none left to accept)."""
    order = woo.get_order(order_id)
    gone = unbacked_credit_notes(order)
    if not gone:
        return {}
    woo.update_order(order_id, {"meta_data": [
        {"key": ACCEPTED_META.format(rid), "value": {"credit_note": number, "by": by, "at": at, "reason": reason}}
        for rid, number in sorted(gone.items())]})
    texts = {n.get("note") for n in woo.order_notes(order_id)}
    for rid, number in sorted(gone.items()):
        text = (f"Credit note {number} of deleted refund {rid} accepted by {by} at {at}: {reason}")
        if text not in texts:
            woo.add_order_note(order_id, text)
    return gone


def credit_note_text(refund_id: int, note: dict) -> str:
    """The one order note that says refund `refund_id` became ERP credit note `note` (its number and id)."""
    return f"Refund {refund_id} credited in the ERP as {note.get('number')} ({note.get('id')})."


def shop_restocked(order: dict) -> Counter:
    """Units per SKU the shop's refunds put back on sale (WooCommerce's `_restock_refunded_items` item meta):
    the ERP takes back the shipped ones and withdraws the rest from its order (connector/sync/shipments.py)."""
    counts = Counter()
    for li in order.get("line_items") or []:
        for m in li.get("meta_data") or []:
            if m.get("key") == RESTOCKED_META and li.get("sku"):
                counts[li["sku"]] += int(m.get("value") or 0)
    return counts


def _erp_restocked(notes: list[dict]) -> Counter:
    counts = Counter()
    for n in notes:
        if n.get("restock"):
            for ln in n.get("lines") or []:
                counts[ln["sku"]] += int(ln["quantity"])
    return counts


def _norm(key: str, value):
    """A field as both sides store it: addresses by their keys (blank = missing), lists and objects as they are,
    money strings as Decimals."""
    if key.endswith("_address"):
        return {k: str(v or "").strip() for k, v in (value or {}).items() if str(v or "").strip()}
    if value in (None, ""):
        return None if key != "note" else ""
    return _decimals(value)


def _decimals(value):
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return value
