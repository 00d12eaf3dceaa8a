"""The two reference views of the benchmarks, registered on the portal itself (never in production).

* ``/bench/bare``: ``return "ok"`` behind the portal's request hooks (session, signed-in user, gates, the unit of
  work's commit, security headers): what any request of the portal costs before its own work.
* ``/bench/lean``: the issue's lean page (#17): the signed-in user, a CSRF token, two ORM queries and a layout
  with 16 ``url_for`` and a form: what a page costs in this framework before any business logic.

``bench/pages.py`` measures them in process; ``bench/reference_app.py`` serves them under gunicorn for
``bench/load.py``'s scenario r.
"""

from __future__ import annotations

from flask import Flask
from flask_login import current_user
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Organization, User
from portal.tenancy import unscoped

LEAN_LAYOUT = """<!doctype html><html lang="ja"><head><title>{{ title }}</title>
<link rel="stylesheet" href="{{ url_for('static', filename='app.css') }}"></head>
<body><nav><ul>
<li><a href="{{ url_for('main.index') }}">home</a></li><li><a href="{{ url_for('me.home') }}">me</a></li>
<li><a href="{{ url_for('quizzes.index') }}">training</a></li>
<li><a href="{{ url_for('inspection_sheets.index') }}">inspections</a></li>
<li><a href="{{ url_for('me.profile') }}">profile</a></li>
<li><a href="{{ url_for('auth.change_password') }}">pw</a></li>
<li><a href="{{ url_for('legal.page', kind='terms') }}">terms</a></li>
<li><a href="{{ url_for('legal.page', kind='privacy') }}">privacy</a></li>
<li><a href="{{ url_for('legal.page', kind='security') }}">security</a></li>
<li><a href="{{ url_for('status.page') }}">status</a></li><li><a href="{{ url_for('auth.login') }}">login</a></li>
<li><a href="{{ url_for('quizzes.assignment', assignment_id=1) }}">a</a></li>
<li><a href="{{ url_for('quizzes.certificate', assignment_id=1) }}">c</a></li>
<li><a href="{{ url_for('main.set_language', code='en') }}">en</a></li>
</ul></nav><main><h1>{{ current_user.name }} / {{ org.name }}</h1><p>{{ learners }}</p>
<form method="post" action="{{ url_for('auth.logout') }}"><input type="hidden" name="csrf_token"
value="{{ csrf_token() }}"><button>logout</button></form></main></body></html>"""


def add_reference_views(app: Flask) -> None:
    @app.get("/bench/bare")
    def bench_bare():
        return "ok"

    # Compiled once, as a template file would be (render_template_string compiles on every call).
    lean_template = app.jinja_env.from_string(LEAN_LAYOUT)

    @app.get("/bench/lean")
    def bench_lean():
        with unscoped("the comparison view filters by the organization itself"):
            org = db.session.get(Organization, current_user.organization_id)
            learners = db.session.scalar(select(func.count(User.id)).where(User.organization_id == org.id))
        context = {"title": "lean", "org": org, "learners": learners}
        app.update_template_context(context)
        return lean_template.render(context)
