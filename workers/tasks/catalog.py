"""Tasks of the `catalog` queue: the product delta poll (categories first) and the chunks it fans out."""
from __future__ import annotations

import logging

from connector import leases
from connector.errors import SyncError
from connector.logs import event
from connector.sync.delta import DeltaPoll, completed_once
from workers.app import app
from workers.tasks.inventory import inventory_poll

log = logging.getLogger("wooerp.catalog")
PAGE_SIZE = 500  # records per ERP page; a page is split into chunks that keep each parent with its variants


@app.task(name="wooerp.catalog.poll_products", bind=True)
def poll_products(self) -> dict:
    s = self.services
    if not completed_once(s.db, "inventory"):
        # First load: stock rows first, so every new product is created with its stock in the same batch
        # call instead of a second write per product. Cheap: the stock poll only fills our database.
        # Best effort: if it fails, products go without stock and the stock stream writes it later.
        try:
            if inventory_poll(s).run().skipped:
                leases.wait_free(s.db, "stream:inventory", timeout=s.settings.stream_lease_seconds)
        except SyncError as e:
            event(log, "first stock load failed; products go first", logging.WARNING, error=str(e))

    poll_categories(s)

    def dispatch(items: list[dict]) -> None:
        wanted = set(s.products.triage(items))
        ids = {i["sku"]: i["id"] for i in items if i.get("sku") in wanted}
        for chunk in s.products.chunks([i for i in items if i.get("sku") in wanted]):
            apply_products.delay(chunk, {sku: ids[sku] for sku in chunk})

    poll = DeltaPoll(s.db, "products", lambda since, cursor: s.erp.list_products(since, cursor, PAGE_SIZE), dispatch,
                     overlap_seconds=s.settings.poll_overlap_seconds,
                     lease_seconds=s.settings.stream_lease_seconds)
    return poll.run().as_dict()


def poll_categories(s) -> dict | None:
    """The ERP's changed categories into the shop, before the products that are assigned to them (one
    cheap call when nothing changed). Best effort: a failure leaves products' categories for a later poll."""
    poll = DeltaPoll(s.db, "categories", lambda since, cursor: s.erp.list_categories(since, cursor, PAGE_SIZE),
                     lambda items: s.categories.apply(items), overlap_seconds=s.settings.poll_overlap_seconds,
                     lease_seconds=s.settings.stream_lease_seconds)
    try:
        return poll.run().as_dict()
    except SyncError as e:
        event(log, "category poll failed; products go without new categories", logging.WARNING, error=str(e))
        return None


@app.task(name="wooerp.catalog.apply_products", bind=True)
def apply_products(self, skus: list[str], ids: dict[str, str] | None = None) -> dict:
    report = self.services.products.apply(skus, ids)  # carries the stock of what it writes
    self.services.inventory.push(skus)  # stock rows that arrived while the products were written
    return report.as_dict()


@app.task(name="wooerp.catalog.full_resync", bind=True)
def full_resync(self) -> dict:
    return self.services.resync.run().as_dict()
