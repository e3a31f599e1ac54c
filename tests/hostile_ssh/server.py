"""The listening sockets and paramiko's server side: one thread per connection, one session each.

``hang_after_banner`` and ``endless_banner`` never get as far as SSH and are played on the raw
socket. Every other behaviour is a paramiko server transport that takes one session channel and one
exec request (all the auditor ever opens), then hands over to ``sessions.AFTER_EXEC``. A client that
misbehaves or goes away only ends its own connection, logged to stderr.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import paramiko
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
    cMSG_CHANNEL_SUCCESS,
)

from tests.hostile_ssh.fleet import USER, Behaviour
from tests.hostile_ssh.sessions import AFTER_EXEC, READ_BYTES, Session

log = logging.getLogger("hostile_ssh")

SERVER_BANNER = b"SSH-2.0-OpenSSH_9.6p1 hostile\r\n"  # all hang_after_banner ever says
BANNER_LINE_INTERVAL_S = 0.05  # endless_banner: one line per interval
POLL_S = 0.5  # how often waiting threads look at the stop flag and the connection
_LINGER_RESET = struct.pack("ii", 1, 0)  # struct linger {on, 0 s}: closing sends RST


@dataclass(frozen=True)
class FleetKeys:
    host: paramiko.PKey  # recorded in known_hosts for every port
    impostor: paramiko.PKey  # what changed_host_key presents instead
    client: paramiko.PKey  # the only key allowed to log in


class _DropEverything(dict[int, Callable[[paramiko.Message], None]]):
    """A message handler table that claims every message type and does nothing with any of them."""

    def __contains__(self, ptype: object) -> bool:
        return True

    def __getitem__(self, ptype: int) -> Callable[[paramiko.Message], None]:
        return lambda message: None


class _FleetTransport(paramiko.Transport):
    """paramiko's server transport, with a hook just after a channel request's success reply.

    paramiko asks the ServerInterface about an exec request *before* it replies, so a behaviour
    started from the interface's answer could act before the client knows its exec was accepted
    (and a KEXINIT sent then would hold the reply back). The hook runs on the transport's own thread
    once the reply has gone out. It leans on two private parts of paramiko: ``_send_user_message``
    (which sends a channel request's reply) and ``_handler_table``; acceptable in a test server.
    """

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self._after_reply: Callable[[], None] | None = None

    def after_next_success_reply(self, action: Callable[[], None]) -> None:
        self._after_reply = action

    def _send_user_message(self, data: paramiko.Message) -> None:
        super()._send_user_message(data)  # type: ignore[misc]
        action = self._after_reply
        if action is not None and data.asbytes()[:1] == cMSG_CHANNEL_SUCCESS:
            self._after_reply = None
            action()

    def stall_in_rekey(self) -> None:
        """Start a key re-exchange that never completes: send KEXINIT, then read and drop every packet.

        The client answers with its own KEXINIT and key exchange message and waits for a reply that
        never comes; meanwhile neither side may send anything else, so the session is frozen while
        the TCP connection stays open.
        """
        self._handler_table = _DropEverything()
        self._send_kex_init()  # type: ignore[attr-defined]


class _Interface(paramiko.ServerInterface):
    """Authentication and channel decisions for one connection: one session, one exec request."""

    def __init__(
        self, behaviour: Behaviour, keys: FleetKeys, stop: threading.Event, on_exec_replied: Callable[[], None]
    ) -> None:
        self.behaviour = behaviour
        self.keys = keys
        self.stop = stop
        self.on_exec_replied = on_exec_replied
        self.command: bytes | None = None
        self.sessions = 0

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_none(self, username: str) -> int:
        return AUTH_FAILED

    def check_auth_password(self, username: str, password: str) -> int:
        return AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if self.behaviour is Behaviour.AUTH_FAILURE or username != USER or key != self.keys.client:
            return AUTH_FAILED
        return AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind != "session" or self.sessions:
            return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        self.sessions += 1
        return OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        if self.behaviour is Behaviour.SILENT_EXEC:
            # paramiko replies as soon as this returns: holding the transport's thread here, until the
            # fleet stops, is the only way never to answer. No later packet of the connection is read.
            self.stop.wait()
            return False
        if self.command is not None:
            return False
        self.command = bytes(command)
        transport = channel.get_transport()
        assert isinstance(transport, _FleetTransport)
        transport.after_next_success_reply(self.on_exec_replied)
        return True


class FleetServer:
    """Serves every behaviour's listening socket until ``stop`` is set."""

    def __init__(
        self,
        listeners: Iterable[tuple[Behaviour, socket.socket]],
        keys: FleetKeys,
        flood_bytes: int,
        after_exec: Mapping[Behaviour, Callable[[Session], None]] = AFTER_EXEC,
    ) -> None:
        """``listeners``: one behaviour per socket, a behaviour on as many sockets as wanted (a replay
        fleet serves one host per socket); ``after_exec`` replaces what behaviours do after their exec."""
        self.listeners = list(listeners)
        self.keys = keys
        self.flood_bytes = flood_bytes
        self.after_exec = after_exec
        self.stop = threading.Event()

    def serve_forever(self) -> None:
        with selectors.DefaultSelector() as selector:
            for behaviour, listener in self.listeners:
                listener.setblocking(False)
                selector.register(listener, selectors.EVENT_READ, behaviour)
            while not self.stop.is_set():
                for selected, _ in selector.select(timeout=POLL_S):
                    ready = selected.fileobj
                    assert isinstance(ready, socket.socket)
                    try:
                        conn, peer = ready.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    conn.setblocking(True)
                    name = f"{selected.data.value}:{peer[1]}"
                    thread = threading.Thread(target=self._serve, args=(selected.data, conn, name), name=name)
                    thread.daemon = True  # a connection never keeps the fleet from stopping
                    thread.start()
        for _, listener in self.listeners:
            listener.close()

    def _serve(self, behaviour: Behaviour, conn: socket.socket, name: str) -> None:
        log.info("%s: connected", name)
        try:
            if behaviour is Behaviour.HANG_AFTER_BANNER:
                self._hang_after_banner(conn)
            elif behaviour is Behaviour.ENDLESS_BANNER:
                self._endless_banner(conn)
            else:
                self._serve_ssh(behaviour, conn)
        except Exception as exc:  # whatever the client did, only this connection ends
            log.info("%s: ended by %s: %s", name, type(exc).__name__, exc)
        finally:
            with contextlib.suppress(OSError):
                conn.close()
        log.info("%s: closed", name)

    def _hang_after_banner(self, conn: socket.socket) -> None:
        conn.sendall(SERVER_BANNER)
        conn.settimeout(POLL_S)
        while not self.stop.is_set():
            try:
                if not conn.recv(READ_BYTES):
                    return  # the client gave up
            except TimeoutError:
                continue

    def _endless_banner(self, conn: socket.socket) -> None:
        number = 0
        while not self.stop.is_set():
            number += 1
            conn.sendall(f"Please wait: the service is starting ({number})\r\n".encode())
            self.stop.wait(BANNER_LINE_INTERVAL_S)

    def _serve_ssh(self, behaviour: Behaviour, conn: socket.socket) -> None:
        transport = _FleetTransport(conn)
        exec_replied = threading.Event()

        def on_exec_replied() -> None:  # on the transport's thread, just after the exec's success reply
            if behaviour is Behaviour.REKEY_STALL:
                transport.stall_in_rekey()
            elif behaviour is Behaviour.DROP_DURING_EXEC:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
                conn.shutdown(socket.SHUT_RDWR)  # no channel close, no disconnect message: the connection ends
            exec_replied.set()

        interface = _Interface(behaviour, self.keys, self.stop, on_exec_replied)
        try:
            transport.add_server_key(self.keys.impostor if behaviour is Behaviour.CHANGED_HOST_KEY else self.keys.host)
            transport.start_server(server=interface)  # returns once the key exchange is done
            channel = self._accept_session(transport)
            if channel is None or not self._wait(transport, exec_replied):
                return
            assert interface.command is not None
            session = Session(
                behaviour=behaviour,
                transport=transport,
                channel=channel,
                command=interface.command.decode("utf-8", errors="replace"),
                stop=self.stop,
                flood_bytes=self.flood_bytes,
            )
            self.after_exec[behaviour](session)
            self._wait(transport, threading.Event())  # until the client leaves, as sshd would
        finally:
            transport.close()

    def _accept_session(self, transport: paramiko.Transport) -> paramiko.Channel | None:
        while transport.is_active() and not self.stop.is_set():
            channel = transport.accept(timeout=POLL_S)
            if channel is not None:
                return channel
        return None

    def _wait(self, transport: paramiko.Transport, event: threading.Event) -> bool:
        """Whether ``event`` happened before the connection ended or the fleet stopped."""
        while transport.is_active() and not self.stop.is_set():
            if event.wait(POLL_S):
                return True
        return event.is_set()
