"""The page of a person's API tokens: make one (its secret shown once, on this answer only), list them, revoke one.
``mobility.api.tokens`` makes, stores (hashed) and revokes them, and audits each."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from mobility.api import tokens
from mobility.forms.tokens import TokenForm
from mobility.models import ApiToken


def _render(request, form, issued=None, status=200):
    return render(request, "mobility/api_tokens.html", {
        "form": form, "issued": issued,
        "tokens": ApiToken.objects.filter(user=request.user).order_by("-created_at", "-id")}, status=status)


@require_http_methods(["GET", "POST"])
def api_tokens(request):
    if request.method != "POST":
        return _render(request, TokenForm())
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _render(request, form, status=400)
    try:
        issued = tokens.create(request.user, **form.cleaned_data)
    except tokens.TokenRefused as exc:
        form.add_error(None, str(exc))
        return _render(request, form, status=400)
    response = _render(request, TokenForm(), issued=issued)
    response["Cache-Control"] = "no-store"  # the secret is on this answer only
    return response


@require_POST
def api_token_revoke(request, pk: int):
    token = tokens.revoke(request.user, pk)
    if token is None:
        raise Http404("No such token of yours.")
    messages.success(request, f"Token “{token.name}” ({token.prefix}…) is revoked.")
    return redirect("mobility:api_tokens")
