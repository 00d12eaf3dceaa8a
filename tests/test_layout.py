"""The layout's fixed parts are rendered once per language (portal/layout.py, #17), and say what the
templates would say if rendered on every request."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale

from portal.layout import layout_part
from tests.conftest import BACKEND_INDEPENDENT, csrf_token_from

pytestmark = BACKEND_INDEPENDENT

PARTS = ("head", "scripts", "footer")


def test_each_part_is_rendered_once_per_language_and_equals_a_fresh_render(app):
    with app.test_request_context("/"):
        for name in PARTS:
            first = layout_part(name)
            assert layout_part(name) is first, "the second call must reuse the stored part"
            assert first == render_template(f"layout/{name}.html")
        with force_locale("en"):
            english = layout_part("footer")
            assert english == render_template("layout/footer.html")
        assert "All times are Japan Standard Time (JST)." in english
        assert "時刻はすべて日本時間(JST)で表示しています。" in layout_part("footer")


def test_pages_carry_the_parts_in_the_chosen_language(client):
    page = client.get("/login").get_data(as_text=True)
    assert "利用規約" in page and "/static/app.css" in page and "htmx.min.js" in page
    assert client.post("/lang/en", data={"next": "/login", "csrf_token": csrf_token_from(page)}).status_code == 303
    english = client.get("/login").get_data(as_text=True)
    assert "Terms of Service" in english and "利用規約" not in english
    assert client.post("/lang/ja", data={"next": "/login", "csrf_token": csrf_token_from(english)}).status_code == 303
    assert "利用規約" in client.get("/login").get_data(as_text=True)
