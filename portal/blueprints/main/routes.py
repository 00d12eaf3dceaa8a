from flask import current_app, redirect, request, session, url_for
from flask_login import current_user

from portal.blueprints.main import bp
from portal.forms import EmptyForm
from portal.models import Role
from portal.security import safe_next

START_PAGES = {
    Role.OPERATOR: "operator.home",
    Role.SUPPORT: "tickets.desk",
    Role.ORG_ADMIN: "org.home",
    Role.MANAGER: "org.home",
    Role.LEARNER: "me.home",
}


@bp.get("/")
def index():
    """Each role's start page; the login page for everyone else."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for(START_PAGES[Role(current_user.role)]))


@bp.post("/lang/<code>")
def set_language(code: str):
    form = EmptyForm()
    if form.validate_on_submit() and code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    target = safe_next(request.form.get("next", "")) or url_for("main.index")
    return redirect(target, 303)
