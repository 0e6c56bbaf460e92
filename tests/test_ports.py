"""s1eval.testing.ports: free ports are taken by binding, never by probing and closing."""

from __future__ import annotations

import socket

import pytest

from s1eval.testing.ports import PortReservation, bound_socket


def test_a_bound_socket_is_ready_to_listen_on():
    sock = bound_socket()
    try:
        host, port = sock.getsockname()
        assert host == "127.0.0.1" and port > 0
        sock.listen()
        socket.create_connection((host, port), timeout=5).close()
    finally:
        sock.close()


def test_a_reserved_port_is_kept_from_others_but_open_to_its_server():
    with PortReservation() as held:
        assert held.held and held.port > 0
        with socket.socket() as other, pytest.raises(OSError):  # a plain bind (another server) is refused
            other.bind(("127.0.0.1", held.port))
        # the server it is held for binds with SO_REUSEADDR (uvicorn, vLLM) and listens
        with socket.socket() as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", held.port))
            server.listen()
            socket.create_connection(("127.0.0.1", held.port), timeout=5).close()
    assert not held.held
    with socket.socket() as after:  # released: anyone may bind it
        after.bind(("127.0.0.1", held.port))


def test_the_vllm_server_holds_its_port_until_started(tmp_path):
    from s1eval.testing.vllm_server import CPU_TEST_ARGS, VLLMServer

    server = VLLMServer("some/model", tmp_path / "server.log", max_model_len=512, extra=("--foo",))
    try:
        assert server._reservation is not None and server._reservation.held
        cmd = server.cmd
        assert cmd[cmd.index("--port") + 1] == str(server.port) and cmd[cmd.index("--max-model-len") + 1] == "512"
        assert all(arg in cmd for arg in CPU_TEST_ARGS) and cmd[-1] == "--foo"
        assert server.url == f"http://127.0.0.1:{server.port}/v1"
    finally:
        server.stop()  # never started: only the port is let go
    assert server._reservation is None and server.proc is None
