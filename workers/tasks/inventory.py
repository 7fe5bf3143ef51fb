"""Tasks of the `inventory` queue: the stock delta poll (connector.sync.streams) and the SKU chunks of
≤ 100 it fans out, one batch write each."""
from __future__ import annotations

from connector.sync import streams
from workers import publish
from workers.app import app


@app.task(name="wooerp.inventory.poll_inventory", bind=True)
def poll_inventory(self) -> dict:
    return streams.poll_inventory(self.services, push_stock=publish.push_stock)


@app.task(name="wooerp.inventory.push_stock", bind=True)
def push_stock(self, skus: list[str]) -> dict:
    return {"skus": len(skus), "write_calls": self.services.inventory.push(skus)}
