"""The ERP delta streams and how each is polled: page size, what a page is handed to, first-load order.

Every stream is a connector.sync.delta.DeltaPoll over one ERP list call. What leaves the process (a
task per chunk) is a callback of the caller (`apply_products`, `push_stock`), so this module knows no
Celery; `apply_products` here is what such a chunk task runs. Not here: paging itself (delta.py), how a
chunk is written (products.py, inventory.py, shipments.py). `s` is always connector.services.Services.
"""
from __future__ import annotations

import logging
from typing import Callable

from connector import leases
from connector.errors import SyncError
from connector.logs import event
from connector.paging import chunked
from connector.sync.delta import DeltaPoll, completed_once
from connector.sync.shipments import ShipmentReport
from connector.woo.client import BATCH_LIMIT

log = logging.getLogger("wooerp.catalog")
PRODUCTS_PER_PAGE = 500  # records per ERP page; a page is split into chunks that keep each parent with its variants
CATEGORIES_PER_PAGE = 500
STOCK_ROWS_PER_PAGE = 300  # about 100 SKUs when each has a row in three warehouses
SHIPMENTS_PER_PAGE = 100

ApplyProducts = Callable[[list[str], dict[str, str]], None]  # (SKUs of one chunk, {SKU: ERP id})
PushStock = Callable[[list[str]], None]  # ≤ BATCH_LIMIT SKUs whose stock to write to the shop


def _poll(s, stream: str, fetch, dispatch) -> DeltaPoll:
    return DeltaPoll(s.db, stream, fetch, dispatch, overlap_seconds=s.settings.poll_overlap_seconds,
                     lease_seconds=s.settings.stream_lease_seconds)


def inventory_stream(s, push_stock: PushStock) -> DeltaPoll:
    """The stock stream (a DeltaPoll, not yet run): each page of ≤ STOCK_ROWS_PER_PAGE warehouse rows is
    stored in our database (no shop call) before its checkpoint, and the touched SKUs go to `push_stock`
    in chunks of ≤ BATCH_LIMIT. Invalid rows are quarantined by InventorySync.record, never raised."""
    def dispatch(rows: list[dict]) -> None:
        skus, _rejected = s.inventory.record(rows)
        for chunk in chunked(skus, BATCH_LIMIT):
            push_stock(chunk)

    return _poll(s, "inventory", lambda since, cursor: s.erp.list_inventory(since, cursor, STOCK_ROWS_PER_PAGE),
                 dispatch)


def poll_inventory(s, push_stock: PushStock) -> dict:
    """One run of the stock stream; its PollReport as a dict (pages, records, watermark, resumed,
    skipped: another run holds the stream, and "due": SKUs pushed because the shop moved their stock by
    itself, connector/holds.py `shop_moved`). The due SKUs go to `push_stock` first (in chunks of ≤
    BATCH_LIMIT), whatever the ERP answers. Raises the ERP's SyncError families and PagingStuck."""
    due = s.inventory.due()
    for chunk in chunked(due, BATCH_LIMIT):
        push_stock(chunk)
    return {**inventory_stream(s, push_stock).run().as_dict(), "due": len(due)}


def poll_categories(s) -> dict | None:
    """The ERP's changed categories into the shop, before the products that are assigned to them (one
    cheap call when nothing changed). Returns the PollReport as a dict, or None when the poll failed
    (logged, never raised: products' categories then wait for a later poll)."""
    poll = _poll(s, "categories", lambda since, cursor: s.erp.list_categories(since, cursor, CATEGORIES_PER_PAGE),
                 lambda items: s.categories.apply(items))
    try:
        return poll.run().as_dict()
    except SyncError as e:
        event(log, "category poll failed; products go without new categories", logging.WARNING, error=str(e))
        return None


def poll_products(s, apply_products: ApplyProducts, push_stock: PushStock) -> dict:
    """One run of the product stream: on the very first load the stock stream first (so products are
    created with their stock in one batch call), then categories, then products: each page is triaged
    (unchanged SKUs dropped) and its chunks go to `apply_products(skus, {SKU: ERP id})`; before the first
    page with products new to the shop, the stock stream is brought up to date (once a run). Returns the
    product stream's PollReport as a dict. Raises the ERP's SyncError families (a failed first stock
    load or category poll is logged and does not stop the products)."""
    stock_read = [False]

    def stock_first() -> None:
        # Cheap: the stock poll only fills our database (and pushes stock of products already in the
        # shop, as its own poll would). Best effort: if it fails, products go without stock and the stock
        # stream writes it later.
        stock_read[0] = True
        try:
            if inventory_stream(s, push_stock).run().skipped:  # the stock poll is running: it reads them
                leases.wait_let_go(s.db, "stream:inventory", timeout=s.settings.stream_lease_seconds)
        except SyncError as e:
            event(log, "stock poll before new products failed; they go first", logging.WARNING, error=str(e))

    if not completed_once(s.db, "inventory"):
        stock_first()

    poll_categories(s)

    def dispatch(items: list[dict]) -> None:
        wanted = set(s.products.triage(items))
        ids = {i["sku"]: i["id"] for i in items if i.get("sku") in wanted}
        todo = [i for i in items if i.get("sku") in wanted]
        # Products new to the shop are created with their stock, so the stock stream catches up first (once
        # a run): after the first load too, new products and their stock rows arrive together, and a
        # product created before its rows are read would cost a second, stock-only write.
        if not stock_read[0] and s.products.new_to_shop(todo):
            stock_first()
        for chunk in s.products.chunks(todo):
            apply_products(chunk, {sku: ids[sku] for sku in chunk})

    return _poll(s, "products", lambda since, cursor: s.erp.list_products(since, cursor, PRODUCTS_PER_PAGE),
                 dispatch).run().as_dict()


def apply_products(s, skus: list[str], ids: dict[str, str] | None = None) -> dict:
    """One chunk fanned out by `poll_products`: write the products of `skus` (`ids`: {SKU: ERP id} as the
    poll saw them), each batch carrying the stock that changed, then push the stock of these SKUs again
    for rows the stock stream stored while the products were being written. Returns the ProductReport
    as a dict. Raises what ProductSync.apply and InventorySync.push raise."""
    report = s.products.apply(skus, ids)
    s.inventory.push(skus)
    return report.as_dict()


def poll_shipments(s) -> dict:
    """One run of the shipment stream. Pages are applied inline, before the poll checkpoints them: a
    shipment touches one order with a few calls, and applying a page in order keeps the "everything
    shipped" check of a later shipment after its earlier ones. Returns the PollReport and ShipmentReport
    merged into one dict. Raises the ERP's and the shop's SyncError families."""
    total = ShipmentReport()
    poll = _poll(s, "shipments", lambda since, cursor: s.erp.list_shipments(since, cursor, SHIPMENTS_PER_PAGE),
                 lambda items: total.add(s.shipments.apply(items)))
    return {**poll.run().as_dict(), **total.as_dict()}
