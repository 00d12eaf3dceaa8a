"""``bench/load.py``'s scenario r: the portal as ``gunicorn wsgi:app`` serves it, plus the two reference views
of ``bench/_reference.py`` (the portal's bare view and the lean page), on the same database and settings."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _reference import add_reference_views  # noqa: E402

from wsgi import app  # noqa: E402

add_reference_views(app)
