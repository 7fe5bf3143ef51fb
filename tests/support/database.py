"""Test databases: every test that starts processes on the session's database starts from empty tables."""
from __future__ import annotations

from connector.db import Database
from connector.models import Base


def emptied(url: str) -> Database:
    """The database at `url` with every table emptied (schema and migrations kept). A module-scoped fixture
    that cannot take the function-scoped `db` calls this, so what an earlier test left (the shop and ERP
    this database was bound to, deliveries, holds) cannot refuse or mislead the processes it starts."""
    database = Database(url)
    with database.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    return database
