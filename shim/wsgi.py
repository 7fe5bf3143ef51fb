"""WSGI entry point for gunicorn: `gunicorn shim.wsgi:app`."""
from connector import logs
from connector.settings import load_or_exit
from shim.app import create_app

settings = load_or_exit()
logs.setup(settings.log_level, secrets=settings.secrets())
app = create_app(settings)
