"""Input no view can store, refused with 400 before any view or middleware reads it.

- A body declaring a charset other than UTF-8. Django decodes form fields with the declared charset; one it
  cannot decode with (``rot13``, ``zip``) or refuses for url-encoded forms (``utf-7``) raised while the request
  was read, which with DEBUG on became a 500 (the debug page reads the body again). Browsers send UTF-8 here.
- A NUL character in a query or form field (name or value). PostgreSQL stores no NUL in text nor in jsonb, so
  one reaching a filter (the admin's list filters) or the audit trail (a form error quoting the value) was a 500.
"""

import codecs
import json

from asgiref.sync import iscoroutinefunction
from django.http import HttpResponse
from django.utils.decorators import sync_and_async_middleware

ACCEPTED_CHARSETS = frozenset({"utf-8", "ascii"})  # codecs' canonical names; ASCII is a subset of UTF-8


def accepted_charset(charset: str) -> bool:
    try:
        return codecs.lookup(charset).name in ACCEPTED_CHARSETS
    except LookupError:
        return False


def _has_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in data.lists())


def refusal(request) -> str | None:
    """Why the request cannot be read, or None."""
    charset = request.content_params.get("charset") if request.content_params else None
    if charset is not None and not accepted_charset(charset):
        return f"This site reads requests in UTF-8 only, not {charset[:40]!r}."
    if _has_nul(request.GET) or _has_nul(request.POST):
        return "A field contains a NUL character, which no field of this site accepts."
    return None


def _bad_request(request) -> HttpResponse | None:
    why = refusal(request)
    if why is None:
        return None
    if request.path.startswith("/api/"):  # the API answers problems (RFC 9457), as mobility.api.problems does
        body = {"type": "urn:ivmweb:problem:invalid-input", "title": "The request is not valid", "status": 400,
                "detail": why, "instance": request.path[:500]}
        return HttpResponse(json.dumps(body), status=400, content_type="application/problem+json")
    return HttpResponse(why + "\n", status=400, content_type="text/plain; charset=utf-8")


@sync_and_async_middleware
def readable_input(get_response):
    # Both flavours, so that under ASGI the chain does not hop to a thread for this check.
    if iscoroutinefunction(get_response):
        async def middleware(request):
            refused = _bad_request(request)
            return refused if refused is not None else await get_response(request)
    else:
        def middleware(request):
            refused = _bad_request(request)
            return refused if refused is not None else get_response(request)
    return middleware
