"""`GET /system`: which ERP tenant this is. `tenant_id` is made once when the tenant is created and never
changes; a client records it to notice when it is pointed at another tenant (a test tenant swapped for
the live one, a tenant rebuilt from scratch).
"""
from __future__ import annotations

from flask import Blueprint

from . import API_PREFIX
from .store import current

bp = Blueprint("erp_system", __name__, url_prefix=API_PREFIX)


@bp.get("/system")
def system():
    store = current()
    return {"tenant_id": store.tenant_id, "name": "Reference ERP sandbox", "api_version": "v1"}
