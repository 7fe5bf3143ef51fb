"""Shop profile: how much the sandbox behaves like a real WooCommerce 8.2 (reference §11), switch by switch.

Presets (`python -m sandbox.woo --profile NAME`, `PUT /_sandbox/profile {"preset": NAME, ...}`):
- `fast` (default of the CLI and of `create_app`; every test fixture and the conformance suites): the
  sandbox of the documentation, deliveries after 50 ms, no latency, tax, any delivery address;
- `real` (`make run`): what a real shop with a system cron did — deliveries a few seconds late and
  coalesced, meta-only order updates silent, storefront checkouts as draft-then-paid, refused delivery
  addresses, ghost webhooks, no tax, tens of milliseconds per request;
- `bench`: `real` with the measured batch cost (a 100-product batch ≈ 5 s) and a shop that serves
  `php_workers` requests at a time.
Each switch can be set on its own on top of a preset. The §11 answer details (`wc82_answers`) are on in
every preset: they cost nothing and the conformance suite accepts both forms.

Switches:
- `delivery_delay_ms`, `coalesce` — the delivery scheduler (Action Scheduler + cron): every delivery waits
  this long; with `coalesce`, further changes to a resource while its delivery is pending are folded into
  that one delivery, which carries the latest data (payloads are built at send time).
- `silent_meta_updates` — a PUT that changes only an order's `meta_data` fires no `order.updated`.
- `checkout_draft` — a storefront checkout first saves a `checkout-draft` order (`order.created`), then
  pays it (`order.updated`).
- `address_rules`, `allow_loopback`, `allowed_ports` — WordPress's safe-HTTP rules for delivery URLs:
  only `allowed_ports` (`null` = any) and no private/loopback address unless `allow_loopback` (a site
  filter). A refused webhook is still created `active`; its ping and deliveries fail without a trace in
  the API but count as failures (so it ends up disabled).
- `ghost_webhooks` — a delivery still queued for a deleted webhook re-creates an empty, disabled webhook.
- `tax` — charge the tax rates of `store.TAX_RATES` (a new store charges none).
- `latency_ms`, `batch_item_ms`, `php_workers` — every API request waits `latency_ms`, a write
  `batch_item_ms` more per item written (a batch: per item in it; a single write: one item); at most
  `php_workers` requests are served at once (0 = unlimited).
- `wc82_answers` — wrong Basic-auth secret without `WWW-Authenticate`, notes of an unknown order →
  `woocommerce_rest_shop_order_invalid_id`, API note author `WooCommerce`, a deleted webhook reads as 400.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
from urllib.parse import urlsplit

SAFE_PORTS = [80, 443, 8080]
FAST = {"delivery_delay_ms": 50, "coalesce": False, "silent_meta_updates": False, "checkout_draft": False,
        "address_rules": False, "allow_loopback": True, "allowed_ports": None, "ghost_webhooks": False,
        "tax": True, "latency_ms": 0, "batch_item_ms": 0, "php_workers": 0, "wc82_answers": True}
REAL = dict(FAST, delivery_delay_ms=3000, coalesce=True, silent_meta_updates=True, checkout_draft=True,
            address_rules=True, allow_loopback=False, allowed_ports=SAFE_PORTS, ghost_webhooks=True, tax=False,
            latency_ms=30)
# measured: a 100-product batch took 4–6 s, single reads tens of milliseconds
BENCH = dict(REAL, latency_ms=40, batch_item_ms=48, php_workers=8)
PRESETS = {"fast": FAST, "real": REAL, "bench": BENCH}


class Profile:
    def __init__(self, preset: str = "fast", **overrides):
        self._lock = threading.Lock()
        self._slots: threading.BoundedSemaphore | None = None
        self.on_change = lambda settings: None
        self.values: dict = {}
        self.configure({"preset": preset, **overrides})

    def configure(self, spec: dict) -> dict:
        """Start from `spec["preset"]` (else the current values) and apply the other keys; ValueError if bad."""
        spec = dict(spec)
        preset = spec.pop("preset", None)
        if preset is not None and preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r} (one of {', '.join(PRESETS)})")
        with self._lock:
            values = dict(PRESETS[preset] if preset else self.values)
        for k, v in spec.items():
            if k not in FAST:
                raise ValueError(f"unknown profile switch {k!r}")
            values[k] = _coerce(k, v)
        with self._lock:
            self.values = values
            n = values["php_workers"]
            self._slots = threading.BoundedSemaphore(n) if n > 0 else None
        self.on_change(values)
        return dict(values)

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self.values)

    def __getitem__(self, key: str):
        return self.values[key]

    # ------------------------------------------------------------ latency

    def begin(self, items: int = 0, charged=None):
        """One authenticated API request: wait for a free PHP worker, then spend the request's time in it
        (told to `charged`, in ms, if given). Returns the worker slot taken (hand it back with `end`), or None."""
        slots = self._slots
        if slots is not None:
            slots.acquire()
        cost = self.values["latency_ms"] + items * self.values["batch_item_ms"]
        if charged is not None:
            charged(cost)
        if cost > 0:
            time.sleep(cost / 1000)
        return slots

    @staticmethod
    def end(slot) -> None:
        if slot is not None:
            slot.release()

    # ------------------------------------------------------------ delivery addresses

    def refusal(self, url: str) -> str | None:
        """Why WordPress would refuse to deliver to `url` (wp_http_validate_url), or None."""
        v = self.values
        if not v["address_rules"]:
            return None
        return refusal(url, v["allowed_ports"], v["allow_loopback"])


def refusal(url: str, allowed_ports=SAFE_PORTS, allow_loopback: bool = False) -> str | None:
    """Why a WordPress site would refuse to send to `url`: a port outside `allowed_ports` (None = any) or a
    private/loopback/link-local address (unless `allow_loopback`). None when it would send."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "not a valid URL"
    host = parts.hostname or ""
    if allowed_ports is not None and port not in allowed_ports:
        return f"port {port} is not one of {', '.join(map(str, allowed_ports))}"
    if allow_loopback:
        return None
    try:
        addrs = {ipaddress.ip_address(host)}
    except ValueError:
        try:
            addrs = {ipaddress.ip_address(a[4][0].split("%")[0]) for a in socket.getaddrinfo(host, port)}
        except (OSError, ValueError):
            return f"host {host!r} does not resolve"
    for a in addrs:
        if a in BLOCKED if a.version == 4 else (a.is_loopback or a.is_private or a.is_link_local):
            return f"{host} is a private or loopback address ({a})"
    return None


class _Ranges:
    """The IPv4 ranges wp_http_validate_url() refuses: 0/8, 10/8, 127/8, 172.16/12, 192.168/16."""
    nets = [ipaddress.ip_network(n) for n in ("0.0.0.0/8", "10.0.0.0/8", "127.0.0.0/8", "172.16.0.0/12",
                                              "192.168.0.0/16")]

    def __contains__(self, addr) -> bool:
        return any(addr in n for n in self.nets)


BLOCKED = _Ranges()


def _coerce(key: str, value):
    base = FAST[key]
    if key == "allowed_ports":
        if value is None:
            return None
        if isinstance(value, str):
            value = [p for p in value.split(",") if p.strip()]
        return [int(p) for p in value]
    if isinstance(base, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    out = type(base)(value)
    if out < 0:
        raise ValueError(f"{key} must not be negative")
    return out
