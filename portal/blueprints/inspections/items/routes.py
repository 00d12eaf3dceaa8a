"""Item library views. Thin: the rules are in ``services``."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from portal.accounts import signed_in_user as _me
from portal.blueprints.inspections.items import bp, services
from portal.blueprints.inspections.items.forms import EditionForm, ItemForm
from portal.clock import this_month
from portal.forms import options
from portal.violations import rule_violations_shown


@bp.get("/items/")
def index():
    items = services.visible_items(_me())
    return render_template("inspection_items/index.html", items=items, me=_me(), may_edit=services.may_edit)


@bp.route("/items/new", methods=["GET", "POST"], defaults={"item_id": None})
@bp.route("/items/<int:item_id>", methods=["GET", "POST"])
def edit(item_id: int | None):
    item = services.get_editable_item(item_id, _me()) if item_id else None
    form = ItemForm(obj=item)
    if form.validate_on_submit():
        services.save_item(item, category=form.category.data, text=form.text.data, why=form.why.data,
                           is_active=form.is_active.data, organization_id=_me().organization_id)
        flash(_("点検項目を保存しました。"), "success")
        return redirect(url_for("inspection_items.index"), 303)
    return render_template("inspection_items/form.html", form=form, item=item,
                           categories=services.known_categories()), 422 if form.errors else 200


@bp.get("/editions/")
def editions():
    return render_template("inspection_items/editions.html", editions=services.visible_editions(_me()),
                           kind_labels=services.EDITION_KIND_LABELS)


@bp.get("/editions/<int:edition_id>")
def edition(edition_id: int):
    current = services.get_edition(edition_id)
    month = this_month()
    return render_template(
        "inspection_items/edition.html", edition=current, month=month, kind_labels=services.EDITION_KIND_LABELS,
        drawn=services.draw_items(current, month), editable=services.may_edit_edition(current, _me()),
    )


@bp.route("/editions/new", methods=["GET", "POST"], defaults={"edition_id": None})
@bp.route("/editions/<int:edition_id>/edit", methods=["GET", "POST"])
def edit_edition(edition_id: int | None):
    current = services.get_editable_edition(edition_id, _me()) if edition_id else None
    form = EditionForm(obj=current)
    items = [i for i in services.visible_items(_me()) if i.is_active or (current and i.id in _fixed_ids(current))]
    if current is not None and not form.is_submitted():
        form.item_ids.data = _fixed_ids(current)
    form.item_ids.choices = options((i.id, f"[{i.category}] {i.text}") for i in items)
    if form.validate_on_submit():
        with rule_violations_shown(form, field="title", catch=services.EditionRuleError):
            saved = services.save_edition(
                current, title=form.title.data, kind=form.kind.data, description=form.description.data or "",
                drawn_count=form.drawn_count.data, item_ids=form.item_ids.data or [],
                organization_id=_me().organization_id,
            )
            flash(_("版を保存しました。"), "success")
            return redirect(url_for("inspection_items.edition", edition_id=saved.id), 303)
    return render_template("inspection_items/edition_form.html", form=form, edition=current), \
        422 if form.errors else 200


def _fixed_ids(edition) -> list[int]:
    return [f.item_id for f in edition.fixed]
