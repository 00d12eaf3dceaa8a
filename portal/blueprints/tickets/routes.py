from flask import render_template

from portal.blueprints.tickets import bp
from portal.models import Role
from portal.security import role_required


@bp.get("/desk")
@role_required(Role.SUPPORT, Role.OPERATOR)
def desk():
    return render_template("tickets/desk.html")
