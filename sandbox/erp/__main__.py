"""`python -m sandbox.erp --port N [--host 127.0.0.1] [--token T] [--seed-demo]`.

Serves the sandbox on werkzeug's threaded WSGI server (one thread per request, so concurrent
clients really run concurrently), prints one "listening" line when ready, stops cleanly on
SIGTERM or Ctrl-C.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from werkzeug.serving import make_server

from . import DEFAULT_TOKEN
from .app import create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.erp", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--token", default=os.environ.get("ERP_TOKEN") or DEFAULT_TOKEN)
    parser.add_argument("--seed-demo", action="store_true", help="seed a small demo catalog")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(args.host, args.port, create_app(args.token, seed_demo=args.seed_demo),
                         threaded=True)

    def stop(signum, _frame):
        logging.getLogger("sandbox.erp").info("signal %s: shutting down", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"erp sandbox listening on http://{args.host}:{server.port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
