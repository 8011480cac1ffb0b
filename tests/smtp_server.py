"""A real SMTP server on 127.0.0.1 for the sending tests (aiosmtpd), whose faults a test chooses.

    with smtp_server() as server:          # server.port, server.messages (what it accepted)
        server.refuse["a@x.cn"] = "550 5.1.1 no such user"
        server.close_after = {2}           # close the connection after accepting message 2
        ...

Messages are counted in the order their content arrives (1-based), whatever their fate.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def city(self) -> str:
        return str(self.message["Subject"]).removeprefix("【审核意见】")[:3]


@dataclass
class Recorder:
    """The aiosmtpd handler.  Faults: ``refuse`` (recipient -> reply to its RCPT), ``tempfail``
    (recipient -> how many times its message's content is answered 451), ``close_after`` (after
    replying 250 to these messages, drop the connection at the client's next command — without a
    word, or with ``421`` when ``close_with_421``), ``abort_before_reply`` (take the whole
    message, then drop the connection without replying), ``hold_data`` (take message n, set
    ``arrived`` and wait for ``release`` before replying), ``hold_mail`` (wait at the n-th MAIL FROM)."""

    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    tempfail: dict[str, int] = field(default_factory=dict)
    close_after: set[int] = field(default_factory=set)
    close_with_421: bool = False
    abort_before_reply: set[int] = field(default_factory=set)
    hold_data: int | None = None
    hold_mail: int | None = None
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    contents: int = 0  # message contents that arrived
    mails: int = 0  # MAIL FROM commands
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def _wait_release(self) -> None:
        while not self.release.is_set():
            await asyncio.sleep(0.02)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          mail_options: list[str]) -> str:
        with self.lock:
            self.mails += 1
            n = self.mails
        if n == self.hold_mail:
            self.arrived.set()
            await self._wait_release()
        if getattr(session, "drop_next", False):
            if self.close_with_421:
                asyncio.get_running_loop().call_soon(server.transport.close)
                return "421 4.4.2 closing connection"
            server.transport.abort()
            return "250 OK"  # never reaches the client
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.contents += 1
            n = self.contents
        for rcpt in envelope.rcpt_tos:
            if self.tempfail.get(rcpt, 0) > 0:
                self.tempfail[rcpt] -= 1
                return "451 4.3.0 try again later"
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        if n in self.abort_before_reply:
            server.transport.abort()
            return "250 OK"  # never reaches the client
        if n == self.hold_data:
            self.arrived.set()
            await self._wait_release()
        if n in self.close_after:
            session.drop_next = True
        return "250 OK"

    def by_city(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for m in self.messages:
            counts[m.city] = counts.get(m.city, 0) + 1
        return counts


@dataclass
class Server:
    port: int
    handler: Recorder

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages


@contextlib.contextmanager
def smtp_server(**faults: Any) -> Iterator[Server]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: Any, auth_data: Any) -> AuthResult:
        ok = auth_data.login == b"bgs" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)

    handler = Recorder(**faults)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), authenticator=authenticator,
                            auth_require_tls=False, auth_required=False)
    controller.start()
    try:
        yield Server(controller.port, handler)
    finally:
        handler.release.set()
        time.sleep(0.05)
        controller.stop()
