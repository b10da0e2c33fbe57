"""serve_in_background: a stand-in server answers inside the block and is gone after it."""

from __future__ import annotations

import http.client
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from apps.common.testing.servers import serve_in_background


class TeapotHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(418)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def get_status(*, port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_server_answers_inside_the_block_and_refuses_connections_after_it() -> None:
    with serve_in_background(HTTPServer(("127.0.0.1", 0), TeapotHandler)) as server:
        port = int(server.server_address[1])
        assert get_status(port=port) == 418

    with pytest.raises(ConnectionRefusedError):
        get_status(port=port)
