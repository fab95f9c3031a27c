"""The live websocket's Origin check and frame limits as Chromium meets them through daphne."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Opens the live socket, sends a frame once open, and resolves with the first answer or the close code.
OPEN_AND_SEND = """([url, frame]) => new Promise(resolve => {
    const socket = new WebSocket(url);
    let opened = false;
    socket.onopen = () => { opened = true; socket.send(frame); };
    socket.onmessage = event => { resolve({opened, answer: JSON.parse(event.data)}); socket.close(); };
    socket.onclose = event => resolve({opened, code: event.code});
    setTimeout(() => resolve({opened, timeout: true}), 10000);
})"""


def _socket_url(asgi_server):
    return asgi_server.replace("http://", "ws://") + "/ws/live/"


class _OtherService(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<!doctype html><title>another service</title>")

    def log_message(self, *args):
        pass


@pytest.fixture
def other_service():
    """Another web service on this host, on another port: same site as ivmweb (the cookie goes along), not the
    same origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtherService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_page_on_another_port_of_the_same_host_cannot_open_the_socket(asgi_server, other_service, page,
                                                                        requester):
    login(page, asgi_server, "rita")
    page.wait_for_url(f"{asgi_server}/inventory/")
    page.goto(f"{other_service}/")
    assert page.evaluate(OPEN_AND_SEND, [_socket_url(asgi_server), '{"subscribe": 0}']) == {"opened": False,
                                                                                             "code": 1006}
    page.goto(f"{asgi_server}/inventory/")
    assert page.evaluate(OPEN_AND_SEND, [_socket_url(asgi_server), '{"subscribe": 0}']) == {
        "opened": True, "answer": {"error": "no such migration"}}


@pytest.mark.parametrize(("frame", "code"), [
    ("[" * 100_000 + "]" * 100_000, 1008),
    ('{"subscribe": 1, "pad": "' + "x" * 70_000 + '"}', 1009),
])
def test_a_frame_over_the_limits_is_closed_with_its_code(asgi_server, page, requester, frame, code):
    # Through daphne: an application that fails (the consumer's traceback, or daphne refusing the close code) is
    # closed with 1011; the code the consumer chose proves that neither happened.
    login(page, asgi_server, "rita")
    page.wait_for_url(f"{asgi_server}/inventory/")
    assert page.evaluate(OPEN_AND_SEND, [_socket_url(asgi_server), frame]) == {"opened": True, "code": code}
