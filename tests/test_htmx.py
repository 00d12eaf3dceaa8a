"""One template is both the page and its fragments; flash messages travel out of band."""

import pytest
from bs4 import BeautifulSoup
from flask import flash
from jinja2 import ChoiceLoader, DictLoader

from portal.htmx import is_htmx, render_page_or_block

PAGE = (
    '{% extends "base.html" %}{% block content %}<h1>一覧</h1>'
    '{% block rows %}<p id="rows">{{ n }} 件</p>{% endblock %}{% endblock %}'
)


@pytest.fixture
def page_template(app):
    original = app.jinja_env.loader
    app.jinja_env.loader = ChoiceLoader([DictLoader({"test_page.html": PAGE}), original])
    app.jinja_env.cache.clear()
    yield "test_page.html"
    app.jinja_env.loader = original
    app.jinja_env.cache.clear()


def test_htmx_gets_the_block_and_flash_out_of_band(app, page_template):
    with app.test_request_context("/", headers={"HX-Request": "true"}):
        flash("保存しました。", "success")
        soup = BeautifulSoup(str(render_page_or_block(page_template, "rows", n=3)), "html.parser")
    assert soup.find(id="rows").get_text() == "3 件"
    assert soup.find("h1") is None
    oob = soup.find(id="flash")
    assert oob["hx-swap-oob"] == "true" and "保存しました。" in oob.get_text()


def test_plain_request_gets_the_page(app, page_template):
    with app.test_request_context("/"):
        soup = BeautifulSoup(render_page_or_block(page_template, "rows", n=2), "html.parser")
    assert soup.find("h1").get_text() == "一覧" and soup.find(id="rows")


def test_history_restore_gets_the_whole_page(app):
    with app.test_request_context("/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}):
        assert not is_htmx()


def test_a_suspended_organization_answers_htmx_in_the_flash_area(make_org, make_user, login_as):
    """A page refusal has no place in the fragment that was asked for: htmx shows it in #flash instead."""
    learner = make_user("learner", make_org(status="suspended"), login_id="S1")
    client = login_as(learner)
    response = client.get("/me/", headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert response.headers["HX-Retarget"] == "#flash" and response.headers["HX-Reswap"] == "innerHTML"
    whole_page = client.get("/me/")
    assert whole_page.status_code == 403 and "HX-Retarget" not in whole_page.headers
