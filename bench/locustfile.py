"""Load scenarios for ``bench/load.py`` (locust, headless, in its own process). Not run by the tests.

The runner writes a JSON plan (``BENCH_PLAN``): the personal links of the learners who have not yet taken
this month's test, the administrators of the 20,000-learner organization and the pages to read.

* ``PhoneLearner`` (scenario a): opens the personal link from the invitation email on a phone, signs in
  by it, starts the test and answers one question per think time (``BENCH_THINK`` "30-90" seconds), then
  reviews, finishes and reads the result. Plain forms, as without JavaScript: every answer is a POST and
  the redirected GET of the next question.
* ``BusyLearner``: the same pages without think time, to find the learner pages' throughput ceiling.
* ``ResultsAdmin`` (scenario b): an administrator signed in with the password, reading the results pages.
* ``Baseline`` (scenario c): ``GET /`` of bench/baseline_app.py, a bare Flask view, under the same gunicorn.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from pathlib import Path

from locust import HttpUser, between, constant, task

PLAN = json.loads(Path(os.environ["BENCH_PLAN"]).read_text(encoding="utf-8")) if os.environ.get("BENCH_PLAN") else {}
THINK = tuple(float(x) for x in os.environ.get("BENCH_THINK", "30-90").split("-"))
PHONE = ("Mozilla/5.0 (Linux; Android 14; SH-M26) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0 Mobile Safari/537.36")
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
QUESTION_ID = re.compile(r'name="question_id" value="(\d+)"')
CHOICE = re.compile(r'name="choice" value="(\d+)"')
_links = itertools.cycle(PLAN.get("links", []))
_admins = itertools.cycle(PLAN.get("admins", []))


def _csrf(html: str) -> str:
    match = CSRF.search(html)
    return match.group(1) if match else ""


class _Learner(HttpUser):
    abstract = True

    def on_start(self):
        self.client.headers["User-Agent"] = PHONE
        self.token = next(_links)
        self.attempt_url = None

    def _sign_in_and_start(self) -> bool:
        landing = self.client.get(f"/t/{self.token}", name="/t/<link> (landing)")
        entered = self.client.post(f"/t/{self.token}", data={"csrf_token": _csrf(landing.text)},
                                   name="/t/<link> (sign in)")
        if entered.status_code != 200:
            return False
        started = self.client.post(entered.url.rstrip("/") + "/start", data={"csrf_token": _csrf(entered.text)},
                                   name="/me/training/<id>/start")
        if started.status_code != 200 or "/attempts/" not in started.url:
            return False
        self.attempt_url = started.url.rsplit("/", 1)[0]
        self.page = started
        return True

    def _answer(self) -> None:
        """Answer the question on screen; the redirect brings the next one (or the review page)."""
        question = QUESTION_ID.search(self.page.text)
        if question is None:  # the review page: finish and read the result
            self.client.post(f"{self.attempt_url}/finish", data={"csrf_token": _csrf(self.page.text)},
                             name="/me/training/attempts/<id>/finish")
            self.client.get("/me/", name="/me/")
            self.attempt_url = None
            self.token = next(_links)
            self.client.cookies.clear()
            return
        number = self.page.url.rsplit("/", 1)[1]
        choices = CHOICE.findall(self.page.text)
        self.page = self.client.post(f"{self.attempt_url}/answer", name="/me/training/attempts/<id>/answer", data={
            "csrf_token": _csrf(self.page.text), "number": number, "question_id": question.group(1),
            "choice": random.choice(choices) if choices else "",
        })

    @task
    def take_test(self):
        if self.attempt_url is None:
            if not self._sign_in_and_start():
                self.token = next(_links)
                self.client.cookies.clear()
            return
        self._answer()


class PhoneLearner(_Learner):
    wait_time = between(*THINK)


class BusyLearner(_Learner):
    wait_time = constant(0)


class ResultsAdmin(HttpUser):
    wait_time = constant(0)

    def on_start(self):
        email, password = next(_admins)
        login = self.client.get("/login")
        self.client.post("/login", data={"email": email, "password": password, "csrf_token": _csrf(login.text)},
                         name="/login")

    @task(4)
    def delivery_results(self):
        self.client.get(PLAN["results_url"], name="/org/training/<id> (results, 20,000 learners)")

    @task(1)
    def item_analysis(self):
        self.client.get(PLAN["results_url"] + "/items", name="/org/training/<id>/items")

    @task(1)
    def course_results(self):
        self.client.get(PLAN["course_url"], name="/org/training/courses/<id> (12 deliveries)")

    @task(1)
    def deliveries(self):
        self.client.get("/org/training/", name="/org/training/")


class Baseline(HttpUser):
    wait_time = constant(0)

    @task
    def bare(self):
        self.client.get("/", name="/ (bare Flask)")
