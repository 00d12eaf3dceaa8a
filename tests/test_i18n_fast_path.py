"""The templates' ``_()`` and date filters take a short path (#17); it must say what Flask-Babel would."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import render_template_string
from flask_babel import force_locale, format_date, format_datetime

from portal.i18n import lazy_gettext, local_date, local_datetime
from tests.conftest import BACKEND_INDEPENDENT

pytestmark = BACKEND_INDEPENDENT

MOMENTS = [
    datetime(2026, 12, 31, 14, 59, tzinfo=UTC),  # 23:59 in Tokyo
    datetime(2026, 12, 31, 15, 0, tzinfo=UTC),  # midnight in Tokyo: the next day, the next year
    datetime(2028, 2, 28, 15, 30),  # naive, read as UTC: a leap day in Tokyo
    datetime(2027, 4, 30, 0, 0, tzinfo=UTC),
]


def test_template_gettext_follows_the_request_and_a_forced_locale(app):
    template = "{{ _('ログイン') }}"
    with app.test_request_context("/"):
        assert render_template_string(template) == "ログイン"
        with force_locale("en"):
            assert render_template_string(template) == "Log in"
        assert render_template_string(template) == "ログイン"
    with app.test_request_context("/"), force_locale("en"):
        # A forced locale as the request's first word: the short path must not keep it for the request.
        assert render_template_string(template) == "Log in"


def test_an_english_session_gets_english_templates(app):
    with app.test_request_context("/"):
        from flask import session

        session["lang"] = "en"
        assert render_template_string("{{ _('ログイン') }}") == "Log in"


def test_japanese_dates_are_what_babel_writes(app):
    with app.test_request_context("/"):
        for moment in MOMENTS:
            assert local_datetime(moment) == format_datetime(moment, "yyyy/MM/dd HH:mm")
            assert local_date(moment) == format_date(moment, "yyyy/MM/dd")
        assert local_date(date(2028, 2, 29)) == "2028/02/29"
        assert local_datetime(MOMENTS[1]) == "2027/01/01 00:00"
        with force_locale("en"):
            assert local_datetime(MOMENTS[0]) == format_datetime(MOMENTS[0], "medium")
            assert local_date(date(2028, 2, 29)) == format_date(date(2028, 2, 29), "medium")


def test_lazy_strings_say_what_flask_babels_would_in_each_language_and_outside_a_request(app):
    import flask_babel

    missing = "未回答の項目が%(n)d件あります。すべての項目に回答してから提出してください。"
    pairs = [(lazy_gettext("ログイン"), flask_babel.lazy_gettext("ログイン")),
             (lazy_gettext(missing, n=3), flask_babel.lazy_gettext(missing, n=3))]
    with app.test_request_context("/"):
        for ours, theirs in pairs:
            assert str(ours) == str(theirs) and ours.__html__() == theirs.__html__()
        assert str(pairs[0][0]) == "ログイン"
        with force_locale("en"):
            assert [str(ours) for ours, _theirs in pairs] == [str(theirs) for _ours, theirs in pairs]
            assert str(pairs[0][0]) == "Log in" and "3" in str(pairs[1][0])
        assert str(pairs[0][0]) == "ログイン"
    with app.app_context(), force_locale("en"):  # an email rendered by the worker
        assert str(pairs[0][0]) == "Log in"
    assert str(pairs[0][0]) == "ログイン"  # no application at all: the text as written


def test_template_gettext_says_what_jinjas_newstyle_gettext_would(app):
    """``_()`` in a template is one call of ours, not Jinja's three (#17): the same text, the same escaping of
    its variables where the template escapes (HTML) and none where it does not (a plain-text email), ``%%``
    read as ``%`` in every case."""
    from jinja2 import Environment

    from portal.i18n import current_translations

    sources = ["{{ _('ログイン') }}", "{{ _('%(name)sさん、こんにちは。', name=who) }}",
               "{{ _('消費税(%(rate)d%%)', rate=10) }}", "{{ _('100%%') }}", "{{ gettext('ログイン') }}",
               "{{ _('期限: %(when)s', when=who) }}"]
    who = "<b>A&B</b>"
    with app.test_request_context("/"):
        for autoescape in (True, False):
            # Without escaping too: the plain-text emails' templates do not escape.
            jinja = Environment(extensions=["jinja2.ext.i18n"], autoescape=autoescape)  # noqa: S701
            jinja.install_gettext_callables(lambda s: current_translations().ugettext(s),
                                            lambda s, p, n: current_translations().ungettext(s, p, n), newstyle=True)
            ours = app.jinja_env.overlay(autoescape=autoescape)
            for locale in ("ja", "en"):
                with force_locale(locale):
                    for source in sources:
                        expected = jinja.from_string(source).render(who=who)
                        assert ours.from_string(source).render(who=who) == expected, (source, autoescape, locale)
        assert render_template_string("{{ _('%(name)sさん', name=who) }}", who=who) == "&lt;b&gt;A&amp;B&lt;/b&gt;さん"
