"""``run_engine --metrics ADDR:PORT``: a host with engine workers and no web process serves its metrics itself.

The same exposition and the same restriction (``IVMWEB_METRICS_ALLOWED_NETS``, ``IVMWEB_METRICS_TOKEN``) as the web
processes' ``/metrics``, on prometheus_client's own threaded WSGI server, in a daemon thread of the worker.
"""

import logging
import threading
from wsgiref.simple_server import make_server

from django.db import connection
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler

from mobility.observability import scrape

logger = logging.getLogger("mobility.observability")


def _app(environ, start_response):
    if environ.get("PATH_INFO") != "/metrics":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"only /metrics here\n"]
    refused = scrape.refusal(environ.get("REMOTE_ADDR", ""), environ.get("HTTP_AUTHORIZATION", ""))
    if refused is not None:
        reason = "403 Forbidden" if refused[0] == 403 else "401 Unauthorized"
        start_response(reason, [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="ivmweb metrics"')])
        return [refused[1].encode() + b"\n"]
    try:
        body = scrape.exposition()
    finally:
        connection.close()  # this server's threads come and go: no connection left behind
    start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
    return [body]


def serve(listen: str) -> ThreadingWSGIServer:
    """Serve ``/metrics`` on ``ADDR:PORT`` (``[v6]:PORT`` for IPv6) in a daemon thread; returns the server."""
    host, _, port = listen.rpartition(":")
    server = make_server(host.strip("[]") or "127.0.0.1", int(port), _app, ThreadingWSGIServer,
                         handler_class=_SilentHandler)
    threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True).start()
    # The port bound, not the one asked for: with port 0 the system picks a free one, and this line says which.
    logger.info("serving /metrics on %s:%d", host or "127.0.0.1", server.server_port)
    return server
