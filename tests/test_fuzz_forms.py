"""Every form and every page with a query receives hostile input: never a 500, and 413 above the size limit.

Routes come from ``app.url_map``; who may use each comes from tests/test_access.py ROUTES (the first role
whose expected status is neither 302 to the login page nor 403). A POST route without a ROUTES entry
fails here too, unless it is listed in EXCLUDED with a reason.
"""

from __future__ import annotations

import os
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from wtforms.fields.core import UnboundField
from wtforms.fields.simple import FileField

from tests.conftest import csrf_token_from
from tests.test_access import ROUTES, world  # noqa: F401 - the access table's objects of org A

# Order of preference: the anonymous visitor for public forms, then the least powerful role that may post.
ROLE_ORDER = ("anon", "learner_a", "manager_a", "admin_a", "support", "operator", "admin_b")
# Endpoint -> why it is not fuzzed. Keep this empty unless a route truly cannot take a body.
EXCLUDED: dict[str, str] = {}
# The PostgreSQL pass (beside the SQLite pass, which runs the full counts) draws fewer examples per route:
# it is there for what the database itself refuses (NUL bytes, integer and length overflow), and keeps
# `make test` under ten minutes.
ON_POSTGRES = os.environ.get("PORTAL_TEST_BACKEND") == "postgres"
# The Hypothesis profile (tests/conftest.py) scales every count: 1 in `make test` ("ci"), PORTAL_FUZZ_SCALE
# in `make fuzz` ("fuzz").
SCALE = max(1, settings.default.max_examples // settings.get_profile("ci").max_examples)
POST_EXAMPLES = (2 if ON_POSTGRES else 5) * SCALE
GET_EXAMPLES = (1 if ON_POSTGRES else 2) * SCALE
SHEET_EXAMPLES = 15 * SCALE
MB = 1024 * 1024


def _all_form_fields() -> tuple[list[str], list[str]]:
    """Every field name declared on any Flask-WTF form in the app (and which of them take files)."""
    from flask_wtf import FlaskForm

    import portal.blueprints  # noqa: F401

    names, files = set(), set()
    pending = [FlaskForm]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        for attr in dir(cls):
            value = getattr(cls, attr, None)
            if isinstance(value, UnboundField):
                names.add(attr)
                if issubclass(value.field_class, FileField):
                    files.add(attr)
    names.discard("csrf_token")
    return sorted(names), sorted(files)


def _role_for(endpoint: str) -> str:
    expected = ROUTES[endpoint][2]
    for role in ROLE_ORDER:
        status = expected[role]
        if status != 403 and not (role == "anon" and status == 302):
            return role
    pytest.fail(f"no role may use {endpoint}: nothing to fuzz")


def _endpoints(app_methods: str) -> list[str]:
    from portal import create_app
    from portal.config import TestConfig

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
    return sorted(
        {r.endpoint for r in app.url_map.iter_rules() if app_methods in r.methods and r.endpoint != "static"}
    )


POST_ENDPOINTS = _endpoints("POST")
GET_ENDPOINTS = [e for e in _endpoints("GET") if e in ROUTES and ROUTES[e][0] == "GET"]

# Text that has broken web apps before: NUL, control characters, RTL marks, SQL and template syntax.
nasty = st.sampled_from(
    [
        "\x00", "a\x00b", "\r\n\r\n", "\u202e", "' OR 1=1 --", "{{7*7}}", "<script>alert(1)</script>", "%00",
        "-1", "0", "99999999999999999999999", "1e309", "NaN", "9" * 400, "ｆｕｌｌ", "🙂" * 50, " ", "",
        "2026-02-30", "[]", "{}", "true", "null", "../../etc/passwd", "/\r\nSet-Cookie: x=1", "/\\evil.example",
    ]
)
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
value = st.one_of(nasty, text, st.integers().map(str))


def _url(endpoint: str, w) -> str:
    url = ROUTES[endpoint][1]
    return url(w) if callable(url) else url


def _prepare(endpoint: str, role: str, w, app, login_as):
    """A client for ``role``; the second step of sign-in needs a password step first."""
    if endpoint == "auth.two_factor":
        client = app.test_client()
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        client.post("/login", data={"email": w["operator"].email, "password": _password(), "csrf_token": token})
        return client
    return app.test_client() if role == "anon" else login_as(w[role])


def _password():
    from tests.conftest import PASSWORD

    return PASSWORD


def _token(client) -> str:
    return csrf_token_from(client.get("/password/forgot").get_data(as_text=True))


def _assert_handled(response, what: str, caplog) -> None:
    # /healthz answers 503 on purpose when no worker has run (as in these tests): a report, not a crash.
    if response.status_code == 503 and response.is_json and response.json.get("status") == "fail":
        return
    if response.status_code >= 500:
        errors = [r for r in caplog.records if r.levelname == "ERROR" and r.exc_info]
        detail = caplog.handler.formatter.formatException(errors[-1].exc_info) if errors else response.status
        pytest.fail(f"{what}: {response.status_code}\n{detail}")


def test_every_post_route_is_fuzzed_or_excluded():
    missing = [e for e in POST_ENDPOINTS if e not in ROUTES and e not in EXCLUDED]
    assert missing == [], f"add these POST routes to tests/test_access.py ROUTES (or EXCLUDED here): {missing}"
    assert set(EXCLUDED) <= set(POST_ENDPOINTS), "EXCLUDED names routes that no longer exist"


FIELDS, FILE_FIELDS = _all_form_fields()


@pytest.mark.parametrize("endpoint", [e for e in POST_ENDPOINTS if e not in EXCLUDED])
def test_post_route_survives_hostile_input(endpoint, app, world, login_as, caplog):  # noqa: F811
    if endpoint not in ROUTES:
        pytest.fail(f"{endpoint} has no ROUTES entry")
    role = _role_for(endpoint)
    url = _url(endpoint, world)
    client = _prepare(endpoint, role, world, app, login_as)
    token = _token(client)

    @settings(max_examples=POST_EXAMPLES, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(
        kind=st.sampled_from(["form", "repeated", "raw", "big", "multipart"]),
        values=st.lists(value, min_size=len(FIELDS), max_size=len(FIELDS)),
        raw=st.binary(max_size=300),
        pick=st.integers(min_value=0, max_value=len(FIELDS) - 1),
    )
    def run(kind, values, raw, pick):
        form = dict(zip(FIELDS, values, strict=True))
        if kind == "form":
            response = client.post(url, data={**form, "csrf_token": token})
        elif kind == "repeated":
            pairs = [*form.items(), *((name, "x") for name in FIELDS[pick:pick + 5])]
            pairs += [("csrf_token", token), ("csrf_token", "other")]
            response = client.post(url, data=MultiDict(pairs))
        elif kind == "raw":
            # Invalid UTF-8 in names and values, sent as a form body.
            body = b"csrf_token=" + token.encode() + b"&" + FIELDS[pick].encode() + b"=" + raw + b"&\xff\xfe=\xc3("
            response = client.post(url, data=body, content_type="application/x-www-form-urlencoded")
        elif kind == "big":
            # About 1 MB of あ in one field, its UTF-8 bytes sent as they are: the form sees the same value as
            # from a browser's 3 MB of percent-escapes, without 0.8 s of Werkzeug's URL decoding per route
            # (a third of this module's time). What decoding a large body costs is bounded by MAX_CONTENT_LENGTH.
            body = urlencode({**form, "csrf_token": token}).encode() + b"&" + FIELDS[pick].encode() + b"="
            body += ("あ" * (MB // 3)).encode()
            response = client.post(url, data=body, content_type="application/x-www-form-urlencoded")
        else:
            files = {name: (_bytes_io(raw), "名前\x00.csv") for name in FILE_FIELDS}
            response = client.post(
                url, data={**form, **files, "csrf_token": token}, content_type="multipart/form-data"
            )
        _assert_handled(response, f"{role} POST {url} ({kind})", caplog)

    run()

    # Over MAX_CONTENT_LENGTH: 413, whatever the body is.
    limit = app.config["MAX_CONTENT_LENGTH"]
    over = client.post(url, data=b"x" * (limit + 1), content_type="application/x-www-form-urlencoded")
    assert over.status_code == 413, f"{role} POST {url}: {over.status_code}"
    files = {(FILE_FIELDS[0] if FILE_FIELDS else "file"): (_bytes_io(b"y" * (limit + 1)), "big.csv")}
    over = client.post(url, data={"csrf_token": token, **files}, content_type="multipart/form-data")
    assert over.status_code == 413, f"{role} POST {url} multipart: {over.status_code}"


def _bytes_io(data: bytes):
    import io

    return io.BytesIO(data)


# Pages with a query get hostile queries in tests/test_fuzz_queries.py (the access table's objects built once).


# --- regressions found by the fuzzing above ----------------------------------------------------


def test_a_huge_number_is_a_form_error_not_a_500(world, login_as):  # noqa: F811
    """WTForms' NumberRange turned a 30-digit seat limit into an OverflowError."""
    operator = login_as(world["operator"])
    token = _token(operator)
    huge = "9" * 30
    response = operator.post(
        "/operator/organizations/new",
        data={"name": "株式会社ゼット", "plan_name": "標準", "starts_on": "2026-04-01", "ends_on": "2027-03-31",
              "seat_limit": huge, "annual_fee": huge, "overage_unit_price": huge, "csrf_token": token},
    )
    assert response.status_code in (200, 422)
    assert "数値が大きすぎます。" in response.get_data(as_text=True)
    assert operator.get(f"/operator/audit?organization_id={huge}").status_code == 200


def test_a_huge_id_in_a_choice_is_not_found_not_a_500(world, login_as):  # noqa: F811
    """A 30-digit parent department id reached SQLite as an OverflowError."""
    admin = login_as(world["admin_a"])
    token = _token(admin)
    response = admin.post("/org/learners/departments", data={"name": "総務部", "parent_id": "9" * 30,
                                                              "csrf_token": token})
    assert response.status_code in (404, 422)


def test_nul_characters_never_reach_the_database(world, login_as, run_in_app):  # noqa: F811
    """PostgreSQL refuses NUL in text: the request drops it from every field and parameter."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Department

    admin = login_as(world["admin_a"])
    token = _token(admin)
    response = admin.post("/org/learners/departments", data={"name": "経理\x00部", "parent_id": "",
                                                              "csrf_token": token})
    assert response.status_code == 303
    assert run_in_app(lambda: db.session.scalar(select(Department.name).where(Department.name == "経理部")))
    assert admin.get("/org/audit?action=%00departments").status_code == 200


def test_a_line_break_in_next_is_not_a_500_nor_a_header(client):
    """wapiti (make scan) found it: POST /lang/en with next="/\r\n..." made Werkzeug refuse the Location."""
    token = _token(client)
    for target in ("/\r\nSet-Cookie: x=1", "/\\evil.example", "/ok\x7f"):
        response = client.post("/lang/en", data={"next": target, "csrf_token": token})
        assert response.status_code == 303
        assert response.headers["Location"] == "/"
        assert "x=1" not in response.headers.get("Set-Cookie", "")
    response = client.post("/login?next=/%0d%0aSet-Cookie:x=1", data={"csrf_token": token})
    assert response.status_code == 200


def test_the_desk_filter_takes_only_plain_numbers(world, login_as):  # noqa: F811
    """The fuzzer found it: "²".isdigit() is True, int("²") raises; 30 digits overflow the database."""
    support = login_as(world["support"])
    for value in ("²", "9" * 30, "١٢"):
        assert support.get("/tickets/desk", query_string={"organization_id": value}).status_code == 200


def test_the_inspection_sheet_survives_hostile_answers(app, world, login_as, caplog):  # noqa: F811
    """The sheet's fields are not WTForms fields (``value_<item id>``, ``comment_<item id>``): fuzzed here,
    by the plain form and by htmx, with names and values of every kind. Never a 500."""
    client = login_as(world["learner_a"])
    token = _token(client)
    item = world["item_a"]
    sheet_url = f"/me/inspections/{world['sheet_a']}"
    names = st.one_of(st.sampled_from([f"value_{item}", f"comment_{item}", "value_", "value_-1", "value_1e9",
                                       f"value_{'9' * 40}", "comment_x", "action"]), text)

    @settings(max_examples=SHEET_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])
    @given(pairs=st.lists(st.tuples(names, value), max_size=8), submit=st.booleans(), htmx=st.booleans())
    def run(pairs, submit, htmx):
        data = MultiDict([*pairs, ("csrf_token", token), ("action", "submit" if submit else "save")])
        response = client.post(sheet_url, data=data)
        _assert_handled(response, f"POST {sheet_url}", caplog)
        headers = {"HX-Request": "true"} if htmx else {}
        response = client.post(f"{sheet_url}/items/{item}", data=data, headers=headers)
        _assert_handled(response, f"POST {sheet_url}/items", caplog)

    run()


def test_a_page_number_beyond_offset_is_a_page_not_a_500(world, login_as):  # noqa: F811
    """The fuzzer found it (issue 16): ``?page=68785153349976776`` overflowed OFFSET on the organization list.
    Every paginated list reads its page through ``portal.pagination.requested_page``."""
    operator = login_as(world["operator"])
    for page in ("-6131964800377342", "68785153349976776", "9" * 30, "-3407839388"):
        for url in ("/operator/organizations", "/operator/audit", "/operator/applications/", "/mail/"):
            assert operator.get(url, query_string={"page": page}).status_code == 200, (url, page)
    admin = login_as(world["admin_a"])
    assert admin.get("/org/audit", query_string={"page": "68785153349976776"}).status_code == 200


def test_ids_beyond_the_database_in_a_query_or_a_form_count_as_missing(world, login_as):  # noqa: F811
    """``?canned=`` on a ticket and the quiz's ``question_id`` are read through ``portal.ids.database_int``."""
    huge = "9" * 30
    support = login_as(world["support"])
    response = support.get(f"/tickets/{world['ticket_a'].id}", query_string={"canned": huge})
    assert response.status_code == 200
    learner = login_as(world["learner_a"])
    token = _token(learner)
    response = learner.post(f"/me/training/attempts/{world['attempt_a']}/answer",
                            data={"number": "1", "question_id": huge, "choice": huge, "csrf_token": token})
    assert response.status_code == 422
    assert "この問題はこのテストに含まれていません。" in response.get_data(as_text=True)


def test_superscript_and_huge_digits_are_not_ids(world, login_as):  # noqa: F811
    """Found beside make fuzz (issue 16): "²".isdigit() is True and int("²") raises; 30 digits overflow the
    database. The delivery log's organization, the desk's "#<ticket>" search and the inspection sheet's
    ``value_<item id>`` names read ids through ``portal.ids.parse_id``."""
    operator = login_as(world["operator"])
    for value in ("²", "١٢", "9" * 30):
        for headers in ({}, {"HX-Request": "true"}):
            response = operator.get("/mail/", query_string={"organization_id": value}, headers=headers)
            assert response.status_code == 200, value
    support = login_as(world["support"])
    for value in ("²", "#²", "#" + "9" * 30, "9" * 12):
        assert support.get("/tickets/desk", query_string={"q": value}).status_code == 200, value
    learner = login_as(world["learner_a"])
    token = _token(learner)
    for name in ("value_²", "comment_²", "value_" + "9" * 30):
        response = learner.post(f"/me/inspections/{world['sheet_a']}",
                                data={name: "yes", "csrf_token": token, "action": "save"})
        assert response.status_code == 422, name


def test_every_integer_field_refuses_numbers_no_column_holds():
    """make fuzz found it: the delivery form's stock WTForms IntegerField took 400 nines for the sending
    hour and NumberRange's float() raised OverflowError (a 500). Every form uses ``portal.forms.IntegerField``."""
    import wtforms
    from flask_wtf import FlaskForm

    from portal.forms import IntegerField

    stock, pending = [], [FlaskForm]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        for attr in dir(cls):
            field = getattr(cls, attr, None)
            if isinstance(field, UnboundField) and issubclass(field.field_class, wtforms.IntegerField) \
                    and not issubclass(field.field_class, IntegerField):
                stock.append(f"{cls.__module__}.{cls.__name__}.{attr}")
    assert stock == [], f"use portal.forms.IntegerField: {stock}"


def test_a_sending_hour_of_400_digits_is_a_form_error(app, world, login_as):  # noqa: F811
    """The example make fuzz drew (admin_a POST /org/training/new); the inspection round's hours and the
    application form's head count had the same stock field."""
    admin = login_as(world["admin_a"])
    huge = "9" * 400
    for url in ("/org/training/new", "/org/inspections/new"):
        response = admin.post(url, data={"window_start_hour": huge, "window_end_hour": "140",
                                         "csrf_token": _token(admin)})
        assert response.status_code in (200, 422), url
        assert "数値が大きすぎます。" in response.get_data(as_text=True), url
    from portal.blueprints.registration.forms import ApplicationForm

    with app.test_request_context("/apply/", method="POST", data={"expected_learners": huge}):
        form = ApplicationForm(meta={"csrf": False})
        assert not form.validate()
        assert "数値が大きすぎます。" in [str(e) for e in form.expected_learners.errors]
