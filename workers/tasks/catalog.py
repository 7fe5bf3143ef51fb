"""Tasks of the `catalog` queue: the product delta poll (categories first), the chunks it fans out, and
the full resync."""
from __future__ import annotations

from connector.sync import streams
from workers import publish
from workers.app import app


@app.task(name="wooerp.catalog.poll_products", bind=True)
def poll_products(self) -> dict:
    return streams.poll_products(self.services, apply_products=publish.apply_products,
                                 push_stock=publish.push_stock)


@app.task(name="wooerp.catalog.apply_products", bind=True)
def apply_products(self, skus: list[str], ids: dict[str, str] | None = None) -> dict:
    return streams.apply_products(self.services, skus, ids)


@app.task(name="wooerp.catalog.full_resync", bind=True)
def full_resync(self) -> dict:
    return self.services.resync.run().as_dict()
