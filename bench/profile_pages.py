"""Where a page's CPU goes, on the data and clients of ``bench/pages.py`` (``make bench-pages``). Not a test.

    .venv/bin/python bench/profile_pages.py --phases              # every page split into its phases
    .venv/bin/python bench/profile_pages.py --hooks               # each before-request hook on its own
    .venv/bin/python bench/profile_pages.py --page "learner home"  # cProfile on thread time, by own time
    .venv/bin/python bench/profile_pages.py --page "result" --sort cumulative --top 60

``--phases`` times each part of the request path in CPU time of the thread (``time.thread_time``) without a
profiler's overhead: opening and saving the session cookie, the before-request hooks (the signed-in user,
the gates), the view with and without its template, the after-request hooks, and the time inside the database driver's
cursor; the rest is Flask and Werkzeug's own work around them (the test client included).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import os
import pstats
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import flask.templating  # noqa: E402
import pages  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import event  # noqa: E402

from portal.extensions import db  # noqa: E402

PHASES = ("session open", "hooks before", "view without template", "template", "hooks after", "session save")


def _timed(owner, name: str, label: str, spent: dict) -> None:
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] += time.thread_time() - start

    setattr(owner, name, wrapper)


def phases(app, rows, clients, n: int) -> None:
    spent: dict[str, float] = collections.defaultdict(float)
    _timed(app, "preprocess_request", "hooks before", spent)
    _timed(app, "dispatch_request", "view", spent)
    _timed(flask.templating, "_render", "template", spent)
    _timed(app, "process_response", "hooks after", spent)
    _timed(app.session_interface, "open_session", "session open", spent)
    _timed(app.session_interface, "save_session", "session save", spent)
    with app.app_context():
        engine = db.engine
    started: list[float] = []
    event.listen(engine, "before_cursor_execute", lambda *a: started.append(time.thread_time()))

    def after(*_args):
        spent["database"] += time.thread_time() - started.pop()
        spent["statements"] += 1

    event.listen(engine, "after_cursor_execute", after)
    plain = Flask("plain")
    plain.add_url_rule("/", "bare", lambda: "ok")
    plain_client = plain.test_client()
    bare = []
    for _ in range(n):
        start = time.thread_time()
        plain_client.get("/")
        bare.append(time.thread_time() - start)
    print(f"# plain Flask bare view: {statistics.median(bare) * 1000:.3f} ms (median of {n}); mean ms per request:")
    print("| page | total | " + " | ".join(PHASES) + " | of which in the driver | statements "
          "| rest (Flask, Werkzeug) |")
    print("| --- |" + " ---: |" * (len(PHASES) + 4))
    for _group, name, who, _url, run in rows:
        client = clients[who]
        for _ in range(5):
            run(client)
        spent.clear()
        start = time.thread_time()
        for _ in range(n):
            run(client)
        total = (time.thread_time() - start) / n * 1000
        ms = {k: v / n * 1000 for k, v in spent.items()}
        ms["view without template"] = ms.get("view", 0) - ms.get("template", 0)
        ms["hooks after"] = ms.get("hooks after", 0) - ms.get("session save", 0)  # Flask saves it in there
        rest = total - sum(ms.get(k, 0) for k in PHASES)
        cells = " | ".join(f"{ms.get(k, 0):.2f}" for k in PHASES)
        print(f"| {name} | {total:.2f} | {cells} | {ms.get('database', 0):.2f} | {spent.get('statements', 0) / n:.0f} "
              f"| {rest:.2f} |", flush=True)


def hooks(app, rows, clients, n: int) -> None:
    """Each before-request hook on its own (Flask-Login's user load happens in the first one that reads
    ``current_user``), in mean ms of thread CPU per request."""
    spent: dict[str, float] = collections.defaultdict(float)
    names: list[str] = []
    for blueprint, funcs in app.before_request_funcs.items():
        for index, func in enumerate(funcs):
            label = f"{blueprint or 'app'}:{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', func)}"
            names.append(label)

            def wrapper(*args, _func=func, _label=label, **kwargs):
                start = time.thread_time()
                try:
                    return _func(*args, **kwargs)
                finally:
                    spent[_label] += time.thread_time() - start

            funcs[index] = wrapper
    for _group, name, who, _url, run in rows:
        client = clients[who]
        for _ in range(5):
            run(client)
        spent.clear()
        for _ in range(n):
            run(client)
        print(f"== {name}: " + ", ".join(f"{label.split(':', 1)[1]} {spent[label] / n * 1000:.3f}"
                                        for label in names if spent.get(label)), flush=True)


def profile(rows, clients, n: int, sort: str, top: int) -> None:
    for group, name, who, url, run in rows:
        client = clients[who]
        for _ in range(5):
            run(client)
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
        for _ in range(n):
            run(client)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(sort).print_stats(top)
        print(f"== {group}: {name} {url}: {stats.total_tt / n * 1000:.2f} ms per request (profiled)")
        print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", action="append", help="a row name of bench/pages.py (repeatable); default all")
    parser.add_argument("--phases", action="store_true", help="split each page into its phases (no profiler)")
    parser.add_argument("--hooks", action="store_true", help="time each before-request hook (no profiler)")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--postgres", action="store_true", help="use PORTAL_TEST_DATABASE_URL (its schema is dropped)")
    args = parser.parse_args()
    app = pages.make_app(pages.database_url(args.postgres))
    world = pages.seed(app)
    learner = pages.signed_in(app, "learner01@demo.example.com")
    admin = pages.signed_in(app, "admin@demo.example.com")
    clients = {"learner": learner, "admin": admin, "anonymous": app.test_client()}
    token = pages._csrf(learner.get("/me/").get_data(as_text=True))
    rows = [row for row in pages.requests(world, token, None) if not args.page or row[1] in args.page]
    if args.phases:
        phases(app, rows, clients, args.requests)
    elif args.hooks:
        hooks(app, rows, clients, args.requests)
    else:
        profile(rows, clients, args.requests, args.sort, args.top)


if __name__ == "__main__":
    main()
