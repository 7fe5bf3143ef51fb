"""Make sure the shop delivers our topics to the shim, and report webhooks WooCommerce has disabled."""
from __future__ import annotations

import logging

from connector.logs import event

log = logging.getLogger("wooerp.webhooks")


def ensure_webhooks(woo, delivery_url: str, secret: str, topics: tuple[str, ...]) -> dict:
    """Create missing webhooks for `topics` at `delivery_url` signing with `secret`; re-activate disabled ones
    (setting `secret` again). Returns {"created": [topic], "reactivated": [topic], "active": [topic]}. One
    list call, then one shop call per webhook created or re-activated; raises the shop's error families."""
    ours = [w for w in woo.list_webhooks() if w.get("delivery_url") == delivery_url]
    summary = {"created": [], "reactivated": [], "active": []}
    for topic in topics:
        hook = next((w for w in ours if w.get("topic") == topic), None)
        if hook is None:
            hook = woo.create_webhook(f"wooerp {topic}", topic, delivery_url, secret)
            summary["created"].append(topic)
        elif hook.get("status") != "active":
            event(log, "webhook was disabled by WooCommerce; re-activating", logging.WARNING, topic=topic,
                  webhook_id=hook["id"], status=hook.get("status"))
            woo.update_webhook(hook["id"], {"status": "active", "secret": secret})
            summary["reactivated"].append(topic)
        else:
            summary["active"].append(topic)
    return summary


def check_webhooks(woo, delivery_url: str, secret: str) -> dict:
    """Re-activate our webhooks that WooCommerce disabled (it does so after repeated failed deliveries and
    never retries); report each one. Webhooks pointing elsewhere are not touched. Returns {"active": count,
    "reactivated": [webhook id]}; raises the shop's error families."""
    summary = {"active": 0, "reactivated": []}
    for hook in woo.list_webhooks():
        if hook.get("delivery_url") != delivery_url:
            continue
        if hook.get("status") == "active":
            summary["active"] += 1
            continue
        event(log, "webhook disabled in WooCommerce; orders arrive by polling until it is re-activated",
              logging.WARNING, webhook_id=hook["id"], topic=hook.get("topic"), status=hook.get("status"))
        woo.update_webhook(hook["id"], {"status": "active", "secret": secret})
        summary["reactivated"].append(hook["id"])
    return summary
