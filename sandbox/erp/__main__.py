"""`python -m sandbox.erp --port N [--host 127.0.0.1] [--token T] [--seed-demo] [--state FILE]`.

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
    parser.add_argument("--seed-demo", action="store_true", help="seed a small demo catalog (unless --state exists)")
    parser.add_argument("--quiet", action="store_true", help="log warnings and errors only, not every request")
    parser.add_argument("--state", help="keep the ERP's data in this file (loaded at start, written after changes)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if args.quiet:
        logging.getLogger("sandbox.erp").setLevel(logging.WARNING)
    state = None
    if args.state:
        from sandbox.state_file import StateFile
        state = StateFile(args.state, None)
    app = create_app(args.token, seed_demo=args.seed_demo and not (state and state.exists))
    if state is not None:
        state.store = app.extensions["erp_store"]
        state.load()
        state.watch(app)
    server = make_server(args.host, args.port, app, threaded=True)

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
        if state is not None:
            state.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
