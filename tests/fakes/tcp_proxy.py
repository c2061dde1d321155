"""A real TCP proxy on a free loopback port that a test can cut and restore.

Put it between the code under test and a real server (PostgreSQL) to take the network
away and give it back without touching the server:

    with TcpProxy("127.0.0.1", 5432) as proxy:
        dsn = f"postgresql://postgres@127.0.0.1:{proxy.port}/db"
        ...
        proxy.cut()          # close every open connection; new ones are reset at once
        proxy.cut("blackhole")  # ... or accepted and then never answered
        proxy.restore()      # forward again

Threads, not asyncio, so it runs beside any event loop the code under test has.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Literal, Self

CutMode = Literal["reset", "blackhole"]
_CHUNK = 65536


class TcpProxy:
    """Forwards 127.0.0.1:<port> to (host, port) until cut."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._mode: Literal["open"] | CutMode = "open"
        self._open: set[socket.socket] = set()  # both ends of every forwarded connection
        self._held: set[socket.socket] = set()  # blackholed clients, never answered
        self._accepted = 0
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name="tcp-proxy")

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def accepted(self) -> int:
        """Client connections accepted so far, whatever became of them."""
        with self._lock:
            return self._accepted

    @property
    def open_connections(self) -> int:
        """Connections being forwarded right now."""
        with self._lock:
            return len(self._open) // 2

    def cut(self, mode: CutMode = "reset") -> None:
        """Drop every open connection; then reset new ones at once, or hold them unanswered."""
        with self._lock:
            self._mode = mode
            doomed = list(self._open)
            self._open.clear()
        for sock in doomed:
            _hang_up(sock)

    def restore(self) -> None:
        """Forward new connections again (held blackholed ones are reset)."""
        with self._lock:
            self._mode = "open"
            held = list(self._held)
            self._held.clear()
        for sock in held:
            _hang_up(sock, reset=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self.cut()
        self.restore()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(5)

    # --- the forwarding ------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed
            with self._lock:
                if self._closed:
                    client.close()
                    return
                self._accepted += 1
                mode = self._mode
                if mode == "blackhole":
                    self._held.add(client)
            if mode == "reset":
                _hang_up(client, reset=True)
            elif mode == "open":
                threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _hang_up(client, reset=True)
            return
        upstream.settimeout(None)
        with self._lock:
            if self._mode != "open":  # cut while connecting
                doomed = True
            else:
                doomed = False
                self._open.update((client, upstream))
        if doomed:
            _hang_up(client, reset=True)
            _hang_up(upstream)
            return
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        """Copy one direction until either side closes; then close both."""
        try:
            while data := source.recv(_CHUNK):
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._open.discard(source)
            self._open.discard(sink)
        _hang_up(source)
        _hang_up(sink)


def _hang_up(sock: socket.socket, *, reset: bool = False) -> None:
    """Close a socket; with `reset`, with a TCP RST rather than an orderly FIN."""
    with contextlib.suppress(OSError):
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            sock.shutdown(socket.SHUT_RDWR)
    sock.close()
