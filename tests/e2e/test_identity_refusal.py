"""A database built with another shop: the worker, beat and the shim refuse to start, each with status 2
and one line that names the changed identity and the two ways forward."""
from __future__ import annotations

import subprocess

import pytest

from connector.models import SystemBinding
from tests.support.fleet import BIN
from tests.support.procs import wait_until

pytestmark = pytest.mark.e2e


def test_every_process_refuses_a_shop_the_database_was_not_built_with(fleet, db):
    # the shim bound the database to the sandbox shop when it started; now it is another install's state
    bound = wait_until(lambda: db.sessions().get(SystemBinding, "shop"), 10, 0.2, "the shim's binding")
    with db.session() as s:
        s.get(SystemBinding, "shop").identity = {**bound.identity, "store_id": "another-install"}

    for name, argv in (("worker", [str(BIN / "celery"), "-A", "workers.app", "worker", "-Q", "orders", "-c", "1"]),
                       ("beat", [str(BIN / "celery"), "-A", "workers.app", "beat", "-s", str(fleet.logs / "sched")]),
                       ("shim", [str(BIN / "gunicorn"), "--config", "python:shim.gunicorn_conf", "--bind",
                                 "127.0.0.1:0", "shim.wsgi:app"])):
        done = subprocess.run(argv, env=fleet.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, (name, done.stdout[-2000:], done.stderr[-2000:])
        refusal = [line for line in (done.stdout + done.stderr).splitlines() if "is not the one" in line]
        assert len(refusal) == 1, (name, done.stderr[-2000:])
        assert "store_id was 'another-install'" in refusal[0] and "wooerp rebind shop" in refusal[0], refusal
        assert "new database" in refusal[0]

    # after an explicit re-bind the worker starts
    rebind = subprocess.run([str(BIN / "wooerp"), "rebind", "shop", "--reason", "restored from backup"],
                            env=fleet.env, capture_output=True, text=True, timeout=60)
    assert rebind.returncode == 0, rebind.stderr
    assert "re-bound" in rebind.stderr and "restored from backup" in rebind.stderr
    fleet.start_worker()
    wait_until(lambda: "ready" in fleet.procs["worker"].log_tail(), 60, 0.5, "the worker after the re-bind")
