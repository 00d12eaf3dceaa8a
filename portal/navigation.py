"""The navigation each role sees. Areas add their entries here as they land."""

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.models import Role

NAV = {
    Role.OPERATOR: [
        ("operator.home", _l("ホーム")),
        ("operator.audit_log", _l("監査ログ")),
        ("mail.messages", _l("メール配信ログ")),
    ],
    Role.SUPPORT: [("tickets.desk", _l("サポートデスク"))],
    Role.ORG_ADMIN: [
        ("org.home", _l("ホーム")),
        ("org.audit_log", _l("監査ログ")),
        ("mail.messages", _l("メール配信ログ")),
    ],
    Role.MANAGER: [("org.home", _l("ホーム"))],
    Role.LEARNER: [("me.home", _l("ホーム"))],
}


def nav_items():
    if not current_user.is_authenticated:
        return []
    return NAV.get(Role(current_user.role), [])


def init_app(app: Flask) -> None:
    app.jinja_env.globals["nav_items"] = nav_items
