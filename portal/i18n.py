"""Language and time zone: Japanese and Asia/Tokyo unless the user chose otherwise."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.support import NullTranslations
from flask import Flask, current_app, g, has_request_context, session
from flask_babel import LazyString, format_date, format_datetime, get_locale, get_translations
from flask_login import current_user
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

# Translations by locale, filled from Flask-Babel's own catalogs (they do not change while a process runs).
_catalogs: dict[Locale, NullTranslations] = {}


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    user = current_user._get_current_object()
    user_locale = getattr(user, "locale", None) if user else None
    if user_locale in languages:
        return user_locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def current_translations() -> NullTranslations:
    """The catalog of the locale in force (the request's, or ``force_locale``'s), for the templates' ``_()``.

    Flask-Babel's own path looks the locale up through several context proxies on every call, about a
    tenth of a learner page's CPU (#17); this reads its per-request state once and keeps a catalog per
    locale for the life of the process. The first call of a request takes Flask-Babel's path, which
    chooses the locale.
    """
    try:
        state = g.get("_flask_babel")
    except RuntimeError:  # no application context
        return get_translations()
    locale = getattr(state, "babel_locale", None)
    if locale is None:
        return get_translations()
    # The request's pair, checked by identity: babel's Locale compares slowly, and force_locale sets another.
    pair = getattr(state, "portal_catalog", None)
    if pair is not None and pair[0] is locale:
        return pair[1]
    catalog = _catalogs.get(locale)
    if catalog is None:
        catalog = _catalogs[locale] = get_translations()
    state.portal_catalog = (locale, catalog)
    return catalog


def gettext(string: str, **variables) -> str:
    """Flask-Babel's ``gettext`` (the same catalog, the same ``%(name)s`` formatting) through
    :func:`current_translations`: a fifth of its cost."""
    text = current_translations().ugettext(string)
    return text % variables if variables else text


def lazy_gettext(string: str, **variables) -> LazyString:
    """Flask-Babel's ``lazy_gettext`` (its ``LazyString``, translated each time it is shown), through
    :func:`gettext`. The portal's labels are lazy strings defined once per module, and a page shows dozens:
    a sheet's answer labels alone are three per item (#17: 20 µs each through Flask-Babel, 5 here)."""
    return LazyString(gettext, string, **variables)


def translated(labels: dict) -> dict[object, str]:
    """``labels`` (lazy strings by key) translated once, for a page that shows them on many rows: a lazy
    string is translated again each time it is shown."""
    return {key: str(label) for key, label in labels.items()}


def _is_japanese() -> bool:
    try:
        state = g.get("_flask_babel")
    except RuntimeError:
        state = None
    locale = getattr(state, "babel_locale", None) or get_locale()
    return locale is not None and locale.language == "ja"


def _in_zone(value: datetime) -> datetime:
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)


def local_datetime(value: datetime | None, fmt: str = "medium") -> str:
    """A UTC timestamp as Tokyo time, in the user's language (2026/11/25 21:53 for ja)."""
    if value is None:
        return ""
    if fmt == "medium" and _is_japanese():
        # Babel's "yyyy/MM/dd HH:mm", without parsing a pattern for every date on the page.
        return _in_zone(value).strftime("%Y/%m/%d %H:%M")
    return format_datetime(value, fmt)


def local_date(value, fmt: str = "medium") -> str:
    if value is None:
        return ""
    if fmt == "medium" and _is_japanese():
        day = _in_zone(value).date() if isinstance(value, datetime) else value
        if isinstance(day, date):
            return day.strftime("%Y/%m/%d")
    return format_date(value, fmt)


@pass_eval_context
def _template_gettext(eval_ctx: EvalContext, string: str, **variables) -> str:
    """Jinja's newstyle ``gettext``: the translation, marked safe where the template escapes, always a
    format string (``%%`` is ``%``) whose variables are escaped."""
    text = current_translations().ugettext(string)
    if eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - a translation of ours, as Jinja's own gettext marks it  # nosec B704
    return text % variables if variables or "%" in text else text


def init_app(app: Flask) -> None:
    """After ``babel.init_app``: the templates' filters, and ``_()`` through ``current_translations``."""
    app.jinja_env.filters["datetime"] = local_datetime
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: current_translations().ugettext(s),
        ngettext=lambda s, p, n: current_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: current_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: current_translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.filters["date"] = local_date
    # The templates' ``_()`` and ``gettext()``: one call instead of Jinja's three (its alias, its newstyle
    # wrapper, the catalog's lambda, each through the context's ``call``), with the same result (#17).
    app.jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext)

    @app.context_processor
    def _i18n_context():
        return {"current_locale": str(get_locale()), "languages": current_app.config["LANGUAGES"]}
