"""A real trytond for tests: its own copy of the cached demo database, its own free port, stopped after.

`start_tryton(folder, log)` serves sandbox/tryton's demo data; `TrytonAdmin` does what a Tryton user
would do in the client (receive stock, change a price, ship a sale, look at sales and parties).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from connector.erp.tryton import TrytonErp
from connector.erp.tryton_rpc import TrytonRpc
from sandbox.tryton import ADMIN_PASSWORD, DATABASE, PASSWORD, USER
from sandbox.tryton.database import cached
from tests.support.procs import PYTHON, Proc, child_env, free_port, wait_http

START_TIMEOUT = 60


@dataclass
class TrytonServer:
    url: str
    database: str
    proc: Proc

    def rpc(self, user: str = USER, password: str = PASSWORD, **kw) -> TrytonRpc:
        return TrytonRpc(self.url, self.database, user, password, timeout=30, **kw)

    def adapter(self, **kw) -> TrytonErp:
        return TrytonErp(self.rpc(), **kw)

    def stop(self) -> None:
        self.proc.stop()


def start_tryton(folder: Path, log_path: Path, env: dict | None = None) -> TrytonServer:
    cached()  # build the demo database first (once per cache key), outside the start timeout
    port = free_port()
    proc = Proc("tryton", [PYTHON, "-m", "sandbox.tryton", "--port", str(port), "--dir", str(folder), "--fresh"],
                env or child_env(), log_path).start()
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/", timeout=START_TIMEOUT, proc=proc)  # trytond listens once its pool is loaded
    return TrytonServer(url, DATABASE, proc)


class TrytonAdmin:
    """Tryton-side actions for tests, as the demo user (sales, stock and party groups)."""

    def __init__(self, server: TrytonServer):
        self.rpc = server.rpc()
        self.root = server.rpc("admin", ADMIN_PASSWORD)  # configuration and accounting: Tryton's admin

    def invoice_method(self, method: str) -> str:
        """Set the invoice method new sales get ("manual", "order", "fulfillment"); returns the previous one."""
        before = self.root.model("sale.configuration", "read", [1], ["sale_invoice_method"])[0]["sale_invoice_method"]
        self.root.model("sale.configuration", "write", [1], {"sale_invoice_method": method})
        return before

    def invoices(self, sale_id: int) -> list[dict]:
        """The sale's invoices: state and total (negative: a credit), oldest first."""
        ids = self.root.model("sale.sale", "read", [sale_id], ["invoices"])[0]["invoices"]
        return self.root.model("account.invoice", "search_read", [("id", "in", ids)], 0, None, [["id", "ASC"]],
                               ["state", "total_amount"])

    def post_invoices(self, sale_id: int) -> None:
        """What the accountant does: post the sale's draft invoices."""
        drafts = [i["id"] for i in self.invoices(sale_id) if i["state"] == "draft"]
        self.root.model("account.invoice", "post", drafts)

    def product_id(self, sku: str) -> int:
        found = self.rpc.model("product.product", "search", [("code", "=", sku)], 0, 1, None)
        assert found, f"no product {sku} in Tryton"
        return found[0]

    def warehouse(self, code: str) -> dict:
        found = self.rpc.model("stock.location", "search_read", [("code", "=", code)], 0, 1, None,
                               ["storage_location"])
        assert found, f"no warehouse {code} in Tryton"
        return found[0]

    def receive(self, sku: str, warehouse: str, quantity: int) -> None:
        """A done move of `quantity` from lost-and-found into the warehouse's storage zone."""
        product = self.product_id(sku)
        lost = self.rpc.model("stock.location", "search", [("type", "=", "lost_found")], 0, 1, None)[0]
        unit = self.rpc.model("product.product", "read", [product], ["default_uom"])[0]["default_uom"]
        move, = self.rpc.model("stock.move", "create", [{
            "product": product, "unit": unit, "quantity": float(quantity), "from_location": lost,
            "to_location": self.warehouse(warehouse)["storage_location"], "company": self.rpc.context["company"]}])
        self.rpc.model("stock.move", "do", [move])

    def set_price(self, sku: str, price: str) -> None:
        product = self.rpc.model("product.product", "read", [self.product_id(sku)], ["template"])[0]
        self.rpc.model("product.template", "write", [product["template"]], {"list_price": Decimal(price)})

    def sales(self, reference: str) -> list[dict]:
        ids = self.rpc.model("sale.sale", "search", [("reference", "=", reference)], 0, None, None)
        return self.rpc.model("sale.sale", "read", ids, [
            "number", "state", "reference", "party.name", "lines.product.code", "lines.quantity",
            "lines.unit_price", "lines.type", "shipments"]) if ids else []

    def parties_with_email(self, email: str) -> list[int]:
        return self.rpc.model("party.party", "search", [
            ("contact_mechanisms", "where", [("type", "=", "email"), ("value", "=", email)])], 0, None, None)

    def draft_sale(self, party: int, reference: str, sku: str, quantity: int, price: str) -> int:
        """A sale left in draft, as a creation interrupted after its first call leaves it."""
        address = self.rpc.model("party.address", "search", [("party", "=", party)], 0, 1, None)[0]
        product = self.product_id(sku)
        unit = self.rpc.model("product.product", "read", [product], ["default_uom"])[0]["default_uom"]
        sale, = self.rpc.model("sale.sale", "create", [{
            "party": party, "reference": reference, "invoice_address": address, "shipment_address": address,
            "lines": [["create", [{"type": "line", "product": product, "quantity": float(quantity), "unit": unit,
                                   "unit_price": Decimal(price)}]]]}])
        return sale

    def ship(self, sale_id: int, reference: str, only: tuple[str, ...] = (), steps=("assign_try", "pick", "pack",
                                                                                  "do")) -> int:
        """Pick, pack and finish the sale's waiting shipment, with `reference` as its tracking number. `only`:
        the SKUs the warehouse ships now (it picks none of the others, which Tryton then plans in a new
        shipment); `steps`: how far the warehouse gets."""
        shipments = [s["id"] for s in self.rpc.model("stock.shipment.out", "search_read", [
            ("id", "in", self.rpc.model("sale.sale", "read", [sale_id], ["shipments"])[0]["shipments"]),
            ("state", "=", "waiting")], 0, None, None, ["id"])]
        assert len(shipments) == 1, shipments
        self.rpc.model("stock.shipment.out", "write", shipments, {"reference": reference})
        if only:
            moves = self.rpc.model("stock.shipment.out", "read", shipments, ["inventory_moves"])[0]["inventory_moves"]
            skipped = [m["id"] for m in self.rpc.model("stock.move", "read", moves, ["product.code"])
                       if m["product."]["code"] not in only]
            self.rpc.model("stock.move", "write", skipped, {"quantity": 0.0})
        for step in steps:
            self.rpc.model("stock.shipment.out", step, shipments)
        return shipments[0]
