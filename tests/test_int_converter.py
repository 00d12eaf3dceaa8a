"""An integer in a URL beyond the database's INTEGER is the portal's 404 page on every route, never a 500.

Issue 16: ``/tickets/99999999999999999999999`` made SQLite raise OverflowError (PostgreSQL refuses the
parameter too). ``portal.ids.DatabaseIntConverter`` is the app's ``int`` converter, so the route does not
match and no view runs. The rules come from ``app.url_map``: a new route with an integer is covered here by
itself; the valid-looking rest of its URL and the role that may use it come from tests/test_access.py ROUTES.
"""

from __future__ import annotations

import re

import pytest
from werkzeug.routing import IntegerConverter

from portal.ids import MAX_ID, DatabaseIntConverter, digits_at_most
from tests.conftest import csrf_token_from
from tests.test_access import (  # noqa: F401 - the access table's objects of organization A, built once per module
    ROUTES,
    access_world,
    clients,
    shared_world,
)

HUGE = (2**31, 2**63, 10**23)
NOT_FOUND = "ページが見つかりません"
# The least powerful role first, as a user who may really use the route; the anonymous visitor only for
# public routes.
ROLE_ORDER = ("anon", "learner_a", "manager_a", "admin_a", "support", "operator", "admin_b")


def _app():
    from portal import create_app
    from portal.config import TestConfig

    return create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite://")


def _int_arguments(rule) -> list[str]:
    return sorted(name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter))


INT_RULES = sorted(
    (rule.rule, rule.endpoint) for rule in _app().url_map.iter_rules() if _int_arguments(rule)
)


def _role_for(endpoint: str) -> str:
    """The first role that may use the route by the access table: not refused (403), not sent to the login
    page, and preferably not shown "not found" for another organization's object (404; some table URLs
    name no object at all, and there 404 is what the role that may use the route gets)."""
    expected = ROUTES[endpoint][2]
    allowed = [r for r in ROLE_ORDER if expected[r] != 403 and not (r == "anon" and expected[r] == 302)]
    if not allowed:
        pytest.fail(f"no role may use {endpoint} in tests/test_access.py ROUTES")
    return next((r for r in allowed if expected[r] != 404), allowed[0])


def _valid_values(app, rule, world) -> dict:
    """This rule's arguments as the access table's URL for the endpoint has them (1 or "x" when the table's
    URL is another rule of the same endpoint, such as the "new" form of an editor)."""
    method, url, _ = ROUTES[rule.endpoint]
    url = url(world) if callable(url) else url
    _, matched = app.url_map.bind("portal.test").match(url, method=method)
    values = {}
    for name in rule.arguments:
        if matched.get(name) is not None:
            values[name] = matched[name]
        else:
            values[name] = 1 if name in _int_arguments(rule) else "x"
    return values


def test_the_int_converter_is_the_databases():
    app = _app()
    assert app.url_map.converters["int"] is DatabaseIntConverter
    assert INT_RULES, "no route takes an integer: this test would prove nothing"
    for rule in app.url_map.iter_rules():
        for name in _int_arguments(rule):
            converter = rule._converters[name]
            assert isinstance(converter, DatabaseIntConverter), f"{rule.rule}: {name}"
            assert converter.max is not None and converter.max <= MAX_ID, f"{rule.rule}: {name} max"


@pytest.mark.parametrize("limit", [0, 7, 10, 99, 100, 101, 2048])
def test_digits_at_most_matches_exactly_the_numbers_up_to_the_limit(limit):
    pattern = re.compile(digits_at_most(limit))
    for number in range(3000):
        assert bool(pattern.fullmatch(str(number))) == (number <= limit), number
        assert bool(pattern.fullmatch(f"00{number}")) == (number <= limit), number


def test_digits_at_most_the_databases_integer():
    pattern = re.compile(digits_at_most(MAX_ID))
    for number in (0, 9, 10**9, 1_999_999_999, 2_147_483_639, MAX_ID - 1, MAX_ID):
        assert pattern.fullmatch(str(number)), number
    for number in (MAX_ID + 1, 2_147_483_650, 2_147_483_700, 2_200_000_000, 10**10, 2**63, 10**23):
        assert not pattern.fullmatch(str(number)), number
    assert not pattern.fullmatch("") and not pattern.fullmatch("-1") and not pattern.fullmatch("1a")


@pytest.mark.parametrize(("path", "endpoint"), INT_RULES, ids=[endpoint for _, endpoint in INT_RULES])
def test_an_id_beyond_the_database_is_not_found(path, endpoint, app, shared_world, clients):  # noqa: F811
    assert endpoint in ROUTES, f"add {endpoint} to tests/test_access.py ROUTES"
    rule = next(r for r in app.url_map.iter_rules() if r.rule == path and r.endpoint == endpoint)
    role = _role_for(endpoint)
    client = clients[role]
    token = csrf_token_from(client.get("/password/forgot").get_data(as_text=True))
    values = _valid_values(app, rule, shared_world)
    methods = [m for m in ("GET", "POST") if m in rule.methods]
    for name in _int_arguments(rule):
        for huge in HUGE:
            _, url = rule.build({**values, name: huge})
            for method in methods:
                data = {"csrf_token": token} if method == "POST" else None
                response = client.open(url, method=method, data=data)
                what = f"{role} {method} {url}"
                assert response.status_code == 404, f"{what}: {response.status_code}"
                assert NOT_FOUND in response.get_data(as_text=True), what


def test_the_largest_id_is_simply_not_found(clients):  # noqa: F811
    """MAX_ID itself reaches the view, which does not find it: the limit is not off by one."""
    for role, url in (("support", f"/tickets/{MAX_ID}"), ("operator", f"/operator/organizations/{MAX_ID}")):
        response = clients[role].get(url)
        assert response.status_code == 404, url
        assert NOT_FOUND in response.get_data(as_text=True), url
