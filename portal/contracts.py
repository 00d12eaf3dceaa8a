"""Contract periods (Art. 3): the one in force, the history, the start, the terms the operator sets, and the fees
owed at the end (Art. 16-4).

An organization keeps every contract period. The contract in force is the latest one that has started; before
the first one starts the organization is "contracted, not started": its people may sign in and prepare
(learners, departments, courses), but nothing is delivered and no seat is counted until the start date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlalchemy import Select, and_, bindparam, case, select

from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models import Contract, Invoice
from portal.rules import RuleViolation
from portal.tenancy import unscoped


def _in_force_order(today: date) -> tuple:
    """Started periods first, latest start first; then the periods still to come, earliest first."""
    started = Contract.starts_on <= today
    return (case((started, 0), else_=1), case((started, Contract.starts_on)).desc(), Contract.starts_on)


def current_contract_id(organization_id, today: date | None = None) -> Select:
    """A scalar subquery (correlates on ``organization_id``) for the id of the contract in force."""
    today = today or today_in_tokyo()
    return (
        select(Contract.id)
        .where(Contract.organization_id == organization_id)
        .order_by(*_in_force_order(today))
        .limit(1)
        .scalar_subquery()
    )


def current_contract(organization_id: int, today: date | None = None) -> Contract | None:
    """The contract in force on ``today`` (the latest started), else the first one to come, else None."""
    with unscoped("filtered by the organization's id in the statement"):
        return db.session.scalar(_contract_in_force(),
                                 {"organization_id": organization_id, "today": today or today_in_tokyo()})


@cache
def _contract_in_force() -> Select:
    """Built once (#17): the administrator's start page reads it on every visit."""
    return (select(Contract).where(Contract.organization_id == bindparam("organization_id"))
            .order_by(*_in_force_order(bindparam("today"))).limit(1))


def contract_history(organization_id: int) -> list[Contract]:
    """Every contract period of the organization, the latest first."""
    with unscoped("filtered by the organization's id in the statement"):
        return list(
            db.session.scalars(
                select(Contract).where(Contract.organization_id == organization_id)
                .order_by(Contract.starts_on.desc(), Contract.id.desc())
            )
        )


def starts_on(organization_id: int) -> date | None:
    """The first day of the organization's first contract (None without a contract)."""
    with unscoped("filtered by the organization's id in the statement"):
        return db.session.scalar(
            select(Contract.starts_on).where(Contract.organization_id == organization_id)
            .order_by(Contract.starts_on).limit(1)
        )


def not_started(organization_id: int, today: date | None = None) -> bool:
    """Contracted, not started: it has a contract and the first one starts after ``today``."""
    first = starts_on(organization_id)
    return first is not None and first > (today or today_in_tokyo())


def refuse_before_start(organization_id: int, starts_at: datetime) -> None:
    """Nothing is sent to learners before the contract starts.

    :raises RuleViolation: ``starts_at`` (Tokyo day) is before the first contract's start date.
    """
    first = starts_on(organization_id)
    if first is not None and today_in_tokyo(starts_at) < first:
        raise RuleViolation(
            _l(
                "ご契約の開始日(%(day)s)より前には配信できません。開始日以降の日時を指定してください。",
                day=f"{first:%Y/%m/%d}",
            )
        )


# --- the terms of a contract period, as the operator sets them -----------------------------------


@dataclass
class ContractTerms:
    """A contract period's terms (the operator's organization form, an approved application, a renewal)."""

    plan_name: str
    starts_on: date
    ends_on: date
    seat_limit: int
    annual_fee: int
    overage_unit_price: int

    @classmethod
    def of(cls, contract: Contract) -> ContractTerms:
        return cls(
            contract.plan_name,
            contract.starts_on,
            contract.ends_on,
            contract.seat_limit,
            contract.annual_fee,
            contract.overage_unit_price,
        )

    def check(self) -> None:
        """:raises RuleViolation: impossible dates, a limit below one, negative amounts."""
        if self.ends_on <= self.starts_on:
            raise RuleViolation(_l("契約終了日は契約開始日より後の日付にしてください。"))
        if self.seat_limit <= 0:
            raise RuleViolation(_l("上限利用者数は1以上にしてください。"))
        if self.annual_fee < 0 or self.overage_unit_price < 0:
            raise RuleViolation(_l("金額は0円以上にしてください。"))

    def for_audit(self) -> dict:
        """The terms as the audit log keeps them (dates in ISO format)."""
        values = dict(self.__dict__)
        values["starts_on"] = self.starts_on.isoformat()
        values["ends_on"] = self.ends_on.isoformat()
        return values


# --- fees until the end of the term (Art. 16-4) -----------------------------------------------


@dataclass(frozen=True)
class TerminationFees:
    """What the customer owes for the contract period in force when the contract ends.

    Art. 16-4: after a cancellation the customer pays the fee up to the end of the period, at the fee in force at
    the time; Art. 3-5: a customer who stops during the period gets nothing back. So the whole period's fee is
    owed in both cases: ``invoice`` is the period's invoice if one was issued (then nothing more is invoiced, and
    what is unpaid of it is owed), else the final invoice still to issue for ``annual_fee`` plus tax.
    """

    contract: Contract
    invoice: Invoice | None

    @property
    def invoiced(self) -> bool:
        return self.invoice is not None

    @property
    def unpaid_total(self) -> int | None:
        """Tax included; None while no invoice covers the period."""
        if self.invoice is None:
            return None
        return 0 if self.invoice.paid_at is not None else self.invoice.total


def termination_fees(organization_id: int, today: date | None = None) -> TerminationFees | None:
    """The fee for the period in force (None without a contract)."""
    contract = current_contract(organization_id, today)
    if contract is None:
        return None
    with unscoped("filtered by the organization's id in the statement"):
        invoice = db.session.scalar(
            select(Invoice).where(
                Invoice.organization_id == organization_id,
                and_(Invoice.period_start <= contract.ends_on, Invoice.period_end >= contract.starts_on),
            ).order_by(Invoice.period_start).limit(1)
        )
    return TerminationFees(contract, invoice)
