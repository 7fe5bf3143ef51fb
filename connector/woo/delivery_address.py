"""Will a WooCommerce shop deliver webhooks to this URL? WordPress sends them with `wp_safe_remote_post()`,
whose `wp_http_validate_url()` refuses ports other than 80, 443 and 8080 and hosts resolving to 0/8,
10/8, 127/8, 172.16/12 or 192.168/16 — except for the site's own host, where only the port is checked (and
the site's own port is allowed too). The webhook is still created active and the failed ping is not
reported, so the only symptom is orders arriving by the poll alone (reference §11, §10.2 #14)."""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

SAFE_PORTS = (80, 443, 8080)
REFUSED_V4 = tuple(ipaddress.ip_network(n) for n in ("0.0.0.0/8", "10.0.0.0/8", "127.0.0.0/8", "172.16.0.0/12",
                                                     "192.168.0.0/16"))


def _port(parts) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def refusal(delivery_url: str, shop_url: str | None = None) -> str | None:
    """Why the shop at `shop_url` would refuse to send to `delivery_url`, or None if it would send."""
    try:
        target = urlsplit(delivery_url)
        port, host = _port(target), (target.hostname or "").lower()
        shop = urlsplit(shop_url) if shop_url else None
        shop_port = _port(shop) if shop else None
    except ValueError:
        return "it is not a valid URL"
    same_host = shop is not None and (shop.hostname or "").lower() == host
    if same_host and port == shop_port:
        return None
    if port not in SAFE_PORTS:
        return f"port {port} is not 80, 443 or 8080"
    if same_host:
        return None
    try:
        addrs = {ipaddress.ip_address(host)}
    except ValueError:
        try:
            addrs = {ipaddress.ip_address(a[4][0].split("%")[0]) for a in socket.getaddrinfo(host, port)}
        except (OSError, ValueError):
            return None  # unknown here; the shop resolves it itself
    for a in addrs:
        bad = any(a in n for n in REFUSED_V4) if a.version == 4 else (a.is_loopback or a.is_private)
        if bad:
            return f"{host} is a private or loopback address"
    return None
