"""The ledger of shop demand the ERP has not reserved yet, so stock pushes never re-offer sold units.

A WooCommerce order lowers the shop's stock when it is placed; the ERP reserves the units only once the
order is in the ERP (and, for some ERPs, confirmed). In between (queued, retrying, quarantined,
dead-lettered: minutes or days) a stock push computed from the ERP alone would offer those units again.
So every line of an accepted order holds its quantity for its SKU here, and

    web stock = max(0, Σ web warehouses (on_hand − reserved − safety_stock) − held quantity)

(connector/sync/inventory.py computes it for every stock write: delta pushes, first load, full resync).

Life of a hold (all under the order's lease, by the importer, so one order's holds change one at a time,
but for the first):
- `hold_on_arrival`: the moment an order is accepted (the shim stores its webhook; the order poll finds
  it), before its task is queued, an order the importer has never seen holds the lines of the body it
  came with. So an order waiting in the queue or for a retry already holds. From its first run on, the
  importer's rule below decides (it re-reads the order). Should an arrival hold be written after an
  import that raced it to the finish (the importer saw no row of ours... and finished first), `recheck`
  hands it over like any hold of an imported order, adding nothing twice.
- `hold`: an order in an imported status (processing, on-hold) holds Σ quantity per SKU of its lines;
  quarantined and dead-lettered orders keep holding. An order that is not (or no longer) in such a
  status, or is cancelled before import, is `release`d. A discarded dead letter releases its order.
  Each of these tells the stock owner that the shop moved its own stock (`shop_moved`): the figure last
  written there is forgotten, and a release is pushed at the next inventory poll.
- `uncounted`: an imported order whose ERP order does not count it (cancelled, gone, not yet counted)
  holds its lines as they are while the shop's order is live (restored from the trash, cancelled in the
  ERP), and holds nothing once it ends in the shop.
- `hand_over`: the order is in the ERP and the ERP counts it (per adapter: `ErpAdapter.reservation`).
  Runs in the SAME database transaction that records the order as `in_erp`.

Why no push counts an order twice or not at all. The stock figure comes from our stored copy of the
ERP's stock rows (inventory_level), which the inventory poll refreshes some time after the ERP reserved.
Releasing the hold alone would leave a window where neither the stored row nor the hold counts the
sale; keeping it until the poll comes would count it twice afterwards. So `hand_over` moves the units
from the hold into the stored row of the warehouse the ERP reserved in, in one transaction:
- the ERP names a moment `since`: every version of that stock row with `modified_at >= since` counts
  the order, every older version does not (the reference ERP gives its `created_at`; Tryton the
  confirming write);
- if the stored row is already at `since` or later, the poll has stored the reserving version: the hold
  is dropped, nothing added;
- otherwise the stored row gets `reserved += quantity` and `modified_at = since`, with one conditional
  UPDATE (`WHERE modified_at < since`), and the hold is dropped.
The inventory poll (`InventorySync.record`) writes a row only with a conditional UPDATE `WHERE
modified_at <= new modified_at`; so a version read before the reservation (older than `since`) can no
longer overwrite the adjusted row, and the first version at or after `since` replaces it with the ERP's
own numbers, which include the order. Both are single-statement row updates, so they serialize in the
database (row lock in PostgreSQL, the write lock in SQLite) whatever the interleaving; a push reads holds
and rows in one query each per chunk, after either commit, and sees the order exactly once.
The one window that counts an order twice is before the import is recorded: the ERP has reserved (its
create answered, or committed and failed to answer) and the poll stored that version, while the hold
still stands until our commit or the retry that adopts the order. Twice is the safe side (the shop
shows less, never more), and it ends with that commit.
Limits: an ERP that names no warehouse → the SKU's first stored row; no `since` → the row is adjusted
but a poll page read before the import may overwrite it until the row's next change; a SKU with no
stored row yet adjusts nothing (its first stored version is read after the reservation or by a poll in
flight). An ERP that does not count the order yet (a Tryton quotation; the `quantity` stock basis until
shipment) keeps the hold; `recheck` (run with every order poll) asks the ERP again for such orders.
"""
from __future__ import annotations

from collections import Counter
from functools import lru_cache
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from sqlalchemy import bindparam, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from connector import binding
from connector.db import Database, utcnow
from connector.models import InventoryLevel, StockHold
from connector.sync.delta import format_ts, parse_ts


RESTOCKED_META = "_restock_refunded_items"  # WooCommerce's order item meta: units its refunds put back on sale


def demand(order: dict) -> Counter:
    """Σ quantity per SKU of the order's lines, less the units the shop's refunds put back on sale (the line's
    `_restock_refunded_items` meta, as WooCommerce counts them): what the order still takes off the shelf.
    Quantities are read as the order mapping reads them (2, "2" and 2.0 are 2). A positive quantity that is
    not whole (1.5 m of rope: the order is quarantined for it) holds its next whole number, since those units
    left the shelf either way; lines without a SKU or a positive number hold nothing.
    Limit: WooCommerce keeps that count when a cancelled order is re-opened and takes the whole quantity off
    again; such an order holds the restocked units too little until it is imported (the ERP counts it then)."""
    wanted: Counter = Counter()
    for line in order.get("line_items") or []:
        sku, value = str(line.get("sku") or "").strip(), line.get("quantity")
        if not sku or isinstance(value, bool):
            continue
        try:
            number = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            continue
        if number.is_finite() and number > 0:
            left = int(number.to_integral_value(rounding=ROUND_CEILING)) - _restocked(line)
            if left > 0:
                wanted[sku] += left
    return wanted


def _restocked(line: dict) -> int:
    """Units of the line a restocking refund put back (0 when the meta is absent or not a whole number)."""
    for m in line.get("meta_data") or []:
        if isinstance(m, dict) and m.get("key") == RESTOCKED_META:
            try:
                return max(0, int(str(m.get("value")).strip()))
            except (TypeError, ValueError):
                return 0
    return 0


def hold(s, order_id: int, order: dict, *, push: bool = False) -> None:
    """Make the order's holds what its lines ask now (an amended order holds its new quantities). `push`: a
    hold taken or raised is pushed at the next inventory poll too (the shop did not lower its stock with it:
    an order restored from the trash, see `uncounted`)."""
    wanted = demand(order)
    current = {h.sku: h for h in s.scalars(select(StockHold).where(StockHold.woo_order_id == order_id))}
    lowered, raised = [], []  # the shop moved its own stock of these SKUs (see `shop_moved`)
    for sku, h in current.items():
        if sku not in wanted:
            s.delete(h)
            lowered.append(sku)
        elif h.quantity != wanted[sku]:
            (raised if wanted[sku] > h.quantity else lowered).append(sku)
            h.quantity = wanted[sku]
    now = utcnow()
    for sku, qty in wanted.items():
        if sku not in current:
            s.add(StockHold(woo_order_id=order_id, sku=sku, quantity=qty, created_at=now))
            raised.append(sku)
    shop_moved(s, raised, released=push)
    shop_moved(s, lowered, released=True)


def uncounted(s, order_id: int, order: dict, live: bool) -> None:
    """An imported order whose ERP order does not count it: cancelled (in the ERP, or trashed and then
    restored in the shop: `attention`, not revived), no longer in the ERP, or not counted yet (a Tryton
    quotation). While the shop's order is `live` (an import status) its units are sold all the same, so it
    holds its lines as they are now (an amendment or a restocking refund changes the hold), and a hold taken
    or raised is pushed at the next inventory poll (the shop may have been told the released figure
    meanwhile). Not live (ended in the shop, or set back to pending), its holds are released: also those of
    an order the ERP never counted. In the caller's transaction."""
    if live:
        hold(s, order_id, order, push=True)
    else:
        release(s, order_id)


def hold_on_arrival(db: Database, order_id: int, wanted: dict[str, int]) -> bool:
    """Hold `wanted` ({sku: quantity}, see `demand`) for an order the importer has not seen yet; False when
    it has (its rule applies), when the order holds already, or when there is nothing to hold. One short
    transaction; a concurrent arrival of the same order loses the insert race and changes nothing."""
    if not wanted:
        return False
    try:
        with db.engine.begin() as conn:
            return hold_on_arrival_in(conn, order_id, wanted)
    except IntegrityError:
        return False


@lru_cache(maxsize=1)
def _arrival_statements():
    """The two statements of `hold_on_arrival_in`, built once (constructing SQLAlchemy statements costs more
    than running them: this is the shim's hot path): whether the importer has seen the order or it holds
    already, in one round trip; and the insert of its holds."""
    from connector.models import OrderSync
    order_id = bindparam("order_id")
    seen = select(or_(exists().where(OrderSync.woo_order_id == order_id),
                      exists().where(StockHold.woo_order_id == order_id)))
    return seen, insert(StockHold.__table__)


def hold_on_arrival_in(conn, order_id: int, wanted: dict[str, int]) -> bool:
    """`hold_on_arrival` in the caller's transaction (SQLAlchemy Core connection): the shim stores the
    delivery in the same one. Raises IntegrityError when a concurrent writer holds for the order first."""
    if not wanted:
        return False
    seen, add = _arrival_statements()
    if conn.scalar(seen, {"order_id": order_id}):
        return False
    now = utcnow()
    conn.execute(add, [{"woo_order_id": order_id, "sku": sku, "quantity": qty, "created_at": now}
                       for sku, qty in sorted(wanted.items())])
    shop_moved(conn, wanted, released=False)
    return True


def release(s, order_id: int) -> int:
    """Drop the order's holds (cancelled, discarded, not to be imported); the number of SKUs released. Their
    web stock rises with no ERP change, so they are pushed at the next inventory poll (`shop_moved`)."""
    skus = _drop(s, order_id)
    shop_moved(s, skus, released=True)
    return len(skus)


def _drop(s, order_id: int) -> list[str]:
    skus = list(s.scalars(select(StockHold.sku).where(StockHold.woo_order_id == order_id)))
    if skus:
        s.execute(delete(StockHold).where(StockHold.woo_order_id == order_id))
    return skus


def shop_moved(conn, skus, *, released: bool) -> None:
    """WooCommerce moves its own stock: a sale lowers it when the order is placed, a cancel raises it again.
    Whenever an order's hold is taken, changed or released, the shop's figure for those SKUs is no longer the
    one wooerp last wrote (binding STOCK), so it is forgotten: the next push writes the web stock it computes
    instead of skipping it as "unchanged" (an order sold and then released between two polls would otherwise
    leave the shop one sale low until the nightly resync). A release (`released`) also changes the web stock
    with no ERP change, so those SKUs are marked due: the next inventory poll pushes them. A hold taken or
    raised needs no push (the shop and the web stock moved together). In the caller's transaction."""
    binding.stock_moved(conn, skus, push=released)


def hand_over(s, order_id: int, reservation) -> bool:
    """The ERP counts the order now: move its held units into the stored stock row of the reserving
    warehouse (see the module doc) and drop the holds, in the caller's transaction (the one recording
    the order as in the ERP). `reservation` None: the ERP does not count it yet; the holds stay."""
    if reservation is None:
        return False
    held = list(s.scalars(select(StockHold).where(StockHold.woo_order_id == order_id)))
    since = format_ts(parse_ts(reservation.since)) if reservation.since else None
    for h in held:
        warehouse = reservation.warehouse or s.scalar(
            select(InventoryLevel.warehouse).where(InventoryLevel.sku == h.sku).order_by(InventoryLevel.warehouse))
        if warehouse is None:
            continue
        where = [InventoryLevel.sku == h.sku, InventoryLevel.warehouse == warehouse]
        values = {"reserved": InventoryLevel.reserved + h.quantity}
        if since is not None:
            where.append(InventoryLevel.modified_at < since)
            values["modified_at"] = since
        s.execute(update(InventoryLevel).where(*where).values(values))
    _drop(s, order_id)  # not a release: the web stock stays what it was, now counted by the ERP's row
    return True


def held(s, skus: list[str]) -> dict[str, int]:
    """Held units per SKU, for the SKUs that have any (one query on the sku index)."""
    if not skus:
        return {}
    return dict(s.execute(select(StockHold.sku, func.sum(StockHold.quantity))
                          .where(StockHold.sku.in_(skus)).group_by(StockHold.sku)).all())


def held_with_orders(db: Database) -> dict[str, tuple[int, int]]:
    """{sku: (units held, orders holding)} over the whole ledger, for reconciliation (the ledger holds
    only orders not yet in the ERP: small)."""
    with db.session() as s:
        rows = s.execute(select(StockHold.sku, func.sum(StockHold.quantity), func.count())
                         .group_by(StockHold.sku)).all()
    return {sku: (int(units), int(orders)) for sku, units, orders in rows}


def totals(db: Database) -> dict:
    """{"orders": orders holding stock, "units": units held} for `wooerp status`."""
    with db.session() as s:
        orders, units = s.execute(select(func.count(func.distinct(StockHold.woo_order_id)),
                                         func.coalesce(func.sum(StockHold.quantity), 0))).one()
    return {"orders": int(orders), "units": int(units)}


def release_order(db: Database, order_id: int) -> int:
    """`release` in a transaction of its own, committed: drop the order's holds; the number of SKUs released."""
    with db.session() as s:
        return release(s, order_id)


def recheck(db: Database, erp, limit: int = 50) -> int:
    """Hand over the holds of orders already in the ERP that the ERP did not count yet when they were
    imported (a Tryton quotation confirmed later, a sale shipped under the `quantity` basis): one ERP
    lookup per such order, at most `limit` per call. Returns the number of orders handed over."""
    from connector.mapping.orders import order_ref
    from connector.models import OrderSync
    from connector.sync import order_state as st
    with db.session() as s:
        waiting = s.execute(select(OrderSync.woo_order_id, OrderSync.erp_order_id)
                            .where(OrderSync.woo_order_id.in_(select(StockHold.woo_order_id).distinct()),
                                   OrderSync.state.in_(st.IMPORTED)).order_by(OrderSync.woo_order_id)
                            .limit(limit)).all()
    handed = 0
    for order_id, erp_order_id in waiting:
        found = [o for o in erp.find_sales_orders(order_ref(order_id)) if o.get("id") == erp_order_id]
        reservation = erp.reservation(found[0]) if found else None
        if reservation is not None:
            with db.session() as s:
                handed += hand_over(s, order_id, reservation)
    return handed
