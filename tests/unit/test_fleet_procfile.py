"""`make run`'s process list: two fleets on one machine (two checkouts, ports moved) share nothing."""
from __future__ import annotations

import shlex

from connector.settings import load
from ops.fleet import VAR, procfile


def test_the_shims_control_socket_is_the_checkouts_own_not_the_users():
    shim = shlex.split(dict(procfile(load({}), {}))["shim"])
    socket = shim[shim.index("--control-socket") + 1]
    assert socket == str(VAR / "gunicorn.ctl")  # gunicorn's default, ~/.gunicorn/gunicorn.ctl, is one per user
