"""The portal exactly as ``wsgi.py`` builds it, plus pause points for the fault-injection tests
(tests/app_process.py starts it as ``flask --app tests.fault_app run`` or ``... worker``). The portal never
imports this module.

``PORTAL_TEST_PAUSE`` names one point:

* ``package.module:function`` — just after that function returns (its rows flushed, not committed);
  ``PORTAL_TEST_PAUSE_CALL=n`` waits for the n-th call (default 1);
* ``after_request:endpoint`` — after that endpoint's view returned (its transaction committed), before the
  response leaves.

There the process writes its pid to ``PORTAL_TEST_PAUSE_FILE`` and sleeps until the test kills it.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import os
import time

from flask import request

from wsgi import app


def _pause() -> None:
    with open(os.environ["PORTAL_TEST_PAUSE_FILE"], "w", encoding="ascii") as fh:
        fh.write(str(os.getpid()))
    while True:
        time.sleep(3600)


def _install(point: str) -> None:
    where, _, name = point.partition(":")
    if where == "after_request":

        @app.after_request
        def _pause_after(response):
            if request.endpoint == name:
                _pause()
            return response

        return
    module = importlib.import_module(where)
    original = getattr(module, name)
    calls = itertools.count(1)
    wanted = int(os.environ.get("PORTAL_TEST_PAUSE_CALL", "1"))

    @functools.wraps(original)
    def paused(*args, **kwargs):
        result = original(*args, **kwargs)
        if next(calls) >= wanted:
            from portal.extensions import db

            db.session.flush()
            _pause()
        return result

    setattr(module, name, paused)


if os.environ.get("PORTAL_TEST_PAUSE"):
    _install(os.environ["PORTAL_TEST_PAUSE"])
