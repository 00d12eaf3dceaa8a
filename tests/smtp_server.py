"""A real SMTP server for tests (aiosmtpd on a free port) whose answers a test can script."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections import Counter

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A port nobody listens on now (aiosmtpd's Controller cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ScriptedHandler:
    """Accepts every message unless told otherwise.

    ``rcpt_once[address]``: answers given to RCPT TO for that address, one per try, then 250.
    ``rcpt_always[address]``: the answer every time (a mailbox that does not exist).
    ``data_always``: the answer to every DATA (content refused).
    ``data_delay``: seconds to wait before accepting DATA (lets a test kill a worker mid-batch).
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.messages: list[email.message.EmailMessage] = []
        self.rcpt_once: dict[str, list[str]] = {}
        self.rcpt_always: dict[str, str] = {}
        self.data_always: str | None = None
        self.data_delay = 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        key = address.lower()
        with self.lock:
            scripted = self.rcpt_once.get(key)
            answer = scripted.pop(0) if scripted else self.rcpt_always.get(key)
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_always:
            return self.data_always
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def received(self) -> list[email.message.EmailMessage]:
        with self.lock:
            return list(self.messages)

    def message_ids(self) -> Counter:
        return Counter(m["Message-ID"] for m in self.received())


class SmtpServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.handler = ScriptedHandler()
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received(self):
        return self.handler.received()
