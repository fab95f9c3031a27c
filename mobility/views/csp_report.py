"""Content-Security-Policy violation reports (SECURE_CSP's report-uri): each one is logged at WARNING, so that a
page breaking the policy, or an injection the policy stopped, shows in the log.

Browsers post them without a CSRF token and often without a session, so the view is open and CSRF-exempt; it
only reads a bounded body and writes log lines. Bad input gets a 4xx, never a 5xx."""

import json
import logging

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

logger = logging.getLogger("mobility.csp")

MAX_BODY = 64 * 1024  # a report is under 1 KB; a batch of the Reporting API a few KB
MAX_REPORTS = 20  # logged per request: a batch cannot flood the log
MAX_FIELD = 300  # characters kept of each value (a script sample, a long URL)

# (what we log, its key in application/csp-report, its key in application/reports+json)
FIELDS = (
    ("document", "document-uri", "documentURL"),
    ("directive", "effective-directive", "effectiveDirective"),
    ("blocked", "blocked-uri", "blockedURL"),
    ("source", "source-file", "sourceFile"),
    ("line", "line-number", "lineNumber"),
    ("sample", "script-sample", "sample"),
)


class BadReport(ValueError):
    pass


def _violations(content_type: str, data) -> list[tuple[dict, int]]:
    """The violations in a report body, as (report, index of the format's keys in FIELDS)."""
    if content_type == "application/csp-report":  # report-uri: one violation
        if not isinstance(data, dict) or not isinstance(data.get("csp-report"), dict):
            raise BadReport('expected {"csp-report": {...}}')
        return [(data["csp-report"], 1)]
    # application/reports+json (the Reporting API's report-to): a list of reports of several types
    if not isinstance(data, list) or not all(isinstance(r, dict) and isinstance(r.get("body"), dict) for r in data):
        raise BadReport('expected [{"type": ..., "body": {...}}, ...]')
    return [(r["body"], 2) for r in data if r.get("type") == "csp-violation"]


def _text(value) -> str:
    return "-" if value is None else str(value)[:MAX_FIELD]


@csrf_exempt
@login_not_required
@require_POST
def csp_report(request):
    content_type = request.content_type
    if content_type not in ("application/csp-report", "application/reports+json"):
        return HttpResponse("Expected application/csp-report or application/reports+json.\n", status=415,
                            content_type="text/plain")
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return HttpResponse("Bad Content-Length.\n", status=400, content_type="text/plain")
    body = request.read(MAX_BODY + 1) if declared <= MAX_BODY else b""
    if declared > MAX_BODY or len(body) > MAX_BODY:
        return HttpResponse(f"A report is at most {MAX_BODY} bytes.\n", status=413, content_type="text/plain")
    try:
        violations = _violations(content_type, json.loads(body))
    except (ValueError, RecursionError) as exc:  # JSON, UTF-8 or shape; RecursionError: nested too deep
        reason = exc if isinstance(exc, BadReport) else "not JSON"
        return HttpResponse(f"Not a CSP report: {reason}.\n", status=400, content_type="text/plain")
    for report, fmt in violations[:MAX_REPORTS]:
        # %r: values come from the client; repr keeps a newline in them from forging another log line
        logger.warning("CSP violation: " + " ".join(f"{keys[0]}=%r" for keys in FIELDS),
                       *(_text(report.get(keys[fmt])) for keys in FIELDS))
    if len(violations) > MAX_REPORTS:
        logger.warning("CSP violation: %d more in the same request not logged", len(violations) - MAX_REPORTS)
    return HttpResponse(status=204)
