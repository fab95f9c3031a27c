"""Logs: one line per event, JSON with IVMWEB_LOG_FORMAT=json, naming the request (X-Request-ID from the proxy, or
a new one) and the migration they are about."""

import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

from mobility.observability import logs


def _record(message="hello %s", args=("world",), exc_info=None) -> logging.LogRecord:
    record = logging.LogRecord("mobility.engine", logging.WARNING, __file__, 1, message, args, exc_info)
    logs.ContextFilter().filter(record)
    return record


def test_a_json_line_names_the_request_and_the_migration_and_keeps_a_traceback_inside():
    token = logs.request_id.set("req-42")
    try:
        with logs.about(17):
            try:
                raise ValueError("boom")
            except ValueError:
                record = _record(exc_info=sys.exc_info())
    finally:
        logs.request_id.reset(token)
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "hello world" and entry["level"] == "WARNING" and entry["logger"] == "mobility.engine"
    assert entry["request_id"] == "req-42" and entry["migration_id"] == 17
    assert "ValueError: boom" in entry["exception"]


def test_a_plain_line_ends_with_its_context_and_without_one_with_nothing():
    fmt = logging.Formatter(logs.logging_config("plain", "INFO")["formatters"]["plain"]["format"])
    with logs.about(5):
        assert fmt.format(_record()).endswith("hello world [migration=5]")
    assert fmt.format(_record()).endswith("hello world")


@pytest.mark.django_db
def test_the_request_id_of_the_proxy_is_kept_and_a_forged_one_replaced():
    kept = Client().get("/healthz", HTTP_HOST="127.0.0.1", HTTP_X_REQUEST_ID="0123abcd-ef")
    assert kept["X-Request-ID"] == "0123abcd-ef"
    forged = Client().get("/healthz", HTTP_HOST="127.0.0.1", HTTP_X_REQUEST_ID='x" "level": "CRITICAL')
    assert forged["X-Request-ID"] != 'x" "level": "CRITICAL' and len(forged["X-Request-ID"]) == 32
    assert Client().get("/healthz", HTTP_HOST="127.0.0.1")["X-Request-ID"] != forged["X-Request-ID"]


def test_ivmweb_log_format_json_makes_every_mobility_line_json_and_a_bad_value_stops_start_up():
    code = ("import django, logging; django.setup(); from mobility.observability import logs\n"
            "with logs.about(9): logging.getLogger('mobility.engine').info('driving %s', 'x')")
    env = {**os.environ, "IVMWEB_LOG_FORMAT": "json"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=settings.BASE_DIR, timeout=60)
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert lines[-1]["message"] == "driving x" and lines[-1]["migration_id"] == 9, done.stderr
    env["IVMWEB_LOG_FORMAT"] = "yaml"
    bad = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True,
                         text=True, cwd=settings.BASE_DIR, timeout=60)
    assert bad.returncode != 0 and "IVMWEB_LOG_FORMAT must be 'plain' or 'json'" in bad.stderr
