"""Tasks of the `inventory` queue: the stock delta poll and the chunks it fans out."""
from __future__ import annotations

from connector.sync.delta import DeltaPoll
from workers.app import app


@app.task(name="wooerp.inventory.poll_inventory", bind=True)
def poll_inventory(self) -> dict:
    s = self.services
    poll = DeltaPoll(s.db, "inventory", lambda since, cursor: s.erp.list_inventory(since, cursor, 100),
                     lambda rows: apply_stock.delay(rows), overlap_seconds=s.settings.poll_overlap_seconds,
                     lease_seconds=s.settings.stream_lease_seconds)
    return poll.run().as_dict()


@app.task(name="wooerp.inventory.apply_stock", bind=True)
def apply_stock(self, rows: list[dict]) -> dict:
    inventory = self.services.inventory
    skus, rejected = inventory.record(rows)
    return {"skus": len(skus), "rejected": rejected, "write_calls": inventory.push(skus)}
