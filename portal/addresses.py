"""What an organization's screens may say about an email address that is already in use.

Addresses are unique across the service, so an address that belongs to anyone — in this organization,
in another one, or on the operator's staff — is refused. The customer's screens (a learner, a member, a
successor, a CSV import) refuse it with one message that does not say where the address is used nor what
kind of account holds it: the operator's other customers and staff are not to be found out by trying
addresses. The operator's own screens may be specific.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

ADDRESS_UNAVAILABLE = _l("このメールアドレスは登録できません。別のメールアドレスを入力してください。")
