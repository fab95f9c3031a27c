"""ASGI entry point: HTTP and websockets in one process (daphne).

Websocket routes are wrapped in SameOriginValidator (refuses Origins other than this site's or a trusted one) and
AuthMiddlewareStack (session user in the scope); consumers also check the user themselves.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ivmweb.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from ivmweb.websocket_origin import SameOriginValidator  # noqa: E402
from mobility.engine import embedded  # noqa: E402
from mobility.routing import websocket_urlpatterns, worker_consumers  # noqa: E402


def _let_daphne_close_with_rfc_codes():
    """daphne closes a socket through autobahn's sendClose, which takes only the codes a browser script may use
    (1000, 3000-4999; django/daphne#374) and raises on others, so the app's close became a traceback and 1011. A
    server may send 1008 (policy violation) and 1009 (too big) by RFC 6455 7.4.1: those go out as close frames,
    as daphne itself sends its 1011."""
    from daphne.ws_protocol import WebSocketProtocol

    server_close = WebSocketProtocol.serverClose

    def serverClose(self, code=None):
        if code in (1008, 1009):
            self.sendCloseFrame(code=code)
        else:
            server_close(self, code)

    WebSocketProtocol.serverClose = serverClose


_let_daphne_close_with_rfc_codes()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        "channel": ChannelNameRouter(worker_consumers(settings.IVMWEB_WORKER_CHANNEL)),
    }
)
if settings.IVMWEB_ENGINE_IN_WEB:  # make run's default: the engine in this process (its pushes reach the sockets)
    application = embedded.start(application)
