"""The OpenAPI 3.1 schema (``/api/schema/``, generated from the code by drf-spectacular; anyone may read it) and its
reference page (Swagger UI, vendored from its npm package under static/vendor/swagger-ui, started by a static
script: the Content-Security-Policy allows no inline code)."""

from django.shortcuts import render
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny


class Schema(SpectacularAPIView):
    permission_classes = [AllowAny]


def reference(request):
    """The API reference for a signed-in person (the browser's session authenticates its "Try it out")."""
    return render(request, "mobility/api_reference.html")
