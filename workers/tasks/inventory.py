"""Tasks of the `inventory` queue: the stock delta poll and the SKU chunks it fans out.

The poll stores each page of warehouse rows in our database before its checkpoint (cheap, no shop
call) and fans out the touched SKUs in chunks of ≤ 100, one batch write each.
"""
from __future__ import annotations

from connector.sync.delta import DeltaPoll
from connector.woo.client import BATCH_LIMIT
from workers.app import app

ROWS_PER_PAGE = 300  # about 100 SKUs when each has a row in three warehouses


def inventory_poll(s) -> DeltaPoll:
    """The stock stream's delta poll for the services `s`."""
    def dispatch(rows: list[dict]) -> None:
        skus, _rejected = s.inventory.record(rows)
        for i in range(0, len(skus), BATCH_LIMIT):
            push_stock.delay(skus[i:i + BATCH_LIMIT])

    return DeltaPoll(s.db, "inventory", lambda since, cursor: s.erp.list_inventory(since, cursor, ROWS_PER_PAGE),
                     dispatch, overlap_seconds=s.settings.poll_overlap_seconds,
                     lease_seconds=s.settings.stream_lease_seconds)


@app.task(name="wooerp.inventory.poll_inventory", bind=True)
def poll_inventory(self) -> dict:
    return inventory_poll(self.services).run().as_dict()


@app.task(name="wooerp.inventory.push_stock", bind=True)
def push_stock(self, skus: list[str]) -> dict:
    return {"skus": len(skus), "write_calls": self.services.inventory.push(skus)}
