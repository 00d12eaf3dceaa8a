"""`make scan`: sqlmap and wapiti against a local portal, signed in as each role.

A throwaway SQLite database with the demo data (`flask demo`), `flask run` on a free port, then for each
role a signed-in session (staff enroll a second factor on the way, as a person would) whose cookie is
handed to the scanners. Reports go to ``--reports`` (gitignored). Sign-out and account-changing URLs are
excluded so a scanner does not end its own session.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pyotp

ROOT = Path(__file__).resolve().parent.parent
DEMO_PASSWORD = "demo-Portal-2026!"  # noqa: S105 - the demo data's documented password
ROLES = {
    "operator": ("/login", {"email": "operator@example.com"}),
    "support": ("/login", {"email": "support@example.com"}),
    "org_admin": ("/login", {"email": "admin@demo.example.com"}),
    "manager": ("/login", {"email": "manager@demo.example.com"}),
    "learner": ("/login", {"email": "learner01@demo.example.com"}),
}
# Never follow: they end the session, lock the password, or turn off the second factor.
EXCLUDE = r"logout|password/compromised|password/change|two-factor|/lang/|purge|/delete"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    if not match:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def sign_in(base: str, path: str, fields: dict) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def get(url):
        return opener.open(base + url, timeout=30).read().decode()

    def post(url, data):
        body = urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(base + url, data=body, method="POST")  # noqa: S310 - our local server
        return opener.open(request, timeout=30)

    page = get(path)
    response = post(path, {**fields, "password": DEMO_PASSWORD, "csrf_token": csrf(page)})
    if response.geturl().endswith("/account/two-factor"):
        page = response.read().decode()
        secret = re.search(r'class="secret-key">([A-Z2-7]+)<', page).group(1)
        post("/account/two-factor", {"code": pyotp.TOTP(secret).now(), "csrf_token": csrf(page)})
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", default="scan-reports")
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--max-scan-time", type=int, default=600, help="wapiti's limit per role, in seconds")
    args = parser.parse_args()
    reports = Path(args.reports).resolve()
    reports.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="portal-scan-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PORTAL_ENV": "development",
        "PORTAL_SECRET_KEY": secrets.token_urlsafe(48),
        "PORTAL_SQLALCHEMY_DATABASE_URI": f"sqlite:///{work}/scan.sqlite3",
        "PORTAL_BASE_URL": base,
        # The scanners send many requests from one address.
        "PORTAL_RATELIMIT_ENABLED": "false",
    }
    flask = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], env=env, cwd=ROOT, check=True)  # noqa: S603
    subprocess.run([*flask, "demo"], env=env, cwd=ROOT, check=True)  # noqa: S603
    server = subprocess.Popen(  # noqa: S603
        [*flask, "run", "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=ROOT,
        stdout=(reports / "server.log").open("w"), stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/login", timeout=2)  # noqa: S310 - our local server
                break
            except OSError:
                time.sleep(0.2)
        summary = []
        for role in args.roles.split(","):
            path, fields = ROLES[role]
            cookie = sign_in(base, path, fields)
            out = reports / role
            out.mkdir(exist_ok=True)
            started = time.time()
            sqlmap = subprocess.run(  # noqa: S603
                [shutil.which("sqlmap") or "sqlmap", "-u", base + "/", "--cookie", cookie, "--batch", "--crawl=2",
                 "--forms", "--csrf-token=csrf_token", "--crawl-exclude", EXCLUDE, "--level=1", "--risk=1",
                 "--output-dir", str(out / "sqlmap"), "--disable-coloring"],
                capture_output=True, text=True,
            )
            (out / "sqlmap.txt").write_text(sqlmap.stdout + sqlmap.stderr)
            wapiti = subprocess.run(  # noqa: S603
                [shutil.which("wapiti") or "wapiti", "-u", base + "/", "-H", f"Cookie: {cookie}", "--scope", "folder",
                 # No -x exclusions: wapiti 3.0.4's wildcard patterns fail on Python 3.11 (re.error).
                 "-m", "sql,xss,permanentxss,exec,file,redirect,crlf", "-d", "3",
                 "--max-scan-time", str(args.max_scan_time), "-f", "txt", "-o", str(out / "wapiti.txt"),
                 "--flush-session"],
                capture_output=True, text=True,
            )
            (out / "wapiti.log").write_text(wapiti.stdout + wapiti.stderr)
            # sqlmap prints this only when it confirmed an injection point.
            injectable = "identified the following injection point" in sqlmap.stdout
            summary.append(f"{role}: sqlmap rc={sqlmap.returncode} injection={'YES' if injectable else 'none'}; "
                           f"wapiti rc={wapiti.returncode}; {time.time() - started:.0f} s")
        (reports / "summary.txt").write_text("\n".join(summary) + "\n")
        print("\n".join(summary))
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
