"""Inspections (セキュレジ): one home for the subject, five blueprints with the same files each.

- ``items/``: the item library and its editions, the operator's global ones and an organization's own
  (``/inspections``);
- ``rounds/``: monthly rounds (点検回), scheduled by administrators, read by managers (``/org/inspections``);
- ``results/``: compliance by month, category, item and department, and follow-up (是正処置), under the same
  prefix as the rounds (``/org/inspections``);
- ``sheets/``: answering on a phone, learners about themselves, managers for their teams (``/me/inspections``);
- ``links/``: the public landing page of an inspection's personal link (``/i/<token>``).

Each blueprint keeps its name (``inspection_items``, ``inspections``, ``inspection_results``,
``inspection_sheets``, ``inspection_links``), so its endpoints and templates are named as before;
``create_app`` registers them with their URL prefixes.
"""

from portal.blueprints.inspections.items import bp as inspection_items_bp
from portal.blueprints.inspections.links import bp as inspection_links_bp
from portal.blueprints.inspections.results import bp as inspection_results_bp
from portal.blueprints.inspections.rounds import bp as inspections_bp
from portal.blueprints.inspections.sheets import bp as inspection_sheets_bp

__all__ = ["inspection_items_bp", "inspection_links_bp", "inspection_results_bp", "inspection_sheets_bp",
           "inspections_bp"]
