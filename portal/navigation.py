"""The navigation each role sees. Areas add their entries here as they land."""

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.models import Role

NAV = {
    Role.OPERATOR: [
        ("operator.home", _l("ホーム")),
        ("operator.organizations", _l("組織・契約")),
        ("operator.invoices", _l("請求書")),
        ("operator.seat_report", _l("上限超過")),
        ("operator.notices_list", _l("お知らせ")),
        ("operator.legal_list", _l("規約・公開文書")),
        ("operator.deletions", _l("削除の記録")),
        ("operator.audit_log", _l("監査ログ")),
    ],
    Role.SUPPORT: [("tickets.desk", _l("サポートデスク"))],
    Role.ORG_ADMIN: [
        ("org.home", _l("ホーム")),
        ("org.notices", _l("お知らせ")),
        ("org.members", _l("管理者")),
        ("org.invoices", _l("請求書")),
        ("org.profile", _l("登録情報")),
        ("org.audit_log", _l("監査ログ")),
    ],
    Role.MANAGER: [("org.home", _l("ホーム")), ("org.notices", _l("お知らせ"))],
    Role.LEARNER: [("me.home", _l("ホーム"))],
}


def nav_items():
    if not current_user.is_authenticated:
        return []
    return NAV.get(Role(current_user.role), [])


def init_app(app: Flask) -> None:
    app.jinja_env.globals["nav_items"] = nav_items
