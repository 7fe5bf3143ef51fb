"""The database is bound to one shop and one ERP tenant: the first start records both, every later start
compares, and a changed shop or ERP stops the process with status 2 and one line naming the two ways on."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from connector import identity
from connector.erp.rest import RestErp
from connector.models import OrderSync, SystemBinding
from connector.settings import SANDBOX_ERP_TOKEN, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET
from connector.sync.orders import OrderImporter
from connector.woo.client import WooClient
from sandbox.erp.admin import ErpSandboxAdmin
from sandbox.woo.admin import WooSandboxAdmin


class Parts:
    def __init__(self, db, woo_url, erp_url):
        self.db = db
        self.woo = WooClient(woo_url, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET, timeout=10)
        self.erp = RestErp(erp_url, SANDBOX_ERP_TOKEN, timeout=10)


@pytest.fixture
def parts(db, sandboxes):
    WooSandboxAdmin(sandboxes[0]).reset()
    ErpSandboxAdmin(sandboxes[1]).reset()
    return Parts(db, *sandboxes)


def _refusal(parts, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        identity.enforce(parts, wait_seconds=0)
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_the_first_start_binds_and_later_starts_verify(parts, sandboxes):
    assert identity.verify(parts.db, parts.woo, parts.erp) == {"shop": "bound", "erp": "bound"}
    assert identity.verify(parts.db, parts.woo, parts.erp) == {"shop": "verified", "erp": "verified"}
    bound = identity.recorded(parts.db)
    assert bound["shop"]["identity"]["home_url"] == sandboxes[0]
    assert bound["shop"]["identity"]["store_id"] and bound["erp"]["identity"]["tenant_id"]
    # emptying the shop and the ERP (their data, not their install) keeps them the same shop and ERP
    WooSandboxAdmin(sandboxes[0]).reset()
    ErpSandboxAdmin(sandboxes[1]).reset()
    assert identity.verify(parts.db, parts.woo, parts.erp) == {"shop": "verified", "erp": "verified"}


def test_another_shop_is_refused_until_an_explicit_rebind(parts, capsys, caplog):
    identity.verify(parts.db, parts.woo, parts.erp)
    with parts.db.session() as s:  # the database was built with another shop (another install)
        row = s.get(SystemBinding, "shop")
        row.identity = {**row.identity, "store_id": "0b1c2d3e-another-install"}
    line = _refusal(parts, capsys)
    assert "the shop is not the one this database belongs to" in line
    assert "store_id was '0b1c2d3e-another-install'" in line
    assert "new database" in line and "wooerp rebind shop --reason" in line

    old, new = identity.rebind(parts.db, parts.woo, parts.erp, "shop", "restored the shop from last night")
    assert old["store_id"] == "0b1c2d3e-another-install" and new["store_id"] != old["store_id"]
    assert any(r.getMessage() == "database re-bound to this shop" for r in caplog.records)
    assert identity.recorded(parts.db)["shop"]["reason"] == "restored the shop from last night"
    identity.enforce(parts, wait_seconds=0)  # starts again


def test_another_erp_tenant_is_refused(parts, capsys):
    identity.verify(parts.db, parts.woo, parts.erp)
    with parts.db.session() as s:
        s.execute(update(SystemBinding).where(SystemBinding.side == "erp").values(identity={"kind": "rest", "tenant_id": "live"}))
    line = _refusal(parts, capsys)
    assert "the ERP is not the one" in line and "tenant_id was 'live'" in line and "wooerp rebind erp" in line


def test_a_shop_that_went_back_in_time_is_refused(parts, sandboxes, capsys):
    """Same install, same URL, but the orders we imported are gone: restored from a backup."""
    woo_url, erp_url = sandboxes
    ErpSandboxAdmin(erp_url).add_product("BACKUP-1", name="Backup test", list_price="5.00")
    parts.woo.call("POST", "products", {"name": "Backup test", "sku": "BACKUP-1", "regular_price": "5.00",
                                        "manage_stock": True, "stock_quantity": 10})
    order_ids = [WooSandboxAdmin(woo_url).checkout([{"sku": "BACKUP-1", "quantity": 1}])["id"] for _ in range(2)]
    identity.verify(parts.db, parts.woo, parts.erp)
    importer = OrderImporter(parts.db, parts.woo, parts.erp, import_statuses=("processing",), currencies=("EUR",))
    for oid in order_ids:
        assert importer.run(oid).state == "written_back"
    identity.enforce(parts, wait_seconds=0)  # nothing lost yet

    parts.woo.call("DELETE", f"orders/{order_ids[-1]}", params={"force": "true"})
    line = _refusal(parts, capsys)
    assert f"order #{order_ids[-1]}, which we imported, is gone" in line and f"newest order is #{order_ids[0]}" in line
    # a newer order in the shop means the missing one was deleted, not forgotten by a restore
    WooSandboxAdmin(woo_url).checkout([{"sku": "BACKUP-1", "quantity": 1}])
    identity.enforce(parts, wait_seconds=0)
    with parts.db.session() as s:
        assert s.get(OrderSync, order_ids[-1]).state == "written_back"
