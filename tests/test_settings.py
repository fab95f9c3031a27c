"""Settings come from the environment and stop start-up on bad values (checked in a fresh process)."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

GOOD_KEY = "x" * 60
CHECKPOINT_KEY = "c" * 64
FERNET = "lvVhbE8lNwz3DdoxNR5pmZb6VXsLtbXN6f1tIuTk9BQ="


def _settings_in_child(env: dict, expr: str = "settings.CHANNEL_LAYERS['default']['BACKEND']"):
    base = {k: v for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "IVMWEB_ENCRYPTION_KEYS",
                         "ALLOWED_HOSTS", "IVMWEB_AUDIT_CHECKPOINT_KEY"}}
    base.update(env)
    code = f"import django; django.setup(); from django.conf import settings; print({expr})"
    return subprocess.run([sys.executable, "-c", code], env=base, capture_output=True, text=True,
                          cwd=settings.BASE_DIR, timeout=60)


def test_redis_url_selects_channels_redis():
    result = _settings_in_child({"REDIS_URL": "redis://127.0.0.1:6379/3"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "channels_redis.core.RedisChannelLayer"


def test_no_redis_url_means_the_in_memory_layer():
    result = _settings_in_child({})
    assert result.stdout.strip() == "channels.layers.InMemoryChannelLayer"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"DEBUG": "0", "IVMWEB_ENCRYPTION_KEYS": FERNET, "ALLOWED_HOSTS": "x.example"},
         "SECRET_KEY must be set when DEBUG is off"),
        ({"DEBUG": "0", "SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "x.example"},
         "IVMWEB_ENCRYPTION_KEYS must be set"),
        ({"IVMWEB_ENCRYPTION_KEYS": "not-a-key"}, "IVMWEB_ENCRYPTION_KEYS item 1 is not a valid Fernet key"),
        ({"DATABASE_URL": "mysql://db/ivmweb"}, "DATABASE_URL must be postgres:// or sqlite://"),
        ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL must start with redis://"),
        ({"DEBUG": "0", "SECRET_KEY": GOOD_KEY, "IVMWEB_ENCRYPTION_KEYS": FERNET},
         "ALLOWED_HOSTS must list"),
        ({"DEBUG": "0", "SECRET_KEY": GOOD_KEY, "IVMWEB_ENCRYPTION_KEYS": FERNET, "ALLOWED_HOSTS": "x.example"},
         "IVMWEB_AUDIT_CHECKPOINT_KEY must be set when DEBUG is off"),
        ({"DEBUG": "0", "SECRET_KEY": GOOD_KEY, "IVMWEB_ENCRYPTION_KEYS": FERNET, "ALLOWED_HOSTS": "x.example",
          "IVMWEB_AUDIT_CHECKPOINT_KEY": "short"}, "IVMWEB_AUDIT_CHECKPOINT_KEY must be at least 32"),
        ({"IVMWEB_SYNC_INTERVAL_S": "often"}, "IVMWEB_SYNC_INTERVAL_S='often' is not an integer"),
        ({"REDIS_URL": "redis://127.0.0.1:6379/3", "IVMWEB_ENGINE_IN_WEB": "1"},
         "IVMWEB_ENGINE_IN_WEB is for the in-memory channel layer only"),
    ],
)
def test_bad_environment_stops_start_up_with_a_clear_message(env, message):
    result = _settings_in_child(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_debug_is_off_when_unset():
    # ivmweb.settings itself: the tests' own module (ivmweb.settings_tests) sets DEBUG=1.
    production = {"DJANGO_SETTINGS_MODULE": "ivmweb.settings", "SECRET_KEY": GOOD_KEY,
                  "IVMWEB_ENCRYPTION_KEYS": FERNET, "ALLOWED_HOSTS": "x.example",
                  "IVMWEB_AUDIT_CHECKPOINT_KEY": CHECKPOINT_KEY}
    result = _settings_in_child(production, "settings.DEBUG")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    result = _settings_in_child({"DJANGO_SETTINGS_MODULE": "ivmweb.settings"}, "settings.DEBUG")
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_values_pass_the_deploy_checks():
    env = {"DJANGO_SETTINGS_MODULE": "ivmweb.settings", "DEBUG": "0", "SECRET_KEY": GOOD_KEY + "-Zq9!",
           "IVMWEB_ENCRYPTION_KEYS": FERNET, "ALLOWED_HOSTS": "ivmweb.example.com",
           "IVMWEB_AUDIT_CHECKPOINT_KEY": CHECKPOINT_KEY, "DATABASE_URL": "postgres://u@127.0.0.1/ivmweb"}
    base = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL"}}
    base.update(env)
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            env=base, capture_output=True, text=True, cwd=settings.BASE_DIR, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
