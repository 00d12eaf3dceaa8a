"""Monitoring for the operator (terms Art. 4-4): ``/healthz`` for load balancers, ``/metrics`` for Prometheus."""

from flask import Blueprint

bp = Blueprint("monitoring", __name__)

from portal.blueprints.monitoring import routes  # noqa: E402,F401
