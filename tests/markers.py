"""Markers for tests that need a real part only CI and `make test` on this machine always have."""

import pytest
from django.conf import settings

postgresql_only = pytest.mark.skipif(
    settings.DATABASE_VENDOR != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
)
redis_only = pytest.mark.skipif(settings.CHANNEL_LAYER_NAME != "redis", reason="needs Redis (set REDIS_URL)")
