"""Engine and session factory for SQLite and PostgreSQL, and schema upgrades through Alembic."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


def utcnow() -> datetime:
    """Naive UTC, the one time representation stored in the database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def normalise_url(url: str) -> str:
    """`url` with `postgres://` and `postgresql://` turned into `postgresql+psycopg2://` (SQLAlchemy 2.1 maps
    plain postgresql:// to psycopg 3; the card ships psycopg2); any other URL unchanged."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite `url` (relative to the working directory when the URL is), None for another
    database or an in-memory one."""
    url = normalise_url(url)
    if not url.startswith("sqlite"):
        return None
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path)


def missing_database(url: str) -> str | None:
    """One line saying that the SQLite file `url` names does not exist (a mistyped path, or never migrated),
    else None. Only `wooerp migrate` (and `make run`, which migrates) creates the file: every other command and
    process refuses with this line, so a typo never leaves an empty database (or directory) behind."""
    path = sqlite_file(url)
    if path is None or path.exists():
        return None
    return (f"the SQLite database {path} (DATABASE_URL) does not exist; check the path, or create it with "
            f"`wooerp migrate` (or `make migrate`)")


def make_engine(url: str) -> Engine:
    """An SQLAlchemy engine for `url` (postgres:// URLs go to psycopg2); it connects, and so creates an SQLite
    file, only when first used (`upgrade` creates the file's directory). SQLite: WAL journal, writers wait up to SQLITE_BUSY_TIMEOUT_SECONDS (default 30) for the lock; PostgreSQL:
    a pre-pinged pool of 5 (+10 overflow) connections."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        # how long a writer waits for SQLite's lock before the task counts it as a database outage
        from connector.settings import sqlite_busy_timeout  # settings imports the sync layer lazily, not db
        busy = sqlite_busy_timeout()  # ConfigError naming the variable, as at start-up
        engine = create_engine(url, connect_args={"timeout": busy, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # WAL lets the shim write while workers read; busy_timeout makes writers queue, not fail.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


class Database:
    """One engine and session factory per process."""

    def __init__(self, url: str):
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        """True when the database is SQLite (no row locks: `with_for_update` is skipped there)."""
        return self.url.startswith("sqlite")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error (re-raised). Rows stay readable after the
        block (`expire_on_commit` is off), detached."""
        s = self.sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()


def alembic_config(url: str):
    """An Alembic Config for the packaged migrations against `url` (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` (idempotent)."""
    from alembic import command

    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)
