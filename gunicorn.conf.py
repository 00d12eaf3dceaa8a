"""gunicorn settings read from the working folder (``gunicorn wsgi:app``); command-line options win.

Prometheus multiprocess mode (see portal/metrics.py): every worker writes its latency samples to files in
``PROMETHEUS_MULTIPROC_DIR`` and a scrape of /metrics adds up every worker's. The folder is created here
when it is not set, emptied when the master starts (old files would count twice), and a dead worker's
files are marked so that its live gauges disappear.
"""

import os
import shutil
import tempfile

bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("PORTAL_WORKERS", "4"))
# Threads would share one SQLAlchemy pool per worker; plain sync workers are the measured setting (bench/).
worker_class = "sync"
timeout = 30
graceful_timeout = 20
accesslog = os.environ.get("PORTAL_ACCESS_LOG") or None

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="portal-metrics-")

# Imported here, not in child_exit: that hook runs inside the master's SIGCHLD handler, and an import
# interrupted there by another worker's exit fails half-way (found by make bench).
from prometheus_client import multiprocess  # noqa: E402


def on_starting(server):
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
