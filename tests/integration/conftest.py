"""Both sandboxes as real processes, shared by a module's tests (each test resets what it uses)."""
from __future__ import annotations

import sys

import pytest

from tests.support.procs import Proc, child_env, free_port, wait_http


@pytest.fixture(scope="module")
def sandboxes(tmp_path_factory):
    logs = tmp_path_factory.mktemp("sandboxes")
    woo_port, erp_port = free_port(), free_port()
    procs = [Proc("woo", [sys.executable, "-m", "sandbox.woo", "--port", str(woo_port)], child_env(),
                  logs / "woo.log").start(),
             Proc("erp", [sys.executable, "-m", "sandbox.erp", "--port", str(erp_port)], child_env(),
                  logs / "erp.log").start()]
    woo_url, erp_url = f"http://127.0.0.1:{woo_port}", f"http://127.0.0.1:{erp_port}"
    try:
        wait_http(woo_url + "/wp-json/", proc=procs[0])
        wait_http(erp_url + "/_sandbox/stats", proc=procs[1])
        yield woo_url, erp_url
    finally:
        for p in procs:
            p.stop()
