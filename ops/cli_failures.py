"""`wooerp dead-letters …` and `wooerp products retry`: what failed, and putting it right.

Dead letters (tasks that failed for good) are replayed or discarded; quarantined orders and products
are listed beside them, counted apart, and retried after their data was fixed. Every replay and discard
is audited on the letter (when, by whom, what, why) and updates the letter's row in Flower.
"""
from __future__ import annotations

import getpass
import socket
import sys
import uuid
from datetime import datetime, timedelta

import click

from connector import dead_letters, quarantine
from connector.services import Services
from connector.settings import load_or_exit
from workers.announce import announce
from workers.app import app

def _db():
    return Services(load_or_exit()).db


def _operator() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def _age(created: datetime | None) -> str:
    if created is None:
        return "-"
    seconds = int((datetime.utcnow() - created).total_seconds())
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    if value[-1] in "smhd" and value[:-1].isdigit():
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[value[-1]]
        try:
            return datetime.utcnow() - timedelta(**{unit: int(value[:-1])})
        except OverflowError:
            raise click.BadParameter(f"{value!r} is too far back", param_hint="'--since'") from None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither an age such as 2h, 30m, 7d nor an ISO date/time",
                                 param_hint="'--since'") from None


def _reannounce(db, letter_id: int) -> None:
    """Flip the letter's row in Flower to its new state; the database is already right if this fails."""
    try:
        announce(app, db, letter_id)
    except Exception as e:  # noqa: BLE001
        click.echo(f"dead letter {letter_id}: Flower not updated ({e})", err=True)


@click.group("dead-letters")
def dead_letters_group() -> None:
    """Dead letters: list, show, replay, discard (quarantined records are listed too)."""


@dead_letters_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include replayed and discarded letters, with their audit.")
def dl_list(show_all: bool) -> None:
    db = _db()
    rows = dead_letters.listing(db, status=None if show_all else dead_letters.OPEN)
    click.echo(f"{'id':>5}  {'task':<32} {'resource':<16} {'queue':<10} {'attempts':>8} {'age':>8}  {'status':<10} "
               f"{'correlation id':<32}  error")
    for r in rows:
        click.echo(f"{r.id:>5}  {r.task_name:<32} {_resource(r):<16} {r.queue or '-':<10} {r.retries + 1:>8} "
                   f"{_age(r.created_at):>8}  "
                   f"{r.status:<10} {r.correlation_id or '-':<32}  {r.exc_type}: {r.exc_message[:80]}")
        if r.status != dead_letters.OPEN:
            click.echo(f"{'':>7}└ {r.resolved_at:%Y-%m-%d %H:%M:%S} UTC by {r.resolved_by or 'unknown'}: {r.resolution}")
    click.echo(f"{len(rows)} dead letter(s)" + ("" if show_all else " open"))

    held = quarantine.listing(db)
    n = quarantine.counts(db)
    click.echo(f"\nquarantined, counted apart (fix the data, then `make retry-order ID=…` or "
               f"`make retry-product SKU=…`): {n['order']} order(s), {n['product']} product(s)")
    for h in held:
        click.echo(f"  {h.kind:<8} {h.key:<24} {h.state:<12} {_age(h.since):>8}  {h.reason}")


def _resource(letter) -> str:
    """What a letter is about: its recorded resource, else the task's arguments (letters older than 0015)."""
    if letter.resource:
        return letter.resource
    args = letter.args or []
    if args and isinstance(args[0], list) and letter.task_name.endswith("products"):
        skus = [str(s) for s in args[0]]
        return "SKU " + ", ".join(skus[:3]) + (f" (+{len(skus) - 3})" if len(skus) > 3 else "")
    return ("args " + ", ".join(str(a) for a in args))[:60] if args else "-"


@dead_letters_group.command("show")
@click.argument("letter_id", type=int)
def dl_show(letter_id: int) -> None:
    r = dead_letters.get(_db(), letter_id)
    if r is None:
        raise click.ClickException(f"no dead letter {letter_id}")
    for name in ("id", "status", "task_name", "resource", "task_id", "queue", "args", "kwargs", "correlation_id", "retries",
                 "exc_type", "exc_message", "created_at", "announced_at", "resolved_at", "resolved_by", "resolution",
                 "replay_task_id"):
        click.echo(f"{name:>15}: {_resource(r) if name == 'resource' else getattr(r, name)}")
    click.echo(f"{'traceback':>15}:\n{r.traceback}")


@dead_letters_group.command("replay")
@click.option("--id", "ids", multiple=True, type=int)
@click.option("--task", default=None)
@click.option("--since", default=None, help="ISO date/time, or an age such as 2h or 30m.")
@click.option("--reason", default=None, help="Why (kept in the audit), e.g. 'ERP outage over'.")
def dl_replay(ids, task, since, reason) -> None:
    """Republish open letters to their original queue; a letter is replayed at most once."""
    db = _db()
    letters = dead_letters.listing(db, task=task, since=_since(since), ids=list(ids) or None)
    replayed = 0
    for r in letters:
        if not dead_letters.replayable(r):
            click.echo(f"dead letter {r.id}: cannot be replayed (its message could not be decoded); discard it")
            continue
        new_id = uuid.uuid4().hex
        if not dead_letters.claim_for_replay(db, r.id, new_id, by=_operator(), reason=reason):
            continue  # replayed by someone else meanwhile
        try:
            app.send_task(r.task_name, args=r.args, kwargs=r.kwargs, task_id=new_id, queue=r.queue,
                          headers={"wooerp_cid": r.correlation_id})
        except Exception:
            dead_letters.reopen(db, r.id)
            raise
        replayed += 1
        click.echo(f"dead letter {r.id}: replayed as task {new_id}")
        _reannounce(db, r.id)
    click.echo(f"{replayed} letter(s) replayed")


@dead_letters_group.command("discard")
@click.option("--id", "letter_id", type=int, required=True)
@click.option("--reason", required=True)
def dl_discard(letter_id: int, reason: str) -> None:
    db = _db()
    if not dead_letters.discard(db, letter_id, reason, by=_operator()):
        raise click.ClickException(f"dead letter {letter_id} is not open")
    click.echo(f"dead letter {letter_id}: discarded ({reason})")
    _reannounce(db, letter_id)


@click.group()
def products() -> None:
    """Products: retry quarantined ones."""


@products.command("retry")
@click.argument("skus", nargs=-1, required=True)
def products_retry(skus: tuple[str, ...]) -> None:
    """Re-read quarantined products from the ERP and write them to the shop (after the data was fixed)."""
    held = quarantine.quarantined_skus(_db(), list(skus))
    for sku in skus:
        if sku not in held:
            click.echo(f"product {sku}: not quarantined; nothing to retry", err=True)
    if held:
        task = app.send_task("wooerp.catalog.apply_products", args=[sorted(held)])
        click.echo(f"product(s) {', '.join(sorted(held))}: queued as task {task.id}")
    sys.exit(0 if len(held) == len(set(skus)) else 1)
