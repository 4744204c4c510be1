"""A TCP proxy that makes a real server (Redis, the emulator) slow or unreachable on demand."""

from __future__ import annotations

import socket
import threading


class FaultyProxy:
    """Forwards ``127.0.0.1:<port>`` to ``127.0.0.1:<target_port>``, byte for byte.

    :meth:`stall` holds back what the server answers (its requests still reach it), as a
    server too busy to reply would: callers wait until their own timeouts or :meth:`resume`,
    which lets the held answers through to whoever still listens. :meth:`cut` drops every
    connection and refuses new ones until :meth:`resume`.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._answers = threading.Event()  # set: answers flow
        self._answers.set()
        self._cut = False
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, name="faulty-proxy", daemon=True).start()

    def stall(self) -> None:
        self._answers.clear()

    def cut(self) -> None:
        self._cut = True
        self._drop_all()

    def resume(self) -> None:
        self._cut = False
        self._answers.set()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self._answers.set()
        self._drop_all()

    def _drop_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut:
                _close(client)
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets |= {client, server}
            for source, sink, held in ((client, server, False), (server, client, True)):
                threading.Thread(
                    target=self._pump, args=(source, sink, held), name="proxy-pump", daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, held: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if held:
                    self._answers.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _close(sock)
            with self._lock:
                self._sockets -= {source, sink}


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
