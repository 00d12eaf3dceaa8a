"""Prometheus metrics: request latency by endpoint (kept by each process) and database figures (read at scrape).

Several gunicorn workers: each worker is a process with its own memory, so the latency histogram uses
prometheus_client's *multiprocess mode* when ``PROMETHEUS_MULTIPROC_DIR`` is set: every worker writes its
samples to files in that folder and a scrape, whichever worker answers it, adds them all up.
``gunicorn.conf.py`` sets that folder up (and empties it at start) and tells prometheus_client when a
worker exits. Outbox counts, queue ages and worker heartbeats are **not** kept in processes at all: they
are computed from the database at scrape time, so they are the same from any worker or instance.
"""

from __future__ import annotations

import os
import time

from flask import Flask, g, has_request_context, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event
from sqlalchemy.engine import Engine

from portal.clock import utcnow
from portal.extensions import db
from portal.outbox import outbox_figures
from portal.worker import heartbeat_count, last_heartbeat

# Buckets around the targets (#9): learner pages under 200 ms, results pages under 300 ms at p95.
REQUEST_LATENCY = Histogram(
    "portal_request_duration_seconds",
    "Time to answer a request, by endpoint (the view's name) and method.",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# SQL statements per request: a page whose count grows with the data has an N+1 (tests/test_query_counts.py).
REQUEST_STATEMENTS = Histogram(
    "portal_request_db_statements",
    "SQL statements run while answering a request, by endpoint and method.",
    ["endpoint", "method"],
    buckets=(1, 2, 5, 10, 15, 20, 30, 50, 100, 200),
)


def init_app(app: Flask) -> None:
    """Time every request; registered first so that the other request hooks are inside the measure."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request(_observe)
    if not getattr(init_app, "_listening", False):
        event.listen(Engine, "before_cursor_execute", _count_statement)
        init_app._listening = True


def _start_timer() -> None:
    g._metrics_started = time.perf_counter()
    g._metrics_statements = 0


def _count_statement(*_args) -> None:
    if has_request_context() and "_metrics_statements" in g:
        g._metrics_statements += 1


def _observe(response):
    started = g.pop("_metrics_started", None)
    if started is not None:
        # Unknown URLs share one label, so a scanner cannot blow up the number of series.
        labels = {"endpoint": request.endpoint or "unmatched", "method": request.method}
        REQUEST_LATENCY.labels(**labels).observe(time.perf_counter() - started)
        REQUEST_STATEMENTS.labels(**labels).observe(g.pop("_metrics_statements", 0))
    return response


class DatabaseCollector:
    """Outbox counts by status, queue ages and worker heartbeats, read when Prometheus scrapes."""

    def collect(self):
        now = utcnow()
        figures = outbox_figures(now)
        beat = last_heartbeat()
        alive_within = 60
        workers = heartbeat_count(now, alive_within)
        db.session.rollback()

        counts = GaugeMetricFamily("portal_outbox_messages", "Outbox rows by status.", labels=["status"])
        for status, count in sorted(figures.by_status.items()):
            counts.add_metric([status], count)
        yield counts
        yield GaugeMetricFamily(
            "portal_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending email (0 when none is pending).",
            value=_age(now, figures.oldest_pending),
        )
        yield GaugeMetricFamily(
            "portal_outbox_oldest_due_age_seconds",
            "How long the oldest email that is due has waited past its send time (0 when none).",
            value=_age(now, figures.oldest_due),
        )
        yield GaugeMetricFamily(
            "portal_worker_last_heartbeat_age_seconds",
            "Seconds since any worker last said it was alive (-1 when none ever ran).",
            value=-1 if beat is None else _age(now, beat),
        )
        yield GaugeMetricFamily(
            "portal_workers_running",
            f"Workers that sent a heartbeat in the last {alive_within} seconds.",
            value=workers,
        )


def _age(now, then) -> float:
    return 0.0 if then is None else max(0.0, (now - then).total_seconds())


def render() -> tuple[bytes, str]:
    """The scrape body and its content type: this process's (or every worker's) samples plus the database's."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_LATENCY)
        registry.register(REQUEST_STATEMENTS)
    registry.register(DatabaseCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
