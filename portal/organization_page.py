"""The operator's page of one organization (``/operator/organizations/<id>``): subjects register its sections.

The page belongs to the organizations subject (``portal/blueprints/organizations/``), but other subjects act on
an organization from it (its termination and cure notices, its third parties, its two-factor policy). A section
provider is ``fn(org) -> dict``: the template context of its section (rows, and its forms empty). Each subject
registers its own provider with its blueprint, so that none imports another; a subject's view whose form is
refused renders the whole page again with that form, through :func:`render`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import render_template

from portal.models import Organization

# The organizations subject's template (templates are found by name, whichever blueprint holds them).
TEMPLATE = "organizations/operator_organization_detail.html"

SectionProvider = Callable[[Organization], dict[str, Any]]
_PROVIDERS: list[SectionProvider] = []


def section(provider: SectionProvider) -> SectionProvider:
    """Register ``provider`` (a decorator); its context is merged into the page's in registration order."""
    _PROVIDERS.append(provider)
    return provider


def render(org: Organization, code: int = 200, **forms: Any) -> tuple[str, int]:
    """The page of ``org`` answered with ``code``; ``forms`` replace the sections' empty forms (a form refused,
    shown again with what was typed and its errors)."""
    context: dict[str, Any] = {}
    for provider in _PROVIDERS:
        context.update(provider(org))
    context.update(forms)
    return render_template(TEMPLATE, org=org, **context), code
