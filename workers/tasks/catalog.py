"""Tasks of the `catalog` queue: the product delta poll and the chunks it fans out."""
from __future__ import annotations

from connector.sync.delta import DeltaPoll
from workers.app import app


@app.task(name="wooerp.catalog.poll_products", bind=True)
def poll_products(self) -> dict:
    s = self.services

    def dispatch(items: list[dict]) -> None:
        skus = s.products.triage(items)
        if skus:
            apply_products.delay(skus)

    poll = DeltaPoll(s.db, "products", lambda since, cursor: s.erp.list_products(since, cursor, 100), dispatch,
                     overlap_seconds=s.settings.poll_overlap_seconds,
                     lease_seconds=s.settings.stream_lease_seconds)
    return poll.run().as_dict()


@app.task(name="wooerp.catalog.apply_products", bind=True)
def apply_products(self, skus: list[str]) -> dict:
    report = self.services.products.apply(skus)
    self.services.inventory.push(skus)  # stock of newly created products
    return report.as_dict()


@app.task(name="wooerp.catalog.full_resync", bind=True)
def full_resync(self) -> dict:
    return self.services.resync.run().as_dict()
