"""Benchmark: the CPU of each request of the phone journey in process, as in the 2,000-phone scenario (#17).

Not a test. On the data of ``bench/pages.py`` (the demo and two deliveries to everyone), every demo learner
but the first takes the second delivery through its personal link, with the Flask test client: the landing
page, the sign-in by the link and the page it leads to, the start and the first question, one answer and
the next question per question (plain forms, as without JavaScript; ``--javascript``: as a phone with
JavaScript, the start and each 保存して次へ by htmx, answered with the next screen, and each choice saved as it
is made), the finish and the result. Each
request is timed in CPU time of the thread (``time.thread_time``), beside the bare view of a plain Flask
app; medians over the learners and questions::

    .venv/bin/python bench/journey.py
    .venv/bin/python bench/journey.py --postgres   # on PORTAL_TEST_DATABASE_URL (its schema is dropped)
    .venv/bin/python bench/journey.py --javascript # the buttons by htmx, as on a phone with JavaScript
    .venv/bin/python bench/journey.py --profile "POST /me/training/<id>/start"   # cProfile of one request
"""

from __future__ import annotations

import cProfile
import os
import pstats
import re
import statistics
import sys
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pages  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import select  # noqa: E402

from portal.blueprints.training.deliveries import services as delivery_services  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Assignment, Delivery  # noqa: E402
from portal.tenancy import unscoped  # noqa: E402

QUESTION_ID = re.compile(r'name="question_id" value="(\d+)"')
CHOICE = re.compile(r'name="choice" value="(\d+)"')
HTMX = {"HX-Request": "true"}


def main() -> None:
    args = sys.argv[1:]
    postgres = "--postgres" in args
    javascript = "--javascript" in args
    # --profile "<request>": cProfile (thread time) over that request of every learner, by cumulative time.
    profiled = args[args.index("--profile") + 1] if "--profile" in args else None
    profiler = cProfile.Profile(time.thread_time)
    app = pages.make_app(pages.database_url(postgres))
    world = pages.seed(app)
    with app.app_context(), unscoped("the benchmark seeds and reads rows directly"):
        delivery = db.session.get(Delivery, world["delivery"])
        learner_ids = db.session.scalars(select(Assignment.learner_id).where(Assignment.delivery_id == delivery.id)
                                         .order_by(Assignment.learner_id)).all()[1:]
        links = [delivery_services.personal_link_secret(delivery, learner_id) for learner_id in learner_ids]
    plain = Flask("plain")
    plain.add_url_rule("/", "bare", lambda: "ok")
    plain_client = plain.test_client()
    times: dict[str, list[float]] = defaultdict(list)
    bare: list[float] = []

    def timed(name, call, *args, **kwargs):
        if name == profiled:
            profiler.enable()
        start = time.thread_time()
        response = call(*args, **kwargs)
        times[name].append(time.thread_time() - start)
        profiler.disable()
        start = time.thread_time()
        plain_client.get("/")
        bare.append(time.thread_time() - start)
        return response

    for token in links:
        client = app.test_client()
        landing = timed("GET /t/<link> (landing)", client.get, f"/t/{token}")
        signed = timed("POST /t/<link> (sign in)", client.post, f"/t/{token}",
                       data={"csrf_token": pages._csrf(landing.get_data(as_text=True))})
        assert signed.status_code == 303, signed.status_code
        target = signed.headers["Location"]
        page = timed("GET /me/training/<id> (after sign-in)", client.get, target)
        start_data = {"csrf_token": pages._csrf(page.get_data(as_text=True))}
        if javascript:  # the start's answer is the first question's page
            page = timed("POST /me/training/<id>/start (htmx, brings question 1)", client.post,
                         target.rstrip("/") + "/start", data=start_data, headers=HTMX)
            assert page.status_code == 200, page.status_code
            url = page.headers["HX-Push-Url"]
        else:
            started = timed("POST /me/training/<id>/start", client.post, target.rstrip("/") + "/start",
                            data=start_data)
            assert started.status_code == 303, started.status_code
            url = started.headers["Location"]
            page = timed("GET question", client.get, url)
        attempt_url = url.rsplit("/", 1)[0]
        while (question := QUESTION_ID.search(page.get_data(as_text=True))) is not None:
            html = page.get_data(as_text=True)
            answer = {"csrf_token": pages._csrf(html), "number": url.rsplit("/", 1)[1],
                      "question_id": question.group(1), "choice": CHOICE.findall(html)[0]}
            if javascript:  # the choice saved as it is made, then 保存して次へ brings the next screen
                timed("POST answer (htmx, the choice saved)", client.post, f"{attempt_url}/answer", data=answer,
                      headers=HTMX)
                page = timed("POST 保存して次へ (htmx, brings the next screen)", client.post, f"{attempt_url}/answer",
                             data={**answer, "go": "next"}, headers=HTMX)
                url = page.headers["HX-Push-Url"]
                continue
            answered = timed("POST answer (plain)", client.post, f"{attempt_url}/answer", data=answer)
            url = answered.headers["Location"]
            page = timed("GET question" if "/review" not in url else "GET review", client.get, url)
        finished = timed("POST finish", client.post, f"{attempt_url}/finish",
                         data={"csrf_token": pages._csrf(page.get_data(as_text=True))})
        result_url = finished.headers["Location"]
        timed("GET result", client.get, result_url)
        timed("GET /me/", client.get, "/me/")
    plain_ms = statistics.median(bare) * 1000
    backend = "PostgreSQL" if postgres else "SQLite"
    forms = "buttons by htmx (JavaScript)" if javascript else "plain forms (no JavaScript)"
    print(f"# bench/journey.py: {len(links)} learners, {backend}, {forms}; plain Flask bare view {plain_ms:.3f} ms")
    print("| request | n | CPU per request (ms, median) | share of the plain bare view |")
    print("| --- | ---: | ---: | ---: |")
    total = 0.0
    for name, values in times.items():
        median = statistics.median(values) * 1000
        total += median * len(values) / len(links)
        print(f"| {name} | {len(values)} | {median:.2f} | {100 * plain_ms / median:.1f} % |")
    print(f"| one learner's whole test | {len(links)} | {total:.1f} | |")
    if profiled:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)


if __name__ == "__main__":
    main()
