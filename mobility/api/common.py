"""What every API view does the same way: ask the policy (403 with its reason), find a visible object (404 like the
pages, so ids leak nothing), turn a form's or serializer's errors into a problem's field errors."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from mobility import policy
from mobility.api.problems import Problem


def require(user, action: str, obj=None) -> None:
    """403 with ``mobility.policy``'s own words unless the user may do ``action`` (on ``obj``)."""
    why = policy.refusal(user, action, obj)
    if why is not None:
        raise Problem(403, why)


def visible(queryset, pk, what: str):
    """The object with this id in a queryset the policy already scoped, or 404."""
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise Problem(404, f"No such {what}.")
    return found


def parsed(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def query(serializer_class, request) -> dict:
    """Query parameters typed by a serializer (lists for its multiple-choice fields)."""
    params = request.query_params
    data = {}
    for name, field in serializer_class().fields.items():
        if name in params:
            data[name] = params.getlist(name) if isinstance(field, serializers.MultipleChoiceField) else params[name]
    return parsed(serializer_class, data)


def form_invalid(form, prefix: str = "") -> ValidationError:
    """A Django form's errors as DRF's (the problem handler lists them with their fields)."""
    errors = {}
    for field, messages in form.errors.items():
        key = "non_field_errors" if field == "__all__" else f"{prefix}{field}"
        errors.setdefault(key, []).extend(str(m) for m in messages)
    return ValidationError(errors)


class FieldError(serializers.Serializer):
    field = serializers.CharField()
    pointer = serializers.CharField(help_text="JSON pointer into the request body or query")
    detail = serializers.CharField()


class ProblemDetail(serializers.Serializer):
    """RFC 9457 problem details; other members (a draft, IVM's validation) may follow."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField(required=False)
    instance = serializers.CharField(required=False)
    errors = FieldError(many=True, required=False)


PROBLEM = OpenApiResponse(response=ProblemDetail, description="A problem (RFC 9457, application/problem+json)")
# The error answers every operation may give.
ERRORS = {code: PROBLEM for code in (400, 401, 403, 404, 429)}
