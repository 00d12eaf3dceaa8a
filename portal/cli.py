"""Command-line tools: ``flask --app wsgi create-operator``, ``demo``, ``worker`` (in portal.worker) and
``mail-in`` (replies to ticket notifications, in the tickets area)."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from portal import audit
from portal import demo_showcase as showcase
from portal.clock import TOKYO, add_months_to_date
from portal.demo_scale import DEMO_PASSWORD
from portal.extensions import db
from portal.models import Organization, Role, User
from portal.passwords import hash_password, password_problems
from portal.tenancy import unscoped

DEMO_ORG_NAME = "株式会社デモ商事"
DEMO_DEPARTMENTS = ["総務部", "営業部", "開発部", "経理部"]
DEMO_LEARNER_NAMES = [
    "佐藤 翔太", "鈴木 美咲", "高橋 大輔", "田中 結衣", "伊藤 健太", "渡辺 彩", "山本 拓海", "中村 さくら",
    "小林 蓮", "加藤 葵", "吉田 陽斗", "山田 凛", "佐々木 悠真", "山口 陽菜", "松本 湊", "井上 結菜",
    "木村 大和", "林 莉子", "斎藤 颯", "清水 芽依",
]


def init_app(app: Flask) -> None:
    app.cli.add_command(create_operator)
    app.cli.add_command(demo)

    from portal.worker import worker_command

    app.cli.add_command(worker_command)

    from portal.mail_listener import mail_in_command

    app.cli.add_command(mail_in_command)


def upsert_user(*, email: str, role: Role, name: str, password: str, organization: Organization | None = None):
    """Create the user or update its name, role and password; returns (user, created)."""
    user = db.session.scalar(select(User).where(User.email == email.lower()))
    created = user is None
    if created:
        user = User(email=email.lower(), organization_id=organization.id if organization else None)
        db.session.add(user)
    user.role = role
    user.name = name
    user.password_hash = hash_password(password)
    user.is_active_flag = True
    db.session.flush()
    return user, created


@click.command("create-operator")
@click.argument("email")
@click.option("--name", required=True, help="The operator's name as shown in the portal.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create_operator(email: str, name: str, password_stdin: bool) -> None:
    """Create an operator account (or reset its password if it exists)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problems = password_problems(password, (name, email))
    if problems:
        raise click.ClickException(" ".join(problems))
    with unscoped():
        existing = db.session.scalar(select(User).where(User.email == email.lower()))
        if existing is not None and existing.role != Role.OPERATOR:
            raise click.ClickException(f"{email} already belongs to a {existing.role} account.")
        user, created = upsert_user(email=email, role=Role.OPERATOR, name=name, password=password)
        audit.record("user.created" if created else "user.password_set_by_cli", target=user, actor=None)
        db.session.commit()
    click.echo(f"{'Created' if created else 'Updated'} operator {email}.")


@click.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
@click.option(
    "--scale", type=click.IntRange(min=1), default=None, metavar="N",
    help="Also generate N organizations with a year of training and tickets (N=50: about 100,000 learners).",
)
@with_appcontext
def demo(if_empty: bool, scale: int | None) -> None:
    """Seed demo accounts (safe to run again) and print every login; with --scale N, data at scale too."""
    with unscoped():
        if if_empty and db.session.scalar(select(User.id).limit(1)) is not None:
            click.echo("The database has users already; demo data not seeded.")
            return
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
        departments = _seed_demo_organization(org)
        id_logins = [learner.login_id for learner in
                     showcase.seed_id_learners(org, DEMO_PASSWORD, [departments[n].id for n in DEMO_DEPARTMENTS])]
        db.session.commit()
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD})")
    for email, role, _name, _org in logins:
        click.echo(f"  {role:<10} {email}")
    click.echo(f"Organization: {DEMO_ORG_NAME} (code {org.code})")
    click.echo(f"Learners without email sign in at /o/{org.code} with their learner ID (same password):")
    for login_id in id_logins:
        click.echo(f"  {Role.LEARNER:<10} {login_id}")
    course = _demo_training()
    _demo_delivery(org.id, course)
    _demo_inspections()
    _demo_inspection_round(org.id)
    _demo_inspection_history(org.id)
    _demo_invoice(org.id)
    _demo_terms()
    if scale:
        _demo_scale(scale)


def _demo_scale(n: int) -> None:
    import time

    from portal.demo_scale import seed_scale

    click.echo(f"Generating {n} organizations at scale:")
    started = time.perf_counter()
    try:
        report = seed_scale(n, echo=click.echo)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Done in {time.perf_counter() - started:.1f} s:")
    for what, count in report.counts.items():
        click.echo(f"  {what:<45} {count:>12,}")
    click.echo(f"Largest organization: id {report.largest_org_id}, administrator {report.largest_admin_email} "
               f"(password {DEMO_PASSWORD})")


def _demo_training():
    """The demo courses of セキュトレ, for every employee and for managers (global, so every organization
    can deliver them); returns the employees' course. It comes first: `flask demo --scale` delivers the
    first global course."""
    from portal.blueprints.training.courses.demo import seed_demo_course, seed_managers_course

    with unscoped():
        seeded = [seed_demo_course(), seed_managers_course()]
        db.session.commit()
    for course, created in seeded:
        click.echo(f"Training course: {course.title} ({course.fiscal_year}){' created' if created else ''}")
    return seeded[0][0]


def _demo_delivery(org_id: int, course) -> None:
    """An open delivery of the demo course to every demo learner: a test to take right after seeding."""
    from portal.clock import utcnow

    with unscoped():
        admin = db.session.scalar(select(User).where(User.email == "admin@demo.example.com"))
        delivery, created = showcase.open_delivery(org_id, course, admin, utcnow())
        db.session.commit()
        due = delivery.due_at.astimezone(TOKYO)
        click.echo(f"Training delivery: {delivery.title} (open until {due:%Y-%m-%d %H:%M})"
                   f"{'' if created else ' (exists)'}")


def _demo_invoice(org_id: int) -> None:
    """The demo company's invoice for its contract year, issued today (needs the issuer's settings)."""
    from portal.rules import RuleViolation

    with unscoped():
        org = db.session.get(Organization, org_id)
        operator = db.session.scalar(select(User).where(User.email == "operator@example.com"))
        try:
            invoice, created = showcase.issue_invoice(org, operator)
        except RuleViolation as refusal:
            db.session.rollback()
            click.echo(f"Invoice: not issued: {refusal}")
            return
        db.session.commit()
        if invoice is not None:
            click.echo(f"Invoice: {invoice.number}, {invoice.total:,} yen, due {invoice.due_on:%Y-%m-%d}"
                       f"{'' if created else ' (exists)'}")


def _demo_terms() -> None:
    """The terms of service as the current version, so that the application form /apply/ is open."""
    with unscoped():
        operator = db.session.scalar(select(User).where(User.email == "operator@example.com"))
        admins = list(db.session.scalars(select(User).where(User.email == "admin@demo.example.com")))
        document, created = showcase.publish_terms(operator, admins)
        db.session.commit()
        click.echo(f"Terms: {document.version} (in force since {document.effective_on:%Y-%m-%d})"
                   f"{'' if created else ' (a version exists)'}")


def _demo_inspections() -> None:
    """The demo library of セキュレジ inspection items and editions (global, so every organization reads it)."""
    from portal.blueprints.inspections.items.demo import seed_demo_editions, seed_demo_items

    with unscoped():
        total, added = seed_demo_items()
        editions = seed_demo_editions()
        db.session.commit()
    click.echo(f"Inspection items: {total} ({added} added); editions added: {editions}")


def _demo_inspection_history(org_id: int) -> None:
    """A year of closed monthly rounds of the employee edition for the demo company (results, trend and
    follow-up have something to show); months that already have a round are left alone."""
    from portal.blueprints.inspections.results.demo import seed_demo_history
    from portal.clock import this_month
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
    click.echo(f"Inspection history: {added} monthly rounds of {edition.title} added")


def _demo_inspection_round(org_id: int) -> None:
    """An open round of the employee edition for this month, for every demo learner (once per month)."""
    from datetime import datetime, time, timedelta

    from portal.blueprints.inspections.rounds import services as rounds
    from portal.clock import TOKYO, utcnow
    from portal.models import EditionKind, InspectionEdition, InspectionRound
    from portal.tenancy import tenant_scope

    now = utcnow()
    month = rounds.current_month(now)
    with tenant_scope(org_id):
        edition = db.session.scalar(select(InspectionEdition).where(
            InspectionEdition.kind == EditionKind.EMPLOYEE, InspectionEdition.organization_id.is_(None))
            .order_by(InspectionEdition.id))
        if edition is None:
            return
        existing = db.session.scalar(select(InspectionRound).where(InspectionRound.edition_id == edition.id,
                                                                   InspectionRound.month == month))
        if existing is not None:
            click.echo(f"Inspection round: {existing.title} (exists)")
            return
        admin = db.session.scalar(select(User).where(User.email == "admin@demo.example.com"))
        next_month = add_months_to_date(month, 1)
        due = datetime.combine(next_month - timedelta(days=1), time(18), tzinfo=TOKYO)
        if due - now < timedelta(days=3):
            due = datetime.combine((now + timedelta(days=7)).astimezone(TOKYO).date(), time(18), tzinfo=TOKYO)
        created = rounds.create_round(rounds.RoundInput(
            edition=edition, month=month, title="", target_kind="everyone", department_ids=[], person_ids=[],
            starts_at=now, due_at=due, reminder_days=[-3, -1], business_days_only=False, window_end_hour=24,
            window_start_hour=0,
        ), by=admin, now=now)
        db.session.commit()
        click.echo(f"Inspection round: {created.title} (open until {due:%Y-%m-%d %H:%M})")


def _seed_demo_organization(org: Organization) -> dict:
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
