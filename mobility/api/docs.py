"""The OpenAPI 3.1 schema (``/api/schema/``, generated from the code by drf-spectacular; anyone may read it) and its
reference page (Swagger UI, vendored from its npm package under static/vendor/swagger-ui, started by a static
script: the Content-Security-Policy allows no inline code)."""

from django.conf import settings
from django.shortcuts import render
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from mobility.api.problems import Problem


class Schema(SpectacularAPIView):
    permission_classes = [AllowAny]


# Swagger UI draws its icons as data: SVG images (no script can run from an image): the site's policy with those
# images allowed, on this page only.
@csp_override({**settings.SECURE_CSP, "img-src": [CSP.SELF, "data:"]})
def reference(request):
    """The API reference for a signed-in person (the browser's session authenticates its "Try it out")."""
    return render(request, "mobility/api_reference.html")


@extend_schema(exclude=True)
class NotFound(APIView):
    """Any other address under /api/ (an id that is not a number, a typo): a 404 problem, not an HTML page."""

    permission_classes = [AllowAny]

    def _missing(self, request, *args, **kwargs):
        raise Problem(404, "There is no such address in the API; see /api/schema/.")

    get = post = put = patch = delete = head = options = _missing
