"""The refusal every service raises when a business rule says no, and the lookup that finds nothing.

A service validates its rule and raises :class:`RuleViolation` with a Japanese message for the user;
the view (or the request's error handler) shows the message and keeps what was typed. A lookup by id
raises :class:`NotFound` for an object the user may not reach; the request answers 404 (portal/errors.py).
"""


class RuleViolation(Exception):
    """A business rule refused the change; ``str(error)`` is the message for the user."""


class NotFound(LookupError):
    """No such object for this user: unknown, another organization's, or not theirs to reach. The request
    answers 404, the page of an unknown address (``portal/errors.py``), so that it never says which.

    ``title`` and ``detail`` replace that page's wording where the object is the user's own and the page can
    say more (a certificate not issued yet)."""

    def __init__(self, title=None, detail=None):
        super().__init__(title)
        self.title = title
        self.detail = detail
