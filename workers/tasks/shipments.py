"""Shipments poll, on the `orders` queue: ERP shipments become tracking meta, notes and completed orders.

Pages are applied inline, before the poll checkpoints them: a shipment touches one order with a few calls,
and applying a page in order keeps the "everything shipped" check of a later shipment after its earlier ones.
"""
from __future__ import annotations

from connector.sync.delta import DeltaPoll
from connector.sync.shipments import ShipmentReport
from workers.app import app


@app.task(name="wooerp.orders.poll_shipments", bind=True)
def poll_shipments(self) -> dict:
    s = self.services
    total = ShipmentReport()
    poll = DeltaPoll(s.db, "shipments", lambda since, cursor: s.erp.list_shipments(since, cursor, 100),
                     lambda items: total.add(s.shipments.apply(items)),
                     overlap_seconds=s.settings.poll_overlap_seconds, lease_seconds=s.settings.stream_lease_seconds)
    return {**poll.run().as_dict(), **total.as_dict()}
