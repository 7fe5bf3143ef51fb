"""What Celery beat runs, and how often. Intervals come from settings (environment variables).

Exactly one beat process must run for a fleet; every entry here is also safe if it fires twice,
because each poll holds a per-stream lease and every task is idempotent.
"""
from __future__ import annotations

from celery.schedules import crontab


def build(settings) -> dict:
    return {
        "poll-erp-products": {"task": "wooerp.catalog.poll_products",
                              "schedule": settings.product_poll_seconds},
        "poll-erp-inventory": {"task": "wooerp.inventory.poll_inventory",
                               "schedule": settings.inventory_poll_seconds},
        "poll-woo-orders": {"task": "wooerp.orders.poll_orders",
                            "schedule": settings.order_poll_seconds},
        "poll-erp-shipments": {"task": "wooerp.orders.poll_shipments",
                               "schedule": settings.shipment_poll_seconds},
        "full-resync-nightly": {"task": "wooerp.catalog.full_resync",
                                "schedule": crontab(hour=settings.full_resync_hour, minute=30)},
        "reconcile-daily": {"task": "wooerp.catalog.reconcile",  # reports only; see `wooerp reconcile`
                            "schedule": crontab(hour=settings.reconcile_hour, minute=15)},
        "relay-webhook-deliveries": {"task": "wooerp.orders.relay_deliveries",
                                     "schedule": settings.relay_seconds},
        "watch-failures": {"task": "wooerp.dead_letter.watch",  # stuck tasks, lost letters, growth warning
                           "schedule": settings.watch_seconds},
    }
