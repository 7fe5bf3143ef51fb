#!/usr/bin/env bash
# Exit 0 when this machine's Redis (6379) and PostgreSQL (5432, db test) both answer.
.venv/bin/python - <<'PY'
import sys
try:
    import redis, psycopg2
    redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
    psycopg2.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=3).close()
except Exception as e:
    print(f"services not available: {e}")
    sys.exit(1)
PY
