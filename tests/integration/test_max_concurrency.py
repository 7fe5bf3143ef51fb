"""WOO_MAX_CONCURRENCY: requests open at the shop at once, for the whole fleet, on a real Redis.

The shop here is a small HTTP server that counts the requests it is serving at once; the callers are
separate processes with several threads each, every one going through the real WooClient built from
settings, as the workers build it."""
from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connector import concurrency
from connector.broker import redis_client
from connector.errors import TransientError
from connector.services import Services
from connector.settings import load

LIMIT, PROCESSES, THREADS, CALLS = 3, 3, 4, 8


class CountingShop(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock, self.open, self.most, self.served = threading.Lock(), 0, 0, 0


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        shop = self.server
        with shop.lock:
            shop.open += 1
            shop.most = max(shop.most, shop.open)
        time.sleep(0.03)  # a PHP worker busy with the request
        with shop.lock:
            shop.open -= 1
            shop.served += 1
        body = json.dumps({"id": 1}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _worker(env: dict, ready) -> None:
    """One worker process of the fleet: THREADS slots, each reading orders as fast as it may."""
    woo = Services(load(env)).woo
    ready.wait()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda _: [woo.get_order(1) for _ in range(CALLS)], range(THREADS)))


@pytest.fixture
def shop():
    server = CountingShop()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_worker_processes_never_have_more_requests_open_at_the_shop_than_the_limit(redis_url, shop):
    redis_client(redis_url).delete(concurrency.KEY_PREFIX + "woocommerce", concurrency.KEY_PREFIX + "woocommerce:wake")
    env = {"REDIS_URL": redis_url, "WOO_URL": f"http://127.0.0.1:{shop.server_address[1]}",
           "WOO_MAX_CONCURRENCY": str(LIMIT)}
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(PROCESSES)
    procs = [ctx.Process(target=_worker, args=(env, ready)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    assert shop.served == PROCESSES * THREADS * CALLS  # every request went through, none was refused
    assert shop.most == LIMIT  # never more than the limit at once, and the limit was used
    assert Services(load(env)).woo.slots.held() == 0  # every slot given back


def test_without_the_setting_requests_are_not_capped(shop):
    woo = Services(load({"WOO_URL": f"http://127.0.0.1:{shop.server_address[1]}"})).woo
    assert woo.slots is None
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: woo.get_order(1), range(30)))
    assert shop.most > LIMIT


def _hold_all(redis_url: str, name: str, limit: int, lease: float, held) -> None:
    sem = concurrency.Semaphore(redis_client(redis_url), name, limit, lease)
    for _ in range(limit):
        sem.acquire()
    held.set()
    time.sleep(600)  # killed long before


def test_a_killed_holders_slots_come_back_when_their_lease_ends(redis_url):
    name, lease = f"test-{uuid.uuid4().hex}", 3.0
    ctx = multiprocessing.get_context("spawn")
    held = ctx.Event()
    holder = ctx.Process(target=_hold_all, args=(redis_url, name, 2, lease, held))
    holder.start()
    assert held.wait(60)
    os.kill(holder.pid, signal.SIGKILL)  # never releases
    holder.join(10)
    impatient = concurrency.Semaphore(redis_client(redis_url), name, 2, lease, max_wait_seconds=0.2)
    if impatient.held() == 2:  # the dead holder's leases are live: nobody gets in meanwhile
        with pytest.raises(TransientError, match="no free slot"):
            impatient.acquire()
    patient = concurrency.Semaphore(redis_client(redis_url), name, 2, lease, max_wait_seconds=60)
    first, second = patient.acquire(), patient.acquire()  # both slots are back once the leases end
    assert first != second and patient.held() == 2
    patient.release(first)
    assert patient.held() == 1


def test_an_unreachable_redis_is_a_transient_error():
    from tests.support.procs import free_port
    sem = concurrency.semaphore(f"redis://127.0.0.1:{free_port()}/0", "x", 2, 5)
    with pytest.raises(TransientError, match="concurrency limiter"):
        sem.acquire()
