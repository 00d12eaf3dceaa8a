"""The screens of each role that the experience tour checks (tests/browser/test_experience.py), as lists:
a new screen is one line, (name, path from the tour's data, screenshot name or None). The tour's data
(the ``tour`` fixture there) holds the ids the paths need.

Pages that other journeys reach and that are not listed here are checked too, once per session, by
the live server's recorder (tests/browser/conftest.py).
"""

from __future__ import annotations

from tests.browser.experience import PHONE_WIDTH

PHONE = {"width": PHONE_WIDTH, "height": 780}
DESKTOP = {"width": 1280, "height": 800}

# (name, path from the tour's data, screenshot name or None)
PUBLIC_PAGES = [
    ("ログイン", lambda t: "/login", "public-login-phone"),
    ("組織のログイン", lambda t: f"/o/{t.org_code}", None),
    ("パスワードを忘れた", lambda t: "/password/forgot", None),
    ("利用申込", lambda t: "/apply/", None),
    ("お問い合わせ", lambda t: "/contact/", "public-contact-phone"),
    ("稼働状況", lambda t: "/status/", None),
]
LEARNER_PAGES = [
    ("マイページ", lambda t: "/me/", "learner-home-phone"),
    ("研修の入口（個人リンク）", lambda t: f"/t/{t.link}", None),
    ("研修の一覧", lambda t: "/me/training/", None),
    ("研修", lambda t: f"/me/training/{t.assignment}", None),
    ("レッスン", lambda t: f"/me/training/{t.assignment}/lessons/{t.lesson}", "learner-lesson-phone"),
    ("問題", lambda t: f"/me/training/attempts/{t.running}/1", "learner-question-phone"),
    ("回答の確認", lambda t: f"/me/training/attempts/{t.running}/review", None),
    ("結果", lambda t: f"/me/training/attempts/{t.finished}/result", "learner-result-phone"),
    ("登録情報", lambda t: "/me/profile", None),
    ("パスワード変更", lambda t: "/password/change", None),
    ("点検の入口（個人リンク）", lambda t: f"/i/{t.inspection_link}", None),
    ("点検の一覧", lambda t: "/me/inspections/", None),
    ("点検", lambda t: f"/me/inspections/{t.sheet}", "learner-inspection-phone"),
]
ADMIN_PAGES = [
    ("組織のホーム", lambda t: "/org/", "admin-home"),
    ("受講者", lambda t: "/org/learners/", "admin-learners"),
    ("受講者の詳細", lambda t: f"/org/learners/{t.learner}", None),
    ("研修・点検の記録", lambda t: f"/org/learners/{t.learner}/record", "admin-learner-record"),
    ("受講者の登録", lambda t: "/org/learners/new", None),
    ("CSVで一括登録", lambda t: "/org/learners/import", None),
    ("部署", lambda t: "/org/learners/departments", None),
    ("ログイン方法", lambda t: "/org/learners/sign-in", None),
    ("研修", lambda t: "/org/training/", None),
    ("配信する", lambda t: "/org/training/new", None),
    ("配信の状況", lambda t: f"/org/training/{t.delivery}", "admin-delivery"),
    ("設問の分析", lambda t: f"/org/training/{t.delivery}/items", None),
    ("修了証の一覧", lambda t: f"/org/training/{t.delivery}/certificates", None),
    ("講座の結果", lambda t: f"/org/training/courses/{t.course}", None),
    ("管理者", lambda t: "/org/members", None),
    ("組織の登録情報", lambda t: "/org/profile", None),
    ("お知らせ", lambda t: "/org/notices", None),
    ("お知らせの本文", lambda t: f"/org/notices/{t.notice}", None),
    ("請求書", lambda t: "/org/invoices", None),
    ("請求書の詳細", lambda t: f"/org/invoices/{t.invoice}", None),
    ("監査ログ", lambda t: "/org/audit", None),
    ("お問い合わせ", lambda t: "/tickets/", None),
    ("新しいお問い合わせ", lambda t: "/tickets/new", None),
    ("お問い合わせの詳細", lambda t: f"/tickets/{t.ticket}", None),
    ("お問い合わせの設定", lambda t: "/tickets/settings", None),
    ("講座", lambda t: "/courses/", None),
    ("セキュレジの点検項目", lambda t: "/inspections/items/", None),
    ("点検", lambda t: "/org/inspections/", None),
    ("点検を配信する", lambda t: "/org/inspections/new", None),
    ("点検の状況", lambda t: f"/org/inspections/{t.inspection_round}", None),
    ("点検結果", lambda t: "/org/inspections/results/", "admin-inspection-results"),
    ("点検結果（回）", lambda t: f"/org/inspections/results/rounds/{t.closed_round}", None),
    ("「いいえ」の回答", lambda t: f"/org/inspections/results/rounds/{t.closed_round}/no", None),
    ("是正処置", lambda t: "/org/inspections/actions/", None),
    ("是正処置の詳細", lambda t: f"/org/inspections/actions/{t.action}", None),
]
# The administrator's main screens, also checked (and one photographed) at 360 px.
ADMIN_PHONE_PAGES = [
    ("組織のホーム", lambda t: "/org/", "admin-home-phone"),
    ("受講者", lambda t: "/org/learners/", None),
    ("CSVで一括登録", lambda t: "/org/learners/import", None),
    ("配信する", lambda t: "/org/training/new", None),
    ("配信の状況", lambda t: f"/org/training/{t.delivery}", None),
    ("点検結果", lambda t: "/org/inspections/results/", "admin-inspection-results-phone"),
    ("お問い合わせ", lambda t: "/tickets/", None),
]
MANAGER_PAGES = [
    ("組織のホーム", lambda t: "/org/", None),
    ("受講者", lambda t: "/org/learners/", None),
    ("研修", lambda t: "/org/training/", None),
    ("点検", lambda t: "/org/inspections/", None),
    ("チームの点検", lambda t: "/me/inspections/", None),
    ("点検結果", lambda t: "/org/inspections/results/", None),
    ("是正処置", lambda t: "/org/inspections/actions/", None),
]
OPERATOR_PAGES = [
    ("運営のホーム", lambda t: "/operator/", "operator-home"),
    ("受付箱", lambda t: "/operator/inbox", "operator-inbox"),
    ("組織", lambda t: "/operator/organizations", None),
    ("組織の詳細", lambda t: f"/operator/organizations/{t.org}", "operator-organization"),
    ("組織の登録", lambda t: "/operator/organizations/new", None),
    ("請求書", lambda t: "/operator/invoices", None),
    ("請求書の詳細", lambda t: f"/operator/invoices/{t.invoice}", None),
    ("お知らせ", lambda t: "/operator/notices", None),
    ("お知らせの作成", lambda t: "/operator/notices/new", None),
    ("お知らせの詳細", lambda t: f"/operator/notices/{t.notice}", None),
    ("規約", lambda t: "/operator/legal", None),
    ("利用申込", lambda t: "/operator/applications/", None),
    ("利用席数", lambda t: "/operator/seats", None),
    ("監査ログ", lambda t: "/operator/audit", None),
    ("送信記録", lambda t: "/mail/", None),
    ("講座の詳細", lambda t: f"/courses/{t.course}", None),
    ("点検の版", lambda t: "/inspections/editions/", None),
    ("二要素認証", lambda t: "/account/two-factor", None),
    ("休業日", lambda t: "/tickets/breaks", None),
]
SUPPORT_PAGES = [
    ("受付窓口", lambda t: "/tickets/desk", "support-desk"),
    ("お問い合わせの詳細", lambda t: f"/tickets/{t.ticket}", "support-ticket"),
    ("定型文", lambda t: "/tickets/canned", None),
    ("報告", lambda t: "/tickets/reports", None),
]

# role -> (who signs in, viewport, pages, pages checked again at 360 px, learner-grade phone checks)
TOURS = {
    "learner": ("learner_a", PHONE, LEARNER_PAGES, [], True),
    "org_admin": ("admin_a", DESKTOP, ADMIN_PAGES, ADMIN_PHONE_PAGES, False),
    "manager": ("manager_a", DESKTOP, MANAGER_PAGES, [], False),
    "operator": ("operator", DESKTOP, OPERATOR_PAGES, [], False),
    "support": ("support", DESKTOP, SUPPORT_PAGES, [], False),
}

