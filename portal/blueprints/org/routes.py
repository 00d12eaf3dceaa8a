from flask import render_template, request

from portal.audit_log import AuditFilterForm, audit_page
from portal.blueprints.org import bp
from portal.models import Role
from portal.security import role_required


@bp.get("/")
def home():
    return render_template("org/home.html")


@bp.get("/audit")
@role_required(Role.ORG_ADMIN)
def audit_log():
    # The tenant scope limits the rows to this organization; no filter is needed here.
    form = AuditFilterForm(request.args, meta={"csrf": False}, with_organization=False)
    page = audit_page(form, request.args.get("page", 1, type=int))
    return render_template("org/audit.html", form=form, page=page)
