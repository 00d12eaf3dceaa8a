"""The navigation each role sees. Areas add their entries here as they land."""

from flask import Flask

from portal.accounts import signed_in_user
from portal.i18n import lazy_gettext as _l
from portal.models import Role

NAV = {
    Role.OPERATOR: [
        ("operator.home", _l("ホーム")),
        ("operator_organizations.organizations", _l("組織・契約")),
        ("applications.index", _l("利用申込")),
        ("operator_billing.invoices", _l("請求書")),
        ("operator_billing.payments_list", _l("入金")),
        ("operator_organizations.seat_report", _l("上限超過")),
        ("operator_notices.notices_list", _l("お知らせ")),
        ("operator_legal.legal_list", _l("規約・公開文書")),
        ("operator_termination.deletions", _l("削除の記録")),
        ("courses.index", _l("講座")),
        ("inspection_items.editions", _l("点検の版")),
        ("tickets.desk", _l("サポートデスク")),
        ("mail.messages", _l("メール配信ログ")),
        ("operator.audit_log", _l("監査ログ")),
    ],
    Role.SUPPORT: [("tickets.desk", _l("サポートデスク")), ("tickets.reports", _l("月次レポート"))],
    Role.ORG_ADMIN: [
        ("org.home", _l("ホーム")),
        ("learners.index", _l("受講者")),
        ("org_notices.notices", _l("お知らせ")),
        ("training.index", _l("研修")),
        ("inspections.index", _l("点検")),
        ("inspection_results.index", _l("点検結果")),
        ("inspection_results.actions", _l("是正処置")),
        ("tickets.index", _l("お問い合わせ")),
        ("org_organizations.members", _l("管理者")),
        ("org_billing.invoices", _l("請求書")),
        ("org_organizations.profile", _l("登録情報")),
        ("mail.messages", _l("メール配信ログ")),
        ("org.audit_log", _l("監査ログ")),
    ],
    Role.MANAGER: [
        ("org.home", _l("ホーム")),
        ("learners.index", _l("受講者")),
        ("org_notices.notices", _l("お知らせ")),
        ("training.index", _l("研修")),
        ("inspections.index", _l("点検")),
        ("inspection_sheets.index", _l("チームの点検")),
        ("inspection_results.index", _l("点検結果")),
        ("inspection_results.actions", _l("是正処置")),
        ("tickets.index", _l("お問い合わせ")),
    ],
    Role.LEARNER: [
        ("me.home", _l("ホーム")),
        ("quizzes.index", _l("研修")),
        ("inspection_sheets.index", _l("点検")),
        ("me.profile", _l("登録情報")),
        ("tickets.index", _l("質問")),
    ],
}

# Entries shown only when a condition on the signed-in user holds.
CONDITIONS = {
    (Role.LEARNER, "tickets.index"): lambda user: bool(user.organization and user.organization.learners_may_ask),
}


def nav_items():
    user = signed_in_user()
    if not user.is_authenticated:
        return []
    role = Role(user.role)
    return [
        (endpoint, label)
        for endpoint, label in NAV.get(role, [])
        if CONDITIONS.get((role, endpoint), lambda user: True)(user)
    ]


def init_app(app: Flask) -> None:
    app.jinja_env.globals["nav_items"] = nav_items
