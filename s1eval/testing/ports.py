"""Free TCP ports for test and benchmark servers, taken by binding, never by probing and closing.

"Bind port 0, read the port, close the socket, hand the number on" leaves the port free until the server binds
it, and another test (or a parallel session) may take it in between. Instead:

* `bound_socket`: a server in this process listens on the socket itself (aiohttp's ``web.SockSite``, for
  instance): the port is never free between choosing and serving.
* `PortReservation`: a server in a subprocess, which binds its own socket (vLLM's OpenAI server): the port stays
  bound here with ``SO_REUSEADDR`` and without listening, so the kernel hands it to no other port-0 bind and a
  plain bind of it fails, while the server (which sets ``SO_REUSEADDR`` too, as uvicorn and vLLM do) may bind and
  listen on it; `release` once the server is up.
"""

from __future__ import annotations

import socket
from typing import Any

LOCALHOST = "127.0.0.1"


def bound_socket(host: str = LOCALHOST) -> socket.socket:
    """A TCP socket bound to a port the kernel picked (port 0); listen on it in this process."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
    except BaseException:
        sock.close()
        raise
    return sock


class PortReservation:
    """A port held for a server that another process starts (see the module docstring); a context manager."""

    def __init__(self, host: str = LOCALHOST) -> None:
        self.host = host
        self._sock: socket.socket | None = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((host, 0))
        except BaseException:
            self._sock.close()
            raise
        self.port: int = self._sock.getsockname()[1]

    @property
    def held(self) -> bool:
        return self._sock is not None

    def release(self) -> None:
        """Stop holding the port (the server that bound it keeps it)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> PortReservation:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()
