"""wooerp's domain: settings, state, adapters for WooCommerce and the ERP, mappers and sync use-cases.

Nothing in this package imports Celery; `workers/` wraps these use-cases in tasks.
"""
