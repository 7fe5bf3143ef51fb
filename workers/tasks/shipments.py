"""Shipments poll, on the `orders` queue: ERP shipments become tracking meta, notes and completed orders
(connector.sync.streams.poll_shipments)."""
from __future__ import annotations

from connector.sync import streams
from workers.app import app


@app.task(name="wooerp.orders.poll_shipments", bind=True)
def poll_shipments(self) -> dict:
    return streams.poll_shipments(self.services)
