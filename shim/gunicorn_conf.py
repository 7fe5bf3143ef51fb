"""gunicorn hooks for the shim's metrics: `gunicorn --config python:shim.gunicorn_conf ... shim.wsgi:app`.

The master makes a fresh, private PROMETHEUS_MULTIPROC_DIR before it forks the workers (so no count of
an earlier run or of another instance is ever merged in), tells prometheus_client when a worker exits,
and removes the directory when it stops. prometheus_client is imported only after the variable is set.
"""
from __future__ import annotations

import os
import shutil
import tempfile

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def on_starting(server) -> None:
    os.environ[VARIABLE] = tempfile.mkdtemp(prefix="wooerp-shim-metrics-")
    _refuse_another_shop_or_erp()


def _refuse_another_shop_or_erp() -> None:
    """The shim never accepts deliveries on an un-migrated database or for state that belongs to another
    shop or ERP tenant (exit status 2): connector.startup."""
    from connector import logs
    from connector.services import Services
    from connector.settings import load_or_exit
    from connector.startup import gate
    try:
        settings = load_or_exit()
        logs.setup(settings.log_level, secrets=settings.secrets())
        gate(Services(settings), process="shim")
    except SystemExit:
        shutil.rmtree(os.environ.pop(VARIABLE, ""), ignore_errors=True)
        os._exit(2)  # gunicorn's arbiter would report a failed hook with status 1


def child_exit(server, worker) -> None:
    from prometheus_client.multiprocess import mark_process_dead
    mark_process_dead(worker.pid)


def on_exit(server) -> None:
    path = os.environ.pop(VARIABLE, None)
    if path:
        shutil.rmtree(path, ignore_errors=True)


# Slow clients (deploy/README.md): threaded workers, so that a connection trickling its request holds one
# thread, not a whole worker; the shim gives a body WEBHOOK_BODY_TIMEOUT_SECONDS (shim.app) before a 408.
# The gunicorn master's heartbeat `timeout` then only catches a worker that is really stuck. Command-line
# options (`--workers`, `--threads`) override these defaults.
worker_class = "gthread"
threads = 64
timeout = 30
keepalive = 5
