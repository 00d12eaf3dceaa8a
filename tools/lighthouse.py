"""`make lighthouse`: Lighthouse (mobile) on the learner's pages of a local instance with the demo data.

A throwaway SQLite database gets the demo data, a delivery of the demo course to learner01 with one
finished attempt (for the result page) and one in progress (for a question page); gunicorn serves the
portal with the production configuration on a free port; learner01 signs in over HTTP and Lighthouse
(tools/lighthouse/node_modules, pinned in its package-lock.json) audits each page of LEARNER_PAGES with
the session cookie, using Debian's Chromium, three times. Prints the median scores and exits 1 when one is
below --minimum.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LIGHTHOUSE = ROOT / "tools" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
CHROME_PATH = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"
CATEGORIES = ("performance", "accessibility", "best-practices")
LEARNER_EMAIL = "learner01@demo.example.com"
DEMO_PASSWORD = "demo-Portal-2026!"  # noqa: S105 - the documented demo password

# The learner's pages, by name -> path (filled from the prepared data). One line per page.
LEARNER_PAGES = [
    ("home", lambda d: "/me/"),
    ("test question", lambda d: d["question"]),
    ("result", lambda d: d["result"]),
    ("inspection round", lambda d: d["inspection"]),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_data() -> dict[str, str]:
    """In this process (the environment already points at the throwaway database): deliver the demo
    course to learner01, finish one attempt with a wrong answer and start a second one."""
    from sqlalchemy import select

    from portal.blueprints.training.deliveries import services as deliveries
    from portal.blueprints.training.quizzes import services as quizzes
    from portal.demo.courses import seed_demo_course
    from portal.extensions import db
    from portal.models import Assignment, InspectionResponse, TargetKind, User, utcnow
    from portal.tenancy import tenant_scope, unscoped
    from wsgi import app

    with app.app_context():
        with unscoped("the tool seeds and reads demo rows directly"):
            learner = db.session.scalar(select(User).where(User.email == LEARNER_EMAIL))
            admin = db.session.scalar(select(User).where(User.email == "admin@demo.example.com"))
            course, _created = seed_demo_course()
        now = utcnow()
        with tenant_scope(learner.organization_id):
            delivery = deliveries.create_delivery(
                deliveries.DeliveryInput(
                    course=course, title="", target_kind=TargetKind.LEARNERS, department_ids=[],
                    learner_ids=[learner.id], starts_at=now, due_at=now + timedelta(days=14), reminder_days=[],
                ),
                by=admin, now=now,
            )
            assignment = db.session.scalar(select(Assignment).where(Assignment.delivery_id == delivery.id))
            finished = quizzes.start_attempt(assignment, now=now)
            questions = quizzes.attempt_questions(finished)
            for index, question_id in enumerate(finished.question_ids):
                choice = next(c for c in questions[question_id].choices if c.is_correct == (index > 0))
                quizzes.save_answer(finished, question_id, [choice.id], now=now)
            quizzes.finish_attempt(finished, now=now)
            running = quizzes.start_attempt(assignment, now=now)
            # `flask demo` opened this month's employee-edition round for every demo learner.
            sheet = db.session.scalar(select(InspectionResponse).where(InspectionResponse.respondent_id == learner.id)
                                      .order_by(InspectionResponse.id.desc()))
            data = {"result": f"/me/training/attempts/{finished.id}/result",
                    "question": f"/me/training/attempts/{running.id}/1",
                    "inspection": f"/me/inspections/{sheet.id}"}
        db.session.commit()
    return data


def sign_in(base: str) -> str:
    """learner01's session cookie (``name=value``), signed in through the login form."""
    host = urlsplit(base).netloc
    conn = http.client.HTTPConnection(host, timeout=30)
    conn.request("GET", "/login")
    response = conn.getresponse()
    html = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    body = urlencode({"csrf_token": token, "email": LEARNER_EMAIL, "password": DEMO_PASSWORD})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie, "Referer": base + "/login"}
    conn.request("POST", "/login", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.status != 303:
        raise SystemExit(f"sign-in failed: HTTP {response.status}")
    return response.getheader("Set-Cookie", "").split(";")[0]


def wait_until_up(base: str, process: subprocess.Popen) -> None:
    host = urlsplit(base).netloc
    for _ in range(100):
        if process.poll() is not None:
            raise SystemExit("gunicorn stopped")
        try:
            conn = http.client.HTTPConnection(host, timeout=2)
            conn.request("GET", "/login")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the portal did not start")


def audit(url: str, cookie: str, report: Path) -> dict[str, int]:
    command = [
        str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={report}",
        f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags={CHROME_FLAGS}",
        "--extra-headers", json.dumps({"Cookie": cookie}), "--locale=ja",
    ]
    # Lighthouse sometimes loses the trace on a busy machine (NO_NAVSTART): try again, twice at most.
    for attempt in range(3):
        done = subprocess.run(command, env={**os.environ, "CHROME_PATH": CHROME_PATH})  # noqa: S603 - fixed tool
        if done.returncode == 0:
            break
        print(f"Lighthouse failed (exit {done.returncode}), attempt {attempt + 1} of 3", file=sys.stderr)
    else:
        raise SystemExit(f"Lighthouse could not audit {url}")  # the command line holds the session cookie
    result = json.loads(report.read_text())
    failing = [
        f"    {a['id']}: {a['title']} ({a.get('displayValue', '')})"
        for a in result["audits"].values()
        if a.get("score") is not None and a["score"] < 0.9
        and a.get("scoreDisplayMode") in ("binary", "numeric", "metricSavings")
    ]
    if failing:
        print("\n".join(failing), file=sys.stderr)
    return {c: round(result["categories"][c]["score"] * 100) for c in CATEGORIES}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", default="lighthouse-reports", help="where the JSON reports go")
    parser.add_argument("--minimum", type=int, default=95)
    parser.add_argument("--runs", type=int, default=3, help="runs per page; the median is reported")
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        raise SystemExit(f"{LIGHTHOUSE} is missing: run `make lighthouse` (it runs npm ci in tools/lighthouse)")
    reports = Path(args.reports)
    reports.mkdir(parents=True, exist_ok=True)

    workdir = Path(tempfile.mkdtemp(prefix="portal-lighthouse-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    os.environ.update({
        "PORTAL_SECRET_KEY": secrets.token_urlsafe(32),
        "PORTAL_SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'portal.sqlite3'}",
        "PORTAL_BASE_URL": base,
        "PORTAL_MAIL_PORT": "9",  # nothing is sent: no worker runs
        # Production refuses to start without deliverable staff addresses.
        "PORTAL_SUPPORT_EMAIL": "support-desk@staff.example.com",
        "PORTAL_ONCALL_EMAIL": "oncall@staff.example.com",
        "PORTAL_OPERATOR_EMAIL": "security@staff.example.com",
    })
    os.environ.pop("PORTAL_ENV", None)  # the production configuration, as served to learners
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run([*flask, *command], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)  # noqa: S603
    data = prepare_data()

    server = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(base, server)
        cookie = sign_in(base)
        scores = {}
        for name, path_of in LEARNER_PAGES:
            slug = re.sub(r"\W+", "-", name)
            runs = []
            for run in range(1, args.runs + 1):
                print(f"Lighthouse: {name} ({path_of(data)}), run {run}/{args.runs}", file=sys.stderr)
                runs.append(audit(base + path_of(data), cookie, reports / f"{slug}-{run}.json"))
            # The median of each category: a busy machine's CPU shows in one run's Total Blocking Time.
            scores[name] = {c: statistics.median_low(r[c] for r in runs) for c in CATEGORIES}
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)

    today = datetime.now(UTC).astimezone().date().isoformat()
    print(f"\nLighthouse {lighthouse_version()} (mobile, median of {args.runs} runs), {today}\n")
    print("| page | performance | accessibility | best practices |")
    print("| --- | ---: | ---: | ---: |")
    for name, s in scores.items():
        print(f"| {name} | {s['performance']} | {s['accessibility']} | {s['best-practices']} |")
    low = [(n, c, v) for n, s in scores.items() for c, v in s.items() if v < args.minimum]
    for name, category, value in low:
        print(f"below {args.minimum}: {name} {category} = {value}", file=sys.stderr)
    return 1 if low else 0


def lighthouse_version() -> str:
    package = ROOT / "tools" / "lighthouse" / "node_modules" / "lighthouse" / "package.json"
    return json.loads(package.read_text())["version"]


if __name__ == "__main__":
    sys.exit(main())
