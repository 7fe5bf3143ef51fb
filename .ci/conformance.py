"""Start both sandboxes and run the independent conformance suites against them (CI only)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.procs import Proc, child_env, free_port, wait_http  # noqa: E402
from connector.settings import SANDBOX_ERP_TOKEN, SANDBOX_WOO_KEY, SANDBOX_WOO_SECRET  # noqa: E402


def main(suites: Path) -> int:
    logs = Path("var/ci")
    woo_port, erp_port = free_port(), free_port()
    woo = Proc("woo", [sys.executable, "-m", "sandbox.woo", "--port", str(woo_port)], child_env(),
               logs / "woo.log").start()
    erp = Proc("erp", [sys.executable, "-m", "sandbox.erp", "--port", str(erp_port)], child_env(),
               logs / "erp.log").start()
    status = 0
    try:
        wait_http(f"http://127.0.0.1:{woo_port}/wp-json/", proc=woo)
        wait_http(f"http://127.0.0.1:{erp_port}/_sandbox/stats", proc=erp)
        runs = [[str(suites / "erp_conformance.py"), "--url", f"http://127.0.0.1:{erp_port}", "--token",
                 SANDBOX_ERP_TOKEN]]
        for auth in ("basic", "oauth", "query"):
            runs.append([str(suites / "woo_conformance.py"), "--url", f"http://127.0.0.1:{woo_port}", "--key",
                         SANDBOX_WOO_KEY, "--secret", SANDBOX_WOO_SECRET, "--auth", auth])
        for argv in runs:
            print("$", " ".join(Path(a).name if a.endswith(".py") else a for a in argv), flush=True)
            status |= subprocess.call([sys.executable, *argv], timeout=600)
    finally:
        woo.stop()
        erp.stop()
    return 1 if status else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
