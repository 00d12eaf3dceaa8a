"""The landing page of an inspection's personal link (``/i/<token>``).

No role guard: the person is usually not signed in. A GET never records anything (mail scanners open
links); only the POST from the page's button signs the person in and opens the sheet.
"""

from flask import Blueprint

bp = Blueprint("inspection_links", __name__, template_folder="templates")

from portal.blueprints.inspections.links import routes  # noqa: E402,F401
