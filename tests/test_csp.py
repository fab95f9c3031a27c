"""The Content-Security-Policy header on every page, and the view that logs the violations browsers report."""

import json
import logging

import pytest
from django.urls import reverse

REPORT_URL = "/csp-report/"


def directives(header: str) -> dict[str, list[str]]:
    parts = (d.strip().split() for d in header.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


@pytest.mark.parametrize("user", [None, "rita", "adam"])
def test_pages_carry_the_policy_with_no_inline_code_nor_eval(client, personas, user):
    if user:
        client.force_login(personas[user])
    response = client.get(reverse("mobility:inventory") if user else reverse("login"))
    assert response.status_code == 200
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],  # no nonce either: our templates never ask for one
        "style-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "report-uri": [REPORT_URL],
    }
    # the other security headers as before
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_admin_gets_a_fresh_nonce_for_its_own_inline_tags(client, personas):
    client.force_login(personas["adam"])
    nonces = []
    for _ in range(2):
        response = client.get("/admin/auth/user/")
        assert response.status_code == 200
        policy = directives(response.headers["Content-Security-Policy"])
        nonce = policy["script-src"][1]
        assert policy["script-src"][0] == "'self'" and nonce.startswith("'nonce-") and policy["style-src"][1] == nonce
        assert f'nonce="{nonce[7:-1]}"' in response.text
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


CSP_REPORT = {"csp-report": {
    "document-uri": "http://127.0.0.1/inventory/", "effective-directive": "script-src-elem",
    "blocked-uri": "inline", "source-file": "http://127.0.0.1/inventory/", "line-number": 12,
    "script-sample": "alert(1)\nFAKE LOG LINE"}}
REPORTS_JSON = [
    {"type": "deprecation", "body": {"id": "x"}},
    {"type": "csp-violation", "url": "http://127.0.0.1/dashboard/", "body": {
        "documentURL": "http://127.0.0.1/dashboard/", "effectiveDirective": "connect-src",
        "blockedURL": "wss://evil.example/", "sourceFile": "http://127.0.0.1/static/js/live.js", "lineNumber": 3}},
]


@pytest.mark.parametrize("content_type,body,expected", [
    ("application/csp-report", CSP_REPORT, ["directive='script-src-elem'", "blocked='inline'", "line='12'",
                                            r"sample='alert(1)\nFAKE LOG LINE'"]),
    ("application/reports+json", REPORTS_JSON, ["directive='connect-src'", "blocked='wss://evil.example/'",
                                                "document='http://127.0.0.1/dashboard/'"]),
])
def test_a_report_is_logged_at_warning_and_answered_204_without_session_nor_csrf(content_type, body, expected,
                                                                                 db, caplog):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    with caplog.at_level(logging.WARNING, logger="mobility.csp"):
        response = client.post(REPORT_URL, json.dumps(body), content_type=content_type)
    assert response.status_code == 204
    records = [r for r in caplog.records if r.name == "mobility.csp"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING  # the deprecation report is not CSP's
    line = records[0].getMessage()
    assert "\n" not in line  # a newline in a value cannot forge a second log line
    for part in expected:
        assert part in line, line


@pytest.mark.parametrize("content_type,body,status", [
    ("text/plain", json.dumps(CSP_REPORT), 415),
    ("application/json", json.dumps(CSP_REPORT), 415),
    ("application/csp-report", "{not json", 400),
    ("application/csp-report", b"\xff\xfe\x00", 400),
    ("application/csp-report", "[]", 400),
    ("application/csp-report", '{"csp-report": "a string"}', 400),
    ("application/csp-report", "null", 400),
    ("application/reports+json", '{"type": "csp-violation"}', 400),
    ("application/reports+json", '[{"type": "csp-violation", "body": 3}]', 400),
    ("application/reports+json", "[" * 50_000 + "]" * 50_000, 413),
    ("application/reports+json", "[" * 30_000 + "]" * 30_000, 400),  # under the limit, nested too deep to parse
    ("application/csp-report", json.dumps({"csp-report": {"blocked-uri": "x" * 70_000}}), 413),
])
def test_bad_reports_get_a_4xx_and_log_nothing(client, db, caplog, content_type, body, status):
    with caplog.at_level(logging.WARNING):
        response = client.post(REPORT_URL, body, content_type=content_type)
    assert response.status_code == status, response.content
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name != "django.request"]


def test_only_post_and_many_reports_are_logged_up_to_the_bound(client, db, caplog):
    assert client.get(REPORT_URL).status_code == 405
    batch = [REPORTS_JSON[1]] * 50
    with caplog.at_level(logging.WARNING, logger="mobility.csp"):
        response = client.post(REPORT_URL, json.dumps(batch), content_type="application/reports+json")
    assert response.status_code == 204
    lines = [r.getMessage() for r in caplog.records if r.name == "mobility.csp"]
    assert len(lines) == 21 and lines[-1] == "CSP violation: 30 more in the same request not logged"
