"""The request pipeline (portal/gates.py): the app-wide gates run in the one order it lists."""

from __future__ import annotations

from portal import gates, metrics


def test_the_app_runs_the_gates_in_the_order_of_the_pipeline(app):
    hooks = app.before_request_funcs[None]
    # Before them the extensions' hooks (the metrics' timer, CSRF, the rate limits); after them, nothing.
    assert hooks[0] is metrics._start_timer
    assert [hook.__module__ for hook in hooks[1:3]] == ["flask_wtf.csrf", "flask_limiter._extension"]
    assert tuple(hooks[3:]) == gates.PIPELINE
    assert [gate.__name__ for gate in gates.PIPELINE] == [
        "bind_request_scope",
        "enforce_session_lifetime",
        "check_suspension",
        "check_service_end",
        "check_maintenance",
        "check_terms_acceptance",
        "enforce_link_scope",
        "enforce_password_change",
        "enforce_mfa_enrollment",
    ]


def test_the_tenant_scope_is_released_after_every_request(app):
    assert gates.release_request_scope in app.teardown_request_funcs[None]
