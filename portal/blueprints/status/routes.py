from flask import render_template

from portal.blueprints.status import bp
from portal.notices import public_status


@bp.get("/")
def page():
    incidents, maintenance = public_status()
    return render_template("status/page.html", incidents=incidents, maintenance=maintenance)
