"""``/healthz``, ``/readyz`` and ``/metrics``: no session, no sign-in, JSON (or Prometheus' text format).

``/metrics`` answers only clients whose address is in ``IVMWEB_METRICS_ALLOWED_NETS`` (loopback unless set) and,
when ``IVMWEB_METRICS_TOKEN`` is set, that send it as ``Authorization: Bearer <token>``: closed to the world by
default, whatever the proxy in front does. Behind nginx the address is the one nginx passes (daphne
``--proxy-headers``); the shipped site refuses ``/metrics`` from outside the allowed networks as well.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from mobility.observability import health, scrape


@login_not_required
@never_cache
@require_safe
def healthz(request):
    """The process answers: nothing else is checked (a liveness probe must not restart web processes because the
    database is down)."""
    return JsonResponse({"status": "alive"})


@login_not_required
@never_cache
@require_safe
async def readyz(request):
    """200 when the database, the channel layer, a live engine worker and the driven migrations' leases are fine,
    else 503; the checks' figures either way (``mobility.observability.health``)."""
    result = await health.readiness()
    response = JsonResponse(result, status=200 if result["status"] == "ready" else 503)
    # A 503 here is the probe's answer, not a server error: Django's request logger would log every probe of an
    # unready process as an ERROR with its traceback-less line (django.utils.log.log_response skips logged ones).
    response._has_been_logged = True
    return response


@login_not_required
@never_cache
@require_safe
def metrics(request):
    refused = scrape.refusal(request.META.get("REMOTE_ADDR", ""), request.headers.get("Authorization", ""))
    if refused is not None:
        response = JsonResponse({"error": refused[1]}, status=refused[0])
        if refused[0] == 401:
            response["WWW-Authenticate"] = 'Bearer realm="ivmweb metrics"'
        return response

    return HttpResponse(scrape.exposition(), content_type=CONTENT_TYPE_LATEST)
