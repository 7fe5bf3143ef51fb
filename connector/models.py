"""The connector's persistent state (SQLAlchemy 2). Schema changes go through Alembic migrations.

entity_mapping   ERP id ⇄ Woo id per entity type, with the hash of what was last written
sync_cursor      one watermark + checkpoint per delta stream (products, inventory, shipments, orders)
inventory_level  last seen ERP stock row per (sku, warehouse); web stock is computed from these
order_sync       one row per Woo order: its state machine, lease, ERP ids and the quarantine reason
webhook_delivery every accepted webhook delivery (the shim's outbox), deduplicated by change key
dead_letter      tasks that failed for good, durable beyond Redis, with replay/discard audit
lease            named expiring claims (one worker per order, per new customer, per stream)
system_binding   the identity of the shop and of the ERP tenant this state belongs to (connector.identity)
stock_hold       units per (Woo order, SKU) sold in the shop and not yet reserved by the ERP (connector/holds.py)
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, BigInteger, DateTime, Index, Integer, String, Text, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every table below (Alembic's target metadata)."""
    pass


class EntityMapping(Base):
    """One link ERP id ⇄ Woo id of one kind (`entity_type`: connector.binding's constants), read and written only
    through connector.binding. Times are naive UTC; `erp_modified_at` the ERP's ISO string."""
    __tablename__ = "entity_mapping"
    __table_args__ = (
        UniqueConstraint("entity_type", "erp_id", name="uq_entity_mapping_type_erp"),
        Index("ix_entity_mapping_type_woo", "entity_type", "woo_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(32))
    erp_id: Mapped[str] = mapped_column(String(128))
    woo_id: Mapped[int | None] = mapped_column(BigInteger)
    woo_parent_id: Mapped[int | None] = mapped_column(BigInteger)
    sku: Mapped[str | None] = mapped_column(String(128))
    sync_hash: Mapped[str | None] = mapped_column(String(64))
    erp_modified_at: Mapped[str | None] = mapped_column(String(40))
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime)
    quarantine_reason: Mapped[str | None] = mapped_column(Text)


class SyncCursor(Base):
    """The state of one delta stream: `watermark` (newest ERP `modified_at` of the last complete run), the
    checkpoint of a run in progress (`run_since`, `page_cursor`, `run_max_seen`), and when it last
    succeeded (naive UTC) or what it last failed with."""
    __tablename__ = "sync_cursor"
    stream: Mapped[str] = mapped_column(String(32), primary_key=True)
    watermark: Mapped[str | None] = mapped_column(String(40))
    run_since: Mapped[str | None] = mapped_column(String(40))
    page_cursor: Mapped[str | None] = mapped_column(Text)
    run_max_seen: Mapped[str | None] = mapped_column(String(40))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class InventoryLevel(Base):
    """wooerp's copy of one ERP stock row (sku, warehouse): integer quantities and the row's ERP `modified_at`."""
    __tablename__ = "inventory_level"
    sku: Mapped[str] = mapped_column(String(128), primary_key=True)
    warehouse: Mapped[str] = mapped_column(String(64), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer)
    safety_stock: Mapped[int] = mapped_column(Integer)
    modified_at: Mapped[str] = mapped_column(String(40))


class OrderSync(Base):
    """One shop order's import: its `state` (connector.sync.order_state), the shop status and modification time
    last seen, its ERP order id/number and customer id once known, the quarantine or attention `reason`, the
    number of runs (`attempts`), and the correlation id of its first delivery. Times naive UTC.
    `lease_owner`/`lease_until` are no longer used (leases live in `lease`)."""
    __tablename__ = "order_sync"
    woo_order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    state: Mapped[str] = mapped_column(String(24))
    woo_status: Mapped[str | None] = mapped_column(String(32))
    erp_order_id: Mapped[str | None] = mapped_column(String(64))
    erp_order_number: Mapped[str | None] = mapped_column(String(64))
    erp_customer_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    woo_modified_gmt: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class WebhookDelivery(Base):
    """One accepted webhook delivery (the shim's outbox): unique by `change_key` (a duplicate is dropped),
    `published_at`/`task_id` set once its task was queued; unpublished rows are sent again."""
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("change_key", name="uq_webhook_delivery_change_key"),
        Index("ix_webhook_delivery_unpublished", "published_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_key: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[int] = mapped_column(BigInteger)
    delivery_header: Mapped[str | None] = mapped_column(String(64))
    webhook_id: Mapped[str | None] = mapped_column(String(32))
    body_sha256: Mapped[str] = mapped_column(String(64))
    modified_gmt: Mapped[str | None] = mapped_column(String(32))
    correlation_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    task_id: Mapped[str | None] = mapped_column(String(64))


class DeadLetter(Base):
    """A task that failed for good (see connector.dead_letters, the only writer): what ran, the error, its
    `status` (open, replayed, discarded) and the audit of who resolved it, when and how."""
    __tablename__ = "dead_letter"
    __table_args__ = (UniqueConstraint("task_id", "attempt_key", name="uq_dead_letter_task_attempt"),
                      Index("ix_dead_letter_resource_status", "resource", "status"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(64))
    attempt_key: Mapped[str] = mapped_column(String(64))
    task_name: Mapped[str] = mapped_column(String(200))
    args: Mapped[list] = mapped_column(JSON)
    kwargs: Mapped[dict] = mapped_column(JSON)
    queue: Mapped[str | None] = mapped_column(String(64))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    retries: Mapped[int] = mapped_column(Integer, default=0)
    exc_type: Mapped[str] = mapped_column(String(200))
    exc_message: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolution: Mapped[str | None] = mapped_column(Text)
    replay_task_id: Mapped[str | None] = mapped_column(String(64))
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    announced_at: Mapped[datetime | None] = mapped_column(DateTime)  # when the keeper showed it in Flower
    resource: Mapped[str | None] = mapped_column(String(300))  # what failed: "order 4821", "SKU A,B"


class Lease(Base):
    """A named, expiring claim: one order in work, one customer being created, one stream polling."""

    __tablename__ = "lease"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class SystemBinding(Base):
    """The shop or ERP tenant this database's state belongs to: recorded on first start, compared on every start."""

    __tablename__ = "system_binding"
    side: Mapped[str] = mapped_column(String(8), primary_key=True)  # "shop" or "erp"
    identity: Mapped[dict] = mapped_column(JSON)
    bound_at: Mapped[datetime] = mapped_column(DateTime)
    bound_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)


class StockHold(Base):
    """Shop demand the ERP does not count yet: one row per order and SKU (see connector/holds.py)."""

    __tablename__ = "stock_hold"
    __table_args__ = (Index("ix_stock_hold_sku", "sku"),)
    woo_order_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sku: Mapped[str] = mapped_column(String(128), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)
