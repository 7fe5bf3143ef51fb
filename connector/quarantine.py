"""Quarantined records: orders and products held back because their data is wrong, with the reason.

They are listed next to dead letters but counted apart: they need a data fix (in the shop or the ERP),
then a retry, not a replay. Orders in `conflict` and `attention` (changed in the shop in a way the ERP cannot
follow by itself) are listed too; they need a person.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from connector import binding
from connector.db import Database
from connector.models import OrderSync
from connector.sync import order_state as st

ORDER_STATES = (st.QUARANTINED, st.CONFLICT, st.ATTENTION)


@dataclass
class Held:
    """One record held back for a person: `kind` "order" or "product", its `key`, its `state` (quarantined,
    conflict, attention), the `reason` and `since` (naive UTC, when it last changed)."""
    kind: str  # "order" or "product"
    key: str  # Woo order id, or the product's SKU (ERP id when it has none)
    state: str
    reason: str
    since: datetime | None


def listing(db: Database) -> list[Held]:
    """Every held order (by shop order id), then every quarantined product, as Held rows."""
    with db.session() as s:
        orders = s.scalars(select(OrderSync).where(OrderSync.state.in_(ORDER_STATES))
                           .order_by(OrderSync.woo_order_id))
        held = [Held("order", str(o.woo_order_id), o.state, o.reason or "", o.updated_at) for o in orders]
    held += [Held("product", sku or f"(no SKU, ERP id {erp_id})", "quarantined", reason, since)
             for sku, erp_id, reason, since in binding.quarantined_products(db)]
    return held


def counts(db: Database) -> dict[str, int]:
    """{"order": quarantined orders (their data is wrong), "product": quarantined products and variations,
    "attention": orders in attention, "conflict": orders in conflict} (the last two need a person, not a data
    fix, and are counted apart from the quarantine)."""
    with db.session() as s:
        per_state = dict(s.execute(select(OrderSync.state, func.count()).where(OrderSync.state.in_(ORDER_STATES))
                                   .group_by(OrderSync.state)).all())
    return {"order": per_state.get(st.QUARANTINED, 0), "product": binding.quarantined_count(db),
            "attention": per_state.get(st.ATTENTION, 0), "conflict": per_state.get(st.CONFLICT, 0)}


def quarantined_skus(db: Database, skus: list[str]) -> set[str]:
    """The SKUs among `skus` whose product or variation is quarantined."""
    return binding.quarantined_skus(db, skus)
