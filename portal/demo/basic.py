"""What ``flask --app wsgi demo`` seeds: the demo company 株式会社デモ商事 with its logins, departments,
contract and profile, the demo courses and inspection library (global), an open delivery, this month's
inspection round, a year of inspection history, an invoice and the terms.

Every step is idempotent (a second run finds its rows and adds nothing) and commits for itself; ``echo``
prints what was done (``click.echo`` from the command in ``portal/cli.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from portal import audit
from portal.accounts import upsert_user
from portal.clock import TOKYO, add_months_to_date, this_month, today_in_tokyo
from portal.demo import DEMO_PASSWORD, showcase
from portal.extensions import db
from portal.models import Organization, Role, User
from portal.tenancy import unscoped

DEMO_ORG_NAME = "株式会社デモ商事"
DEMO_DEPARTMENTS = ["総務部", "営業部", "開発部", "経理部"]
DEMO_LEARNER_NAMES = [
    "佐藤 翔太", "鈴木 美咲", "高橋 大輔", "田中 結衣", "伊藤 健太", "渡辺 彩", "山本 拓海", "中村 さくら",
    "小林 蓮", "加藤 葵", "吉田 陽斗", "山田 凛", "佐々木 悠真", "山口 陽菜", "松本 湊", "井上 結菜",
    "木村 大和", "林 莉子", "斎藤 颯", "清水 芽依",
]


def seed(*, if_empty: bool = False, echo: Callable[[str], None] = print) -> bool:
    """Seed the demo (safe to run again), committing step by step, and print every login with ``echo``.

    Returns False, having seeded nothing, when ``if_empty`` and the database has users already.
    """
    with unscoped("the CLI seeds staff and organizations"):
        if if_empty and db.session.scalar(select(User.id).limit(1)) is not None:
            echo("The database has users already; demo data not seeded.")
            return False
        org = db.session.scalar(select(Organization).where(Organization.name == DEMO_ORG_NAME))
        if org is None:
            org = Organization(name=DEMO_ORG_NAME, code="demo")
            db.session.add(org)
            db.session.flush()
        logins = [
            ("operator@example.com", Role.OPERATOR, "運営 太郎", None),
            ("support@example.com", Role.SUPPORT, "サポート 花子", None),
            ("admin@demo.example.com", Role.ORG_ADMIN, "管理 一郎", org),
            ("manager@demo.example.com", Role.MANAGER, "課長 次郎", org),
        ]
        for i, name in enumerate(DEMO_LEARNER_NAMES, start=1):
            logins.append((f"learner{i:02d}@demo.example.com", Role.LEARNER, name, org))
        for email, role, name, organization in logins:
            user, created = upsert_user(
                email=email, role=role, name=name, password=DEMO_PASSWORD, organization=organization
            )
            if role == Role.LEARNER and not user.login_id:
                user.login_id = email.split("@")[0].upper()
            if created:
                audit.record("user.created", target=user, actor=None, source="demo")
        departments = _seed_organization(org)
        id_logins = [learner.login_id for learner in
                     showcase.seed_id_learners(org, DEMO_PASSWORD, [departments[n].id for n in DEMO_DEPARTMENTS])]
        db.session.commit()
    echo(f"Demo logins (password for all: {DEMO_PASSWORD})")
    for email, role, _name, _org in logins:
        echo(f"  {role:<10} {email}")
    echo(f"Organization: {DEMO_ORG_NAME} (code {org.code})")
    echo(f"Learners without email sign in at /o/{org.code} with their learner ID (same password):")
    for login_id in id_logins:
        echo(f"  {Role.LEARNER:<10} {login_id}")
    course = seed_training(echo)
    seed_delivery(org.id, course, echo)
    seed_inspections(echo)
    seed_inspection_round(org.id, echo)
    seed_inspection_history(org.id, echo)
    seed_invoice(org.id, echo)
    seed_terms(echo)
    return True


def seed_training(echo: Callable[[str], None] = print):
    """The demo courses of セキュトレ, for every employee and for managers (global, so every organization
    can deliver them); returns the employees' course. It comes first: `flask demo --scale` delivers the
    first global course."""
    from portal.demo.courses import seed_demo_course, seed_managers_course

    with unscoped("the CLI seeds global courses"):
        seeded = [seed_demo_course(), seed_managers_course()]
        db.session.commit()
    for course, created in seeded:
        echo(f"Training course: {course.title} ({course.fiscal_year}){' created' if created else ''}")
    return seeded[0][0]


def seed_delivery(org_id: int, course, echo: Callable[[str], None] = print) -> None:
    """An open delivery of the demo course to every demo learner: a test to take right after seeding."""
    from portal.clock import utcnow

    with unscoped("the CLI seeds the demo organization"):
        admin = db.session.scalar(select(User).where(User.email == "admin@demo.example.com"))
        delivery, created = showcase.open_delivery(org_id, course, admin, utcnow())
        db.session.commit()
        due = delivery.due_at.astimezone(TOKYO)
        echo(f"Training delivery: {delivery.title} (open until {due:%Y-%m-%d %H:%M})"
             f"{'' if created else ' (exists)'}")


def seed_invoice(org_id: int, echo: Callable[[str], None] = print) -> None:
    """The demo company's invoice for its contract year, issued today (needs the issuer's settings)."""
    from portal.rules import RuleViolation

    with unscoped("the CLI seeds the demo organization"):
        org = db.session.get(Organization, org_id)
        operator = db.session.scalar(select(User).where(User.email == "operator@example.com"))
        try:
            invoice, created = showcase.issue_invoice(org, operator)
        except RuleViolation as refusal:
            db.session.rollback()
            echo(f"Invoice: not issued: {refusal}")
            return
        db.session.commit()
        if invoice is not None:
            echo(f"Invoice: {invoice.number}, {invoice.total:,} yen, due {invoice.due_on:%Y-%m-%d}"
                 f"{'' if created else ' (exists)'}")


def seed_terms(echo: Callable[[str], None] = print) -> None:
    """The terms of service as the current version, so that the application form /apply/ is open."""
    with unscoped("the CLI seeds the terms and their acceptance"):
        operator = db.session.scalar(select(User).where(User.email == "operator@example.com"))
        admins = list(db.session.scalars(select(User).where(User.email == "admin@demo.example.com")))
        document, created = showcase.publish_terms(operator, admins)
        db.session.commit()
        echo(f"Terms: {document.version} (in force since {document.effective_on:%Y-%m-%d})"
             f"{'' if created else ' (a version exists)'}")


def seed_inspections(echo: Callable[[str], None] = print) -> None:
    """The demo library of セキュレジ inspection items and editions (global, so every organization reads it)."""
    from portal.demo.inspection_items import seed_demo_editions, seed_demo_items

    with unscoped("the CLI seeds the global item library"):
        total, added = seed_demo_items()
        editions = seed_demo_editions()
        db.session.commit()
    echo(f"Inspection items: {total} ({added} added); editions added: {editions}")


def seed_inspection_history(org_id: int, echo: Callable[[str], None] = print) -> None:
    """A year of closed monthly rounds of the employee edition for the demo company (results, trend and
    follow-up have something to show); months that already have a round are left alone."""
    from portal.clock import this_month
    from portal.demo.inspection_history import seed_demo_history
    from portal.models import EditionKind, InspectionEdition
    from portal.tenancy import tenant_scope

    with tenant_scope(org_id):
        edition = db.session.scalar(
            select(InspectionEdition).where(InspectionEdition.kind == EditionKind.EMPLOYEE,
                                            InspectionEdition.organization_id.is_(None))
            .order_by(InspectionEdition.id)
        )
        if edition is None:
            return
        people = [tuple(row) for row in db.session.execute(
            select(User.id, User.department_id).where(User.role == Role.LEARNER, User.is_active_flag.is_(True))
            .order_by(User.id)
        )]
        added = seed_demo_history(org_id, edition, people, this_month())
        db.session.commit()
    echo(f"Inspection history: {added} monthly rounds of {edition.title} added")


def seed_inspection_round(org_id: int, echo: Callable[[str], None] = print) -> None:
    """An open round of the employee edition for this month, for every demo learner (once per month)."""
    from datetime import datetime, time, timedelta

    from portal.blueprints.inspections.rounds import services as rounds
    from portal.clock import TOKYO, utcnow
    from portal.models import EditionKind, InspectionEdition, InspectionRound
    from portal.tenancy import tenant_scope

    now = utcnow()
    month = this_month(now)
    with tenant_scope(org_id):
        edition = db.session.scalar(select(InspectionEdition).where(
            InspectionEdition.kind == EditionKind.EMPLOYEE, InspectionEdition.organization_id.is_(None))
            .order_by(InspectionEdition.id))
        if edition is None:
            return
        existing = db.session.scalar(select(InspectionRound).where(InspectionRound.edition_id == edition.id,
                                                                   InspectionRound.month == month))
        if existing is not None:
            echo(f"Inspection round: {existing.title} (exists)")
            return
        admin = db.session.scalar(select(User).where(User.email == "admin@demo.example.com"))
        next_month = add_months_to_date(month, 1)
        due = datetime.combine(next_month - timedelta(days=1), time(18), tzinfo=TOKYO)
        if due - now < timedelta(days=3):
            due = datetime.combine(today_in_tokyo(now + timedelta(days=7)), time(18), tzinfo=TOKYO)
        created = rounds.create_round(rounds.RoundInput(
            edition=edition, month=month, title="", target_kind="everyone", department_ids=[], person_ids=[],
            starts_at=now, due_at=due, reminder_days=[-3, -1], business_days_only=False, window_end_hour=24,
            window_start_hour=0,
        ), by=admin, now=now)
        db.session.commit()
        echo(f"Inspection round: {created.title} (open until {due:%Y-%m-%d %H:%M})")


def _seed_organization(org: Organization) -> dict:
    """The demo company's contract (this fiscal year), registered profile and departments, each created
    once; returns the departments by name."""
    from portal.clock import today_in_tokyo, utcnow
    from portal.models import Contract, Department, ManagerDepartment, OrganizationProfile

    if db.session.scalar(select(Contract).where(Contract.organization_id == org.id)) is None:
        starts_on, ends_on = showcase.fiscal_year(today_in_tokyo())
        db.session.add(
            Contract(
                organization_id=org.id, plan_name="スタンダード", starts_on=starts_on, ends_on=ends_on,
                seat_limit=50, annual_fee=300_000, overage_unit_price=3_000,
            )
        )
    users = {u.email: u for u in db.session.scalars(select(User).where(User.organization_id == org.id))}
    if db.session.scalar(select(OrganizationProfile).where(OrganizationProfile.organization_id == org.id)) is None:
        db.session.add(
            OrganizationProfile(
                organization_id=org.id, primary_admin_id=users["admin@demo.example.com"].id, postal_code="101-0062",
                prefecture="東京都", address_line1="千代田区神田駿河台3-1-7", phone="03-1234-5678",
                registered_at=utcnow(),
            )
        )
    existing = db.session.scalars(select(Department).where(Department.organization_id == org.id))
    departments = {d.name: d for d in existing}
    for name in DEMO_DEPARTMENTS:
        if name not in departments:
            departments[name] = Department(organization_id=org.id, name=name, depth=1)
            db.session.add(departments[name])
    db.session.flush()
    for i in range(1, len(DEMO_LEARNER_NAMES) + 1):
        learner = users.get(f"learner{i:02d}@demo.example.com")
        if learner is not None and learner.department_id is None:
            learner.department_id = departments[DEMO_DEPARTMENTS[(i - 1) % len(DEMO_DEPARTMENTS)]].id
    manager = users["manager@demo.example.com"]
    sales = departments["営業部"]
    if db.session.get(ManagerDepartment, (manager.id, sales.id)) is None:
        db.session.add(ManagerDepartment(organization_id=org.id, user_id=manager.id, department_id=sales.id))
    db.session.flush()
    return departments

