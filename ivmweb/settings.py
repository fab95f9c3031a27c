"""ivmweb settings, read from environment variables (see .env.example).

DEBUG is off unless set. ``make run`` and the tests (ivmweb/settings_tests.py) set DEBUG=1, and with it the
embedded defaults (SQLite in ./data, the in-memory channel layer) make a fresh checkout run. Production sets
SECRET_KEY, IVMWEB_ENCRYPTION_KEYS, ALLOWED_HOSTS, DATABASE_URL (PostgreSQL) and REDIS_URL; anything malformed
stops start-up with a clear message.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from ivmweb.env import env_bool, env_int, env_list, env_str
from mobility.observability.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("IVMWEB_DATA_DIR", str(BASE_DIR / "data")))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production-8c1f"
elif len(SECRET_KEY) < 50 and not DEBUG:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long in production.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list this site's host names when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])


def _encryption_keys() -> list[str]:
    """Fernet keys for secrets at rest: the first encrypts, all decrypt (rotation).

    Never derived from SECRET_KEY. In development a key is generated once into the data folder.
    """
    keys = env_list("IVMWEB_ENCRYPTION_KEYS", [])
    if not keys:
        if not DEBUG:
            raise ImproperlyConfigured(
                "IVMWEB_ENCRYPTION_KEYS must be set when DEBUG is off "
                '(generate one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())").'
            )
        key_file = DATA_DIR / "dev-encryption.key"
        if not key_file.exists():
            DATA_DIR.mkdir(parents=True, exist_ok=True)
            key_file.write_text(Fernet.generate_key().decode())
            key_file.chmod(0o600)
        keys = [key_file.read_text().strip()]
    for index, key in enumerate(keys):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"IVMWEB_ENCRYPTION_KEYS item {index + 1} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from None
    return keys


IVMWEB_ENCRYPTION_KEYS = _encryption_keys()

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "mobility",
]

MIDDLEWARE = [
    "mobility.observability.logs.request_id_middleware",  # X-Request-ID (from nginx, or new) in every log line
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "mobility.request_input.readable_input",  # zero server errors: a non-UTF-8 body or a NUL is a 400
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "ivmweb.urls"
ASGI_APPLICATION = "ivmweb.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mobility.context_processors.navigation",
            ],
        },
    },
]


def _database() -> dict:
    url = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'ivmweb.sqlite3'}"
    try:
        config = dj_database_url.parse(url)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not understood: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        config["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
        # A file, not memory: the browser tests' live server runs in another process.
        config["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
    elif engine != "django.db.backends.postgresql":
        raise ImproperlyConfigured(f"DATABASE_URL must be postgres:// or sqlite://, not {url.split(':', 1)[0]}://.")
    else:
        # A pool per process (psycopg_pool): the engine's threads give their connection back while they wait on an
        # IVM, and take one again without a new PostgreSQL backend each time; max_size bounds what one process
        # holds (processes x max_size must stay under the server's max_connections). 0 turns it off.
        size = env_int("DATABASE_POOL_MAX_SIZE", 10, minimum=0)
        if size:
            config["OPTIONS"] = {**config.get("OPTIONS", {}), "pool": {"min_size": min(2, size), "max_size": size,
                                                                       "timeout": 30}}
    return config


DATABASES = {"default": _database()}
DATABASE_VENDOR = "postgresql" if DATABASES["default"]["ENGINE"].endswith("postgresql") else "sqlite"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _channel_layers() -> dict:
    redis_url = env_str("REDIS_URL")
    if not redis_url:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://, not {redis_url!r}.")
    # socket_timeout: redis-py 8 reads with a 5 s timeout by default, exactly channels-redis's BZPOPMIN block
    # (brpop_timeout = 5): after 5 quiet seconds the read timed out first, receive() raised TimeoutError and the
    # socket holding the receive lock died (closed 1011, still in its groups). Reads must outlast the block.
    # group_expiry: a crashed process's channels leave the groups within 10 minutes; live sockets re-join
    # every minute (LiveConsumer's watch), so a tab open for days is never silently dropped from its group.
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": redis_url, "max_connections": 1000, "socket_timeout": 30,
                           "socket_connect_timeout": 5}],
                "capacity": 1000,
                "expiry": 30,
                "group_expiry": 600,
                "prefix": env_str("IVMWEB_CHANNEL_PREFIX", "ivmweb"),
            },
        }
    }


CHANNEL_LAYERS = _channel_layers()
CHANNEL_LAYER_NAME = "redis" if CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis") else "in-memory"
# ``make run``: the engine's threads in the web process (mobility/engine/embedded.py), so that its pushes reach the
# sockets of the in-memory layer. With Redis the workers are processes of their own (``manage.py run_engine``).
IVMWEB_ENGINE_IN_WEB = env_bool("IVMWEB_ENGINE_IN_WEB", False)
if IVMWEB_ENGINE_IN_WEB and CHANNEL_LAYER_NAME == "redis":
    raise ImproperlyConfigured("IVMWEB_ENGINE_IN_WEB is for the in-memory channel layer only; with REDIS_URL run "
                               "the engine as `manage.py run_engine` workers.")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in throttling (django-axes, issue 17): IVMWEB_SIGNIN_FAILURE_LIMIT failed sign-ins for one user name, or
# from one client address, lock that name or address for IVMWEB_SIGNIN_LOCKOUT_MIN minutes (a try while locked
# starts the period again); the lockout page says so, the audit trail records auth.locked_out, and an admin lifts
# it sooner (admin "Access attempts", or `manage.py axes_reset`). Failures are rows in the database (axes' handler).
# The client address is REMOTE_ADDR: behind a proxy, have the proxy set it (daphne --proxy-headers).
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last, as axes requires: it turns a lockout into that page
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("IVMWEB_SIGNIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("IVMWEB_SIGNIN_LOCKOUT_MIN", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: per account and per address
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are in the audit trail already
AXES_USERNAME_CALLABLE = "mobility.governance.signals.signin_username"  # cut to 150 characters (no 500)
# Idle sessions end after IVMWEB_SESSION_IDLE_H hours: every request moves the expiry on.
SESSION_COOKIE_AGE = env_int("IVMWEB_SESSION_IDLE_H", 8, minimum=1) * 3600
SESSION_SAVE_EVERY_REQUEST = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "mobility:inventory"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# Mail goes to the console in development; production defaults to SMTP (EMAIL_HOST, EMAIL_PORT, ...).
_MAIL_BACKEND = env_str("EMAIL_BACKEND") or (
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend"
)
_MAIL_OPTIONS = {}
if _MAIL_BACKEND.endswith("smtp.EmailBackend"):
    _MAIL_OPTIONS = {"host": env_str("EMAIL_HOST", "localhost"), "port": env_int("EMAIL_PORT", 25, minimum=1),
                     "use_tls": env_bool("EMAIL_USE_TLS", False)}
MAILERS = {"default": {"BACKEND": _MAIL_BACKEND, "OPTIONS": _MAIL_OPTIONS}}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ivmweb@localhost")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

# Security headers; with DEBUG off every `check --deploy` item is satisfied. Behind a TLS proxy,
# set SECURE_PROXY_SSL_HEADER_NAME (e.g. HTTP_X_FORWARDED_PROTO).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy (issue 17): our pages run only our own static scripts and styles, never inline code nor
# eval (htmx is configured not to eval, in base.html). 'self' in connect-src covers the live websocket (ws/wss to
# this host, CSP level 3). The nonce is only for the Django admin's few inline <style>/<script> tags: it appears
# in the header only on responses whose template asked for it. Violations are reported to mobility's csp_report.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "report-uri": "/csp-report/",
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    proxy_header = env_str("SECURE_PROXY_SSL_HEADER_NAME")
    if proxy_header:
        SECURE_PROXY_SSL_HEADER = (proxy_header, "https")
# Probes and scrapes reach a web process directly over plain HTTP (its own port): answered, not redirected to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# ivmweb's own knobs.
IVMWEB_SYNC_INTERVAL_S = env_int("IVMWEB_SYNC_INTERVAL_S", 300, minimum=10)
IVMWEB_SYNC_WORKERS = env_int("IVMWEB_SYNC_WORKERS", 8, minimum=1, maximum=64)
IVMWEB_APPROVAL_TTL_H = env_int("IVMWEB_APPROVAL_TTL_H", 72, minimum=1)
IVMWEB_WORKER_CHANNEL = "ivmweb-engine"
# The live websocket (mobility/live/frames.py): a browser frame over this size (bytes) is closed with 1009, one
# nested deeper than this (JSON arrays/objects) with 1008. Its Origin is checked against CSRF_TRUSTED_ORIGINS.
IVMWEB_WS_MAX_FRAME_BYTES = env_int("IVMWEB_WS_MAX_FRAME_BYTES", 65536, minimum=1024, maximum=1048576)
IVMWEB_WS_MAX_DEPTH = env_int("IVMWEB_WS_MAX_DEPTH", 20, minimum=2, maximum=200)
# The migration engine (mobility/engine): lease, poll, stuck and timeout policy.
IVMWEB_ENGINE_LEASE_S = env_int("IVMWEB_ENGINE_LEASE_S", 30, minimum=2)
IVMWEB_ENGINE_POLL_S = env_int("IVMWEB_ENGINE_POLL_S", 1, minimum=1, maximum=60)
IVMWEB_ENGINE_STUCK_S = env_int("IVMWEB_ENGINE_STUCK_S", 300, minimum=10)
IVMWEB_ENGINE_TIMEOUT_S_PER_GIB = env_int("IVMWEB_ENGINE_TIMEOUT_S_PER_GIB", 900, minimum=60)
IVMWEB_ENGINE_TIMEOUT_MIN_S = env_int("IVMWEB_ENGINE_TIMEOUT_MIN_S", 900, minimum=60)
IVMWEB_ENGINE_TIMEOUT_POLICY = env_str("IVMWEB_ENGINE_TIMEOUT_POLICY", "stop")
if IVMWEB_ENGINE_TIMEOUT_POLICY not in ("stop", "flag"):
    raise ImproperlyConfigured("IVMWEB_ENGINE_TIMEOUT_POLICY must be 'stop' or 'flag'.")
IVMWEB_ENGINE_SHUTDOWN_TIMEOUT_S = env_int("IVMWEB_ENGINE_SHUTDOWN_TIMEOUT_S", 120, minimum=10)
IVMWEB_ENGINE_THREADS = env_int("IVMWEB_ENGINE_THREADS", 16, minimum=1, maximum=64)
IVMWEB_ENGINE_BUSY = env_int("IVMWEB_ENGINE_BUSY", 2, minimum=1, maximum=64)
IVMWEB_ENGINE_NICE = env_int("IVMWEB_ENGINE_NICE", 10, minimum=0, maximum=19)
# IVM jobs (connection tests, host-key scans, syncs, validations asked from a page): how many one worker runs at
# once, and how long one may take before its page says it timed out.
IVMWEB_ENGINE_JOB_THREADS = env_int("IVMWEB_ENGINE_JOB_THREADS", 8, minimum=1, maximum=64)
IVMWEB_JOB_TIMEOUT_S = env_int("IVMWEB_JOB_TIMEOUT_S", 60, minimum=1, maximum=3600)

# The audit trail's anchor outside the database (mobility/governance/checkpoints.py): the HMAC-SHA256 key that signs
# checkpoints (never stored in the database; required when DEBUG is off, generated once into the data folder in
# development), the append-only file they are written to, how often the engine workers write one, and how far an
# event's time may lie behind the latest sealed one before sealing refuses it as back-dated (see audit.seal).
def _audit_checkpoint_key() -> str:
    key = env_str("IVMWEB_AUDIT_CHECKPOINT_KEY")
    if key:
        if len(key) < 32 and not DEBUG:
            raise ImproperlyConfigured("IVMWEB_AUDIT_CHECKPOINT_KEY must be at least 32 characters long.")
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "IVMWEB_AUDIT_CHECKPOINT_KEY must be set when DEBUG is off "
            '(generate one with: python -c "import secrets; print(secrets.token_hex(32))").')
    key_file = DATA_DIR / "dev-audit-checkpoint.key"
    if not key_file.exists():
        import secrets

        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


IVMWEB_AUDIT_CHECKPOINT_KEY = _audit_checkpoint_key()
IVMWEB_AUDIT_CHECKPOINT_FILE = Path(env_str("IVMWEB_AUDIT_CHECKPOINT_FILE", str(DATA_DIR / "audit-checkpoints.jsonl")))
IVMWEB_AUDIT_CHECKPOINT_INTERVAL_S = env_int("IVMWEB_AUDIT_CHECKPOINT_INTERVAL_S", 3600, minimum=30)
IVMWEB_AUDIT_CLOCK_TOLERANCE_S = env_int("IVMWEB_AUDIT_CLOCK_TOLERANCE_S", 300, minimum=1)

# Metrics (mobility.observability): /metrics answers only these networks (loopback unless set; behind nginx, the
# address nginx passes), and only with "Authorization: Bearer <token>" when IVMWEB_METRICS_TOKEN is set.
def _networks(items: list[str]) -> list:
    import ipaddress

    try:
        return [ipaddress.ip_network(item, strict=False) for item in items]
    except ValueError as exc:
        raise ImproperlyConfigured(f"IVMWEB_METRICS_ALLOWED_NETS: {exc}") from None


IVMWEB_METRICS_ALLOWED_NETS = _networks(env_list("IVMWEB_METRICS_ALLOWED_NETS", ["127.0.0.0/8", "::1/128"]))
IVMWEB_METRICS_TOKEN = env_str("IVMWEB_METRICS_TOKEN")
if IVMWEB_METRICS_TOKEN and len(IVMWEB_METRICS_TOKEN) < 32 and not DEBUG:
    raise ImproperlyConfigured("IVMWEB_METRICS_TOKEN must be at least 32 characters long.")

# Logs: one line per event, plain or JSON (IVMWEB_LOG_FORMAT), with the request id and migration id they are about.
IVMWEB_LOG_FORMAT = env_str("IVMWEB_LOG_FORMAT", "plain")
if IVMWEB_LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("IVMWEB_LOG_FORMAT must be 'plain' or 'json'.")
LOGGING = logging_config(IVMWEB_LOG_FORMAT, env_str("IVMWEB_LOG_LEVEL", "INFO"))

# The REST API (mobility/api, issue 20): Django REST framework, its OpenAPI 3.1 schema generated by drf-spectacular.
# Personal API tokens (Authorization: Bearer …) for scripts, the session (with CSRF) for the browser. Each token (or
# signed-in person) may make IVMWEB_API_RATE requests (DRF's "N/second|minute|hour|day"); the counts live in the
# default cache, which is per process unless CACHES points at a shared one (Redis) — set it when several daphne
# processes serve the API.
INSTALLED_APPS += ["rest_framework", "drf_spectacular"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["mobility.api.authentication.BearerTokenAuthentication",
                                       "rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["mobility.api.permissions.SignedInWithScope"],
    "DEFAULT_THROTTLE_CLASSES": ["mobility.api.throttles.PerTokenThrottle"],
    "DEFAULT_PAGINATION_CLASS": "mobility.api.pagination.Pages",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["mobility.api.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mobility.api.problems.exception_handler",
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": False,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ivmweb API",
    "DESCRIPTION": "Partition mobility on IVM: inventory, plans, approvals, migrations, history and the audit trail. "
                   "The same access policy and lifecycle as the pages.",
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"MigrationStatusEnum": "mobility.choices.MigrationStatus",
                            "BatchStatusEnum": "mobility.models.BatchStatus",
                            "BatchKindEnum": "mobility.api.serializers.BATCH_KINDS",
                            "VoteDecisionEnum": "mobility.api.serializers.DECISIONS",
                            "VoteInputDecisionEnum": "mobility.api.serializers.VOTE_CHOICES"},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "mobility.api.schema.problem_media_type", "mobility.api.schema.database_neutral"],
}
IVMWEB_API_RATE = env_str("IVMWEB_API_RATE", "1200/minute")
IVMWEB_API_TOKEN_MAX_DAYS = env_int("IVMWEB_API_TOKEN_MAX_DAYS", 365, minimum=1)
