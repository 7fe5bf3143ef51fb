"""`python -m sandbox.tryton --port N [--dir var/tryton] [--fresh]`: a local Tryton with demo data.

Copies the cached demo database into `--dir` unless one is there already (`--fresh` replaces it), writes
a trytond configuration beside it and becomes `trytond` serving JSON-RPC on 127.0.0.1:N. The connector
logs in as `wooerp` (sandbox.tryton.USER / PASSWORD, the TRYTON_* defaults).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sandbox.tryton import DATABASE
from sandbox.tryton.database import BIN, copy_to, write_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.tryton", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dir", default=os.path.join("var", "tryton"), help="where the server's database lives")
    parser.add_argument("--fresh", action="store_true", help="start again from the demo database")
    args = parser.parse_args(argv)
    folder = Path(args.dir).resolve()
    if args.fresh or not (folder / f"{DATABASE}.sqlite").exists():
        copy_to(folder, log=lambda line: print(f"tryton sandbox: {line}", flush=True))
    config = write_config(folder, listen=f"{args.host}:{args.port}")
    print(f"tryton sandbox: serving database {DATABASE!r} from {folder} on http://{args.host}:{args.port}",
          flush=True)
    trytond = str(BIN / "trytond")
    os.execv(trytond, [trytond, "-c", str(config), "-d", DATABASE])
    return 0


if __name__ == "__main__":
    sys.exit(main())
