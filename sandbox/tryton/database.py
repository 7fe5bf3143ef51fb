"""The demo database, built once and cached: `cached()` gives the path of an initialised SQLite file.

Building takes about a minute (trytond-admin activates the modules, then demo.py loads the data), so
the result is kept under `$WOOERP_TRYTON_CACHE`, else `$XDG_CACHE_HOME/wooerp/tryton`, else
`~/.cache/wooerp/tryton`, in a folder named after a hash of the trytond distributions installed, the
module list and the code that builds it. Concurrent builders (parallel test processes) take a file lock:
one builds, the others wait and reuse. Callers copy the file (`copy_to`) and never write the cache.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from sandbox.tryton import ADMIN_PASSWORD, DATABASE, MODULES

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def cache_root() -> Path:
    if os.environ.get("WOOERP_TRYTON_CACHE"):
        return Path(os.environ["WOOERP_TRYTON_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wooerp" / "tryton"


def cache_key() -> str:
    """Changes whenever a trytond distribution, the module list or this package's code changes."""
    digest = hashlib.sha256(repr(MODULES).encode())
    dists = sorted((d.metadata["Name"].lower().replace("-", "_"), d.version) for d in metadata.distributions()
                   if (d.metadata["Name"] or "").lower().replace("-", "_").startswith("trytond"))
    digest.update(repr(dists).encode())
    for name in ("__init__.py", "database.py", "demo.py"):
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()[:16]


def write_config(folder: Path, listen: str | None = None) -> Path:
    """A trytond configuration for SQLite databases in `folder` (and the web listener, for a server)."""
    text = f"[database]\nuri = sqlite://\npath = {folder}\n"
    if listen:
        text += f"[web]\nlisten = {listen}\n"
    path = folder / "trytond.conf"
    path.write_text(text)
    return path


def cached(log=print) -> Path:
    """The cached demo database file, built first if absent."""
    folder = cache_root() / cache_key()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{DATABASE}.sqlite"
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            log(f"building the Tryton demo database in {folder} (about a minute, once per trytond version)")
            _build(folder, target)
    return target


def _build(folder: Path, target: Path) -> None:
    with tempfile.TemporaryDirectory(dir=folder) as work:
        work = Path(work)
        (work / f"{DATABASE}.sqlite").touch()
        config = write_config(work)
        secret = work / "admin-password"
        secret.write_text(ADMIN_PASSWORD + "\n")
        env = {**os.environ, "TRYTONPASSFILE": str(secret)}
        _run([str(BIN / "trytond-admin"), "-c", str(config), "-d", DATABASE, "--all", "--activate-dependencies",
              "--email", "admin@example.com", "-u", *MODULES], env)
        _run([sys.executable, "-m", "sandbox.tryton.demo", str(config), DATABASE], env)
        os.replace(work / f"{DATABASE}.sqlite", target)  # atomic: a half-built file is never the cache


def _run(argv: list[str], env: dict) -> None:
    path = os.pathsep.join(p for p in (str(HERE.parents[1]), env.get("PYTHONPATH")) if p)
    done = subprocess.run(argv, env={**env, "PYTHONPATH": path}, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(argv[:2])} failed ({done.returncode}):\n"
                           f"{done.stdout[-2000:]}{done.stderr[-4000:]}")


def copy_to(folder: Path, log=print) -> Path:
    """A private copy of the demo database in `folder`, for one server."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{DATABASE}.sqlite"
    shutil.copyfile(cached(log), target)
    return target
