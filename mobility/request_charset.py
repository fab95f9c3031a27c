"""Requests are read as UTF-8 only: a body that declares another charset is refused with 400.

Django decodes form fields with the charset a request declares. One it cannot decode with (``rot13``,
``zip``, ``nonexistent``) or refuses for url-encoded forms (``utf-7``) raises while the request is read,
which with DEBUG on became a 500 (the debug page reads the body again). No browser sends anything but
UTF-8 to this site, so anything else is a bad request, refused before any view or middleware reads it.
"""

import codecs

from asgiref.sync import iscoroutinefunction
from django.http import HttpResponse
from django.utils.decorators import sync_and_async_middleware

ACCEPTED = frozenset({"utf-8", "ascii"})  # codecs' canonical names; ASCII is a subset of UTF-8


def accepted(charset: str) -> bool:
    try:
        return codecs.lookup(charset).name in ACCEPTED
    except LookupError:
        return False


def _refusal(request) -> HttpResponse | None:
    charset = request.content_params.get("charset") if request.content_params else None
    if charset is None or accepted(charset):
        return None
    return HttpResponse(f"This site reads requests in UTF-8 only, not {charset[:40]!r}.\n",
                        status=400, content_type="text/plain; charset=utf-8")


@sync_and_async_middleware
def utf8_requests(get_response):
    # Both flavours, so that under ASGI the chain does not hop to a thread for this check.
    if iscoroutinefunction(get_response):
        async def middleware(request):
            refused = _refusal(request)
            return refused if refused is not None else await get_response(request)
    else:
        def middleware(request):
            refused = _refusal(request)
            return refused if refused is not None else get_response(request)
    return middleware
