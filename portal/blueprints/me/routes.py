from flask import render_template

from portal.blueprints.me import bp


@bp.get("/")
def home():
    return render_template("me/home.html")
