"""WooCommerce REST API v3 + webhooks simulator (behaviour taken from WooCommerce's source; see sandbox/README.md).

Start it with `python -m sandbox.woo --port N`, or host `sandbox.woo.app.create_app()` yourself.
Control it over HTTP under `/_sandbox/` or with `sandbox.woo.admin.WooSandboxAdmin`.
"""
from sandbox.woo.defaults import DEFAULT_KEY, DEFAULT_SECRET, credentials

__all__ = ["DEFAULT_KEY", "DEFAULT_SECRET", "credentials"]
