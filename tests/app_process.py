"""Run the portal (or its worker) in a real subprocess against the test database, and kill it with
SIGKILL at a chosen point — for the fault-injection tests (tests/test_fault_processes.py).

``app_process`` fixture::

    server = app_process.start(pause="portal.blueprints.training.quizzes.services:finish_attempt")
    browser = server.session()                 # a requests.Session with base_url, CSRF helpers
    browser.sign_in(email)
    posted = server.send_in_background(browser.post_form, "/me/training/attempts/1/finish", {})
    server.wait_paused(); server.kill()        # kill -9 while the transaction is open
    server.restart()                           # same port and database, same secret key: the browser's
                                               # session cookie still works

A new kind of submission (e.g. an inspection's) is one more test: pick the service function that writes
it as the pause point and assert "all or nothing" after the restart. Pause points: tests/fault_app.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "fault-injection-subprocess-key-0123456789abcdef"


def wait_until(condition, timeout: float = 30.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    raise AssertionError("condition not reached in time")


class Browser(requests.Session):
    """A browser-like client: cookies, no automatic redirects, CSRF token taken from the page."""

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 30)
        return super().request(method, self.base_url + url, *args, **kwargs)

    def get(self, url, **kwargs):
        kwargs.setdefault("allow_redirects", False)  # requests' Session.get would follow them
        return self.request("GET", url, **kwargs)

    def token(self, page: str = "/password/forgot") -> str:
        html = self.get(page).text
        match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
        assert match, f"no CSRF token on {page}"
        return match.group(1)

    def post_form(self, url: str, data: dict | list, page: str = "/password/forgot"):
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        return self.post(url, data=[("csrf_token", self.token(page)), *fields])

    def sign_in(self, email: str, password: str) -> None:
        response = self.post_form("/login", {"email": email, "password": password}, page="/login")
        assert response.status_code == 303, response.text[:300]


class PortalProcess:
    """One portal (``run``) or worker (``worker``) process."""

    def __init__(self, database_url: str, log_dir: Path, env: dict[str, str]):
        self.database_url = database_url
        self.log_dir = log_dir
        self.extra_env = env
        self.process: subprocess.Popen | None = None
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.pause_file = log_dir / f"paused-{self.port}"
        self._threads: list[threading.Thread] = []

    def _env(self, pause: str | None, pause_call: int) -> dict[str, str]:
        env = {
            **os.environ,
            "PORTAL_ENV": "development",
            "PORTAL_SECRET_KEY": SECRET,
            "PORTAL_SQLALCHEMY_DATABASE_URI": self.database_url,
            "PORTAL_BASE_URL": self.base_url,
            "PORTAL_RATELIMIT_STORAGE_URI": "memory://",
            "PORTAL_TEST_PAUSE_FILE": str(self.pause_file),
            "PORTAL_TEST_PAUSE_CALL": str(pause_call),
            **self.extra_env,
        }
        env.pop("PORTAL_TEST_PAUSE", None)
        if pause:
            env["PORTAL_TEST_PAUSE"] = pause
        return env

    def start(self, command: str = "run", *, pause: str | None = None, pause_call: int = 1) -> PortalProcess:
        self.command = command
        args = ["run", "--port", str(self.port), "--no-reload", "--no-debugger"] if command == "run" else [command]
        log = open(self.log_dir / f"{command}-{self.port}-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "tests.fault_app", *args],
            cwd=ROOT, env=self._env(pause, pause_call), stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        if command == "run":
            wait_until(self._answers, timeout=60)
        return self

    def _answers(self) -> bool:
        assert self.process.poll() is None, f"the portal exited; see {self.log_dir}"
        try:
            return requests.get(self.base_url + "/login", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def browser(self) -> Browser:
        return Browser(self.base_url)

    def send_in_background(self, call, *args) -> dict:
        """Start ``call(*args)`` (a request that will hang at the pause point) in a thread; the returned
        dict gets "response" or "error" once the process answers or dies."""
        outcome: dict = {}

        def run():
            try:
                outcome["response"] = call(*args)
            except requests.RequestException as error:
                outcome["error"] = error

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self._threads.append(thread)
        return outcome

    def wait_paused(self, timeout: float = 60) -> None:
        wait_until(lambda: self.pause_file.exists() or self.process.poll() is not None, timeout=timeout)
        assert self.process.poll() is None, f"the process exited before its pause point; see {self.log_dir}"

    def restart(self, *, pause: str | None = None, pause_call: int = 1) -> PortalProcess:
        """Kill (if still running) and start again on the same port and database."""
        command = self.command
        self.kill()
        return self.start(command, pause=pause, pause_call=pause_call)

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, no commit."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()
        self.pause_file.unlink(missing_ok=True)


class ProcessFactory:
    def __init__(self, app, tmp_path: Path):
        self.app = app
        self.tmp_path = tmp_path
        self.started: list[PortalProcess] = []

    def start(self, command: str = "run", *, pause: str | None = None, pause_call: int = 1,
              env: dict[str, str] | None = None) -> PortalProcess:
        process = PortalProcess(self.app.config["SQLALCHEMY_DATABASE_URI"], self.tmp_path, env or {})
        self.started.append(process)
        return process.start(command, pause=pause, pause_call=pause_call)

    def stop_all(self) -> None:
        for process in self.started:
            process.kill()


@pytest.fixture
def app_process(app, tmp_path):
    """Start the portal in a subprocess on the test database (see the module docstring)."""
    factory = ProcessFactory(app, tmp_path)
    yield factory
    factory.stop_all()
