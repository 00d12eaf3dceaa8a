"""What people read for the codes the logs store: audit actions (``audit.record``) and email kinds (the
outbox's ``template``). The audit log and the delivery log show these labels and offer them as filters.

Every action passed to :func:`portal.audit.record` / :func:`portal.audit.record_denial` and every email
template has its label here; tests/test_log_labels.py fails for one without. A code without a label (an
event written by an older version) is shown as the code itself.
"""

from __future__ import annotations

from flask import Flask
from wtforms.fields.choices import SelectChoice

from portal.i18n import lazy_gettext as _l

# (group, {action: label}); the groups are the filter's <optgroup>s, in this order.
ACTION_GROUPS = (
    (_l("ログイン・認証"), {
        "auth.login": _l("ログイン"),
        "auth.login_failed": _l("ログインに失敗"),
        "auth.lockout": _l("ログインを一時停止(失敗の繰り返し)"),
        "auth.logout": _l("ログアウト"),
        "auth.sessions_ended_by_password_change": _l("パスワード変更ですべての端末からログアウト"),
        "auth.permission_denied": _l("権限のない画面・操作を拒否"),
        "auth.password_changed": _l("パスワードを変更"),
        "auth.password_reset_requested": _l("パスワード再設定を依頼"),
        "auth.password_reset": _l("パスワードを再設定"),
        "auth.password_compromise_reported": _l("パスワード漏えいの可能性を申告"),
        "auth.sign_in_link_requested": _l("ログイン用リンクを依頼"),
        "auth.link_session_started": _l("メールのリンクからログイン"),
        "auth.link_refused": _l("メールのリンクを拒否"),
        "auth.mfa_verified": _l("2段階認証のコードを確認"),
        "auth.mfa_failed": _l("2段階認証のコードが誤り"),
        "auth.mfa_enrolled": _l("2段階認証を設定"),
        "auth.mfa_enroll_failed": _l("2段階認証の設定に失敗"),
        "auth.mfa_disabled": _l("2段階認証を解除"),
        "auth.mfa_reset_by_staff": _l("運営が2段階認証をリセット"),
        "auth.recovery_code_used": _l("回復コードでログイン"),
        "auth.recovery_codes_regenerated": _l("回復コードを作り直し"),
    }),
    (_l("利用者・部署"), {
        "user.created": _l("アカウントを作成(コマンド)"),
        "user.password_set_by_cli": _l("パスワードを設定(コマンド)"),
        "user.invited": _l("招待メールを送信"),
        "user.invitation_accepted": _l("招待を受けてパスワードを設定"),
        "learners.created": _l("受講者を登録"),
        "account.weekly_summary_changed": _l("週次サマリーメールの受信設定を変更"),
        "learners.updated": _l("受講者の情報を変更"),
        "learners.deactivated": _l("受講者を無効化"),
        "learners.reactivated": _l("受講者を有効化"),
        "learners.deleted": _l("受講者を削除"),
        "learners.password_reset": _l("受講者のパスワードを再設定"),
        "learners.sessions_ended": _l("受講者をすべての端末からログアウト"),
        "learners.import_previewed": _l("受講者のCSVを確認"),
        "learners.import_cancelled": _l("受講者のCSV読み込みを取り消し"),
        "learners.imported": _l("受講者のCSVを読み込み"),
        "learners.record_exported": _l("受講者の記録を書き出し"),
        "learners.list_exported": _l("受講者一覧を書き出し"),
        "departments.created": _l("部署を作成"),
        "departments.renamed": _l("部署名を変更"),
        "departments.deleted": _l("部署を削除"),
        "departments.managers_set": _l("部署のマネージャーを設定"),
        "organization.magic_link_sign_in": _l("メールのリンクでのログインを設定"),
    }),
    (_l("組織・契約"), {
        "org.created": _l("組織を作成"),
        "org.admin_issued": _l("管理者アカウントを発行"),
        "org.member_invited": _l("管理者・マネージャーを招待"),
        "org.profile_registered": _l("組織の登録情報を登録"),
        "org.profile_updated": _l("組織の登録情報を変更"),
        "org.mfa_policy_changed": _l("管理者の2段階認証の設定を変更"),
        "org.status_changed": _l("組織の利用状態を変更"),
        "org.handover_started": _l("主管理者の引き継ぎを依頼"),
        "org.handover_accepted": _l("主管理者の引き継ぎを承諾"),
        "inbox.item_handled": _l("受付箱の項目を対応済みにした"),
        "org.data_exported": _l("組織のデータを書き出し"),
        "org.termination_requested": _l("利用終了を申し入れ"),
        "org.termination_received": _l("利用終了の申し入れを受領"),
        "org.contract_cancelled": _l("運営が契約を解除"),
        "org.cure_notice_sent": _l("是正の催告を送付"),
        "org.cure_recorded": _l("催告された違反の是正を記録"),
        "org.cure_deadline_passed": _l("催告の是正期限が経過"),
        "org.data_deleted": _l("組織のデータを削除"),
        "org.deletion_requested": _l("データ削除を依頼"),
        "org.deletion_withdrawn": _l("データ削除の依頼を取り下げ"),
        "org.deletion_approved": _l("データ削除を承認"),
        "org.deletion_refused": _l("データ削除の操作を拒否"),
        "contract.created": _l("契約を登録"),
        "contract.updated": _l("契約を変更"),
        "contract.renewed": _l("契約を更新"),
        "contract.final_invoice_issued": _l("契約期間満了までの利用料を請求"),
        "credit_note.issued": _l("返還インボイスを発行"),
        "invoice.issued": _l("請求書を発行"),
        "invoice.paid": _l("請求書が全額入金に"),
        "payment.recorded": _l("入金を記録"),
        "payment.assigned": _l("入金を請求書に割り当て"),
        "payment.refused": _l("入金の記録を拒否"),
        "invoice.reminder_sent": _l("お支払いの督促を送信"),
        "org.resumed_after_payment": _l("入金確認により利用を再開"),
        "third_party.approved": _l("第三者の利用を承認"),
        "third_party.revoked": _l("第三者の利用の承認を取り消し"),
        "third_party.member_marked": _l("受講者を第三者の所属に設定"),
        "third_party.member_removed": _l("受講者の第三者の所属を解除"),
        "application.submitted": _l("利用申込みを受付"),
        "application.confirmed": _l("利用申込みのメールアドレスを確認"),
        "application.confirmation_resent": _l("利用申込みの確認メールを再送"),
        "application.repeat_refused": _l("審査中の利用申込みへの重複を拒否"),
        "application.superseded": _l("未確認の利用申込みを新しい申込みで置き換え"),
        "application.unconfirmed_purged": _l("未確認の利用申込みを削除"),
        "application.approved": _l("利用申込みを承認"),
        "application.rejected": _l("利用申込みを不承認"),
        "application.screened": _l("反社会的勢力の確認結果を記録"),
        "application.approval_refused": _l("反社チェック未了・懸念ありの承認を拒否"),
    }),
    (_l("お知らせ・規約"), {
        "notice.published": _l("お知らせを公開"),
        "notice.incident_updated": _l("障害の経過を報告"),
        "notice.read": _l("お知らせを確認"),
        "notice.corrected": _l("お知らせを訂正"),
        "notice.withdrawn": _l("お知らせを取り下げ"),
        "notice.addresses_exported": _l("郵送用の住所を書き出し"),
        "legal.published": _l("規約・文書を公開"),
        "legal.terms_accepted": _l("利用規約に同意"),
        "legal.subcontractor_added": _l("再委託先を追加"),
        "legal.subcontractor_changed": _l("再委託先を変更"),
        "legal.subcontractor_removed": _l("再委託先を削除"),
    }),
    (_l("研修(セキュトレ)"), {
        "course.created": _l("講座を作成"),
        "course.updated": _l("講座を変更"),
        "course.edition_created": _l("講座の次年度版を作成"),
        "course.lesson_saved": _l("教材を保存"),
        "course.lesson_deleted": _l("教材を削除"),
        "course.image_added": _l("教材の画像を追加"),
        "course.question_saved": _l("問題を保存"),
        "course.question_deleted": _l("問題を削除"),
        "training.delivery_created": _l("研修の配信を登録"),
        "training.delivery_launched": _l("研修の配信を開始"),
        "training.round_scheduled": _l("研修の次回の配信を予約"),
        "training.delivery_closed": _l("研修の配信を終了"),
        "training.reminder_sent": _l("研修のリマインドを送信"),
        "training.reminder_manual": _l("研修のリマインドを手動で送信"),
        "training.reminder_one": _l("受講者ひとりに研修のリマインドを送信"),
        "training.escalated": _l("期限切れの受講者をマネージャーに通知"),
        "training.emails_cancelled": _l("不要になった研修のメールを取り消し"),
        "training.certificates_exported": _l("修了証をまとめてダウンロード"),
        "training.results_exported": _l("研修の受講記録を書き出し"),
        "training.attempt_started": _l("テストを開始"),
        "training.attempt_finished": _l("テストを提出"),
    }),
    (_l("点検(セキュレジ)"), {
        "inspection_item.created": _l("点検項目を作成"),
        "inspection_item.updated": _l("点検項目を変更"),
        "inspection_edition.created": _l("点検の版を作成"),
        "inspection_edition.updated": _l("点検の版を変更"),
        "inspection.round_created": _l("点検を登録"),
        "inspection.round_launched": _l("点検を開始"),
        "inspection.round_scheduled": _l("次回の点検を予約"),
        "inspection.round_closed": _l("点検を締め切り"),
        "inspection.reminder_sent": _l("点検のリマインドを送信"),
        "inspection.reminder_manual": _l("点検のリマインドを手動で送信"),
        "inspection.answers_exported": _l("点検の回答を書き出し"),
        "inspection.submitted": _l("点検を提出"),
        "inspection_action.created": _l("是正処置を登録"),
        "inspection_action.updated": _l("是正処置を更新"),
        "inspection_action.training_assigned": _l("是正処置として研修を割り当て"),
    }),
    (_l("メール"), {
        "mail.retried": _l("メールを再送"),
        "mail.address_suppressed": _l("アドレスへの配信を停止"),
        "mail.address_unsuppressed": _l("アドレスへの配信停止を解除"),
        "mail.organization_suppressed": _l("組織への配信を停止"),
        "mail.organization_unsuppressed": _l("組織への配信停止を解除"),
    }),
    (_l("お問い合わせ"), {
        "ticket.created": _l("お問い合わせを受付"),
        "ticket.customer_reply": _l("お問い合わせにお客様が返信"),
        "ticket.staff_reply": _l("お問い合わせに回答"),
        "ticket.note": _l("お問い合わせに社内メモ"),
        "ticket.status": _l("お問い合わせの状態を変更"),
        "ticket.reopened": _l("お問い合わせを再開"),
        "ticket.assigned": _l("お問い合わせの担当者を変更"),
        "ticket.merged_into": _l("お問い合わせを統合(重複の側)"),
        "ticket.merged_from": _l("お問い合わせを統合(受け入れた側)"),
        "ticket.rated": _l("お問い合わせの回答を評価"),
        "ticket.oncall_notified": _l("時間外の緊急として当番へ連絡"),
        "ticket.oncall_not_notified": _l("時間外の緊急を当番へ連絡できず"),
        "ticket.notice_linked": _l("お問い合わせを障害のお知らせに紐づけ"),
        "ticket.mail_in_added": _l("お問い合わせにメールの返信を追加"),
        "ticket.mail_in_refused": _l("お問い合わせへのメールを受け付けず"),
        "ticket.contact_confirmed": _l("お問い合わせフォームの送信者がメールアドレスを確認"),
        "contact.submitted": _l("お問い合わせフォームから送信(メールアドレスの確認待ち)"),
        "contact.unconfirmed_purged": _l("未確認のお問い合わせフォームの送信を削除"),
        "tickets.settings_changed": _l("サポート窓口の設定を変更"),
        "tickets.break_added": _l("サポート窓口の休業期間を追加"),
        "tickets.break_removed": _l("サポート窓口の休業期間を削除"),
    }),
)
ACTION_LABELS = {code: label for _group, actions in ACTION_GROUPS for code, label in actions.items()}

# The outbox's ``template``: one per email/<kind>.subject.txt, in the order the filter lists them.
MAIL_KIND_LABELS = {
    "training_invitation": _l("研修の案内"),
    "training_reminder": _l("研修の督促"),
    "training_escalation": _l("期限切れの受講者(マネージャーあて)"),
    "weekly_summary": _l("週次サマリー(管理者あて)"),
    "inspection_invitation": _l("点検の依頼"),
    "inspection_reminder": _l("点検の督促"),
    "invitation": _l("招待(管理者・マネージャー)"),
    "invitation_learner": _l("招待(受講者)"),
    "sign_in_link": _l("ログイン用リンク"),
    "password_reset": _l("パスワード再設定"),
    "mfa_reset": _l("2段階認証のリセット"),
    "password_compromise_reported": _l("パスワード漏えいの申告(運営あて)"),
    "handover": _l("主管理者の引き継ぎ"),
    "inbox_item": _l("受付箱の新しい項目(運営あて)"),
    "notice": _l("お知らせ"),
    "invoice_issued": _l("請求書の発行"),
    "credit_note_issued": _l("返還インボイスの発行"),
    "invoice_reminder": _l("お支払いの督促"),
    "org_status_changed": _l("利用状態の変更"),
    "termination_received": _l("利用終了の受領"),
    "cure_notice": _l("是正の催告"),
    "organization_data_deleted": _l("データ削除の完了"),
    "application_confirm": _l("利用申込み: メールアドレスの確認"),
    "application_received": _l("利用申込み: 受付"),
    "application_already_pending": _l("利用申込み: 審査中のご案内"),
    "application_approved": _l("利用申込み: 承認"),
    "application_rejected": _l("利用申込み: 結果のご連絡"),
    "tickets_new": _l("新しいお問い合わせ(サポートあて)"),
    "tickets_emergency": _l("時間外の緊急連絡(当番あて)"),
    "tickets_due_soon": _l("回答期限が近いお問い合わせ(サポートあて)"),
    "tickets_overdue": _l("回答期限を過ぎたお問い合わせ(サポートあて)"),
    "tickets_reply_customer": _l("お問い合わせへの回答"),
    "tickets_reply_contact": _l("お問い合わせフォームの送信者への回答"),
    "contact_confirm": _l("お問い合わせフォーム: メールアドレスの確認"),
    "tickets_reply_staff": _l("お客様からの返信(サポートあて)"),
    "tickets_mail_returned": _l("お問い合わせに追加できなかったメールの返送"),
}


def action_label(code: str | None) -> str:
    """The action's label; an unknown code (an older version's) as it is."""
    return str(ACTION_LABELS.get(code, code or ""))


def mail_kind_label(kind: str | None) -> str:
    """The email kind's label; an unknown kind as it is."""
    return str(MAIL_KIND_LABELS.get(kind, kind or ""))


def _with_unknown(choices: list[SelectChoice], known, current: str | None) -> list[SelectChoice]:
    # A code from an old link (or an older version) is still offered, as itself, so the filter shows it.
    if current and current not in known:
        choices.insert(1, SelectChoice(current, current))
    return choices


def action_choices(current: str | None = None) -> list[SelectChoice]:
    """The audit log's 操作 filter: すべて, then every action with its label, grouped."""
    choices = [SelectChoice("", _l("すべて"))]
    for group, actions in ACTION_GROUPS:
        choices.extend(SelectChoice(code, label, optgroup=group) for code, label in actions.items())
    return _with_unknown(choices, ACTION_LABELS, current)


def mail_kind_choices(current: str | None = None) -> list[SelectChoice]:
    """The delivery log's 種類 filter: すべて, then every email kind with its label."""
    choices = [SelectChoice("", _l("すべて"))]
    choices.extend(SelectChoice(kind, label) for kind, label in MAIL_KIND_LABELS.items())
    return _with_unknown(choices, MAIL_KIND_LABELS, current)


def init_app(app: Flask) -> None:
    app.add_template_filter(action_label)
    app.add_template_filter(mail_kind_label)
