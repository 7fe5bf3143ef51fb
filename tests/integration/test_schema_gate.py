"""A database that was never migrated, or is a release behind, stops every command and process at start
with one line saying what is wrong and what to run, instead of a raw SQL error from the first query."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from connector.db import Database, upgrade
from connector.schema import problem
from tests.conftest import worker_index
from tests.support.procs import free_port

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = dict(WOOERP_ENV="production", WOO_URL="https://shop.invalid", WOO_CONSUMER_KEY="ck_" + "1f" * 20,
                  WOO_CONSUMER_SECRET="cs_" + "2e" * 20, WOO_WEBHOOK_SECRET="webhook-secret-" + "3d" * 8,
                  ERP_URL="https://erp.invalid", ERP_TOKEN="erp-token-" + "4c" * 8,
                  FLOWER_PASSWORD="flower-password-" + "5b" * 4, IDENTITY_WAIT_SECONDS="0")


def env_for(url: str, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_URL": url,
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", **extra}


def empty_database(tmp_path, name: str):
    """An empty database of the kind the run uses: SQLite, or a new PostgreSQL database beside DATABASE_URL's."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):  # an SQLite file that exists but holds nothing (a missing file is
        path = tmp_path / (name + ".db")  # refused apart: tests/integration/test_cli_output.py)
        sqlite3.connect(path).close()
        yield f"sqlite:///{path}"
        return
    import psycopg2
    parts = urlsplit(base)
    db_name = f"{parts.path.strip('/')}_{name}_{worker_index()}"
    admin = psycopg2.connect(parts._replace(path="/postgres").geturl().replace("postgresql+psycopg2", "postgresql"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{db_name}"')
        cur.execute(f'CREATE DATABASE "{db_name}"')
    try:
        yield parts._replace(path=f"/{db_name}").geturl()
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def fresh(tmp_path):
    yield from empty_database(tmp_path, "fresh")


@pytest.fixture
def behind(tmp_path):
    for url in empty_database(tmp_path, "behind"):
        upgrade(url, "0015")  # a release behind: no system_binding, no stock_hold
        yield url


def cli(url: str, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ops.cli", *args], capture_output=True, text=True,
                          env=env_for(url, **extra), cwd=ROOT, timeout=60)


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "no such table" not in stderr and "sqlalchemy" not in stderr.lower()
    return lines[0]


@pytest.mark.parametrize("args", [("status",), ("dead-letters", "list"), ("reconcile",)])  # each way in
def test_a_command_on_a_never_migrated_database_says_to_migrate(fresh, args):
    p = cli(fresh, *args, **PRODUCTION)
    assert p.returncode == 2, p.stdout + p.stderr
    line = one_line(p.stderr)
    assert "never migrated" in line and "wooerp migrate" in line and "make migrate" in line


def test_a_database_a_release_behind_names_both_revisions(behind):
    p = cli(behind, "orders", "list")
    assert p.returncode == 2
    line = one_line(p.stderr)
    head = Database(behind)
    assert "0015" in line and "older" in line and "wooerp migrate" in line
    assert problem(head) == line.removeprefix("wooerp: ")


def test_after_migrate_the_command_runs(behind):
    assert cli(behind, "migrate").returncode == 0
    p = cli(behind, "orders", "list")
    assert p.returncode == 0 and not p.stderr, p.stderr


def test_a_database_of_a_newer_release_is_warned_about_not_refused(behind):
    """During a rolling upgrade the release before keeps running on the newer (additive) schema."""
    upgrade(behind)
    db = Database(behind)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0999'")
    p = cli(behind, "orders", "list")
    assert p.returncode == 0, p.stderr
    (line,) = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert "0999" in line and "newer" in line and "older" not in line


@pytest.mark.parametrize("argv", [
    ["-m", "celery", "-A", "workers.app", "worker", "-Q", "orders", "--pool", "solo"],
    ["-m", "celery", "-A", "workers.app", "beat", "--schedule", "{tmp}/beat-schedule"],
    ["-m", "gunicorn", "--config", "python:shim.gunicorn_conf", "--workers", "1", "--bind", "127.0.0.1:{port}",
     "shim.wsgi:app"],
], ids=["worker", "beat", "shim"])
def test_a_worker_or_beat_in_production_refuses_an_unmigrated_database(fresh, tmp_path, argv):
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{port}", str(free_port())) for a in argv]
    p = subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                       env=env_for(fresh, **PRODUCTION))
    assert p.returncode == 2, p.stderr[-2000:]
    (line,) = [ln for ln in p.stderr.splitlines() if ln.startswith("wooerp:")]
    assert "never migrated" in line and "wooerp migrate" in line
    assert "Traceback" not in p.stderr and "no such table" not in p.stderr
