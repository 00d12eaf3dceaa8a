"""Language and time zone: Japanese and Asia/Tokyo unless the user chose otherwise."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, has_request_context, session
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    user_locale = getattr(current_user, "locale", None) if current_user else None
    if user_locale in languages:
        return user_locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def local_datetime(value: datetime | None, fmt: str = "medium") -> str:
    """A UTC timestamp as Tokyo time, in the user's language (2026/11/25 21:53 for ja)."""
    if value is None:
        return ""
    if str(get_locale()) == "ja" and fmt == "medium":
        return format_datetime(value, "yyyy/MM/dd HH:mm")
    return format_datetime(value, fmt)


def local_date(value, fmt: str = "medium") -> str:
    if value is None:
        return ""
    if str(get_locale()) == "ja" and fmt == "medium":
        return format_date(value, "yyyy/MM/dd")
    return format_date(value, fmt)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["datetime"] = local_datetime
    app.jinja_env.filters["date"] = local_date

    @app.context_processor
    def _i18n_context():
        return {"current_locale": str(get_locale()), "languages": current_app.config["LANGUAGES"]}
