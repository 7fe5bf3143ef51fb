"""`make status` on a fleet whose streams have not synced anything yet says so, instead of `lag None s`."""
from __future__ import annotations

from click.testing import CliRunner

from connector.models import SyncCursor
from tests.support.procs import free_port
from ops.cli import main


def test_a_stream_that_never_synced_shows_no_lag(db, database_url):
    with db.session() as s:
        s.add(SyncCursor(stream="shipments"))
    nowhere = free_port()  # shop and broker unreachable: status still prints the database's part
    result = CliRunner().invoke(main, ["status"], env={
        "DATABASE_URL": database_url, "WOO_URL": f"http://127.0.0.1:{nowhere}", "REDIS_URL": f"redis://127.0.0.1:{nowhere}/0"})
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("stream shipments"))
    assert line.split() == ["stream", "shipments", "last", "success", "never,", "nothing", "synced", "yet"]
    assert "None" not in result.output


def test_retrying_a_gone_order_explains_why_and_exits_2(db, database_url):
    from connector.db import utcnow
    from connector.models import OrderSync
    with db.session() as s:
        s.add(OrderSync(woo_order_id=63, state="gone", reason="gone in WooCommerce (404); never imported",
                        created_at=utcnow(), updated_at=utcnow()))
    nowhere = free_port()
    result = CliRunner().invoke(main, ["orders", "retry", "63"], env={
        "DATABASE_URL": database_url, "WOO_URL": f"http://127.0.0.1:{nowhere}", "REDIS_URL": f"redis://127.0.0.1:{nowhere}/0"})
    assert result.exit_code == 2, result.output
    (line,) = [ln for ln in result.output.splitlines() if ln.strip()]
    assert "order 63: gone in WooCommerce" in line and "final" in line and "nothing to retry" not in line
