"""Demo data, seeded by ``flask --app wsgi demo`` (the command is in ``portal/cli.py``), never by the
portal itself. It sits above the areas (``.importlinter``): it may use their services, none of them uses it.

- ``basic``: what ``flask demo`` seeds, the demo company with its logins, departments and contract, the
  demo courses and inspection library, a delivery, this month's round, a year of inspection history, an
  invoice and the terms;
- ``showcase``: the parts of it that make the demo usable at once (learners who sign in with a 受講者ID, an
  open delivery, an issued invoice, the published terms);
- ``scale``: data at scale for benchmarks and load tests (``flask demo --scale N``);
- ``courses``, ``inspection_items``, ``inspection_history``: the demo courses (from the 2026 editions),
  the inspection library and its editions, and a year of closed rounds, which both of the above seed.
"""

# Every demo account's password, the small demo's (flask demo) and the scaled one's alike.
DEMO_PASSWORD = "demo-Portal-2026!"  # noqa: S105 - printed for the demo, documented in the README
