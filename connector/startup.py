"""What every long-running process (worker, beat, shim, bootstrap) checks once when it starts, in order:

1. the database schema is the one this code needs (connector.schema: else one line, exit status 2);
2. in production, a broker or database reached without a password over the network gets one warning line
   each (connector.settings.unauthenticated_services; never the URL, so nothing secret is logged);
3. the shop and the ERP are the ones the database belongs to (connector.identity: else exit status 2).
"""
from __future__ import annotations

import logging

from connector import identity, logs, schema
from connector.logs import event
from connector.settings import Settings, unauthenticated_services

log = logging.getLogger("wooerp.startup")


def warn_unauthenticated(settings: Settings, process: str = "") -> list[str]:
    """One structured warning per password-less broker/database URL in production; returns the variables."""
    if settings.env != "production":
        return []
    found = unauthenticated_services(settings)
    for variable, host in found:
        event(log, f"{variable} has no password: anyone who can reach {host} can read and change wooerp's "
                   f"{'queue' if variable == 'REDIS_URL' else 'state'}; give it one unless the network or "
                   f"the server authenticates clients", logging.WARNING, variable=variable, host=host,
              process=process)
    return [variable for variable, _ in found]


def gate(services, process: str) -> None:
    """What every long-running process (`process`: "worker", "beat", "shim", …) checks before it serves:
    logging with the secrets masked, the database schema at this release's revision (else exits 2 saying
    to run `wooerp migrate`), a warning for a password-less broker or database, and the shop/ERP identity
    this database is bound to (connector/identity.py: exits 2 on a mismatch)."""
    s = services.settings
    logs.setup(s.log_level, secrets=s.secrets())  # idempotent; a worker_init handler runs before Celery's own
    schema.require(services.db, process=process)
    warn_unauthenticated(services.settings, process=process)
    identity.enforce(services, process=process)
