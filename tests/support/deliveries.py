"""Post WooCommerce-shaped webhook deliveries to the shim, signed the way a real store signs them."""
from __future__ import annotations

import json
import time

import requests

from connector.webhooks import signature

DEFAULT_SECRET = "wooerp-sandbox-webhook-secret"


def php_json(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def deliver(shim_url: str, payload: dict, topic: str = "order.created", secret: str = DEFAULT_SECRET,
            delivery_id: str | None = None, webhook_id: int = 1) -> requests.Response:
    body = php_json(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.0.0 Hookshot (WordPress/6.6.0)",
        "X-WC-Webhook-Source": "http://127.0.0.1/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-Signature": signature(body, secret),
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Delivery-ID": delivery_id or f"{webhook_id:016x}{int(time.time()):016x}",
    }
    return requests.post(f"{shim_url}/webhooks/woocommerce", data=body, headers=headers, timeout=15)
