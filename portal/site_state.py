"""Site-wide state that every request reads and that changes a few times a year, kept per process.

The maintenance windows and the current terms are read by each request (the maintenance gate, the
layout's banner) but written only by the operator. A :class:`ProcessCache` keeps what its loader returns
for a short lifetime and forgets it as soon as this process's session writes one of the models it depends
on (at the flush, and again at the commit or rollback, so that a rolled-back row does not stay). Another
process sees a change within the lifetime, or at once where the cache is given a ``version``: a cheap
query whose answer changes with every write that matters, asked before a kept value is used whenever
``check(value)`` says the value matters to the request (the maintenance windows: only while there is one,
so a site without maintenance pays no statement for it). What it keeps must be plain values, never ORM objects (they
belong to one request's session).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session

_caches: list[ProcessCache] = []


class ProcessCache:
    def __init__(
        self,
        name: str,
        models: tuple[type, ...],
        lifetime: timedelta,
        load: Callable,
        version: Callable[[], object] | None = None,
        check: Callable[[object], bool] = bool,
    ):
        self.name, self.models, self.lifetime, self.load = name, models, lifetime, load
        self.version, self.check = version, check
        self._entries: dict = {}
        _caches.append(self)

    def get(self, now: datetime, key=None):
        """``load(now, key)``, or what it returned for ``key`` less than ``lifetime`` before ``now`` (and,
        with a ``version``, when the value matters, while the version is still the one it was loaded at)."""
        entry = self._entries.get(key)
        fresh = entry is not None and entry[0] <= now < entry[0] + self.lifetime
        if fresh and (self.version is None or not self.check(entry[1]) or self.version() == entry[2]):
            return entry[1]
        # The version is read before loading: a write in between makes the next check load again.
        version = self.version() if self.version is not None else None
        value = self.load(now, key)
        self._entries[key] = (now, value, version)
        return value

    def forget(self) -> None:
        self._entries.clear()


def forget_all() -> None:
    """Forget every cache of this process (tests, after rows were removed without the ORM)."""
    for cache in _caches:
        cache.forget()


def _written(session: Session) -> list[ProcessCache]:
    objects = (*session.new, *session.dirty, *session.deleted)
    return [c for c in _caches if any(isinstance(o, c.models) for o in objects)]


@event.listens_for(Session, "after_flush")
def _forget_on_flush(session, _flush_context) -> None:
    for cache in _written(session):
        session.info.setdefault("site_state_written", set()).add(cache.name)
        cache.forget()


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget_when_settled(session, *_args) -> None:
    names = session.info.pop("site_state_written", set())
    for cache in _caches:
        if cache.name in names:
            cache.forget()
