"""First steps of a local fleet: wait for the shop and the shim, register webhooks, place a demo order."""
from __future__ import annotations

import logging
import os
import time
from urllib.parse import urlsplit, urlunsplit

import requests

from connector import dead_letters, logs
from connector.logs import event
from connector.models import OrderSync
from connector.settings import SANDBOX_WOO_KEY, Settings
from connector.services import Services
from connector.startup import gate
from connector.sync import order_state as st
from connector.sync.webhook_setup import ensure_webhooks
from connector.woo.delivery_address import refusal

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


def register_webhooks(settings: Settings, woo) -> dict:
    """Have the shop deliver every topic the shim accepts (WEBHOOK_TOPICS): the order's trash and
    restore (order.deleted, order.restored) included, or a trashed order would keep its hold for ever."""
    summary = ensure_webhooks(woo, settings.shim_url + "/webhooks/woocommerce", settings.woo_webhook_secret,
                              settings.webhook_topics)
    event(log, "webhooks registered", **summary)
    return summary


def bootstrap(settings: Settings, demo: bool) -> None:
    logs.setup(settings.log_level, secrets=settings.secrets())
    services = Services(settings)
    _wait(settings.shim_url + "/healthz")
    _wait(settings.woo_url + "/wp-json/")
    gate(services, process="bootstrap")  # exit status 2 on an un-migrated database, or when the shop or ERP is not ours
    warn_if_undeliverable(settings)
    register_webhooks(settings, services.woo)
    if demo:
        failure = _demo_order(settings, services)
        if failure:
            print(f"wooerp is running, but the demo gave up: {failure} (see `make status` and the log above)",
                  flush=True)
            return
    print(banner(settings, dict(os.environ)), flush=True)


def warn_if_undeliverable(settings: Settings) -> str | None:
    """One warning line when a real WooCommerce would refuse to deliver to SHIM_URL (it would still create
    the webhooks as active and say nothing). The bundled sandbox shop allows local addresses, as a site
    filter would, so it gets no warning. Returns the warning."""
    if settings.woo_consumer_key == SANDBOX_WOO_KEY:
        return None
    why = refusal(settings.shim_url + "/webhooks/woocommerce", settings.woo_url)
    if why is None:
        return None
    text = (f"WooCommerce will not deliver webhooks to SHIM_URL {settings.shim_url}: {why}; orders will arrive "
            f"by the poll alone. Put the shim behind a public HTTPS address on port 443 (see deploy/README.md)")
    event(log, text, logging.WARNING, shim_url=settings.shim_url)
    return text


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def banner(settings: Settings, env: dict) -> str:
    flower = f"http://127.0.0.1:{env.get('FLOWER_PORT') or 5555}"
    password = ("password from FLOWER_PASSWORD" if env.get("FLOWER_PASSWORD")
                else f"password {settings.flower_password!r} (the default; set FLOWER_PASSWORD to change it)")
    metrics = (f"http://{settings.metrics_address}:{settings.metrics_port}/metrics" if settings.metrics_port
               else "off (METRICS_PORT=0)")
    return f"""
wooerp is running.
  webhook shim     {settings.shim_url}/webhooks/woocommerce   (health: {settings.shim_url}/healthz)
  Flower           {flower}   user {settings.flower_user!r}, {password}
  dead letters     {flower}/tasks?name=wooerp.dead_letter.keep&state=FAILURE   (bookmark it; make dead-letters)
  metrics          {metrics}   (the shim's: {settings.shim_url}/metrics)
  Woo sandbox      {settings.woo_url}/wp-json/wc/v3/   (stats: {settings.woo_url}/_sandbox/stats)
  {_erp_line(settings)}
  broker           {_hide_password(settings.broker_url)}
  database         {_hide_password(settings.database_url)}
  operator CLI     .venv/bin/wooerp --help   (make status, make dead-letters, make orders; make clean starts afresh)
"""


def _erp_line(settings: Settings) -> str:
    if settings.erp_kind == "tryton":
        return (f"Tryton           {settings.tryton_url}/{settings.tryton_database}/rpc/   "
                f"(JSON-RPC, user {settings.tryton_user!r})")
    return f"ERP sandbox      {settings.erp_url}/api/v1/   (stats: {settings.erp_url}/_sandbox/stats)"


def _demo_order(settings: Settings, services: Services) -> str | None:
    """Once the demo catalog has reached the shop, place one order through the sandbox checkout.
    Returns why it could not (None when the order was placed)."""
    deadline = time.monotonic() + 180
    products = []
    while time.monotonic() < deadline and not products:
        products = [p for p in services.woo.get("products", per_page=20, type="simple") if p.get("sku")]
        if not products:
            time.sleep(2)
    if not products:
        event(log, "demo catalog did not reach the shop in time; no demo order", logging.WARNING)
        return "the demo catalog did not reach the shop within 180 s, so no demo order was placed"
    lines = [{"sku": p["sku"], "quantity": 1 + i} for i, p in enumerate(products[:2])]
    try:
        r = requests.post(settings.woo_url + "/_sandbox/checkout",
                          json={"lines": lines, "customer_id": 0, "email": "demo.buyer@example.com"}, timeout=10)
        r.raise_for_status()
    except requests.RequestException as e:
        event(log, "demo order could not be placed", logging.WARNING, error=str(e)[:200])
        return f"the demo order could not be placed at the sandbox checkout ({str(e)[:120]})"
    order_id = r.json().get("id")
    event(log, "demo order placed", order_id=order_id)
    return _demo_order_imported(services, order_id)


def _demo_order_imported(services: Services, order_id: int, timeout: float = 90) -> str | None:
    """Wait until the demo order is in the ERP and its number is in the shop (None), or say where it
    stopped instead: the banner promises a working fleet only when the demo went all the way through."""
    deadline = time.monotonic() + timeout
    state = reason = None
    while time.monotonic() < deadline:
        with services.db.session() as s:
            row = s.get(OrderSync, order_id)
            state, reason = (row.state, row.reason) if row else (None, None)
        if state == st.WRITTEN_BACK:
            return None
        if state in (st.QUARANTINED, st.CONFLICT, st.GONE, st.CANCELLED) or \
                dead_letters.open_for(services.db, [dead_letters.order_resource(order_id)]):
            break
        time.sleep(1)
    where = f"it is {state}" + (f": {reason}" if reason else "") if state else "no worker has taken it yet"
    event(log, "demo order did not reach the ERP", logging.WARNING, order_id=order_id, state=state)
    return f"demo order #{order_id} did not reach the ERP ({where}; make orders, make dead-letters)"
