"""A user-space TCP proxy that adds a fixed one-way delay to every chunk, in each direction.

The kernel here has no netem, so wide-area latency is simulated in user space: the proxy listens on
loopback, opens one upstream connection per accepted client, and forwards bytes both ways. Every chunk
read from one side is stamped ``due = now + delay`` and put on that direction's FIFO queue; a writer task
sends each chunk when it is due. Reading never waits for writing, so data in flight overlaps exactly as on
a long link (a 10-chunk burst arrives after ``delay``, not ``10 * delay``), and order is preserved because
due times only grow. Each direction gets the delay once, so a request/response round trip costs
``2 * delay`` more than without the proxy. Bandwidth is not limited.

From Python::

    with DelayProxy(target=("10.200.1.2", 22), delay_ms=50) as proxy:
        connect_to("127.0.0.1", proxy.port)

From the shell (until Ctrl-C, or for ``--duration`` seconds)::

    python -m bench.delay_proxy --target 10.200.1.2:22 --delay-ms 50 --listen-port 2222

The proxy runs its own asyncio loop on a daemon thread; leaving the ``with`` block (or ``close()``)
stops listening, drops every open connection and joins the thread.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
import time
from dataclasses import dataclass
from types import TracebackType

_CHUNK = 64 * 1024
_QUEUE_CHUNKS = 1024  # per direction; a full queue stops reading, so TCP back-pressure applies
_CONNECT_TIMEOUT_S = 10.0
_START_TIMEOUT_S = 10.0


@dataclass
class ProxyStats:
    """Counters for the proxy's lifetime (updated on the proxy thread; read them after a run)."""

    connections: int = 0
    failed_upstream: int = 0
    bytes_up: int = 0  # client -> target
    bytes_down: int = 0  # target -> client


class DelayProxy:
    """Listen on ``listen`` (default 127.0.0.1, any free port) and forward to ``target`` with a delay."""

    def __init__(
        self,
        target: tuple[str, int],
        delay_ms: float,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        max_queued_chunks: int = _QUEUE_CHUNKS,
    ) -> None:
        if delay_ms < 0:
            raise ValueError("delay_ms must be >= 0")
        if max_queued_chunks < 1:
            raise ValueError("max_queued_chunks must be >= 1")
        self.target = target
        self.delay_s = delay_ms / 1000.0
        self.listen = listen
        self.max_queued_chunks = max_queued_chunks
        self.stats = ProxyStats()
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------------------------ public API

    @property
    def delay_ms(self) -> float:
        return self.delay_s * 1000.0

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the proxy is not running")
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return (self.listen[0], self.port)

    def start(self) -> DelayProxy:
        if self._thread is not None:
            raise RuntimeError("the proxy was already started")
        self._thread = threading.Thread(target=self._run, name=f"delay-proxy-{self.target[0]}", daemon=True)
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S):
            self.close()
            raise RuntimeError("the proxy did not start in time")
        if self._error is not None:
            self.close()
            raise RuntimeError(f"the proxy could not start: {self._error}") from self._error
        return self

    def close(self) -> None:
        """Stop listening, drop open connections, join the thread. Safe to call more than once."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop may have ended on its own already
                loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=_START_TIMEOUT_S)
        self._thread = None
        self._port = None

    def __enter__(self) -> DelayProxy:
        return self if self._thread is not None else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ the loop thread

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            server = await asyncio.start_server(self._accept, self.listen[0], self.listen[1])
        except OSError as exc:
            self._error = exc
            return
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await server.wait_closed()

    def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._connection(client_reader, client_writer))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            try:
                upstream_reader, upstream = await asyncio.wait_for(
                    asyncio.open_connection(self.target[0], self.target[1]), _CONNECT_TIMEOUT_S
                )
            except (OSError, TimeoutError):
                self.stats.failed_upstream += 1
                return
            upstream_writer = upstream
            await asyncio.gather(
                self._direction(client_reader, upstream, client_writer, up=True),
                self._direction(upstream_reader, client_writer, upstream, up=False),
            )
        finally:
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    writer.transport.abort()

    async def _direction(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        source_writer: asyncio.StreamWriter,
        *,
        up: bool,
    ) -> None:
        """Forward one direction: read at once, write each chunk when it is due, EOF included."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(self.max_queued_chunks)

        async def read_side() -> None:
            try:
                while True:
                    data = await reader.read(_CHUNK)
                    await queue.put((loop.time() + self.delay_s, data))
                    if not data:
                        return
            except OSError:
                await queue.put((loop.time() + self.delay_s, b""))

        async def write_side() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof() and not writer.is_closing():
                        with contextlib.suppress(OSError):
                            writer.write_eof()  # half-close, passed on after the same delay
                    return
                writer.write(data)
                if up:
                    self.stats.bytes_up += len(data)
                else:
                    self.stats.bytes_down += len(data)
                await writer.drain()

        reading = loop.create_task(read_side())
        try:
            await write_side()
        except OSError:
            source_writer.transport.abort()  # the far side is gone: stop the near side too
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading


# ---------------------------------------------------------------------------------------------- CLI


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.delay_proxy", description="TCP proxy adding a one-way delay in each direction"
    )
    parser.add_argument("--target", type=_host_port, required=True, help="HOST:PORT to forward to")
    parser.add_argument("--delay-ms", type=float, default=50.0, help="one-way delay per direction (default 50)")
    parser.add_argument("--listen-host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--listen-port", type=int, default=0, help="port to listen on (default: any free port)")
    parser.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (default: never)")
    args = parser.parse_args(argv)

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        proxy = DelayProxy(args.target, args.delay_ms, listen=(args.listen_host, args.listen_port)).start()
    except (RuntimeError, ValueError) as exc:
        print(f"delay_proxy: {exc}", file=sys.stderr)
        return 1
    with proxy:
        host, port = proxy.address
        print(
            f"delay_proxy: {host}:{port} -> {args.target[0]}:{args.target[1]}, "
            f"{args.delay_ms:g} ms each way (Ctrl-C to stop)",
            flush=True,
        )
        deadline = time.monotonic() + args.duration if args.duration > 0 else None
        while not stopping.is_set():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            stopping.wait(0.5 if remaining is None else min(0.5, remaining))
    stats = proxy.stats
    print(
        f"delay_proxy: stopped; {stats.connections} connection(s), "
        f"{stats.bytes_up} bytes up, {stats.bytes_down} bytes down",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
