"""Entry point for gunicorn and the flask command: ``gunicorn wsgi:app``."""

import os

from portal import create_app
from portal.config import Config, DevConfig

app = create_app(DevConfig if os.environ.get("PORTAL_ENV") == "development" else Config)
