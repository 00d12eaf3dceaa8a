"""Load scenarios for ``bench/load.py`` (locust, headless, in its own process). Not run by the tests.

The runner writes a JSON plan (``BENCH_PLAN``): the personal links of the learners who have not yet taken
this month's test, the administrators of the 20,000-learner organization and the pages to read.

* ``PhoneLearner`` (scenario a): opens the personal link from the invitation email on a phone, signs in
  by it, starts the test and answers one question per think time (``BENCH_THINK`` "30-90" seconds), then
  reviews, finishes and reads the result. Plain forms, as without JavaScript: every answer is a POST and
  the redirected GET of the next question. With ``BENCH_JAVASCRIPT=1`` (``load.py --javascript``), as a
  phone with JavaScript: the start and each 保存して次へ by htmx, answered with the next screen, after the
  choice's own save (htmx's autosave when it is made).
* ``BusyLearner``: the same pages without think time, to find the learner pages' throughput ceiling.
* ``ResultsAdmin`` (scenario b): an administrator signed in with the password, reading the results pages.
* ``Baseline`` (scenario c): ``GET /`` of bench/baseline_app.py, a bare Flask view, under the same gunicorn.
* ``PortalBare`` and ``LeanPage`` (scenario r): a demo learner signed in with the password, asking for the
  reference views of bench/_reference.py (the portal's bare view; the issue's lean page) without think time.

Every user is a ``FastHttpUser`` (geventhttpclient): the load generator shares the machine's two cores with
the portal, and python-requests cost it about 8 ms of CPU per request, as much as a learner page itself.
Redirects are followed by hand (``_follow``), so that each request has its name and the phone knows where
it landed.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from pathlib import Path
from urllib.parse import urljoin

from locust import between, constant, task
from locust.contrib.fasthttp import FastHttpUser

PLAN = json.loads(Path(os.environ["BENCH_PLAN"]).read_text(encoding="utf-8")) if os.environ.get("BENCH_PLAN") else {}
THINK = tuple(float(x) for x in os.environ.get("BENCH_THINK", "30-90").split("-"))
PHONE = ("Mozilla/5.0 (Linux; Android 14; SH-M26) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0 Mobile Safari/537.36")
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
QUESTION_ID = re.compile(r'name="question_id" value="(\d+)"')
CHOICE = re.compile(r'name="choice" value="(\d+)"')
JAVASCRIPT = os.environ.get("BENCH_JAVASCRIPT") == "1"
HTMX = {"HX-Request": "true"}
_links = itertools.cycle(PLAN.get("links", []))
_admins = itertools.cycle(PLAN.get("admins", []))
_learners = itertools.cycle(PLAN.get("learners", []))


def _csrf(html: str) -> str:
    match = CSRF.search(html)
    return match.group(1) if match else ""


class _Portal(FastHttpUser):
    abstract = True
    default_headers = {"User-Agent": PHONE}

    def _follow(self, response, name: str):
        """The page a 303 after a form leads to (GET), or ``response`` itself; ``.landed`` is its path."""
        location = response.headers.get("Location") if response.status_code in (302, 303) else None
        if not location:
            response.landed = "/" + (response.url or "").split("://", 1)[-1].split("/", 1)[-1]
            return response
        path = urljoin(response.url, location).split("://", 1)[-1].split("/", 1)[-1]
        page = self.client.get("/" + path, name=name, allow_redirects=False)
        page.landed = "/" + path
        return page

    def _clear_cookies(self):
        self.client.cookiejar.clear()

    def _sign_in(self, email: str, password: str) -> None:
        """The login form, with its CSRF token."""
        login = self.client.get("/login")
        self.client.post("/login", data={"email": email, "password": password, "csrf_token": _csrf(login.text)},
                         name="/login")


class _Learner(_Portal):
    abstract = True

    def on_start(self):
        self.token = next(_links)
        self.attempt_url = None

    def _sign_in_and_start(self) -> bool:
        landing = self.client.get(f"/t/{self.token}", name="/t/<link> (landing)")
        entered = self._follow(self.client.post(f"/t/{self.token}", data={"csrf_token": _csrf(landing.text)},
                                                name="/t/<link> (sign in)", allow_redirects=False),
                               "/me/training/<id> (after sign-in)")
        if entered.status_code != 200:
            return False
        start_url, start_data = entered.landed.rstrip("/") + "/start", {"csrf_token": _csrf(entered.text)}
        if JAVASCRIPT:  # the start's answer is the first question's page, its address in HX-Push-Url
            started = self.client.post(start_url, data=start_data, headers=HTMX,
                                       name="/me/training/<id>/start (htmx)", allow_redirects=False)
            started.landed = started.headers.get("HX-Push-Url") or ""
        else:
            started = self._follow(self.client.post(start_url, data=start_data, name="/me/training/<id>/start",
                                                    allow_redirects=False),
                                   "/me/training/attempts/<id>/<n>")
        if started.status_code != 200 or "/attempts/" not in started.landed:
            return False
        self.attempt_url = started.landed.rsplit("/", 1)[0]
        self.page = started
        return True

    def _answer(self) -> None:
        """Answer the question on screen; the redirect brings the next one (or the review page)."""
        question = QUESTION_ID.search(self.page.text)
        if question is None:  # the review page: finish and read the result
            self._follow(self.client.post(f"{self.attempt_url}/finish", data={"csrf_token": _csrf(self.page.text)},
                                          name="/me/training/attempts/<id>/finish", allow_redirects=False),
                         "/me/training/attempts/<id>/result")
            self.client.get("/me/", name="/me/")
            self.attempt_url = None
            self.token = next(_links)
            self._clear_cookies()
            return
        number = self.page.landed.rsplit("/", 1)[1]
        choices = CHOICE.findall(self.page.text)
        answer = {"csrf_token": _csrf(self.page.text), "number": number, "question_id": question.group(1),
                  "choice": random.choice(choices) if choices else ""}
        url = f"{self.attempt_url}/answer"
        if JAVASCRIPT:  # the choice saved as it is made, then 保存して次へ brings the next screen
            self.client.post(url, data=answer, headers=HTMX, name="/me/training/attempts/<id>/answer (htmx, saved)")
            page = self.client.post(url, data={**answer, "go": "next"}, headers=HTMX, allow_redirects=False,
                                    name="/me/training/attempts/<id>/answer (htmx, next screen)")
            page.landed = page.headers.get("HX-Push-Url") or ""
            self.page = page
            return
        answered = self.client.post(url, name="/me/training/attempts/<id>/answer", data=answer,
                                    allow_redirects=False)
        self.page = self._follow(answered, "/me/training/attempts/<id>/<n> or review")

    @task
    def take_test(self):
        if self.attempt_url is None:
            if not self._sign_in_and_start():
                self.token = next(_links)
                self._clear_cookies()
            return
        self._answer()


class PhoneLearner(_Learner):
    wait_time = between(*THINK)


class BusyLearner(_Learner):
    wait_time = constant(0)


class ResultsAdmin(_Portal):
    wait_time = constant(0)

    def on_start(self):
        self._sign_in(*next(_admins))

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


class _SignedInLearner(_Portal):
    abstract = True
    wait_time = constant(0)

    def on_start(self):
        self._sign_in(*next(_learners))


class PortalBare(_SignedInLearner):
    @task
    def bare(self):
        self.client.get("/bench/bare", name="/bench/bare (the portal's bare view, signed in)")


class LeanPage(_SignedInLearner):
    @task
    def lean(self):
        self.client.get("/bench/lean", name="/bench/lean (the lean page, signed in)")


class Baseline(_Portal):
    wait_time = constant(0)

    @task
    def bare(self):
        self.client.get("/", name="/ (bare Flask)")
