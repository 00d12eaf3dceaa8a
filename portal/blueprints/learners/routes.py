"""Learner and department management. Thin views: the rules are in ``services`` and ``imports``."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from jinja2_fragments.flask import render_block
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.accounts import signed_in_user as _me
from portal.blueprints.learners import bp, imports, services
from portal.blueprints.learners.forms import (
    DepartmentEditForm,
    DepartmentForm,
    FilterForm,
    ImportConfirmForm,
    ImportForm,
    InitialPasswordForm,
    LearnerForm,
    NewLearnerForm,
    SignInSettingsForm,
)
from portal.blueprints.learners.services import LearnerRuleError
from portal.clock import TOKYO, utcnow
from portal.departments import DepartmentTree
from portal.exports import TextCell, csv_response, rows_from_database
from portal.extensions import db
from portal.forms import EmptyForm
from portal.htmx import is_htmx
from portal.i18n import lazy_gettext as _l
from portal.i18n import translated
from portal.learner_record import learner_record
from portal.models import ImportStatus, Role, User
from portal.models.learners import EMPLOYMENT_LABELS
from portal.pagination import requested_page
from portal.requests import writes_on_get
from portal.security import role_required
from portal.violations import rule_violations_shown

PER_PAGE = 50


def _visible_departments(tree: DepartmentTree):
    ids = services.visible_department_ids(_me(), tree)
    return [d for d in tree.ordered() if d.id in ids]

_LOGIN_TAKEN = _l("この受講者IDまたはメールアドレスはすでに使われています。")


def _filtered_query(tree: DepartmentTree):
    form = FilterForm(request.args, meta={"csrf": False}, departments=_visible_departments(tree), tree=tree)
    form.validate()
    stmt = services.learner_list_query(
        _me(),
        tree,
        q=form.q.data or "",
        department_id=form.department.data if form.department.data and form.department.data > 0 else None,
        employment_type=form.employment_type.data or None,
        status=form.status.data or "active",
    )
    return form, stmt


@bp.get("/")
def index():
    tree = DepartmentTree.load()
    form, stmt = _filtered_query(tree)
    page = db.paginate(stmt, page=requested_page(), per_page=PER_PAGE, error_out=False)
    labels = translated(EMPLOYMENT_LABELS)  # once, not for every row
    context = {"form": form, "page": page, "tree": tree, "employment_labels": labels}
    if is_htmx():
        return render_block("learners/index.html", "results", **context)
    return render_template("learners/index.html", **context)


@bp.route("/new", methods=["GET", "POST"])
def new():
    tree = DepartmentTree.load()
    form = NewLearnerForm(
        departments=_visible_departments(tree),
        tree=tree,
        third_parties=services.approved_third_parties(_me().organization),
    )
    if form.validate_on_submit():
        data = form.data_for_service()
        data["initial_password"] = form.initial_password.data or None
        with (
            rule_violations_shown(form, catch=LearnerRuleError),
            rule_violations_shown(form.login_id, catch=IntegrityError, message=_LOGIN_TAKEN),
        ):
            learner = services.create_learner(data, by=_me())
            services.set_third_party(learner, form.third_party_id.data, _me())
            if form.send_invitation.data and learner.email:
                services.send_invitation(learner, _me().organization, by=_me())
            flash(_("受講者「%(id)s」を登録しました。", id=learner.login_id), "success")
            return redirect(url_for("learners.show", learner_id=learner.id), 303)
    seat = services.seat_effect(_me().organization_id, 1)
    return render_template("learners/form.html", form=form, learner=None, seat=seat), 422 if form.errors else 200


@bp.get("/<int:learner_id>")
def show(learner_id: int):
    learner = services.get_learner(learner_id, _me())
    tree = DepartmentTree.load()
    return render_template(
        "learners/show.html",
        learner=learner,
        tree=tree,
        third_party=services.third_party_of(learner),
        employment_labels=EMPLOYMENT_LABELS,
        action_form=EmptyForm(),
        login_url=url_for("auth.org_login", code=_me().organization.code, _external=True),
    )


@bp.get("/<int:learner_id>/record")
def record(learner_id: int):
    learner = services.get_learner(learner_id, _me())
    history = learner_record(learner)
    return render_template(
        "learners/record.html",
        learner=learner,
        record=history,
        tree=DepartmentTree.load(),
        openable=services.openable_action_ids(history.actions, _me()),
    )


@bp.get("/<int:learner_id>/record.<any(csv, tsv):fmt>")
@writes_on_get
def record_export(learner_id: int, fmt: str):
    """The record as a file; a download of personal data is audited (``learners.record_exported``)."""
    learner = services.get_learner(learner_id, _me())
    rows = services.record_rows(learner_record(learner))
    services.record_exported(learner, fmt)
    stamp = utcnow().astimezone(TOKYO).strftime("%Y%m%d")
    filename = f"研修・点検の記録_{learner.login_id or learner.id}_{stamp}.{fmt}"
    return csv_response(filename, services.RECORD_HEADER, rows, dialect=fmt)


@bp.route("/<int:learner_id>/edit", methods=["GET", "POST"])
def edit(learner_id: int):
    learner = services.get_learner(learner_id, _me())
    tree = DepartmentTree.load()
    form = LearnerForm(
        obj=learner,
        departments=_visible_departments(tree),
        tree=tree,
        learner_id=learner.id,
        third_parties=services.approved_third_parties(_me().organization),
    )
    if request.method == "GET":
        current = services.third_party_of(learner)
        form.third_party_id.data = current.id if current else None
    if form.validate_on_submit():
        with (
            rule_violations_shown(form, catch=LearnerRuleError),
            rule_violations_shown(form.login_id, catch=IntegrityError, message=_LOGIN_TAKEN),
        ):
            services.update_learner(learner, form.data_for_service(), by=_me())
            services.set_third_party(learner, form.third_party_id.data, _me())
            flash(_("受講者の情報を更新しました。"), "success")
            return redirect(url_for("learners.show", learner_id=learner.id), 303)
    return render_template("learners/form.html", form=form, learner=learner), 422 if form.errors else 200


def _post_action(learner_id: int, action, message: str):
    learner = services.get_learner(learner_id, _me())
    if EmptyForm().validate_on_submit():
        with rule_violations_shown(catch=LearnerRuleError):
            action(learner)
            flash(message, "success")
    return redirect(url_for("learners.show", learner_id=learner.id), 303)


@bp.post("/<int:learner_id>/deactivate")
def deactivate(learner_id: int):
    return _post_action(learner_id, lambda learner: services.set_active(learner, False), _("受講者を無効にしました。"))


@bp.post("/<int:learner_id>/reactivate")
def reactivate(learner_id: int):
    return _post_action(learner_id, lambda learner: services.set_active(learner, True), _("受講者を有効に戻しました。"))


@bp.post("/<int:learner_id>/sessions/end")
def end_sessions(learner_id: int):
    return _post_action(learner_id, services.end_sessions, _("この受講者をすべての端末からログアウトさせました。"))


@bp.post("/<int:learner_id>/invite")
def invite(learner_id: int):
    return _post_action(
        learner_id,
        lambda learner: services.send_invitation(learner, _me().organization, by=_me()),
        _("招待メールを送信しました(数分以内に届きます)。"),
    )


@bp.route("/<int:learner_id>/password", methods=["GET", "POST"])
def reset_password(learner_id: int):
    learner = services.get_learner(learner_id, _me())
    form = InitialPasswordForm()
    if form.validate_on_submit():
        services.set_initial_password(learner, form.initial_password.data)
        flash(
            _("新しい初期パスワードを設定しました。受講者は次のログインでパスワードを変更します。"), "success"
        )
        return redirect(url_for("learners.show", learner_id=learner.id), 303)
    return render_template("learners/password.html", form=form, learner=learner), 422 if form.errors else 200


@bp.route("/<int:learner_id>/delete", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN)
def delete(learner_id: int):
    learner = services.get_learner(learner_id, _me())
    form = EmptyForm()
    if form.validate_on_submit():
        login_id = learner.login_id
        services.delete_learner(learner)
        flash(_("受講者「%(id)s」を削除しました。", id=login_id), "success")
        return redirect(url_for("learners.index"), 303)
    return render_template("learners/delete.html", form=form, learner=learner)


# --- export -----------------------------------------------------------------------------------

EXPORT_HEADER = ("受講者ID", "氏名", "メールアドレス", "部署", "雇用形態", "所属する第三者", "状態")


@bp.get("/export.<any(csv, tsv):fmt>")
@writes_on_get
def export(fmt: str):
    """The filtered list as a file; a download of personal data is audited (``learners.list_exported``)."""
    tree = DepartmentTree.load()
    form, stmt = _filtered_query(tree)
    services.list_exported(fmt, {"q": form.q.data, "department": form.department.data,
                                 "employment_type": form.employment_type.data, "status": form.status.data})
    labels = translated(EMPLOYMENT_LABELS)
    active, inactive = _("有効"), _("無効")
    paths = {d: tree.path(d) for d in tree.by_id}
    third_parties = services.third_party_names()

    def rows():
        for learner in db.session.scalars(stmt.execution_options(yield_per=1000)):
            yield (
                TextCell(learner.login_id or ""),
                learner.name,
                learner.email or "",
                paths.get(learner.department_id, ""),
                labels.get(learner.employment_type, ""),
                third_parties.get(learner.id, ""),
                active if learner.is_active_flag else inactive,
            )

    return csv_response(f"受講者一覧.{fmt}", EXPORT_HEADER, rows_from_database(rows), dialect=fmt)


# --- import -----------------------------------------------------------------------------------


@bp.route("/import", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN)
def import_upload():
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            result = imports.read_csv(upload.read(), max_bytes=current_app.config["LEARNER_IMPORT_MAX_BYTES"])
        except imports.ImportFileError as err:
            form.file.errors = [*form.file.errors, str(err.message)]
        else:
            batch = imports.create_batch(
                result, filename=upload.filename or "", sync=form.sync.data, invite=form.invite.data, by=_me()
            )
            return redirect(url_for("learners.import_preview", batch_id=batch.id), 303)
    return render_template(
        "learners/import.html", form=form, partial_imports=imports.partial_imports(_me())
    ), 422 if form.errors else 200


def _batch_or_404(batch_id: int):
    batch = imports.get_pending_batch(batch_id, _me())
    if batch is None:
        abort(404)
    return batch


@bp.get("/import/<int:batch_id>")
@role_required(Role.ORG_ADMIN)
def import_preview(batch_id: int):
    batch = _batch_or_404(batch_id)
    review = imports.review_batch(batch, _me().organization_id)
    return render_template(
        "learners/import_preview.html",
        batch=batch,
        plan=review.plan,
        errors=review.errors,
        refused_lines=len(review.refused_lines),
        columns=imports.COLUMNS,
        form=ImportConfirmForm(formdata=None),
        valid_rows_form=ImportConfirmForm(formdata=None, valid_rows_only="1", refused=review.fingerprint),
        cancel_form=EmptyForm(),
        limit=200,
    )


@bp.post("/import/<int:batch_id>/confirm")
@role_required(Role.ORG_ADMIN)
def import_confirm(batch_id: int):
    batch = _batch_or_404(batch_id)
    form = ImportConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("learners.import_preview", batch_id=batch.id), 303)
    overlapped = _("ほかの操作と重なったため読み込めませんでした。何も登録していません。もう一度お試しください。")
    with rule_violations_shown(catch=IntegrityError, message=overlapped):
        with rule_violations_shown(catch=imports.ImportRefused):
            plan = imports.apply_import(
                batch, _me().organization, valid_rows_only=form.chose_valid_rows_only, refused=form.refused.data
            )
            if batch.status == ImportStatus.PARTIAL:
                flash(
                    _(
                        "エラーのない行を読み込みました。新規 %(c)d 人、更新 %(u)d 人。エラーのある %(r)d 行は"
                        "読み込んでいません(下の「読み込まなかった行」からダウンロードできます)。",
                        c=len(plan.creates),
                        u=len(plan.updates),
                        r=len(batch.rows["refused"]["rows"]),
                    ),
                    "success",
                )
                return redirect(url_for("learners.import_upload"), 303)
            flash(
                _(
                    "読み込みました。新規 %(c)d 人、更新 %(u)d 人、無効化 %(d)d 人。",
                    c=len(plan.creates),
                    u=len(plan.updates),
                    d=len(plan.deactivations),
                ),
                "success",
            )
            return redirect(url_for("learners.index"), 303)
        return redirect(url_for("learners.import_preview", batch_id=batch_id), 303)
    return redirect(url_for("learners.import_upload"), 303)


@bp.get("/import/<int:batch_id>/refused.csv")
@role_required(Role.ORG_ADMIN)
def import_refused(batch_id: int):
    """The refused rows as the file had them, with a 理由 column: before the choice, or after importing
    the valid rows only (until the batch expires)."""
    batch = imports.get_batch_with_refusals(batch_id, _me())
    if batch is None:
        abort(404)
    if batch.status == ImportStatus.PARTIAL:
        refused = batch.rows["refused"]
    else:
        refused = imports.refused_rows(batch, imports.review_batch(batch, _me().organization_id).errors)
    header, rows = imports.refused_csv(refused)
    stem = batch.filename.rpartition(".")[0] or batch.filename or _("受講者")
    return csv_response(_("%(name)s_読み込まなかった行.csv", name=stem), header, rows)


@bp.post("/import/<int:batch_id>/cancel")
@role_required(Role.ORG_ADMIN)
def import_cancel(batch_id: int):
    batch = _batch_or_404(batch_id)
    if EmptyForm().validate_on_submit():
        imports.cancel_batch(batch)
        flash(_("読み込みを取り消しました。何も登録していません。"), "success")
    return redirect(url_for("learners.import_upload"), 303)


@bp.get("/import/template.csv")
@role_required(Role.ORG_ADMIN)
def import_template():
    header = ("受講者ID", "氏名", "メールアドレス", "部署", "雇用形態", "初期パスワード")
    rows = [
        (TextCell("00123"), "山田 太郎", "yamada@example.co.jp", "営業部/第一課", "正社員", ""),
        (TextCell("00124"), "", "", "営業部/第二課", "派遣社員", "shokiPass2026"),
    ]
    return csv_response("受講者取込テンプレート.csv", header, rows)


# --- departments ------------------------------------------------------------------------------


@bp.route("/departments", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN)
def departments():
    tree = DepartmentTree.load()
    form = DepartmentForm()
    form.parent_id.choices = [(None, _("(最上位)"))] + [
        (d.id, tree.path(d.id)) for d in tree.ordered() if d.depth < 3
    ]
    if form.validate_on_submit():
        parent = services.get_department(form.parent_id.data) if form.parent_id.data else None
        with rule_violations_shown(form, catch=LearnerRuleError):
            services.create_department(form.name.data, parent)
            flash(_("部署「%(name)s」を作成しました。", name=form.name.data.strip()), "success")
            return redirect(url_for("learners.departments"), 303)
    counts = dict(
        db.session.execute(
            select(User.department_id, db.func.count(User.id))
            .where(User.role == Role.LEARNER, User.department_id.is_not(None))
            .group_by(User.department_id)
        ).all()
    )
    return render_template(
        "learners/departments.html", form=form, tree=tree, counts=counts, delete_form=EmptyForm()
    ), 422 if form.errors else 200


@bp.route("/departments/<int:department_id>", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN)
def department_edit(department_id: int):
    department = services.get_department(department_id)
    tree = DepartmentTree.load()
    form = DepartmentEditForm(obj=department)
    managers = services.organization_managers()
    form.managers.choices = [(m.id, m.name or m.email or str(m.id)) for m in managers]
    if request.method == "GET":
        form.managers.data = sorted(services.department_manager_ids(department))
    if form.validate_on_submit():
        with rule_violations_shown(form, catch=LearnerRuleError):
            services.rename_department(department, form.name.data)
            services.set_department_managers(department, form.managers.data or [])
            flash(_("部署を更新しました。"), "success")
            return redirect(url_for("learners.departments"), 303)
    return render_template(
        "learners/department_edit.html", form=form, department=department, path=tree.path(department.id)
    ), 422 if form.errors else 200


@bp.post("/departments/<int:department_id>/delete")
@role_required(Role.ORG_ADMIN)
def department_delete(department_id: int):
    department = services.get_department(department_id)
    if EmptyForm().validate_on_submit():
        name = department.name
        with rule_violations_shown(catch=LearnerRuleError):
            services.delete_department(department)
            flash(_("部署「%(name)s」を削除しました。", name=name), "success")
    return redirect(url_for("learners.departments"), 303)


# --- how learners sign in ---------------------------------------------------------------------


@bp.route("/sign-in", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN)
def sign_in_settings():
    organization = _me().organization
    form = SignInSettingsForm(obj=organization)
    if form.validate_on_submit():
        services.set_magic_link_sign_in(organization, form.magic_link_sign_in.data)
        flash(_("ログイン方法の設定を保存しました。"), "success")
        return redirect(url_for("learners.sign_in_settings"), 303)
    return render_template(
        "learners/sign_in_settings.html",
        form=form,
        login_url=url_for("auth.org_login", code=organization.code, _external=True),
    )
