"""Errors as RFC 9457 problem details (``application/problem+json``): type, title, status, detail, instance, and for
invalid input ``errors``, one entry per field with a JSON pointer to it.

The refusals of ivmweb's services (a plan, a vote, a move of the lifecycle) keep their words, which say what to do."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from mobility.governance.approvals import ApprovalRefused, PlanChanged
from mobility.lifecycle import TransitionRefused
from mobility.plans import PlanRefused

MEDIA_TYPE = "application/problem+json"
URN = "urn:ivmweb:problem:"

# status -> the type slug and title of the plain HTTP problems
_TITLES = {
    400: ("invalid-input", "The request is not valid"),
    401: ("not-authenticated", "Authentication is needed"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Refused in the current state"),
    412: ("precondition-failed", "The resource changed"),
    415: ("unsupported-media-type", "Unsupported media type"),
    428: ("precondition-required", "If-Match is required"),
    429: ("rate-limited", "Too many requests"),
}


class Problem(exceptions.APIException):
    """A refusal with its own type slug (``urn:ivmweb:problem:<slug>``) and extra members."""

    def __init__(self, status_code: int, detail: str, slug: str | None = None, title: str | None = None, **extra):
        super().__init__(detail)
        self.status_code = status_code
        default_slug, default_title = _TITLES.get(status_code, ("error", "Error"))
        self.slug, self.title, self.extra = slug or default_slug, title or default_title, extra


def _errors(detail, path=()) -> list[dict]:
    """DRF's nested validation detail as a flat list of {field, pointer, detail}."""
    if isinstance(detail, dict):
        return [e for key, value in detail.items() for e in _errors(value, (*path, str(key)))]
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [_entry(path, str(item)) for item in detail]
        return [e for index, value in enumerate(detail) for e in _errors(value, (*path, str(index)))]
    return [_entry(path, str(detail))]


def _entry(path, message: str) -> dict:
    field = ".".join(p for p in path if p != "non_field_errors")
    return {"field": field, "pointer": "/" + "/".join(p for p in path if p != "non_field_errors"), "detail": message}


def _translate(exc):
    """Django's and ivmweb's own exceptions as DRF ones (the refusals' words kept)."""
    if isinstance(exc, Http404):
        return Problem(404, str(exc) or "Not found.")
    if isinstance(exc, PermissionDenied):
        return Problem(403, str(exc) or "You may not do this.")
    if isinstance(exc, PlanChanged):
        return Problem(409, exc.message, "plan-changed", "The plan changed since you read it")
    if isinstance(exc, ApprovalRefused):
        return Problem(409, exc.message, "vote-refused", "The vote is refused")
    if isinstance(exc, PlanRefused):
        return Problem(409, str(exc), "plan-refused", "The plan is refused")
    if isinstance(exc, TransitionRefused):
        return Problem(409, str(exc), "refused", "Refused in the migration's current state")
    return exc


def exception_handler(exc, context):
    exc = _translate(exc)
    response = drf_handler(exc, context)
    if response is None:
        return None  # a programming error: Django's 500 (and the logs) say so
    code = response.status_code
    slug, title = _TITLES.get(code, ("error", "Error"))
    body = {"type": "about:blank", "title": title, "status": code}
    if isinstance(exc, Problem):
        body.update(type=URN + exc.slug, title=exc.title, detail=str(exc.detail), **exc.extra)
    elif isinstance(exc, exceptions.ValidationError):
        errors = _errors(exc.detail)
        body.update(type=URN + slug, detail=_summary(errors), errors=errors)
    elif isinstance(exc, exceptions.Throttled):
        body.update(type=URN + slug, detail=f"Too many requests; try again in {exc.wait:.0f} s."
                    if exc.wait is not None else "Too many requests.")
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
        body.update(type=URN + slug if slug != "error" else "about:blank", detail=str(detail))
    request = context.get("request")
    if request is not None:
        body["instance"] = request.get_full_path()[:500]
    response.data = body
    response.content_type = MEDIA_TYPE
    return response


def _summary(errors: list[dict]) -> str:
    if not errors:
        return "The request is not valid."
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return (f"{first['field']}: {first['detail']}" if first["field"] else first["detail"]) + more


def problem_response(status_code: int, detail: str, **extra) -> Response:
    """A problem answer built directly (outside an exception)."""
    slug, title = _TITLES.get(status_code, ("error", "Error"))
    body = {"type": URN + slug, "title": title, "status": status_code, "detail": detail, **extra}
    return Response(body, status=status_code, content_type=MEDIA_TYPE)


# The schema of a problem, for drf-spectacular (every operation's error answers).
PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "pointer", "detail"],
            "properties": {"field": {"type": "string"}, "pointer": {"type": "string"}, "detail": {"type": "string"}}}},
    },
    "additionalProperties": True,
}
__all__ = ["MEDIA_TYPE", "PROBLEM_SCHEMA", "Problem", "exception_handler", "problem_response", "status"]
