"""WSGI entry point for gunicorn: `gunicorn shim.wsgi:app`."""
from connector import logs
from connector.settings import load_or_exit
from shim.app import create_app

settings = load_or_exit()
logs.setup(settings.log_level, secrets=(settings.woo_consumer_secret, settings.woo_webhook_secret,
                                        settings.erp_token, settings.flower_password))
app = create_app(settings)
