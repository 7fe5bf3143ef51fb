"""First steps of a local fleet: wait for the shop and the shim, register webhooks, place a demo order."""
from __future__ import annotations

import logging
import time

import requests

from connector import logs
from connector.logs import event
from connector.settings import Settings
from connector.services import Services
from connector.sync.webhook_setup import ensure_webhooks

log = logging.getLogger("wooerp.bootstrap")


def _wait(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"wooerp bootstrap: {url} did not answer within {timeout}s")


def bootstrap(settings: Settings, demo: bool) -> None:
    logs.setup(settings.log_level, secrets=(settings.woo_consumer_secret, settings.woo_webhook_secret,
                                            settings.erp_token, settings.flower_password))
    services = Services(settings)
    _wait(settings.shim_url + "/healthz")
    _wait(settings.woo_url + "/wp-json/")
    summary = ensure_webhooks(services.woo, settings.shim_url + "/webhooks/woocommerce",
                              settings.woo_webhook_secret, ("order.created", "order.updated", "customer.updated"))
    event(log, "webhooks registered", **summary)
    if demo:
        _demo_order(settings, services)
    print(f"""
wooerp is running.
  webhook shim     {settings.shim_url}/webhooks/woocommerce   (health: {settings.shim_url}/healthz)
  Flower           http://127.0.0.1:5555   user {settings.flower_user!r}, password from FLOWER_PASSWORD
  Woo sandbox      {settings.woo_url}/wp-json/wc/v3/   (stats: {settings.woo_url}/_sandbox/stats)
  {_erp_line(settings)}
  operator CLI     .venv/bin/wooerp --help   (make dead-letters, make orders)
""", flush=True)


def _erp_line(settings: Settings) -> str:
    if settings.erp_kind == "tryton":
        return (f"Tryton           {settings.tryton_url}/{settings.tryton_database}/rpc/   "
                f"(JSON-RPC, user {settings.tryton_user!r})")
    return f"ERP sandbox      {settings.erp_url}/api/v1/   (stats: {settings.erp_url}/_sandbox/stats)"


def _demo_order(settings: Settings, services: Services) -> None:
    """Once the demo catalog has reached the shop, place one order through the sandbox checkout."""
    deadline = time.monotonic() + 180
    products = []
    while time.monotonic() < deadline and not products:
        products = [p for p in services.woo.get("products", per_page=20, type="simple") if p.get("sku")]
        if not products:
            time.sleep(2)
    if not products:
        event(log, "demo catalog did not reach the shop in time; no demo order", logging.WARNING)
        return
    lines = [{"sku": p["sku"], "quantity": 1 + i} for i, p in enumerate(products[:2])]
    r = requests.post(settings.woo_url + "/_sandbox/checkout",
                      json={"lines": lines, "customer_id": 0, "email": "demo.buyer@example.com"}, timeout=10)
    r.raise_for_status()
    event(log, "demo order placed", order_id=r.json().get("id"))
