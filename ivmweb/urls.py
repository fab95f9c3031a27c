from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from mobility.observability import views as observability
from mobility.views.csp_report import csp_report

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("csp-report/", csp_report, name="csp_report"),  # SECURE_CSP's report-uri
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),  # for clients that ask
    path("api/", include("mobility.api.urls")),  # the REST API, its schema and reference page
    # Probes and metrics (mobility.observability): no sign-in, no session; /metrics restricted by address and token.
    path("healthz", observability.healthz, name="healthz"),
    path("readyz", observability.readyz, name="readyz"),
    path("metrics", observability.metrics, name="metrics"),
    path("", include("mobility.urls")),
]
