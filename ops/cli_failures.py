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
from datetime import datetime, timedelta, timezone

import click

from connector import dead_letters, quarantine
from connector.display import one_line
from connector.schema import require as require_schema
from connector.services import Services
from connector.settings import load_or_exit
from workers.announce import announce
from workers.app import app

class NotFound(click.ClickException):
    """What the operator named does not exist, or is not in a state for the action: exit status 1 (a
    usage error, click.UsageError/BadParameter, is status 2)."""
    exit_code = 1


def _db():
    db = Services(load_or_exit()).db
    require_schema(db, tolerate_outage=False)  # un-migrated: one line and exit status 2, not an SQL error
    return db


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
    now = datetime.utcnow()
    if value[-1] in "smhd" and value[:-1].isdigit():
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[value[-1]]
        try:
            return now - timedelta(**{unit: int(value[:-1])})
        except OverflowError:
            raise click.BadParameter(f"{value!r} is too far back", param_hint="'--since'") from None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither an age such as 2h, 30m, 7d nor an ISO date/time",
                                 param_hint="'--since'") from None
    if when.tzinfo is not None:  # the letters' times are naive UTC
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    if when > now:
        raise click.BadParameter(f"{value!r} is in the future (UTC now is {now:%Y-%m-%d %H:%M}): it would match "
                                 f"nothing", param_hint="'--since'")
    return when


def _task(db, value: str | None) -> str | None:
    """`--task` as given, if some task name holds it (a registered task, or one a letter was recorded for)."""
    if not value:
        return None
    app.loader.import_default_modules()
    known = {name for name in app.tasks if name.startswith("wooerp.")} | dead_letters.task_names(db)
    if not any(value in name for name in known):
        short = sorted({name.rsplit(".", 1)[-1] for name in known})
        raise click.BadParameter(f"{value!r} matches no task; give a task name or part of one, e.g. "
                                 f"{', '.join(short[:8])}", param_hint="'--task'")
    return value


def said(_ctx, param, value: str | None) -> str | None:
    """A --reason that is given must say something: an audit line of spaces explains nothing."""
    if value is not None and not value.strip():
        raise click.BadParameter("is empty; say why (it is kept with who and when)", param_hint=f"'--{param.name}'")
    return value.strip() if value is not None else None


def _not_open(letter) -> str:
    when = f"{letter.resolved_at:%Y-%m-%d %H:%M} UTC" if letter.resolved_at else "at an unknown time"
    return (f"dead letter {letter.id} is not open: {letter.status} {when} by {letter.resolved_by or 'unknown'} "
            f"({letter.resolution})")


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
        click.echo(f"{r.id:>5}  {one_line(r.task_name, 48):<32} {one_line(_resource(r), 40):<16} "
                   f"{one_line(r.queue or '-', 24):<10} {r.retries + 1:>8} {_age(r.created_at):>8}  "
                   f"{r.status:<10} {one_line(r.correlation_id or '-', 40):<32}  "
                   f"{one_line(f'{r.exc_type}: {one_line(r.exc_message)}', 100)}")
        if r.status != dead_letters.OPEN:
            click.echo(f"{'':>7}└ {r.resolved_at:%Y-%m-%d %H:%M:%S} UTC by {one_line(r.resolved_by or 'unknown', 60)}: "
                       f"{one_line(r.resolution, 160)}")
    click.echo(f"{len(rows)} dead letter(s)" + ("" if show_all else " open"))

    held = quarantine.listing(db)
    n = quarantine.counts(db)
    click.echo(f"\nquarantined, counted apart (fix the data, then `make retry-order ID=…` or "
               f"`make retry-product SKU=…`): {n['order']} order(s), {n['product']} product(s); needing a person "
               f"(listed too): {n['attention']} order(s) in attention, {n['conflict']} in conflict")
    for h in held:
        click.echo(f"  {h.kind:<8} {one_line(h.key, 48):<24} {h.state:<12} {_age(h.since):>8}  {one_line(h.reason, 160)}")


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
        raise NotFound(f"no dead letter {letter_id}")
    for name in ("id", "status", "task_name", "resource", "task_id", "queue", "args", "kwargs", "correlation_id", "retries",
                 "exc_type", "exc_message", "created_at", "announced_at", "resolved_at", "resolved_by", "resolution",
                 "replay_task_id"):
        click.echo(f"{name:>15}: {one_line(_resource(r) if name == 'resource' else getattr(r, name))}")
    click.echo(f"{'traceback':>15}:\n{r.traceback}")


@dead_letters_group.command("replay")
@click.option("--id", "ids", multiple=True, type=int)
@click.option("--task", default=None, help="Only letters of tasks whose name holds this, e.g. import_order.")
@click.option("--since", default=None, help="ISO date/time (UTC), or an age such as 2h or 30m.")
@click.option("--reason", default=None, callback=said, help="Why (kept in the audit), e.g. 'ERP outage over'.")
def dl_replay(ids, task, since, reason) -> None:
    """Republish open letters to their original queue; a letter is replayed at most once.

    Exit status 1 when a letter named with --id does not exist, was discarded or cannot be replayed (the
    others are replayed all the same; one replayed already is not an error: replaying is idempotent); 2 for
    a malformed --since or a --task no task name holds."""
    since_at = _since(since)
    db = _db()
    task = _task(db, task)
    letters = dead_letters.listing(db, task=task, since=since_at, ids=list(ids) or None)
    failed = False
    if ids:
        listed = {r.id for r in letters}
        for letter_id in dict.fromkeys(ids):
            if letter_id in listed:
                continue
            r = dead_letters.get(db, letter_id)
            if r is not None and r.status == dead_letters.REPLAYED:  # replaying is idempotent: done already
                click.echo(f"dead letter {letter_id} was already replayed "
                           f"{r.resolved_at:%Y-%m-%d %H:%M} UTC by {r.resolved_by or 'unknown'}; not replayed again",
                           err=True)
                continue
            why = (f"no dead letter {letter_id}" if r is None else _not_open(r) if r.status != dead_letters.OPEN
                   else f"dead letter {letter_id} does not match --task/--since")
            click.echo(f"{why}; not replayed", err=True)
            failed = True
    replayed = 0
    for r in letters:
        if not dead_letters.replayable(r):
            click.echo(f"dead letter {r.id} cannot be replayed (its message could not be decoded); "
                       f"discard it", err=True)
            failed = True
            continue
        new_id = uuid.uuid4().hex
        if not dead_letters.claim_for_replay(db, r.id, new_id, by=_operator(), reason=reason):
            click.echo(f"dead letter {r.id} was replayed or discarded by someone else meanwhile", err=True)
            failed = failed or bool(ids)
            continue
        try:
            app.send_task(r.task_name, args=r.args, kwargs=r.kwargs, task_id=new_id, queue=r.queue,
                          headers={"wooerp_cid": r.correlation_id})
        except Exception:
            dead_letters.reopen(db, r.id)
            raise
        replayed += 1
        click.echo(f"dead letter {r.id}: replayed as task {new_id}")
        _reannounce(db, r.id)
    click.echo(f"{replayed} letter(s) replayed" + ("" if letters or ids else " (no open dead letter matches)"))
    if failed:
        sys.exit(1)


@dead_letters_group.command("discard")
@click.option("--id", "letter_id", type=int, required=True)
@click.option("--reason", required=True, callback=said, help="Why (kept in the audit), e.g. 'order deleted in shop'.")
def dl_discard(letter_id: int, reason: str) -> None:
    db = _db()
    if not dead_letters.discard(db, letter_id, reason, by=_operator()):
        r = dead_letters.get(db, letter_id)
        raise NotFound(f"no dead letter {letter_id}" if r is None else _not_open(r))
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
            click.echo(f"product {one_line(sku, 64)}: not quarantined (unknown SKU, or its data is fine); nothing to retry",
                       err=True)
    if held:
        task = app.send_task("wooerp.catalog.apply_products", args=[sorted(held)])
        click.echo(f"product(s) {', '.join(sorted(held))}: queued as task {task.id}")
    sys.exit(0 if len(held) == len(set(skus)) else 1)
