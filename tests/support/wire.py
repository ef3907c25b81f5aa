"""A TCP proxy in front of the real PostgreSQL that can lose a COMMIT: on its way to the server
(the transaction rolls back) or its answer on the way back (it committed; the client never hears).
Fault injection at the transport layer, as a dying server or network does it, not a mock of the
driver. After the cut it can refuse new connections, as a server that is still down would."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Literal

from psycopg.conninfo import conninfo_to_dict

from fixtures.database import database_url

# The bytes of COMMIT in both directions: the statement's text (a Query or Parse message) on the
# way in, and the server's CommandComplete tag on the way back.
COMMIT = b"COMMIT\x00"
Cut = Literal["request", "answer"]


class CommitCutter:
    def __init__(self, server_url: str) -> None:
        info = conninfo_to_dict(server_url)
        host, port = info.get("host") or "localhost", int(info.get("port") or 5432)
        self._target: str | tuple[str, int] = f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        listen_port = self._listener.getsockname()[1]
        self.url = database_url(f"postgresql://{info.get('user', 'postgres')}@127.0.0.1:{listen_port}/postgres",
                                info.get("dbname", "postgres")) + "?sslmode=disable"
        self._armed: Cut | None = None
        self.refusing = False
        self._refuse_after_cut = False
        self.cut = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, where: Cut, *, then_refuse: bool = False) -> None:
        """Lose the next COMMIT (`request`) or the answer to it (`answer`), closing that connection;
        `then_refuse`: from the cut on, refuse new connections (the server stays down)."""
        self.cut.clear()
        self._refuse_after_cut = then_refuse
        self._armed = where

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            family = socket.AF_UNIX if isinstance(self._target, str) else socket.AF_INET
            server = socket.socket(family, socket.SOCK_STREAM)
            server.connect(self._target)
            for source, sink, direction in ((client, server, "request"), (server, client, "answer")):
                threading.Thread(target=self._pump, args=(source, sink, direction, (client, server)),
                                 daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, direction: Cut,
              pair: tuple[socket.socket, socket.socket]) -> None:
        try:
            while data := source.recv(65536):
                if COMMIT in data and self._take(direction):
                    break
                sink.sendall(data)
        except OSError:
            pass
        for end in pair:
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def _take(self, direction: Cut) -> bool:
        with self._lock:
            if self._armed != direction:
                return False
            self._armed = None
            self.refusing = self._refuse_after_cut
        self.cut.set()
        return True


@contextmanager
def commit_cutter(server_url: str) -> Iterator[CommitCutter]:
    cutter = CommitCutter(server_url)
    try:
        yield cutter
    finally:
        cutter.close()
