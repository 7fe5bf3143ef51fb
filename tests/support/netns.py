"""A second machine for tests: a Linux network namespace with its own address, joined to this one by a
veth pair, plus a small TCP forwarder for services that must stay on loopback.

Only link-local traffic between the two ends of the pair: the namespace has no other interface and no
default route, so nothing it runs can reach anything but the host-side address of the pair.
"""
from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass

POOL = ipaddress.ip_network("10.213.0.0/16")  # /30s for the pair are taken from here, if free on this host


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError(f"`ip {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()}")
    return done


def _networks_in_use() -> list[ipaddress.IPv4Network]:
    nets = []
    for line in _ip("-4", "-o", "addr", "show").stdout.splitlines():
        fields = line.split()
        nets.append(ipaddress.ip_interface(fields[fields.index("inet") + 1]).network)
    for line in _ip("-4", "route", "show", "table", "all").stdout.splitlines():
        dest = line.split()[0]
        if dest not in ("default", "local", "broadcast", "unreachable", "prohibit", "blackhole"):
            try:
                nets.append(ipaddress.ip_network(dest, strict=False))
            except ValueError:
                pass
    return nets


@dataclass
class Netns:
    name: str
    host_if: str
    ns_if: str
    host_ip: str = ""
    ns_ip: str = ""
    created: bool = False

    @classmethod
    def create(cls) -> "Netns":
        """Make the namespace and the pair, or fail loudly: a test that needs a second host must not pass
        (or skip) without one."""
        if shutil.which("ip") is None:
            raise RuntimeError("the `ip` command is missing: install iproute2 (apt-get install iproute2)")
        if os.geteuid() != 0:
            raise RuntimeError("network namespaces need root (CAP_NET_ADMIN); this test runs as uid "
                               f"{os.geteuid()}")
        tag = f"{os.getpid() % 100000}"
        ns = cls(name=f"wooerp-t{tag}", host_if=f"wh{tag}", ns_if=f"wn{tag}")
        ns.created = True
        ns.destroy()  # the leftovers of a crashed run with the same process id, if any
        used = _networks_in_use()
        subnet = next(s for s in POOL.subnets(new_prefix=30) if not any(s.overlaps(u) for u in used))
        host, peer = list(subnet.hosts())
        ns.host_ip, ns.ns_ip = str(host), str(peer)
        try:
            _ip("netns", "add", ns.name)
            ns.created = True
            _ip("link", "add", ns.host_if, "type", "veth", "peer", "name", ns.ns_if)
            _ip("link", "set", ns.ns_if, "netns", ns.name)
            _ip("addr", "add", f"{ns.host_ip}/30", "dev", ns.host_if)
            _ip("link", "set", ns.host_if, "up")
            ns.run("ip", "addr", "add", f"{ns.ns_ip}/30", "dev", ns.ns_if)
            ns.run("ip", "link", "set", ns.ns_if, "up")
            ns.run("ip", "link", "set", "lo", "up")
        except Exception:
            ns.destroy()
            raise
        return ns

    def argv(self, *argv: str) -> list[str]:
        """`argv`, run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, *argv: str, check: bool = True, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
        done = subprocess.run(self.argv(*argv), capture_output=True, text=True, timeout=timeout, **kw)
        if check and done.returncode != 0:
            raise RuntimeError(f"in {self.name}: {' '.join(argv)} failed ({done.returncode}): "
                               f"{done.stdout.strip()} {done.stderr.strip()}")
        return done

    def destroy(self) -> None:
        """Remove the namespace and both ends of the pair (idempotent)."""
        if self.created:
            _ip("netns", "del", self.name, check=False)
            self.created = False
        if _ip("link", "show", self.host_if, check=False).returncode == 0:
            _ip("link", "del", self.host_if, check=False)


class TcpForwarder:
    """Accept on `listen_host`:<free port> and relay each connection to `target_host`:`target_port`.

    For services that must stay on loopback (the sandboxes answer their admin API to loopback only; a
    machine's PostgreSQL listens on 127.0.0.1): the second host reaches them through the pair."""

    def __init__(self, listen_host: str, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.server = socket.create_server((listen_host, 0))
        self.port = self.server.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name=f"forward-{self.port}").start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
                try:
                    s.shutdown(how)
                except OSError:
                    pass

    def close(self) -> None:
        self._closed = True
        self.server.close()
        with self._lock:
            for s in self._sockets:
                try:
                    s.close()
                except OSError:
                    pass
