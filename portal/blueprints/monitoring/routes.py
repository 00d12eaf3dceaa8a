from flask import Response, abort, jsonify, request
from flask_login import current_user

from portal import metrics
from portal.blueprints.monitoring import bp
from portal.blueprints.monitoring.services import check_health, may_read_metrics


@bp.get("/healthz")
def healthz():
    """For load balancers: 200 when the database answers, a worker is alive and no email is stuck; else 503.

    No sign-in, and only counts and ages: nothing personal.
    """
    health = check_health()
    response = jsonify(health.as_json())
    response.status_code = 200 if health.ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def prometheus_metrics():
    """Prometheus text format, for an operator or a client in ``METRICS_ALLOWED_NETWORKS``.

    :raises Forbidden: for everyone else (the scraper has no session, so no redirect to the login page).
    """
    if not may_read_metrics(current_user, request.remote_addr):
        abort(403)
    body, content_type = metrics.render()
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})
