"""portal.forms.html_params writes the same attributes as WTForms' own, for any keys and values, and is the
one WTForms' widgets and labels use once the app exists."""

from __future__ import annotations

import wtforms.widgets
import wtforms.widgets.core
from flask_wtf import FlaskForm
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup
from wtforms import BooleanField, RadioField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice

from portal import forms
from tests.conftest import BACKEND_INDEPENDENT

pytestmark = BACKEND_INDEPENDENT

KEYS = st.from_regex(r"\A(data_|aria_)?[a-z][a-z_]{0,8}_?\Z")
VALUES = st.one_of(
    st.booleans(), st.integers(), st.text(max_size=20), st.text(max_size=20).map(Markup),
    st.sampled_from(['"', "<a>", "&amp;", "x\"y'z", "日本語"]),
)


@given(st.dictionaries(KEYS, VALUES, max_size=8))
def test_the_same_attributes_as_wtforms_for_any_keys_and_values(attributes):
    assert forms.html_params(**attributes) == forms.WTFORMS_HTML_PARAMS(**attributes)


def test_known_attributes_are_written_as_wtforms_documents_them():
    assert forms.html_params(data_attr="user.name", aria_labeledby="name") == (
        'aria-labeledby="name" data-attr="user.name"')
    written = forms.html_params(checked=True, readonly=False, name="text1", abc="hello")
    assert written == 'abc="hello" checked name="text1"'
    assert forms.html_params(title=Markup('a"b')) == 'title="a&quot;b"'


class _Form(FlaskForm):
    name = StringField("名前", render_kw={"data_x": 'a"b', "required": True})
    kind = SelectField("種類", choices=[SelectChoice("a", "<A>"), SelectChoice("b", "B")])
    answer = RadioField("回答", choices=[SelectChoice("yes", "はい"), SelectChoice("no", "いいえ")])
    agree = BooleanField("同意")
    send = SubmitField("送信")


def test_every_widget_renders_through_it_and_as_before(app):
    assert wtforms.widgets.core.html_params is forms.html_params
    assert wtforms.widgets.html_params is forms.html_params
    assert wtforms.widgets.core.Input.html_params is forms.html_params
    assert wtforms.widgets.core.Button.html_params is forms.html_params
    with app.test_request_context():
        form = _Form(meta={"csrf": False})
        fast = [str(field()) + str(field.label()) for field in form]
        try:
            wtforms.widgets.core.html_params = forms.WTFORMS_HTML_PARAMS
            wtforms.widgets.html_params = forms.WTFORMS_HTML_PARAMS
            for widget in vars(wtforms.widgets.core).values():
                if isinstance(widget, type) and "html_params" in vars(widget):
                    widget.html_params = staticmethod(forms.WTFORMS_HTML_PARAMS)
            slow = [str(field()) + str(field.label()) for field in form]
        finally:
            forms.install_fast_html_params()
    assert fast == slow
    assert 'data-x="a&#34;b"' in fast[0] and "&lt;A&gt;" in fast[1]
