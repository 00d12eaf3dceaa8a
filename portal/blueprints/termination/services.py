"""Termination's rules that need billing: the fees owed until the end of the term (Art. 16-4, 3-5).

The rest of termination, cure notices and deletion are the core's (portal/termination.py,
portal/cure_notices.py, portal/deletion.py): the periodic jobs and the gates use them too.
"""

from __future__ import annotations

from portal import audit
from portal.contracts import termination_fees
from portal.invoicing import default_due_on, issue_invoice, suggested_overage_seats
from portal.models import Invoice, Organization, User


def settle_termination_fees(org: Organization, by: User) -> Invoice | None:
    """Issue the final invoice for the contract period in force if that period was never invoiced.

    The whole period's fee is owed (Art. 16-4 after a cancellation, Art. 3-5 after the customer's request),
    at the terms in force, with the overage recorded so far. Returns the invoice issued, or None.

    :raises RuleViolation: the invoice refused (see :func:`issue_invoice`).
    """
    fees = termination_fees(org.id)
    if fees is None or fees.invoiced:
        return None
    contract = fees.contract
    invoice = issue_invoice(
        org,
        contract,
        period_start=contract.starts_on,
        period_end=contract.ends_on,
        due_on=default_due_on(),
        overage_seats=suggested_overage_seats(contract, contract.starts_on, contract.ends_on),
        by=by,
    )
    audit.record("contract.final_invoice_issued", target=invoice, number=invoice.number, total=invoice.total)
    return invoice
