"""Every page with a query receives hostile queries: never a 500 (tests/test_fuzz_forms.py posts hostile input
to every form). The GET routes come from ``app.url_map`` with the access table's URLs (tests/test_access.py
ROUTES), each requested as the first role that may use it.

The requests only read: the access table's objects and sessions are built once for the module and put back
after a request that wrote (tests/database_state.py).
"""

from __future__ import annotations

from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests.test_access import clients, shared_access_world, shared_world  # noqa: F401 - the access table's objects
from tests.test_fuzz_forms import FIELDS, GET_ENDPOINTS, GET_EXAMPLES, _assert_handled, _prepare, _role_for, _url, value


@pytest.fixture(scope="module")
def access_world(app):
    yield from shared_access_world(app)


@pytest.mark.parametrize("endpoint", GET_ENDPOINTS)
def test_get_route_survives_hostile_queries(endpoint, app, shared_world, clients, caplog):  # noqa: F811
    role = _role_for(endpoint)
    url = _url(endpoint, shared_world)
    client = _prepare(endpoint, role, shared_world, app, login_as=lambda user: clients[role])
    # The query parameters pages read (filters, pages, search): every form field name and the common ones.
    names = [*FIELDS, "page", "q", "status", "sort", "next", "lang", "from", "to", "department", "role"]

    @settings(max_examples=GET_EXAMPLES, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(
        values=st.lists(value, min_size=len(names), max_size=len(names)),
        raw=st.binary(max_size=100),
    )
    def run(values, raw):
        pairs = list(zip(names, values, strict=True)) + [("page", "-5"), ("page", "abc")]
        _assert_handled(client.get(url, query_string=MultiDict(pairs)), f"{role} GET {url}", caplog)
        # Invalid UTF-8 and NUL, percent-encoded as a browser would send them.
        query = "page=" + quote_from_bytes(raw) + "&q=%ff%fe%00&status=%C3%28&" + quote_from_bytes(raw) + "=1"
        _assert_handled(client.get(url, query_string=query), f"{role} GET {url} raw", caplog)
        htmx = client.get(url, headers={"HX-Request": "true"}, query_string=MultiDict(pairs))
        _assert_handled(htmx, f"{role} htmx {url}", caplog)

    run()
