"""Command-line tools: ``flask --app wsgi create-operator``, ``demo`` (its data in ``portal.demo``), ``worker``
(in portal.worker) and ``mail-in`` (replies to ticket notifications, in the tickets area)."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from portal import audit, query_planner
from portal.accounts import upsert_user
from portal.demo import DEMO_PASSWORD, basic
from portal.extensions import db
from portal.models import Role, User
from portal.passwords import password_problems
from portal.tenancy import unscoped


def init_app(app: Flask) -> None:
    app.cli.add_command(create_operator)
    app.cli.add_command(demo)

    from portal.worker import worker_command

    app.cli.add_command(worker_command)

    from portal.mail_listener import mail_in_command

    app.cli.add_command(mail_in_command)


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
    with unscoped("an operator belongs to no organization"):
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
    if basic.seed(if_empty=if_empty, echo=click.echo) and scale:
        _demo_scale(scale)
    # The planner's statistics of the new rows now, not at the worker's first hourly refresh (portal/query_planner.py).
    if query_planner.refresh(db.session.connection()):
        db.session.commit()


def _demo_scale(n: int) -> None:
    import time

    from portal.demo.scale import seed_scale

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
