"""Is the database at the schema this code was written for? Asked once when a process or command starts.

Without the check an un-migrated database (or one a release behind) surfaces as a raw SQL error ("no such
table", "column … does not exist") from whatever touches it first, mid-task or mid-command. With it, the
process stops before any work with one line that says what is wrong and what to run.

The answer compares Alembic's revision(s) recorded in the database (`alembic_version`) with the heads of
connector/migrations; nothing is changed. Migrating stays a deliberate step (`wooerp migrate`,
`make migrate`; `make run` migrates its own database).
"""
from __future__ import annotations

import logging
import sys

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from connector.db import Database, alembic_config, missing_database
from connector.logs import event

log = logging.getLogger("wooerp.schema")
MIGRATE = "run `wooerp migrate` (or `make migrate`) with this DATABASE_URL first"


def _where(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=True)


def compare(db: Database) -> tuple[str, str | None]:
    """("current", None), or ("missing" | "older" | "newer", one line saying so and what to do). Raises
    SQLAlchemy's errors when the database cannot be reached."""
    script = ScriptDirectory.from_config(alembic_config(db.url))
    wanted = set(script.get_heads())
    quiet = logging.getLogger("alembic.runtime.migration")  # its INFO lines ("Context impl …") say nothing here
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        with db.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    finally:
        quiet.setLevel(level)
    if current == wanted:
        return "current", None
    where = _where(db)
    if not current:
        return "missing", f"the database {where} has no wooerp schema (it was never migrated): {MIGRATE}"
    unknown = []
    for rev in sorted(current):
        try:
            if script.get_revision(rev) is None:
                unknown.append(rev)
        except CommandError:
            unknown.append(rev)
    if unknown:
        return "newer", (f"the database {where} is at schema revision {', '.join(unknown)}, newer than this "
                         f"release of wooerp knows (a newer release migrated it); run that release")
    return "older", (f"the database {where} is at schema revision {', '.join(sorted(current))}, older than this "
                     f"wooerp needs ({', '.join(sorted(wanted))}): {MIGRATE}")


def problem(db: Database) -> str | None:
    """The line that stops a process or command (never migrated, or a release behind), else None."""
    kind, line = compare(db)
    return line if kind in ("missing", "older") else None


def require(db: Database, process: str = "", *, tolerate_outage: bool = True) -> None:
    """At a process's or command's start: one line on stderr and exit status 2 when the database was never
    migrated or is a release behind. A database a newer release migrated only gets a warning: during a
    rolling upgrade the processes of the release before keep running (and restarting) on it, which its
    additive migrations allow. With `tolerate_outage`, a database that cannot be reached now is left to
    the process's own handling (its tasks retry an outage) after one warning line; without it (a command)
    the error propagates. An SQLite file that does not exist is refused the same way (exit status 2), before
    anything connects to it and so creates it (connector.db.missing_database)."""
    missing = missing_database(db.url)
    if missing:
        print(f"wooerp: {missing}", file=sys.stderr, flush=True)
        raise SystemExit(2)
    try:
        kind, line = compare(db)
    except Exception as e:  # noqa: BLE001
        if not tolerate_outage:
            raise
        event(log, "database schema not checked: the database did not answer", logging.WARNING,
              error=f"{type(e).__name__}: {str(e)[:200]}", process=process)
        return
    if kind == "newer":
        event(log, line, logging.WARNING, process=process)
    elif line:
        print(f"wooerp: {line}", file=sys.stderr, flush=True)
        raise SystemExit(2)
