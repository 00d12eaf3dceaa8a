"""The inspection item library and the editions built from it.

Who may see and change an item:

* the operator writes global items (``organization_id`` NULL) and sees only those;
* an organization's administrator writes the organization's own items and reads the global ones
  (the tenant guard's :class:`~portal.tenancy.SharedOrTenantScoped` rule; :func:`get_editable_item`
  refuses a global item to an organization before the guard would raise).
"""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, select

from portal import audit
from portal.clock import month_index
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models import INSPECTION_CATEGORIES, EditionItem, EditionKind, InspectionEdition, InspectionItem, User
from portal.rules import NotFound
from portal.security import may_edit_library_item


def visible_items(user: User) -> list[InspectionItem]:
    """The items the current scope may read, ordered by category (known ones first) and position."""
    query = select(InspectionItem)
    if user.is_staff:
        query = query.where(InspectionItem.organization_id.is_(None))
    items = list(db.session.scalars(query.order_by(InspectionItem.position, InspectionItem.id)))
    return sorted(items, key=lambda i: (category_rank(i.category), i.category))


def category_rank(category: str) -> int:
    return INSPECTION_CATEGORIES.index(category) if category in INSPECTION_CATEGORIES else len(INSPECTION_CATEGORIES)


def known_categories() -> list[str]:
    """The standard categories followed by any other category an item of this scope uses."""
    used = db.session.scalars(select(InspectionItem.category).distinct())
    return list(INSPECTION_CATEGORIES) + sorted(set(used) - set(INSPECTION_CATEGORIES))


def may_edit(item: InspectionItem, user: User) -> bool:
    if user.is_staff:
        return item.organization_id is None
    return item.organization_id is not None and item.organization_id == user.organization_id


def get_editable_item(item_id: int, user: User) -> InspectionItem:
    """:raises NotFound: unknown, invisible, or visible but not editable by ``user``."""
    item = db.session.scalar(select(InspectionItem).where(InspectionItem.id == item_id))
    if item is None or not may_edit(item, user):
        raise NotFound
    return item


def save_item(item: InspectionItem | None, *, category: str, text: str, why: str, is_active: bool = True,
              organization_id: int | None = None) -> InspectionItem:
    """Create (``item`` None) or update an item; a new item goes last in its category."""
    created = item is None
    if created:
        last = db.session.scalar(
            select(func.max(InspectionItem.position)).where(InspectionItem.category == category)
        )
        item = InspectionItem(organization_id=organization_id, position=(last or 0) + 1)
        db.session.add(item)
    item.category = category.strip()
    item.text = text.strip()
    item.why = why.strip()
    item.is_active = is_active
    db.session.flush()
    audit.record("inspection_item.created" if created else "inspection_item.updated", target=item,
                 category=item.category)
    return item


# --- editions ------------------------------------------------------------------------------------------


class EditionRuleError(ValueError):
    """A change the edition rules refuse; the message is Japanese and shown as is."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.field = field


EDITION_KIND_LABELS = {
    EditionKind.EMPLOYEE: _l("従業員版"), EditionKind.MANAGER: _l("管理者版"),
    EditionKind.CLIENT_SITE: _l("客先常駐版"), EditionKind.CUSTOM: _l("独自の版"),
}


def edition_name(edition: InspectionEdition) -> str:
    """The edition's title with its kind (月次点検（従業員版）); the kind is left out when the title says it
    already, so the demo's 従業員版 is not shown as 従業員版（従業員版）."""
    kind = str(EDITION_KIND_LABELS.get(edition.kind, ""))
    return edition.title if not kind or kind in edition.title else f"{edition.title}（{kind}）"


def visible_editions(user: User) -> list[InspectionEdition]:
    query = select(InspectionEdition)
    if user.is_staff:
        query = query.where(InspectionEdition.organization_id.is_(None))
    return list(db.session.scalars(query.order_by(InspectionEdition.organization_id.is_not(None),
                                                  InspectionEdition.kind, InspectionEdition.id)))


def get_edition(edition_id: int) -> InspectionEdition:
    """:raises NotFound: unknown, or another organization's."""
    edition = db.session.scalar(select(InspectionEdition).where(InspectionEdition.id == edition_id))
    if edition is None:
        raise NotFound
    return edition


def may_edit_edition(edition: InspectionEdition, user: User) -> bool:
    return may_edit_library_item(edition.organization_id, user)


def get_editable_edition(edition_id: int, user: User) -> InspectionEdition:
    """:raises NotFound: unknown, invisible, or visible but not editable by ``user``."""
    edition = get_edition(edition_id)
    if not may_edit_edition(edition, user):
        raise NotFound
    return edition


def save_edition(edition: InspectionEdition | None, *, title: str, kind: str, description: str, drawn_count: int,
                 item_ids: list[int], organization_id: int | None = None) -> InspectionEdition:
    """Create or update an edition with its fixed items in the order given.

    :raises EditionRuleError: no item at all, an item the edition may not use (another organization's, or
        an organization's item in a global edition), or more drawn items than there are categories to draw from.
    """
    if not item_ids and drawn_count == 0:
        raise EditionRuleError(_("固定の項目を1つ以上選ぶか、毎月抽選する項目数を指定してください。"), "item_ids")
    items = {i.id: i for i in db.session.scalars(select(InspectionItem).where(InspectionItem.id.in_(item_ids)))}
    owner = edition.organization_id if edition is not None else organization_id
    allowed = [i for i in item_ids if i in items and (items[i].organization_id is None or owner is not None)]
    if len(allowed) != len(set(item_ids)):
        raise EditionRuleError(_("この版に使えない点検項目が含まれています。"), "item_ids")
    if drawn_count:
        candidates = select(InspectionItem.category).where(
            InspectionItem.is_active, InspectionItem.id.not_in(item_ids or [0])
        )
        if owner is None:
            candidates = candidates.where(InspectionItem.organization_id.is_(None))
        categories = set(db.session.scalars(candidates))
        if drawn_count > len(categories):
            raise EditionRuleError(
                _("抽選する項目数は、抽選できる分類の数（%(n)d）以下にしてください。", n=len(categories)), "drawn_count"
            )
    created = edition is None
    if created:
        edition = InspectionEdition(organization_id=organization_id)
        db.session.add(edition)
    edition.title, edition.kind, edition.description = title.strip(), kind, description.strip()
    edition.drawn_count = drawn_count
    edition.fixed = [EditionItem(item_id=item_id, position=n) for n, item_id in enumerate(dict.fromkeys(item_ids))]
    db.session.flush()
    audit.record("inspection_edition.created" if created else "inspection_edition.updated", target=edition,
                 items=len(item_ids), drawn=drawn_count)
    return edition


def draw_items(edition: InspectionEdition, month: date) -> list[InspectionItem]:
    """The items drawn for ``month``: ``drawn_count`` items, one per category, from the active items the
    current scope reads that are not fixed in the edition.

    Categories rotate by month: month *m* starts at category ``m * drawn_count`` of the sorted list, so
    when there are at least twice as many categories as drawn items a category never appears in two
    consecutive months; within a category the item rotates each time the category comes round. The same
    edition and month always draw the same items (the round stores them, so later library edits do not
    change a past round).
    """
    if not edition.drawn_count:
        return []
    fixed = {f.item_id for f in edition.fixed}
    query = select(InspectionItem).where(InspectionItem.is_active).order_by(InspectionItem.position, InspectionItem.id)
    if edition.organization_id is None:
        query = query.where(InspectionItem.organization_id.is_(None))
    by_category: dict[str, list[InspectionItem]] = {}
    for item in db.session.scalars(query):
        if item.id not in fixed:
            by_category.setdefault(item.category, []).append(item)
    categories = sorted(by_category, key=lambda c: (category_rank(c), c))
    if not categories:
        return []
    count = min(edition.drawn_count, len(categories))
    m = month_index(month)
    start = (m * count) % len(categories)
    chosen = [categories[(start + k) % len(categories)] for k in range(count)]
    turn = (m * count) // len(categories)
    return [by_category[c][turn % len(by_category[c])] for c in chosen]


def edition_items(edition: InspectionEdition, month: date) -> list[InspectionItem]:
    """The fixed items followed by the items drawn for ``month``."""
    return [f.item for f in edition.fixed] + draw_items(edition, month)
