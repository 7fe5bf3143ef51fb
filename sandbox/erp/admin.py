"""Python client for the `/_sandbox` endpoints, for tests and scripts: `ErpSandboxAdmin(base_url)`.

Every method returns the decoded JSON answer and raises `SandboxAdminError` (with `.status`) for
an HTTP error. Only the sandbox's own administration; the ERP API itself is the adapter's job.
"""
from __future__ import annotations

import requests


class SandboxAdminError(RuntimeError):
    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}")
        self.status = status


class ErpSandboxAdmin:
    def __init__(self, base_url: str, timeout: float = 120.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _call(self, method: str, path: str, body: dict | None = None, params: dict | None = None):
        response = self.session.request(method, f"{self.base_url}/_sandbox{path}", json=body,
                                        params=params, timeout=self.timeout)
        if response.status_code >= 300:
            raise SandboxAdminError(response.status_code, response.text[:500])
        return response.json()

    def reset(self) -> dict:
        return self._call("POST", "/reset")

    def seed(self, products: int, variants_per_parent: int = 0, warehouses: list | None = None,
             seed: int = 42) -> dict:
        return self._call("POST", "/seed", {"products": products, "variants_per_parent": variants_per_parent,
                                            "warehouses": warehouses, "seed": seed})

    def mutate(self, kind: str, count: int = 1) -> dict:
        """kind: price | stock | new | deactivate | ship; answer `{"kind", "changed": [ids]}`."""
        return self._call("POST", "/mutate", {"kind": kind, "count": count})

    def set_faults(self, rules: list[dict], seed: int | None = None) -> list[dict]:
        return self._call("PUT", "/faults", {"rules": rules, "seed": seed})["rules"]

    def faults(self) -> list[dict]:
        return self._call("GET", "/faults")["rules"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def set_config(self, **config) -> dict:
        """enforce_unique_external_ref=bool, latency_ms=int."""
        return self._call("PUT", "/config", config)

    def stats(self) -> dict:
        return self._call("GET", "/stats")

    def requests(self, correlation_id: str | None = None, limit: int | None = None) -> list[dict]:
        params = {k: v for k, v in (("correlation_id", correlation_id), ("limit", limit)) if v is not None}
        return self._call("GET", "/requests", params=params)["items"]

    def add_product(self, sku: str, **fields) -> dict:
        """Create a product: name, list_price, is_parent, parent_sku, attributes, is_active, ...,
        stock={"MAIN": {"on_hand": 5, "reserved": 0, "safety_stock": 0}}."""
        return self._call("POST", "/products", {"sku": sku, **fields})

    def update_product(self, sku: str, **changes) -> dict:
        return self._call("PATCH", f"/products/{sku}", changes)

    def put_category(self, code: str, name: str | None = None, parent_code: str | None = None, **more) -> dict:
        """Create or change a category (`parent_code=None` on an existing one keeps its parent unless given
        in `more` as `move_to_top=True`)."""
        body = {k: v for k, v in (("name", name), ("parent_code", parent_code)) if v is not None}
        if more.get("move_to_top"):
            body["parent_code"] = None
        return self._call("PUT", f"/categories/{code}", body)

    def set_stock(self, sku: str, warehouse: str, on_hand: int, reserved: int = 0,
                  safety_stock: int = 0) -> dict:
        """Set all three numbers of one stock row (and bump its modified_at)."""
        return self._call("PUT", "/inventory", {"sku": sku, "warehouse": warehouse, "on_hand": on_hand,
                                                "reserved": reserved, "safety_stock": safety_stock})

    def confirm_order(self, sales_order_id: str) -> dict:
        return self._call("POST", f"/sales-orders/{sales_order_id}/confirm")

    def ship_order(self, sales_order_id: str, lines: list[dict] | None = None, carrier: str = "DHL",
                   tracking_number: str | None = None) -> dict:
        """Ship `lines` ([{"sku", "quantity"}]) or everything left; answer the shipment."""
        return self._call("POST", f"/sales-orders/{sales_order_id}/ship",
                          {"lines": lines, "carrier": carrier, "tracking_number": tracking_number})
