from flask import render_template
from flask_login import current_user

from portal.blueprints.me import bp
from portal.departments import DepartmentTree
from portal.home import home_items
from portal.models.learners import EMPLOYMENT_LABELS


@bp.get("/")
def home():
    return render_template("me/home.html", sections=home_items(current_user._get_current_object()))


@bp.get("/profile")
def profile():
    user = current_user._get_current_object()
    return render_template(
        "me/profile.html",
        user=user,
        department=DepartmentTree.load().path(user.department_id),
        employment_labels=EMPLOYMENT_LABELS,
    )
