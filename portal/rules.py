"""The refusal every service raises when a business rule says no.

A service validates its rule and raises :class:`RuleViolation` with a Japanese message for the user;
the view (or the request's error handler) shows the message and keeps what was typed.
"""


class RuleViolation(Exception):
    """A business rule refused the change; ``str(error)`` is the message for the user."""
