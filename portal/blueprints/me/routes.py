from flask import render_template
from flask_login import current_user

from portal.blueprints.me import bp
from portal.departments import DepartmentTree
from portal.home import home_items
from portal.models.learners import EMPLOYMENT_LABELS

# The home shows the newest few of the history; the training and inspection lists keep all of it.
HOME_HISTORY = 6


@bp.get("/")
def home():
    # One more than it shows, to know whether to link to the rest.
    sections = home_items(current_user._get_current_object(), history=HOME_HISTORY + 1)
    more_history = len(sections["history"]) > HOME_HISTORY
    del sections["history"][HOME_HISTORY:]
    return render_template("me/home.html", sections=sections, more_history=more_history)


@bp.get("/profile")
def profile():
    user = current_user._get_current_object()
    return render_template(
        "me/profile.html",
        user=user,
        department=DepartmentTree.load().path(user.department_id),
        employment_labels=EMPLOYMENT_LABELS,
    )
