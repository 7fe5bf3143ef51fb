"""The Binder: the one owner of the links ERP id ⇄ Woo id (the `entity_mapping` table) and of the
idempotency lookups made through them ("is this product bound?", "was this shipment applied?").

A binding is keyed by (kind, ERP id); kinds are the constants below. It holds the Woo id (None: not in
the shop, or unbound after the shop lost it), the Woo parent of a variation, the SKU, the hash of what
was last written (`sync_hash`: a payload digest; for STOCK the quantity written, as a string), the ERP's
`modified_at` it was written at, and a quarantine reason. Rows returned are detached snapshots: read
them, change bindings only through this module. Not here: what to write (the synchronizers) and order
state (connector.sync.orders owns `order_sync`).
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Iterable

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from connector.db import Database, utcnow
from connector.models import EntityMapping
from connector.paging import SQL_IN_LIMIT, chunked

PRODUCT = "product"  # a simple or variable (parent) product; ERP id: the ERP product id
VARIATION = "variation"  # a variation, written under its parent; ERP id: the ERP product id
STOCK = "stock"  # the web stock last written for a SKU; ERP id: the SKU
# a SKU whose shop stock moved by itself (an order released, cancelled or restocked in the shop) with no ERP
# change to bring it back: the next inventory poll pushes it; ERP id: the SKU, last_synced_at: when marked
STOCK_DUE = "stock_due"
CATEGORY = "category"  # a shop category; ERP id: the ERP category code
SHIPMENT = "shipment"  # an ERP shipment applied to a shop order; Woo id: the order id
PRODUCT_KINDS = (PRODUCT, VARIATION)

Binding = EntityMapping  # the row type callers read (attributes above); never constructed outside


def get(db: Database, kind: str, erp_ids: Iterable[str]) -> dict[str, Binding]:
    """The bindings of `kind` for `erp_ids` that exist, by ERP id."""
    ids = sorted({i for i in erp_ids if i is not None})
    out: dict[str, Binding] = {}
    for chunk in chunked(ids, SQL_IN_LIMIT):
        with db.session() as s:
            out.update((r.erp_id, r) for r in s.scalars(select(EntityMapping).where(
                EntityMapping.entity_type == kind, EntityMapping.erp_id.in_(chunk))))
    return out


def woo_ids(db: Database, kind: str, erp_ids: Iterable[str]) -> dict[str, int]:
    """Woo id by ERP id, for the `erp_ids` of `kind` that are bound to a shop record."""
    return {erp_id: b.woo_id for erp_id, b in get(db, kind, erp_ids).items() if b.woo_id is not None}


def by_sku(db: Database, skus: Iterable[str], *, bound_only: bool = False) -> dict[str, Binding]:
    """Product and variation bindings by SKU (with `bound_only`, only those with a Woo id)."""
    wanted = sorted({s for s in skus if s})
    out: dict[str, Binding] = {}
    for chunk in chunked(wanted, SQL_IN_LIMIT):
        query = select(EntityMapping).where(EntityMapping.entity_type.in_(PRODUCT_KINDS), EntityMapping.sku.in_(chunk))
        if bound_only:
            query = query.where(EntityMapping.woo_id.is_not(None))
        with db.session() as s:
            out.update((r.sku, r) for r in s.scalars(query))
    return out


def upsert(db: Database, kind: str, values_by_erp_id: dict[str, dict]) -> None:
    """Create or update the bindings of `kind`: for each ERP id, set the given columns (woo_id,
    woo_parent_id, sku, sync_hash, erp_modified_at, last_synced_at, quarantine_reason), all in one
    transaction. Two workers may insert the same binding at once (a stock push and a product write, two
    polls): the loser's unique-key violation is answered by doing it again as updates. Raises
    sqlalchemy errors when the database is unavailable."""
    if not values_by_erp_id:
        return
    for attempt in (1, 2):
        try:
            with db.session() as s:
                existing = {r.erp_id: r for r in s.scalars(select(EntityMapping).where(
                    EntityMapping.entity_type == kind, EntityMapping.erp_id.in_(list(values_by_erp_id))))}
                for erp_id, values in values_by_erp_id.items():
                    row = existing.get(erp_id)
                    if row is None:
                        row = EntityMapping(entity_type=kind, erp_id=erp_id)
                        s.add(row)
                    for name, value in values.items():
                        setattr(row, name, value)
            return
        except IntegrityError:
            if attempt == 2:
                raise


def bind(db: Database, kind: str, erp_id: str, woo_id: int, **values) -> None:
    """Link `erp_id` to shop record `woo_id` now (other columns as given; last_synced_at: now)."""
    upsert(db, kind, {erp_id: {"woo_id": woo_id, "last_synced_at": utcnow(), **values}})


def unbind(db: Database, kind: str, erp_id: str) -> None:
    """Forget the shop record of `erp_id` (the shop lost it): the next write creates it again."""
    with db.session() as s:
        s.execute(update(EntityMapping).where(EntityMapping.entity_type == kind, EntityMapping.erp_id == erp_id)
                  .values(woo_id=None, sync_hash=None))


def forget_written(db: Database, kinds: Iterable[str], erp_ids: list[str]) -> None:
    """Drop the hash of what was last written for `erp_ids`, so that the next write sends them again."""
    for chunk in chunked(erp_ids, SQL_IN_LIMIT):
        with db.session() as s:
            s.execute(update(EntityMapping).where(EntityMapping.entity_type.in_(tuple(kinds)),
                                                  EntityMapping.erp_id.in_(chunk)).values(sync_hash=None))


@lru_cache(maxsize=1)
def _forget_stock():
    """`stock_moved`'s UPDATE, built once: it runs in every order delivery the shim holds stock for, and
    building a statement costs more than running it."""
    return (update(EntityMapping).where(EntityMapping.entity_type == STOCK,
                                        EntityMapping.erp_id.in_(bindparam("skus", expanding=True)),
                                        EntityMapping.sync_hash.isnot(None))  # hot SKUs: no write, no row lock
            .values(sync_hash=None).execution_options(synchronize_session=False))


def stock_moved(conn, skus: Iterable[str], *, push: bool) -> None:
    """The shop changed its own stock of `skus` (a sale lowered it; a cancel or a restocking refund raised it),
    so the figure last written there is no longer what the shop shows: forget it (STOCK), so that the next push
    of these SKUs writes what it computes instead of skipping an "unchanged" figure. With `push`, also mark them
    STOCK_DUE: the next inventory poll pushes them although the ERP did not change them. In the caller's
    transaction; `conn` is a Session or a Core Connection (the shim holds on arrival in its own)."""
    wanted = sorted({str(s) for s in skus if s})
    if not wanted:
        return
    for chunk in chunked(wanted, SQL_IN_LIMIT):
        conn.execute(_forget_stock(), {"skus": chunk})
    if not push:
        return
    dialect = conn.dialect.name if hasattr(conn, "dialect") else conn.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    now = utcnow()
    for chunk in chunked(wanted, SQL_IN_LIMIT):
        ins = insert(EntityMapping).values([{"entity_type": STOCK_DUE, "erp_id": sku, "sku": sku,
                                             "last_synced_at": now} for sku in chunk])
        conn.execute(ins.on_conflict_do_update(index_elements=["entity_type", "erp_id"],
                                               set_={"last_synced_at": ins.excluded.last_synced_at}))


def stock_due(db: Database, limit: int = 1000) -> list[str]:
    """SKUs marked STOCK_DUE (see `stock_moved`), the longest waiting first, at most `limit`."""
    with db.session() as s:
        return list(s.scalars(select(EntityMapping.erp_id).where(EntityMapping.entity_type == STOCK_DUE)
                              .order_by(EntityMapping.last_synced_at, EntityMapping.erp_id).limit(limit)))


def stock_pushed(db: Database, marks: dict[str, datetime | None]) -> None:
    """Clear the STOCK_DUE marks of `marks` ({sku: when it was marked, as read before the push}) that were not
    marked again since: a SKU marked while it was being pushed stays due."""
    if not marks:  # every push calls this; most carry no due SKU
        return
    with db.session() as s:
        for sku, when in marks.items():
            s.execute(delete(EntityMapping).where(EntityMapping.entity_type == STOCK_DUE, EntityMapping.erp_id == sku,
                                                  EntityMapping.last_synced_at == when))


# -- idempotency lookups --------------------------------------------------------------------------------
def applied_shipments(db: Database, shipment_ids: Iterable[str]) -> dict[str, str | None]:
    """Shipment id → None when it was applied, or the ERP `modified_at` it was quarantined at; shipments
    never seen are absent."""
    return {erp_id: (b.erp_modified_at if b.quarantine_reason else None)
            for erp_id, b in get(db, SHIPMENT, shipment_ids).items()}


def record_shipment(db: Database, shipment_id: str, order_id: int, modified_at: str | None,
                    reason: str | None = None) -> None:
    """Record that `shipment_id` was applied to shop order `order_id` (or, with `reason`, quarantined)."""
    upsert(db, SHIPMENT, {shipment_id: {"woo_id": order_id, "erp_modified_at": modified_at,
                                        "quarantine_reason": reason, "last_synced_at": utcnow()}})


# -- what operators see -------------------------------------------------------------------------------
def quarantined_products(db: Database) -> list[tuple[str, str, str, datetime | None]]:
    """(SKU or None, ERP id, reason, since) of every quarantined product or variation, by SKU."""
    with db.session() as s:
        rows = s.scalars(select(EntityMapping).where(EntityMapping.entity_type.in_(PRODUCT_KINDS),
                                                     EntityMapping.quarantine_reason.is_not(None))
                         .order_by(EntityMapping.sku))
        return [(r.sku, r.erp_id, r.quarantine_reason, r.last_synced_at) for r in rows]


def quarantined_count(db: Database) -> int:
    """How many products and variations are quarantined."""
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(EntityMapping).where(
            EntityMapping.entity_type.in_(PRODUCT_KINDS), EntityMapping.quarantine_reason.is_not(None))) or 0


def quarantined_skus(db: Database, skus: list[str]) -> set[str]:
    """The SKUs among `skus` whose product or variation is quarantined."""
    with db.session() as s:
        return set(s.scalars(select(EntityMapping.sku).where(EntityMapping.entity_type.in_(PRODUCT_KINDS),
                                                             EntityMapping.sku.in_(skus),
                                                             EntityMapping.quarantine_reason.is_not(None))))


def counts(db: Database) -> tuple[dict[str, int], dict[str, int]]:
    """(bound to a shop record, quarantined): counts by kind."""
    with db.session() as s:
        mapped = dict(s.execute(select(EntityMapping.entity_type, func.count())
                                .where(EntityMapping.woo_id.is_not(None)).group_by(EntityMapping.entity_type)).all())
        quarantined = dict(s.execute(select(EntityMapping.entity_type, func.count())
                                     .where(EntityMapping.quarantine_reason.is_not(None))
                                     .group_by(EntityMapping.entity_type)).all())
    return mapped, quarantined
