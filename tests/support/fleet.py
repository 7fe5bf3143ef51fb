"""A real fleet for end-to-end tests: both sandboxes, the shim under gunicorn, `celery worker` and
`celery beat` processes, all talking over real HTTP and a real broker."""
from __future__ import annotations

import sys
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.procs import Proc, child_env, free_port, wait_http

if TYPE_CHECKING:
    from tests.support.tryton import TrytonServer

BIN = Path(sys.executable).parent


@dataclass
class Fleet:
    env: dict
    woo_url: str
    erp_url: str
    shim_url: str
    logs: Path
    procs: dict[str, Proc] = field(default_factory=dict)
    tryton: "TrytonServer | None" = None  # with launch(erp="tryton"): the ERP is a real trytond

    def start(self, name: str, argv: list[str], ready_url: str | None = None) -> Proc:
        proc = Proc(name, argv, self.env, self.logs / f"{name}.log").start()
        self.procs[name] = proc
        if ready_url:
            wait_http(ready_url, proc=proc, timeout=30)
        return proc

    def start_worker(self, name: str = "worker", queues: str = "orders,catalog,inventory",
                     concurrency: int = 2, pool: str | None = None) -> Proc:
        """`pool="threads"`: `concurrency` threads in one process (I/O-bound order imports), else prefork."""
        return self.start(name, [str(BIN / "celery"), "-A", "workers.app", "worker", "-Q", queues,
                                 "-c", str(concurrency), "-n", f"{name}@%h", "--loglevel", "INFO",
                                 "--without-mingle", "--without-gossip"] + (["-P", pool] if pool else []))

    def wait_workers_ready(self, names: list[str], timeout: float = 120) -> None:
        """Until every named worker answers a control ping (consuming its queues): a worker starts in
        seconds on a busy machine, which a benchmark must not count as the fleet's time."""
        from celery import Celery
        wanted, answered = {f"{name}@{socket.gethostname()}" for name in names}, set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            app = Celery("probe", broker=self.env["REDIS_URL"])
            try:
                answered |= {k for reply in app.control.ping(timeout=1.0) for k in reply}
            except Exception:  # a broker connection dropped under load: ask again
                time.sleep(0.5)
            finally:
                app.close()
            if wanted <= answered:
                return
        raise TimeoutError(f"workers not ready after {timeout:g} s: {sorted(wanted - answered)}")

    def start_beat(self) -> Proc:
        return self.start("beat", [str(BIN / "celery"), "-A", "workers.app", "beat", "--loglevel", "INFO",
                                   "-s", str(self.logs / "celerybeat-schedule")])

    def wait_until_idle(self, timeout: float = 60, quiet: float = 1.0) -> None:
        """Until nothing more happens: every queue empty, no message held by a worker (tasks are acked
        late, so an active, reserved or retry-scheduled task holds its message unacknowledged) and the
        webhook outbox drained, all of it for `quiet` seconds in a row. Fails the test after `timeout`.
        With beat running, "idle" is the gap between two scheduled polls."""
        import redis

        from connector import webhooks
        from connector.db import Database
        from workers.queues import ALL_QUEUES
        client, db = redis.Redis.from_url(self.env["REDIS_URL"]), Database(self.env["DATABASE_URL"])
        deadline, idle_since = time.monotonic() + timeout, None
        try:
            while time.monotonic() < deadline:
                busy = (sum(client.llen(q) for q in ALL_QUEUES) + client.hlen("unacked")
                        + len(webhooks.unpublished(db, limit=1)))
                if busy:
                    idle_since = None
                elif idle_since is None:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since >= quiet:
                    return
                time.sleep(0.1)
        finally:
            client.close()
            db.engine.dispose()
        raise TimeoutError(f"the fleet was not idle for {quiet} s within {timeout} s\n{self.dump_logs()}")

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()

    def dump_logs(self) -> str:
        return "\n".join(f"--- {n} ---\n{p.log_tail(40)}" for n, p in self.procs.items())


def launch(redis_url: str, database_url: str, logs: Path, erp: str = "rest", **settings: str) -> Fleet:
    """Sandboxes and the shim; `erp="tryton"` starts a trytond with demo data instead of the ERP sandbox."""
    woo_port, erp_port, shim_port = free_port(), free_port(), free_port()
    defaults = dict(PRODUCT_POLL_SECONDS="2", INVENTORY_POLL_SECONDS="2", ORDER_POLL_SECONDS="3", RELAY_SECONDS="1",
                    RETRY_BACKOFF_BASE_SECONDS="0.5", RETRY_BACKOFF_MAX_SECONDS="5", VISIBILITY_TIMEOUT_SECONDS="60",
                    ORDER_LEASE_SECONDS="15", LOG_LEVEL="INFO")
    env = child_env(REDIS_URL=redis_url, DATABASE_URL=database_url, WOO_URL=f"http://127.0.0.1:{woo_port}",
                    ERP_URL=f"http://127.0.0.1:{erp_port}", SHIM_URL=f"http://127.0.0.1:{shim_port}",
                    **{**defaults, **settings})
    fleet = Fleet(env, env["WOO_URL"], env["ERP_URL"], env["SHIM_URL"], logs)
    py = sys.executable
    fleet.start("woo", [py, "-m", "sandbox.woo", "--port", str(woo_port)], f"{fleet.woo_url}/wp-json/")
    if erp == "tryton":
        from tests.support.tryton import start_tryton
        fleet.tryton = start_tryton(logs / "tryton", logs / "tryton.log")
        fleet.procs["tryton"] = fleet.tryton.proc
        env.update(ERP_KIND="tryton", TRYTON_URL=fleet.tryton.url, TRYTON_DATABASE=fleet.tryton.database)
    else:
        fleet.start("erp", [py, "-m", "sandbox.erp", "--port", str(erp_port)], f"{fleet.erp_url}/_sandbox/stats")
    fleet.start("shim", [str(BIN / "gunicorn"), "--config", "python:shim.gunicorn_conf", "--workers", "2",
                         "--bind", f"127.0.0.1:{shim_port}", "shim.wsgi:app"], f"{fleet.shim_url}/healthz")
    return fleet
