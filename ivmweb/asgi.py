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
from mobility.routing import websocket_urlpatterns, worker_consumers  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        "channel": ChannelNameRouter(worker_consumers(settings.IVMWEB_WORKER_CHANNEL)),
    }
)
