from flask import render_template, request

from portal.audit_log import AuditFilterForm, audit_page
from portal.blueprints.operator import bp


@bp.get("/")
def home():
    return render_template("operator/home.html")


@bp.get("/audit")
def audit_log():
    form = AuditFilterForm(request.args, meta={"csrf": False}, with_organization=True)
    page = audit_page(form, request.args.get("page", 1, type=int))
    return render_template("operator/audit.html", form=form, page=page)
