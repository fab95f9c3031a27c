"""The committed OpenAPI schema (mobility/api/openapi.yaml) is what the code generates: CI fails when they differ.
Regenerate it with: DEBUG=1 .venv/bin/python manage.py spectacular --validate --fail-on-warn --file mobility/api/openapi.yaml"""

from pathlib import Path

import yaml
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer

COMMITTED = Path(__file__).resolve().parents[2] / "mobility" / "api" / "openapi.yaml"
REGENERATE = "DEBUG=1 .venv/bin/python manage.py spectacular --validate --fail-on-warn --file mobility/api/openapi.yaml"


def test_the_committed_schema_is_the_one_the_code_generates():
    generated = OpenApiYamlRenderer().render(SchemaGenerator().get_schema(request=None, public=True),
                                             renderer_context={}).decode()
    assert yaml.safe_load(generated) == yaml.safe_load(COMMITTED.read_text()), (
        f"mobility/api/openapi.yaml is stale; regenerate it: {REGENERATE}")


def test_the_schema_is_openapi_3_1_and_served_to_anyone(db):
    served = Client().get("/api/schema/?format=json")
    assert served.status_code == 200
    schema = served.json()
    assert schema["openapi"] == "3.1.0"
    assert schema == yaml.safe_load(COMMITTED.read_text())
    assert "apiToken" in schema["components"]["securitySchemes"]


def test_the_reference_page_runs_only_vendored_static_scripts(db, personas):
    browser = Client()
    browser.force_login(personas["rita"])
    page = browser.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "vendor/swagger-ui/swagger-ui-bundle-5.36.0.js" in html and "js/api-reference.js" in html
    assert "<script>" not in html and "unpkg" not in html and "cdn" not in html.lower()
    assert Client().get("/api/docs/").status_code == 302  # signed out: the login page
