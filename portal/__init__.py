"""The portal's application factory."""

from __future__ import annotations

import logging
import os
import sqlite3

from flask import Flask, current_app, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.config import Config
from portal.extensions import babel, csrf, db, limiter, login_manager, mail, migrate


class ConfigurationError(RuntimeError):
    """The app cannot start safely with this configuration."""


def create_app(config_class: type[Config] = Config, **overrides) -> Flask:
    from portal.unit_of_work import UnitOfWorkFlask

    # The request commits once, or rolls back (portal/unit_of_work.py).
    app = UnitOfWorkFlask(__name__, instance_relative_config=True)
    from portal.ids import DatabaseIntConverter
    from portal.requests import PortalRequest

    # Before any rule is added: a rule binds its converter when it is registered.
    app.url_map.converters["int"] = DatabaseIntConverter

    app.request_class = PortalRequest
    app.config.from_object(config_class)
    app.config.from_prefixed_env("PORTAL")
    app.config.update(overrides)
    os.makedirs(app.instance_path, exist_ok=True)
    _finish_config(app)
    trust_proxies(app)

    from portal.forms import install_fast_html_params

    install_fast_html_params()
    db.init_app(app)
    import portal.models  # noqa: F401 - every model on the metadata, for Alembic

    migrate.init_app(
        app,
        db,
        directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"
    from portal.sign_in import SlidingCookieSessionInterface

    app.session_interface = SlidingCookieSessionInterface()
    mail.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)

    from portal import metrics

    metrics.init_app(app)

    from portal import i18n

    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    i18n.init_app(app)

    from portal import (
        errors,
        gates,
        layout,
        legal,
        link_sessions,
        log_labels,
        navigation,
        notices,
        query_planner,  # noqa: F401  (registers the worker's refresh of SQLite's planner statistics)
        security,
        static_assets,
        violations,
    )

    # The request pipeline: every app-wide gate before a view, in its order (portal/gates.py).
    gates.init_app(app)
    notices.init_app(app)
    legal.init_app(app)
    link_sessions.init_app(app)
    navigation.init_app(app)
    log_labels.init_app(app)

    security.init_security_headers(app)
    static_assets.init_app(app)
    layout.init_app(app)
    errors.init_app(app)
    violations.init_app(app)
    _register_blueprints(app)

    from portal import cli

    cli.init_app(app)
    logging.getLogger("portal").setLevel(app.config.get("LOG_LEVEL", "INFO"))
    return app


def trust_proxies(app: Flask) -> None:
    """Take the client's address and scheme from the ``TRUSTED_PROXY_HOPS`` proxies in front, if any.

    ``request.remote_addr`` then is the client's address for the sign-in limits, the audit IP and the
    ``/metrics`` networks alike. With 0 (the default) X-Forwarded-* headers are ignored.
    """
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)


def _register_blueprints(app: Flask) -> None:
    from portal.areas import OPERATOR_PREFIX, ORG_PREFIX
    from portal.blueprints.auth import bp as auth_bp
    from portal.blueprints.billing import operator_bp as operator_billing_bp
    from portal.blueprints.billing import org_bp as org_billing_bp
    from portal.blueprints.inspections import (
        inspection_items_bp,
        inspection_links_bp,
        inspection_results_bp,
        inspection_sheets_bp,
        inspections_bp,
    )
    from portal.blueprints.invitations import bp as invitations_bp
    from portal.blueprints.learners import bp as learners_bp
    from portal.blueprints.legal import bp as legal_bp
    from portal.blueprints.legal import operator_bp as operator_legal_bp
    from portal.blueprints.mail import bp as mail_bp
    from portal.blueprints.main import bp as main_bp
    from portal.blueprints.me import bp as me_bp
    from portal.blueprints.monitoring import bp as monitoring_bp
    from portal.blueprints.notices import operator_bp as operator_notices_bp
    from portal.blueprints.notices import org_bp as org_notices_bp
    from portal.blueprints.operator import bp as operator_bp
    from portal.blueprints.org import bp as org_bp
    from portal.blueprints.organizations import operator_bp as operator_organizations_bp
    from portal.blueprints.organizations import org_bp as org_organizations_bp
    from portal.blueprints.registration import bp as registration_bp
    from portal.blueprints.registration import review_bp as applications_bp
    from portal.blueprints.status import bp as status_bp
    from portal.blueprints.termination import operator_bp as operator_termination_bp
    from portal.blueprints.termination import org_bp as org_termination_bp
    from portal.blueprints.third_parties import operator_bp as operator_third_parties_bp
    from portal.blueprints.third_parties import org_bp as org_third_parties_bp
    from portal.blueprints.tickets import bp as tickets_bp
    from portal.blueprints.tickets import contact_bp
    from portal.blueprints.training import courses_bp, quizzes_bp, training_bp, training_links_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(monitoring_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(invitations_bp, url_prefix="/invitation")
    app.register_blueprint(operator_bp, url_prefix="/operator")
    app.register_blueprint(org_bp, url_prefix="/org")
    # Back-office subjects: one package each, one blueprint per area it serves (portal/areas.py).
    app.register_blueprint(operator_organizations_bp, url_prefix=OPERATOR_PREFIX)
    app.register_blueprint(org_organizations_bp, url_prefix=ORG_PREFIX)
    app.register_blueprint(operator_termination_bp, url_prefix=OPERATOR_PREFIX)
    app.register_blueprint(org_termination_bp, url_prefix=ORG_PREFIX)
    app.register_blueprint(operator_third_parties_bp, url_prefix=OPERATOR_PREFIX)
    app.register_blueprint(org_third_parties_bp, url_prefix=ORG_PREFIX)
    app.register_blueprint(operator_billing_bp, url_prefix=OPERATOR_PREFIX)
    app.register_blueprint(org_billing_bp, url_prefix=ORG_PREFIX)
    app.register_blueprint(operator_notices_bp, url_prefix=OPERATOR_PREFIX)
    app.register_blueprint(org_notices_bp, url_prefix=ORG_PREFIX)
    app.register_blueprint(operator_legal_bp, url_prefix=OPERATOR_PREFIX)
    app.register_blueprint(learners_bp, url_prefix="/org/learners")
    app.register_blueprint(me_bp, url_prefix="/me")
    app.register_blueprint(tickets_bp, url_prefix="/tickets")
    app.register_blueprint(contact_bp, url_prefix="/contact")
    app.register_blueprint(status_bp, url_prefix="/status")
    app.register_blueprint(legal_bp, url_prefix="/legal")
    app.register_blueprint(mail_bp, url_prefix="/mail")
    # Training: one package, four blueprints (portal/blueprints/training/).
    app.register_blueprint(courses_bp, url_prefix="/courses")
    app.register_blueprint(training_bp, url_prefix="/org/training")
    app.register_blueprint(quizzes_bp, url_prefix="/me/training")
    app.register_blueprint(training_links_bp)
    # Inspections: one package, five blueprints (portal/blueprints/inspections/); two share /org/inspections.
    app.register_blueprint(inspection_items_bp, url_prefix="/inspections")
    app.register_blueprint(inspection_results_bp, url_prefix="/org/inspections")
    app.register_blueprint(inspections_bp, url_prefix="/org/inspections")
    app.register_blueprint(inspection_sheets_bp, url_prefix="/me/inspections")
    app.register_blueprint(inspection_links_bp)
    app.register_blueprint(registration_bp, url_prefix="/apply")
    app.register_blueprint(applications_bp, url_prefix="/operator/applications")


def _finish_config(app: Flask) -> None:
    if not app.config.get("SECRET_KEY"):
        key_file = os.path.join(app.instance_path, "secret_key")
        if app.config["ENV_NAME"] in ("development", "testing") and os.path.exists(key_file):
            with open(key_file, encoding="ascii") as fh:
                app.config["SECRET_KEY"] = fh.read().strip()
        else:
            raise ConfigurationError(
                "PORTAL_SECRET_KEY is not set. Set it to a long random value "
                '(python -c "import secrets; print(secrets.token_urlsafe(48))") before starting the portal.'
            )
    _check_staff_addresses(app)
    hops = app.config.get("TRUSTED_PROXY_HOPS")
    if isinstance(hops, str) and hops.strip().isdigit():
        hops = int(hops)
    if isinstance(hops, bool) or not isinstance(hops, int) or not 0 <= hops <= 10:
        raise ConfigurationError(
            "PORTAL_TRUSTED_PROXY_HOPS must be a whole number from 0 to 10: the number of proxies in front of "
            f"the portal that append to X-Forwarded-For (0 = none; got {hops!r})."
        )
    app.config["TRUSTED_PROXY_HOPS"] = hops
    from portal.blueprints.monitoring.services import parse_networks

    try:
        app.config["METRICS_ALLOWED_NETWORKS_PARSED"] = parse_networks(app.config.get("METRICS_ALLOWED_NETWORKS"))
    except ValueError as exc:
        raise ConfigurationError(f"PORTAL_METRICS_ALLOWED_NETWORKS: {exc}") from exc
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        uri = "sqlite:///" + os.path.join(app.instance_path, "portal.sqlite3")
        app.config["SQLALCHEMY_DATABASE_URI"] = uri
    if uri.startswith("postgres://"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri[len("postgres://") :]
    elif uri.startswith("postgresql://"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri[len("postgresql://") :]
    if uri.startswith("sqlite"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options.pop("pool_pre_ping", None)
        options.setdefault("connect_args", {})["timeout"] = app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    elif app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") and app.config.get("DATABASE_LOCK_TIMEOUT_MS"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        connect_args = dict(options.get("connect_args") or {})
        lock_timeout = int(app.config["DATABASE_LOCK_TIMEOUT_MS"])
        connect_args["options"] = f"{connect_args.get('options', '')} -c lock_timeout={lock_timeout}".strip()
        options["connect_args"] = connect_args
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _check_staff_addresses(app: Flask) -> None:
    """Production refuses staff addresses that cannot receive mail; elsewhere a warning is enough."""
    from portal import staff_alerts

    problems = staff_alerts.address_problems(app.config)
    if not problems:
        return
    message = staff_alerts.start_up_message(problems)
    if app.config["ENV_NAME"] == "production":
        raise ConfigurationError(message)
    logging.getLogger("portal").warning(message)


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Autocommit at the driver level, so that SQLAlchemy's "begin" below decides how a
    # transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin_immediate(conn):
    if conn.dialect.name != "sqlite":
        return
    if _reads_only():
        # Readers do not wait for the write lock in WAL mode: pages stay fast while a worker writes.
        conn.exec_driver_sql("BEGIN")
        return
    # BEGIN IMMEDIATE takes the write lock up front and waits (busy timeout) for it, instead of
    # failing with "database is locked" when a read transaction later tries to write while
    # another gunicorn worker holds the lock.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


_STATEMENT_TIMEOUT = "portal.statement_timeout"  # the setting made on a pooled connection (its record's info)


@event.listens_for(Pool, "checkout")
def _request_statement_timeout(dbapi_connection, connection_record, _proxy) -> None:
    """PostgreSQL: no statement of a web request runs longer than ``REQUEST_STATEMENT_TIMEOUT_MS``; the
    worker's jobs and the commands are not limited.

    A session setting, made when a connection changes hands between the two kinds of work and remembered on
    the pooled connection: a gunicorn worker's connections are set once, not once per request (a ``SET LOCAL``
    in each transaction cost every request one more round trip, #17). Made in autocommit, so that no
    transaction's rollback undoes it. (Behind a PgBouncer in transaction pooling, session settings leak to
    other clients: there it would have to go back to ``SET LOCAL``.)"""
    if isinstance(dbapi_connection, sqlite3.Connection):
        return
    wanted = int(current_app.config.get("REQUEST_STATEMENT_TIMEOUT_MS") or 0) if has_request_context() else 0
    if connection_record.info.get(_STATEMENT_TIMEOUT, 0) == wanted:
        return
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {wanted}")
    finally:
        dbapi_connection.autocommit = autocommit
    connection_record.info[_STATEMENT_TIMEOUT] = wanted


def _reads_only() -> bool:
    """A GET or HEAD request whose view does not write (``portal.requests.writes_on_get``).

    With BEGIN IMMEDIATE for every request, every page queued for the single write lock: make bench found
    learner pages serialised across gunicorn workers and, under load, 500s after the 10 s busy timeout.
    """
    if not has_request_context() or request.method not in ("GET", "HEAD"):
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return view is not None and not getattr(view, "writes_on_get", False)
