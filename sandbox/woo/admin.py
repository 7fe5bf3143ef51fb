"""Python client for the sandbox's `/_sandbox/` control API (used by tests and scenario scripts)."""
from __future__ import annotations

import requests


class WooSandboxAdmin:
    def __init__(self, base_url: str, timeout: float = 30.0):
        self.base = base_url.rstrip("/") + "/_sandbox"
        self.timeout = timeout
        self.http = requests.Session()

    def _call(self, method: str, path: str, body=None, **params):
        r = self.http.request(method, self.base + path, json=body, params=params or None, timeout=self.timeout)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path} -> {r.status_code}: {r.text[:500]}")
        return r.json()

    def reset(self) -> dict:
        """Wipe products, orders, notes, webhooks and queued deliveries (faults and stats stay)."""
        return self._call("POST", "/reset")

    def seed(self, n: int, seed: int = 42) -> dict:
        return self._call("POST", "/seed", {"products": n, "seed": seed})

    def set_faults(self, rules: list[dict] | None = None, delivery: dict | None = None,
                   seed: int | None = None) -> dict:
        """Replace the fault configuration (omitted parts go back to their defaults)."""
        return self._call("PUT", "/faults", {"rules": rules or [], "delivery": delivery or {}, "seed": seed})

    def clear_faults(self) -> dict:
        return self._call("DELETE", "/faults")

    def stats(self) -> dict:
        return self._call("GET", "/stats")

    def reset_stats(self) -> dict:
        return self._call("POST", "/stats/reset")

    def checkout(self, lines: list[dict], **kw) -> dict:
        """Place a storefront order: lines=[{"sku": ..., "quantity": n}], plus customer_id, email, coupon,
        status, payment_method, shipping_country."""
        return self._call("POST", "/checkout", dict(kw, lines=lines))

    def deliveries(self, webhook_id: int | None = None, since: float | None = None) -> list[dict]:
        params = {k: v for k, v in (("webhook_id", webhook_id), ("since", since)) if v is not None}
        return self._call("GET", "/deliveries", **params)

    def restore(self, resource_id: int) -> dict:
        """Admin "Restore from trash" of an order or product (fires *.restored)."""
        return self._call("POST", f"/restore/{resource_id}")

    def create_key(self, permissions: str = "read_write") -> dict:
        return self._call("POST", "/keys", {"permissions": permissions})

    def profile(self, preset: str | None = None, **switches) -> dict:
        """How real the shop behaves (`sandbox/woo/profile.py`): a preset and/or single switches; returns all."""
        if preset is None and not switches:
            return self._call("GET", "/profile")
        return self._call("PUT", "/profile", dict(switches, **({"preset": preset} if preset else {})))

    def pay(self, order_id: int) -> dict:
        """The shopper pays a checkout draft (placed with `checkout(..., pay=False)` under `checkout_draft`)."""
        return self._call("POST", f"/pay/{order_id}")
