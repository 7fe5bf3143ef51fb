"""Quarantined records: orders and products held back because their data is wrong, with the reason.

They are listed next to dead letters but counted apart: they need a data fix (in the shop or the ERP),
then a retry, not a replay. Orders in `conflict` and `attention` (changed in the shop in a way the ERP cannot
follow by itself) are listed too; they need a person.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from connector.db import Database
from connector.models import EntityMapping, OrderSync
from connector.sync import order_state as st

ORDER_STATES = (st.QUARANTINED, st.CONFLICT, st.ATTENTION)
PRODUCT_KINDS = ("product", "variation")


@dataclass
class Held:
    kind: str  # "order" or "product"
    key: str  # Woo order id, or the product's SKU (ERP id when it has none)
    state: str
    reason: str
    since: datetime | None


def listing(db: Database) -> list[Held]:
    with db.session() as s:
        orders = s.scalars(select(OrderSync).where(OrderSync.state.in_(ORDER_STATES))
                           .order_by(OrderSync.woo_order_id))
        held = [Held("order", str(o.woo_order_id), o.state, o.reason or "", o.updated_at) for o in orders]
        products = s.scalars(select(EntityMapping).where(EntityMapping.entity_type.in_(PRODUCT_KINDS),
                                                         EntityMapping.quarantine_reason.is_not(None))
                             .order_by(EntityMapping.sku))
        held += [Held("product", p.sku or f"(no SKU, ERP id {p.erp_id})", "quarantined", p.quarantine_reason,
                      p.last_synced_at) for p in products]
    return held


def counts(db: Database) -> dict[str, int]:
    with db.session() as s:
        orders = s.scalar(select(func.count()).select_from(OrderSync).where(OrderSync.state.in_(ORDER_STATES)))
        products = s.scalar(select(func.count()).select_from(EntityMapping).where(
            EntityMapping.entity_type.in_(PRODUCT_KINDS), EntityMapping.quarantine_reason.is_not(None)))
    return {"order": orders or 0, "product": products or 0}


def quarantined_skus(db: Database, skus: list[str]) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(EntityMapping.sku).where(EntityMapping.entity_type.in_(PRODUCT_KINDS),
                                                             EntityMapping.sku.in_(skus),
                                                             EntityMapping.quarantine_reason.is_not(None))))
