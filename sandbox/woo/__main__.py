"""`python -m sandbox.woo --port N [--host 127.0.0.1] [--key ck_… --secret cs_…] [--state FILE]
[--profile fast|real|bench] [--allow-loopback] [--set SWITCH=VALUE …]`

`--profile` picks how much the shop behaves like a real WooCommerce 8.2 (see `sandbox/woo/profile.py`;
`fast` by default, `make run` uses `real --allow-loopback`); `--set` changes one switch, e.g.
`--set delivery_delay_ms=0 --set tax=true --set allowed_ports=80,443,8080,8000`.

Serves the simulator with werkzeug's threaded WSGI server (one thread per connection), prints
"woo sandbox listening on http://host:port" when ready and exits cleanly on SIGTERM/SIGINT.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from werkzeug.serving import make_server

from sandbox.woo.app import create_app
from sandbox.woo.defaults import credentials
from sandbox.woo.profile import FAST, PRESETS


def main(argv: list[str] | None = None) -> int:
    key, secret = credentials()
    ap = argparse.ArgumentParser(prog="python -m sandbox.woo", description="WooCommerce REST API v3 simulator")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", default=key, help="consumer key (env WOO_CONSUMER_KEY)")
    ap.add_argument("--secret", default=secret, help="consumer secret (env WOO_CONSUMER_SECRET)")
    ap.add_argument("--home-url", help="site URL in _links and X-WC-Webhook-Source (default http://host:port)")
    ap.add_argument("--utc-offset", type=int, default=60, help="site timezone offset in minutes (default 60)")
    ap.add_argument("--delivery-delay-ms", type=int, help="webhook delivery delay (default: the profile's)")
    ap.add_argument("--profile", choices=sorted(PRESETS), default="fast",
                    help="fast (tests), real (a real shop with a system cron), bench (real + measured batch cost)")
    ap.add_argument("--allow-loopback", action="store_true",
                    help="deliver to loopback/private addresses on any port, as a site filter would")
    ap.add_argument("--set", action="append", default=[], metavar="SWITCH=VALUE", help="one profile switch")
    ap.add_argument("--state", help="keep the shop's data in this file (loaded at start, written after changes)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every request")
    a = ap.parse_args(argv)
    switches = {}
    for item in a.set:
        k, sep, v = item.partition("=")
        if not sep or k not in FAST:
            ap.error(f"--set {item!r}: expected SWITCH=VALUE with SWITCH one of {', '.join(FAST)}")
        switches[k] = None if v.lower() in ("none", "null", "any") else v
    if a.delivery_delay_ms is not None:
        switches["delivery_delay_ms"] = a.delivery_delay_ms
    if a.allow_loopback:
        switches.update(allow_loopback=True, allowed_ports=None)
    if not a.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(a.key, a.secret, home_url=a.home_url or f"http://{a.host}:{a.port}",
                     utc_offset_minutes=a.utc_offset, profile=a.profile,
                     **switches)
    state = None
    if a.state:
        from sandbox.state_file import StateFile
        state = StateFile(a.state, app.extensions["woo_sandbox"].store, keep=("home_url", "offset"))
        state.load()
        state.watch(app)
    server = make_server(a.host, a.port, app, threaded=True)

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"woo sandbox listening on http://{a.host}:{server.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        app.extensions["woo_sandbox"].dispatcher.stop()
        if state is not None:
            state.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
