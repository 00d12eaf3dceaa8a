"""Load benchmark: gunicorn (several workers) + the portal worker + locust (headless, its own process).

    .venv/bin/python bench/load.py                       # SQLite (a temporary file)
    PORTAL_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench \\
        .venv/bin/python bench/load.py --postgres        # PostgreSQL: its schema is DROPPED, use a scratch database
    .venv/bin/python bench/load.py --quick               # a smoke run: small numbers, about two minutes
    .venv/bin/python bench/load.py --javascript          # the phones with JavaScript (start, 保存して次へ by htmx)

Steps: a fresh database with the demo and one organization of ``--org-learners`` (20,000) learners with a
year of training (``portal.demo.scale``); the results page's server time measured in-process; then the
portal under gunicorn with ``--workers`` sync workers and one mail worker, and these scenarios, one after
the other, each against the same gunicorn settings:

a. ``PhoneLearner``: ``--learners`` (2,000) learners who start within ``--ramp`` (60) s, open their personal
   link, sign in by it and answer one question per ``--think`` (30-90) s; run for ``--duration`` s.
a'. ``BusyLearner``: the same learner pages without think time, for their throughput ceiling.
b. ``ResultsAdmin``: administrators of the 20,000-learner organization reading results pages.
c. ``Baseline``: a bare Flask view (bench/baseline_app.py) under the same gunicorn settings.
r. ``PortalBare`` and ``LeanPage``: the reference views of bench/_reference.py (bench/reference_app.py: the portal
   plus those two views, under the same settings), asked by demo learners signed in with the password: what
   any signed-in request of the portal costs, and the issue's lean page (#17 target 2's yardstick).

Prints one table (p50/p95/p99 in ms, throughput, errors, ratio of throughput to the baseline, the largest
resident memory of a gunicorn worker, SQL statements per request from /metrics, and where the machine's CPU
went: the portal's workers and locust in CPU ms per request, and the share of the two cores left idle),
then the one-shot figures:
CSV import of 10,000 rows, launching a delivery to 10,000, email delivery rate, results page server time.

Not a test, and not part of ``make test``. Rate limits are off (every simulated phone comes from 127.0.0.1).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from _database import empty_schema, scratch_postgres_url  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local server
                return
        except OSError as exc:
            if getattr(exc, "code", None):  # an HTTP error status: the server answers
                return
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer")


# --- preparing the data ---------------------------------------------------------------------------------


def prepare(env: dict, org_learners: int, links_wanted: int, plan_path: Path) -> dict:
    """Migrate, seed the demo and the large organization; write the locust plan; measure the results page."""
    os.environ.update(env)
    from flask_migrate import upgrade
    from sqlalchemy import event, select

    from portal import create_app
    from portal.blueprints.training.deliveries.services import personal_link_secret
    from portal.config import DevConfig
    from portal.demo import DEMO_PASSWORD
    from portal.demo.scale import seed_scale
    from portal.extensions import db
    from portal.models import Assignment, AssignmentStatus, Delivery, DeliveryStatus, User
    from portal.tenancy import unscoped

    app = create_app(DevConfig)
    figures: dict = {}
    with app.app_context():
        empty_schema(db.engine)
        upgrade()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    started = time.perf_counter()
    with app.app_context():
        report = seed_scale(1, learners_per_org=org_learners, echo=lambda line: print(line, flush=True))
    figures["seed_seconds"] = time.perf_counter() - started
    figures["seed_counts"] = report.counts
    org_id = report.largest_org_id
    with app.app_context(), unscoped("the benchmark seeds and reads rows directly"):
        delivery = db.session.scalar(select(Delivery).where(Delivery.organization_id == org_id,
                                                            Delivery.status == DeliveryStatus.LAUNCHED))
        learner_ids = db.session.scalars(
            select(Assignment.learner_id).where(Assignment.delivery_id == delivery.id,
                                                Assignment.status == AssignmentStatus.NOT_STARTED)
            .order_by(Assignment.learner_id).limit(links_wanted)
        ).all()
        links = [personal_link_secret(delivery, learner_id) for learner_id in learner_ids]
        admin = db.session.scalar(select(User).where(User.email == report.largest_admin_email))
        demo_learners = db.session.scalars(select(User.email).where(User.email.like("learner%@demo.example.com"))
                                           .order_by(User.email).limit(20)).all()
        plan = {"links": links, "admins": [[admin.email, DEMO_PASSWORD]],
                "learners": [[email, DEMO_PASSWORD] for email in demo_learners],
                "results_url": f"/org/training/{delivery.id}",
                "course_url": f"/org/training/courses/{delivery.course_id}"}
        admin_session_id = admin.get_id()
    plan_path.write_text(json.dumps(plan), encoding="utf-8")

    # The results page's server time at 20,000 learners, in-process (median of 5, after one warm-up).
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = admin_session_id
        session["_fresh"] = True
    with app.app_context():
        engine = db.engine
    statements: list[int] = []

    def listener(*_args):
        statements.append(1)

    for label, url in (("results", plan["results_url"]), ("items", plan["results_url"] + "/items"),
                       ("course", plan["course_url"])):
        times = []
        for i in range(6):
            statements.clear()
            event.listen(engine, "before_cursor_execute", listener)
            t0 = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - t0
            event.remove(engine, "before_cursor_execute", listener)
            assert response.status_code == 200, (url, response.status_code)
            if i:
                times.append(elapsed)
        figures[f"page_{label}_ms"] = statistics.median(times) * 1000
        figures[f"page_{label}_statements"] = len(statements)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return figures


# --- processes ------------------------------------------------------------------------------------------


def start_gunicorn(app_spec: str, port: int, workers: int, env: dict, cwd: Path, log: Path) -> subprocess.Popen:
    metrics_dir = tempfile.mkdtemp(prefix="metrics-", dir=log.parent)
    return subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", app_spec],
        cwd=cwd, env={**env, "PROMETHEUS_MULTIPROC_DIR": metrics_dir},
        stdout=subprocess.DEVNULL, stderr=open(log, "w"),  # noqa: SIM115
    )


def worker_pids(master: int) -> list[int]:
    try:
        with open(f"/proc/{master}/task/{master}/children", encoding="ascii") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class MemoryWatch:
    """The largest resident memory of any gunicorn worker of ``master`` while the watch runs."""

    def __init__(self, master: int):
        self.master, self.peak, self._stop = master, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for pid in worker_pids(self.master):
                self.peak = max(self.peak, rss_mb(pid))
            self._stop.wait(1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def scrape(url: str) -> dict[str, float] | None:
    """Sum of statements and requests over the portal's endpoints (monitoring excluded); None if it fails.

    After an overloaded scenario the workers first drain their queue: wait up to two minutes.
    """
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/metrics", timeout=120) as response:  # noqa: S310 - local
            body = response.read().decode()
    except OSError as exc:
        print(f"  (could not read /metrics: {exc})", flush=True)
        return None
    totals = {"sum": 0.0, "count": 0.0}
    for line in body.splitlines():
        match = re.match(r'portal_request_db_statements_(sum|count)\{endpoint="([^"]+)"[^}]*\} (\S+)', line)
        if match and not match.group(2).startswith("monitoring."):
            totals[match.group(1)] += float(match.group(3))
    return totals


def cpu_seconds(pid: int) -> float:
    """User and system CPU of one process so far (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[int, int]:
    """(all, idle) jiffies of the machine so far, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    return sum(values), values[3] + values[4]


def run_locust(user_class: str, host: str, users: int, rate: float, seconds: int, out: Path, env: dict) -> list[dict]:
    """The locust run's stats rows; its own CPU seconds are added to the process's children (getrusage)."""
    prefix = out / user_class
    subprocess.run(
        [str(BIN / "locust"), "-f", str(BENCH / "locustfile.py"), "--headless", "--only-summary",
         "-u", str(users), "-r", str(rate), "-t", f"{seconds}s", "--host", host, "--csv", str(prefix),
         "--loglevel", "WARNING", "--stop-timeout", "5", user_class],
        env=env, check=False, stdout=subprocess.DEVNULL, stderr=open(out / f"{user_class}.log", "w"),  # noqa: SIM115
    )
    with open(f"{prefix}_stats.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# --- the table ------------------------------------------------------------------------------------------


def row_figures(row: dict) -> dict:
    def ms(key):
        value = row.get(key) or "0"
        return float(value) if value != "N/A" else 0.0

    return {"name": row["Name"], "requests": int(row["Request Count"]), "errors": int(row["Failure Count"]),
            "rps": float(row["Requests/s"]), "p50": ms("50%"), "p95": ms("95%"), "p99": ms("99%")}


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    header = (f"{'scenario / page':<52} {'reqs':>7} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
              f"{'errors':>6} {'vs base':>7} {'MB/wkr':>7} {'SQL/req':>7} {'CPU ms/req portal':>17} "
              f"{'locust':>6} {'idle %':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = f"{r['ratio']:.0%}" if r.get("ratio") is not None else ""
        mem = f"{r['memory']:.0f}" if r.get("memory") else ""
        sql = f"{r['sql']:.1f}" if r.get("sql") is not None else ""
        cpu = r.get("cpu")
        cpu_cells = f"{cpu[0]:>17.1f} {cpu[1]:>6.1f} {cpu[2]:>6.0f}" if cpu else ""
        print(f"{r['name'][:52]:<52} {r['requests']:>7} {r['rps']:>7.1f} {r['p50']:>7.0f} {r['p95']:>7.0f} "
              f"{r['p99']:>7.0f} {r['errors']:>6} {ratio:>7} {mem:>7} {sql:>7} {cpu_cells}")


def one_shot(script: str, args: list[str], env: dict, pattern: str) -> str:
    result = subprocess.run([sys.executable, str(BENCH / script), *args], env=env, capture_output=True, text=True,
                            check=False, cwd=BENCH)
    lines = [line.strip() for line in result.stdout.splitlines() if re.search(pattern, line)]
    return "; ".join(lines) if lines else f"failed: {result.stderr.strip().splitlines()[-1:]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="use PORTAL_TEST_DATABASE_URL (its schema is dropped)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--ramp", type=float, default=60)
    parser.add_argument("--think", default="30-90")
    parser.add_argument("--duration", type=int, default=180, help="seconds of scenario a")
    parser.add_argument("--burst", type=int, default=30, help="seconds of each saturation scenario")
    parser.add_argument("--org-learners", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="small numbers, to try the runner")
    parser.add_argument("--skip-one-shots", action="store_true")
    parser.add_argument("--scenarios", default="c,r,a',b,a", help="which scenarios, in this order (c, r, a', b, a)")
    parser.add_argument("--javascript", action="store_true",
                        help="learners as phones with JavaScript (the start and 保存して次へ by htmx)")
    args = parser.parse_args()
    # prepare() puts the PORTAL_* settings of the load test into os.environ; the one-shot scripts get a clean one.
    clean_env = dict(os.environ)
    if args.quick:
        args.learners, args.ramp, args.think, args.duration = 100, 10, "2-6", 40
        args.burst, args.org_learners = 15, 2000

    work = Path(tempfile.mkdtemp(prefix="portal-load-"))
    if args.postgres:
        url, backend = scratch_postgres_url(), "PostgreSQL"
    else:
        url, backend = f"sqlite:///{work}/bench.sqlite3", "SQLite"
    env = {**os.environ, "PORTAL_ENV": "development", "PORTAL_SECRET_KEY": secrets.token_urlsafe(32),
           "PORTAL_SQLALCHEMY_DATABASE_URI": url, "PORTAL_RATELIMIT_ENABLED": "false",
           "PORTAL_METRICS_ALLOWED_NETWORKS": "127.0.0.1/32", "PORTAL_BASE_URL": "http://127.0.0.1"}
    env.pop("PORTAL_TEST_BACKEND", None)

    print(f"== load benchmark on {backend}, {os.cpu_count()} CPUs, gunicorn {args.workers} sync workers, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, learners' phones "
          f"{'with JavaScript (htmx)' if args.javascript else 'without JavaScript (plain forms)'}", flush=True)
    print(f"seeding the demo and an organization of {args.org_learners:,} learners with a year of training:",
          flush=True)
    figures = prepare(env, args.org_learners, args.learners * 2, work / "plan.json")
    print(f"seeded in {figures['seed_seconds']:.0f} s: " + ", ".join(f"{k} {v:,}" for k, v in
                                                                  figures["seed_counts"].items() if v), flush=True)

    port, base_port, mail_port = free_port(), free_port(), free_port()
    env["PORTAL_MAIL_PORT"] = str(mail_port)
    env["BENCH_PLAN"] = str(work / "plan.json")
    env["BENCH_THINK"] = args.think
    env["BENCH_JAVASCRIPT"] = "1" if args.javascript else "0"
    sink = subprocess.Popen([sys.executable, str(BENCH / "mail_throughput.py"), "--sink", str(mail_port)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    portal = start_gunicorn("wsgi:app", port, args.workers, env, ROOT, work / "portal.log")
    worker = subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=open(work / "worker.log", "w"))  # noqa: SIM115
    baseline = start_gunicorn("baseline_app:app", base_port, args.workers, env, BENCH, work / "baseline.log")
    host, base_host = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{base_port}"
    rows: list[dict] = []
    try:
        wait_http(host + "/healthz")
        wait_http(base_host + "/")

        def scenario(label, user_class, target, users, rate, seconds, master=None):
            print(f"running {label}: {users} users, {seconds} s ...", flush=True)
            before = scrape(host) if target == host else None
            master = master or (portal.pid if target == host else baseline.pid)
            workers = worker_pids(master)
            server_cpu = sum(cpu_seconds(pid) for pid in workers)
            children_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
            machine = machine_busy()
            with MemoryWatch(master) as memory:
                stats = run_locust(user_class, target, users, rate, seconds, work, env)
            server_cpu = sum(cpu_seconds(pid) for pid in workers) - server_cpu
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            locust_cpu = (children.ru_utime + children.ru_stime) - (children_cpu.ru_utime + children_cpu.ru_stime)
            total, idle = (a - b for a, b in zip(machine_busy(), machine, strict=True))
            after = scrape(host) if target == host else None
            sql = None
            if before and after and after["count"] > before["count"]:
                sql = (after["sum"] - before["sum"]) / (after["count"] - before["count"])
            out = []
            for row in stats:
                figures_row = row_figures(row)
                if row["Name"] == "Aggregated":
                    figures_row.update(name=f"{label}: all", memory=memory.peak, sql=sql)
                    served = max(figures_row["requests"], 1)
                    figures_row["cpu"] = (1000 * server_cpu / served, 1000 * locust_cpu / served,
                                          100 * idle / max(total, 1))
                else:
                    figures_row["name"] = f"  {row['Type']} {row['Name']}"
                out.append(figures_row)
            # The aggregate first, then its pages.
            out.sort(key=lambda r: not r["name"].endswith(": all"))
            print_table(f"{label} (done)", out)
            return out

        wanted = [name.strip() for name in args.scenarios.split(",")]
        base_rows = learner_burst = admins = phones = []
        if "c" in wanted:
            base_rows = scenario("c) baseline: bare Flask view", "Baseline", base_host, 20, 20, args.burst)
        base_rps = base_rows[0]["rps"] if base_rows else None
        references: list[dict] = []
        if "r" in wanted:
            reference_port = free_port()
            reference = start_gunicorn("reference_app:app", reference_port, args.workers, env, BENCH,
                                       work / "reference.log")
            reference_host = f"http://127.0.0.1:{reference_port}"
            try:
                wait_http(reference_host + "/healthz")
                references = (scenario("r) the portal's bare view, signed in", "PortalBare", reference_host, 20, 20,
                                       args.burst, reference.pid)
                              + scenario("r) the lean page, signed in", "LeanPage", reference_host, 20, 20, args.burst,
                                         reference.pid))
            finally:
                reference.terminate()
                reference.wait(timeout=20)
        if "a'" in wanted:
            learner_burst = scenario("a') learner pages, no think time", "BusyLearner", host, 20, 20, args.burst)
        if "b" in wanted:
            admins = scenario("b) admins reading results (20,000 learners)", "ResultsAdmin", host, 4, 4, args.burst)
        if "a" in wanted:
            phones = scenario(f"a) {args.learners} learners on phones, think {args.think} s", "PhoneLearner", host,
                              args.learners, args.learners / args.ramp, args.duration)
        for block in (phones, learner_burst, admins, references, base_rows):
            for r in block:
                if base_rps and r["name"].endswith(": all"):
                    r["ratio"] = r["rps"] / base_rps
            rows.extend(block)
    finally:
        for process in (portal, worker, baseline):
            process.terminate()
        for process in (portal, worker, baseline):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        sink.stdin.close()
        sink.wait(timeout=10)

    print_table(f"== {backend}: latency in ms (locust), throughput in requests/s; 'vs base' = throughput / bare Flask",
                rows)
    print(f"\nresults pages, server time in-process at {args.org_learners:,} learners (median of 5): "
          f"delivery results {figures['page_results_ms']:.0f} ms ({figures['page_results_statements']} SQL), "
          f"item analysis {figures['page_items_ms']:.0f} ms ({figures['page_items_statements']} SQL), "
          f"course results over 12 deliveries {figures['page_course_ms']:.0f} ms "
          f"({figures['page_course_statements']} SQL)")
    if not args.skip_one_shots:
        one_env = dict(clean_env)
        if args.postgres:
            one_env["PORTAL_BENCH_DATABASE_URL"] = url
        else:
            one_env.pop("PORTAL_BENCH_DATABASE_URL", None)
        print("one-shot figures:", flush=True)
        imported = one_shot("import_learners.py", [], one_env, r"import \(|total:")
        print(f"  CSV import of 10,000 rows: {imported}", flush=True)
        print("  launching a delivery to 10,000: " + one_shot("launch_delivery.py", [], one_env, r"queued"),
              flush=True)
        mail_env = dict(clean_env)
        if not args.postgres:
            mail_env.pop("PORTAL_TEST_DATABASE_URL", None)
        print("  email delivery (one worker, 2,000 messages): "
              + one_shot("mail_throughput.py", ["--count", "2000"], mail_env, backend), flush=True)
    print(f"(work files, locust CSVs and logs: {work})")


if __name__ == "__main__":
    main()
