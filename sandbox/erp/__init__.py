"""Reference ERP simulator: implements the reference ERP REST contract (API v1) with fault injection.

Run it with `python -m sandbox.erp --port 8070 [--seed-demo]`; build it in-process with
`sandbox.erp.app.create_app()`; drive it from tests with `sandbox.erp.admin.ErpSandboxAdmin`.
It is a test double, not a product: all state lives in memory and is lost on exit.
"""
DEFAULT_TOKEN = "erp-sandbox-token"
API_PREFIX = "/api/v1"
ADMIN_PREFIX = "/_sandbox"
