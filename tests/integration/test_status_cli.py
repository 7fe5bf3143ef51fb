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


def test_retrying_a_gone_order_explains_why_and_exits_1(db, database_url):
    from connector.db import utcnow
    from connector.models import OrderSync
    with db.session() as s:
        s.add(OrderSync(woo_order_id=63, state="gone", reason="gone in WooCommerce (404); never imported",
                        created_at=utcnow(), updated_at=utcnow()))
    nowhere = free_port()
    result = CliRunner().invoke(main, ["orders", "retry", "63"], env={
        "DATABASE_URL": database_url, "WOO_URL": f"http://127.0.0.1:{nowhere}", "REDIS_URL": f"redis://127.0.0.1:{nowhere}/0"})
    assert result.exit_code == 1, result.output  # not in a state to retry, like every such refusal
    (line,) = [ln for ln in result.output.splitlines() if ln.strip()]
    assert "order 63: gone in WooCommerce" in line and "final" in line and "nothing to retry" not in line


def test_dead_letter_show_names_the_same_resource_as_the_list(db, database_url):
    from connector import dead_letters
    letter = dead_letters.Letter(task_id="t-sku", attempt_key="0", task_name="wooerp.catalog.apply_products",
                                 args=[["pct%2C", "B-1"]], kwargs={}, queue="catalog", correlation_id=None,
                                 retries=0, exc_type="PermanentError", exc_message="401", traceback=None)
    letter_id, _ = dead_letters.record(db, letter)
    env = {"DATABASE_URL": database_url}
    listed = CliRunner().invoke(main, ["dead-letters", "list"], env=env)
    shown = CliRunner().invoke(main, ["dead-letters", "show", str(letter_id)], env=env)
    assert listed.exit_code == 0 and shown.exit_code == 0, listed.output + shown.output
    assert "SKU pct%2C, B-1" in listed.output
    (line,) = [ln for ln in shown.output.splitlines() if ln.strip().startswith("resource:")]
    assert line.split(":", 1)[1].strip() == "SKU pct%2C, B-1"
