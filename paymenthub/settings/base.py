"""Base settings: everything is read from the environment (see config/.env.example).

With no DATABASE_URL / REDIS_URL set, the URLs that the embedded-services tooling
(``python -m paymenthub.cli``) wrote to ``var/services.env`` are used, so a bare machine
runs on its own PostgreSQL (pgserver) and Redis. SQLite is never used.
"""

from __future__ import annotations

import os
from datetime import timedelta

from celery.schedules import crontab
from kombu import Queue

from paymenthub.settings import env
from paymenthub.settings.env import BASE_DIR, VAR_DIR

_embedded = env.read_embedded_services_file()


def _service_url(name: str) -> str:
    value = os.environ.get(name) or _embedded.get(name)
    if not value:
        raise env.EnvironmentConfigError(
            variable=name,
            problem="is required but not set (set it, or start embedded services with "
            "`python -m paymenthub.cli services start`)",
        )
    return value


DEV_SECRET_KEY = "django-insecure-paymenthub-development-only-key-change-me"  # noqa: S105

SECRET_KEY = env.get_str("SECRET_KEY", default=DEV_SECRET_KEY)
DEBUG = env.get_bool("DEBUG", default=False)
ALLOWED_HOSTS = env.get_list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.get_list("CSRF_TRUSTED_ORIGINS", default=[])
PAYMENTHUB_ENVIRONMENT = env.get_str("PAYMENTHUB_ENVIRONMENT", default="development")
PUBLIC_BASE_URL = env.get_str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

DATABASE_URL = _service_url("DATABASE_URL")
REDIS_URL = env.check_redis_url(name="REDIS_URL", value=_service_url("REDIS_URL"))
CELERY_BROKER_URL = env.check_broker_url(
    name="CELERY_BROKER_URL",
    value=os.environ.get("CELERY_BROKER_URL") or env.redis_url_to_broker_url(url=REDIS_URL),
)

DATABASES = {
    "default": env.parse_database_url(
        name="DATABASE_URL",
        value=DATABASE_URL,
        prepared_statements=env.get_bool("DATABASE_PREPARED_STATEMENTS", default=True),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "apps.common",
    "apps.merchants",
    "apps.tokenization",
    "apps.ledger",
    "apps.risk",
    "apps.openbanking",
    "apps.payments",
    "apps.checkout",
    "apps.backoffice",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "apps.common.request_context.RequestIdMiddleware",
    # /v1/ only: one row per request made with a merchant's key (the portal's request log).
    "apps.common.api.request_log.ApiRequestLogMiddleware",
    # /v1/ only: PaymentHub-Version read (and named on every response, 429s included), the
    # per-key rate limits (429), then an unknown PaymentHub-Version refused (400): counted too.
    "apps.common.api.versioning.ApiVersionMiddleware",
    "apps.common.api.throttling.ApiRateLimitMiddleware",
    "apps.common.api.versioning.ApiVersionRefusalMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "apps.merchants.identity.middleware.IdleTimeoutMiddleware",
    "apps.merchants.identity.middleware.TwoFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: lockout after repeated failed logins.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "paymenthub.urls"
WSGI_APPLICATION = "paymenthub.wsgi.application"
ASGI_APPLICATION = "paymenthub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("it", "Italiano")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Static files are served by the web process itself (WhiteNoise), compressed and cached.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        "KEY_PREFIX": "ph",
    }
}

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # drf-spectacular's AutoSchema plus the shared headers and the error envelope on every
    # operation (apps/common/api/schema.py).
    "DEFAULT_SCHEMA_CLASS": "apps.common.api.schema.PaymentHubAutoSchema",
    "EXCEPTION_HANDLER": "apps.common.api.exceptions.handle_api_exception",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "apps.common.api.parsers.JSONParser",  # DRF's, deep nesting a 400 not a 500
        "rest_framework.parsers.FormParser",
    ],
    # Integrators authenticate with `Authorization: Bearer sk_...` (apps.merchants API keys).
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.merchants.api.authentication.SecretKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {"anon": "100/second"},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "PaymentHub API",
    "DESCRIPTION": "Accept card and bank payments, keep an exact ledger, and pay merchants out.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and ReDoc served from our own static files: no third-party CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The schema and docs pages are public: no key is read, so a stray Authorization header
    # cannot turn them into a 401.
    "SERVE_AUTHENTICATION": [],
    "ENUM_NAME_OVERRIDES": {
        "ErrorTypeEnum": "apps.common.api.schema.ERROR_TYPES",
        "CapabilityStatusEnum": ["active", "inactive"],
    },
}

# --- Celery ---------------------------------------------------------------------------------
CELERY_QUEUES = (
    "default",
    "payments",
    "settlement",
    "risk",
    "reconciliation",
    "webhooks",
    "openbanking",
    "alerts",
)
CELERY_TASK_QUEUES = tuple(Queue(name) for name in CELERY_QUEUES)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Tasks are named "<area>.<verb_object>"; the area picks the queue.
CELERY_TASK_ROUTES = {
    "common.*": {"queue": "default"},
    "merchants.*": {"queue": "default"},
    "payments.*": {"queue": "payments"},
    "checkout.*": {"queue": "payments"},
    "tokenization.*": {"queue": "payments"},
    "settlement.*": {"queue": "settlement"},
    "ledger.*": {"queue": "settlement"},
    "risk.*": {"queue": "risk"},
    "reconciliation.*": {"queue": "reconciliation"},
    "webhooks.*": {"queue": "webhooks"},
    "openbanking.*": {"queue": "openbanking"},
    "alerts.*": {"queue": "alerts"},
    "backoffice.*": {"queue": "alerts"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.get_int("CELERY_TASK_TIME_LIMIT", default=300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env.get_int("CELERY_TASK_SOFT_TIME_LIMIT", default=240, minimum=1)
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers a task not acknowledged within this time (tasks must be idempotent); idle
# workers look for such tasks every interval x throttle seconds (kombu's defaults: 10 x 10).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.get_int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=3600, minimum=1),
    "unacked_restore_interval": env.get_int(
        "CELERY_UNACKED_RESTORE_INTERVAL_SECONDS", default=10, minimum=1
    ),
    "unacked_restore_throttle": env.get_int(
        "CELERY_UNACKED_RESTORE_THROTTLE", default=10, minimum=1
    ),
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "relay-outbox": {
        "task": "common.relay_outbox",
        "schedule": timedelta(
            seconds=env.get_int("OUTBOX_RELAY_INTERVAL_SECONDS", default=2, minimum=1)
        ),
        "options": {"queue": "default", "expires": 10},
    },
    "prune-idempotency-keys": {
        "task": "common.prune_idempotency_keys",
        "schedule": timedelta(hours=1),
        "options": {"queue": "default", "expires": 600},
    },
    # cards tokenized and never used or saved: crypto-shredded once their token expired
    "shred-expired-tokens": {
        "task": "tokenization.shred_expired_tokens",
        "schedule": timedelta(minutes=15),
        "options": {"queue": "payments", "expires": 600},
    },
    "prune-api-request-log": {
        "task": "common.prune_api_request_log",
        "schedule": timedelta(hours=1),
        "options": {"queue": "default", "expires": 600},
    },
    # portal CSV exports past their week: the files go (the rows stay, the download is a 410)
    "delete-expired-report-files": {
        "task": "backoffice.delete_expired_report_files",
        "schedule": timedelta(hours=6),
        "options": {"queue": "alerts", "expires": 3600},
    },
    # four-eyes proposals past their expiry are marked expired (deciding them is refused anyway)
    "expire-stale-approvals": {
        "task": "backoffice.expire_stale_approvals",
        "schedule": timedelta(hours=1),
        "options": {"queue": "alerts", "expires": 3000},
    },
    "resolve-unknown-payment-attempts": {
        "task": "payments.resolve_unknown_attempts",
        "schedule": timedelta(seconds=30),
        "options": {"queue": "payments", "expires": 25},
    },
    # what processors report later: pending refunds' outcomes, disputes opened and decided
    "sync-processor-notifications": {
        "task": "payments.sync_processor_notifications",
        "schedule": timedelta(seconds=60),
        "options": {"queue": "payments", "expires": 55},
    },
    # pay by bank: payments pulls its bank payments' and bank refunds' outcomes (a fallback
    # to the outbox handler; apps/payments/bank_payments.py)
    "sync-bank-payment-outcomes": {
        "task": "payments.sync_bank_payments",
        "schedule": timedelta(seconds=30),
        "options": {"queue": "payments", "expires": 25},
    },
    "retry-due-webhooks": {
        "task": "payments.retry_due_webhooks",
        "schedule": timedelta(seconds=30),
        "options": {"queue": "webhooks", "expires": 25},
    },
    # pay by bank: follow pending bank payments, resolve unknown ones (same idempotency key)
    "sync-bank-payments": {
        "task": "openbanking.sync_bank_payments",
        "schedule": timedelta(seconds=30),
        "options": {"queue": "openbanking", "expires": 25},
    },
    "expire-overdue-checkout-sessions": {
        "task": "checkout.expire_overdue_sessions",
        "schedule": timedelta(minutes=1),
        "options": {"queue": "default", "expires": 55},
    },
    # once a day: captures whose funds are available move from pending to available
    # (apps.ledger.settlement; idempotent, safe to run again or twice at once)
    "settle-funds": {
        "task": "ledger.settle_funds",
        "schedule": crontab(
            hour=env.get_int("SETTLEMENT_HOUR_UTC", default=1, minimum=0), minute=0
        ),
        "options": {"queue": "settlement", "expires": 6 * 3600},
    },
    # once a day: import the processors' settlement reports and match them against the ledger
    "reconcile-processor-reports": {
        "task": "reconciliation.reconcile_recent_days",
        "schedule": crontab(
            hour=env.get_int("RECONCILIATION_HOUR_UTC", default=4, minimum=0), minute=15
        ),
        "options": {"queue": "reconciliation", "expires": 6 * 3600},
    },
}

# --- Payments (apps.payments) -----------------------------------------------------------------
# Connectors: test mode uses the built-in simulator unless a routing rule says otherwise;
# live mode uses these, in order, failing over while one is unreachable.
PAYMENTS_TEST_CONNECTORS = env.get_list("PAYMENTS_TEST_CONNECTORS", default=["simulator"])
PAYMENTS_LIVE_CONNECTORS = env.get_list("PAYMENTS_LIVE_CONNECTORS", default=["stripe"])
# Stripe keys per mode: test-mode payments use the test key, live ones the live key, never
# the other's (apps.payments.connectors.registry.get_stripe_api_key). STRIPE_API_KEY is the
# older single setting: it serves the mode its prefix names (sk_live_/rk_live_: live; any
# other key: test).
STRIPE_TEST_API_KEY = env.get_str("STRIPE_TEST_API_KEY", default="")
STRIPE_LIVE_API_KEY = env.get_str("STRIPE_LIVE_API_KEY", default="")
STRIPE_API_KEY = env.get_str("STRIPE_API_KEY", default="")
STRIPE_API_BASE = env.get_str("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_TIMEOUT_SECONDS = env.get_int("STRIPE_TIMEOUT_SECONDS", default=20, minimum=1)
# Circuit breaker per connector: opens after this many consecutive unavailability failures.
CIRCUIT_FAILURE_THRESHOLD = env.get_int("CIRCUIT_FAILURE_THRESHOLD", default=5, minimum=1)
CIRCUIT_OPEN_SECONDS = env.get_int("CIRCUIT_OPEN_SECONDS", default=30, minimum=1)
# The janitor asks the processor about an unknown outcome after this grace period.
PAYMENTS_UNKNOWN_GRACE_SECONDS = env.get_int(
    "PAYMENTS_UNKNOWN_GRACE_SECONDS", default=30, minimum=1
)
# ... and about an attempt still "reserved" after this long (its process died between the
# call and the record): longer than any call can take (timeouts x retries).
PAYMENTS_STALE_RESERVATION_SECONDS = env.get_int(
    "PAYMENTS_STALE_RESERVATION_SECONDS", default=120, minimum=10
)
WEBHOOK_TIMEOUT_SECONDS = env.get_int("WEBHOOK_TIMEOUT_SECONDS", default=10, minimum=1)
# A due delivery handed to the queue is not handed again by the retry job for this long (its
# task is waiting behind others); only a task lost with the broker waits the whole time.
WEBHOOK_REQUEUE_AFTER_SECONDS = env.get_int("WEBHOOK_REQUEUE_AFTER_SECONDS", default=120, minimum=1)
# Webhooks may go to private, loopback or link-local addresses (localhost receivers in tests,
# benchmarks and local development only: off, a merchant URL cannot reach the internal network).
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.get_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)
# What a merchant pays for a lost dispute, in minor units per currency ("*": any other).
PAYMENTS_DISPUTE_FEE_MINOR = {
    "*": env.get_int("PAYMENTS_DISPUTE_FEE_MINOR", default=1500, minimum=0)
}
# Reconciliation (apps.payments.reconciliation): the connectors whose settlement reports the
# daily job imports and matches, and how many days back it looks (a late report or a late
# ledger entry clears the earlier days' breaks).
RECONCILIATION_CONNECTORS = env.get_list("RECONCILIATION_CONNECTORS", default=["simulator"])
RECONCILIATION_LOOKBACK_DAYS = env.get_int("RECONCILIATION_LOOKBACK_DAYS", default=3, minimum=1)

# Idempotency-Key: completed keys are kept at least this long (never less than 24 h); an
# in-progress claim whose request died may be taken over after IDEMPOTENCY_LOCK_SECONDS.
IDEMPOTENCY_KEY_TTL_HOURS = env.get_int("IDEMPOTENCY_KEY_TTL_HOURS", default=24, minimum=24)
# The portal's API request log keeps this many days (apps/common/api/request_log.py).
API_REQUEST_LOG_RETENTION_DAYS = env.get_int(
    "API_REQUEST_LOG_RETENTION_DAYS", default=30, minimum=1
)
IDEMPOTENCY_LOCK_SECONDS = env.get_int("IDEMPOTENCY_LOCK_SECONDS", default=60, minimum=5)

# --- API rate limits and versions (apps.common.api.throttling / versioning) ----------------
# Budgets per API key, per period: live/test mode x reads (GET, HEAD)/writes, like the big
# processors; requests with no valid key are limited per client IP. GCRA in Redis, shared by
# every worker; when Redis is unreachable requests go through (fail open) and Redis is retried
# every API_RATE_LIMIT_REDIS_RETRY_SECONDS. See docs/api/rate-limits.md.
API_RATE_LIMIT_ENABLED = env.get_bool("API_RATE_LIMIT_ENABLED", default=True)
API_RATE_LIMIT_PERIOD_SECONDS = env.get_int("API_RATE_LIMIT_PERIOD_SECONDS", default=1, minimum=1)
API_RATE_LIMITS = {
    "live_read": env.get_int("API_RATE_LIMIT_LIVE_READ", default=100, minimum=1),
    "live_write": env.get_int("API_RATE_LIMIT_LIVE_WRITE", default=100, minimum=1),
    "test_read": env.get_int("API_RATE_LIMIT_TEST_READ", default=25, minimum=1),
    "test_write": env.get_int("API_RATE_LIMIT_TEST_WRITE", default=25, minimum=1),
    "unauthenticated": env.get_int("API_RATE_LIMIT_UNAUTHENTICATED", default=25, minimum=1),
}
API_RATE_LIMIT_REDIS_URL = env.check_redis_url(
    name="API_RATE_LIMIT_REDIS_URL",
    value=env.get_str("API_RATE_LIMIT_REDIS_URL", default=REDIS_URL),
)
API_RATE_LIMIT_KEY_PREFIX = "ph:ratelimit"
API_RATE_LIMIT_REDIS_TIMEOUT_MS = env.get_int(
    "API_RATE_LIMIT_REDIS_TIMEOUT_MS", default=100, minimum=1
)
API_RATE_LIMIT_REDIS_RETRY_SECONDS = env.get_int(
    "API_RATE_LIMIT_REDIS_RETRY_SECONDS", default=1, minimum=1
)

# Outbox relay tuning.
OUTBOX_BATCH_SIZE = env.get_int("OUTBOX_BATCH_SIZE", default=200, minimum=1)
OUTBOX_MAX_ATTEMPTS = env.get_int("OUTBOX_MAX_ATTEMPTS", default=25, minimum=1)

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.get_str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.get_str("LOG_FORMAT", default="json")
if LOG_FORMAT not in {"json", "text"}:
    raise env.EnvironmentConfigError(variable="LOG_FORMAT", problem="must be 'json' or 'text'")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "apps.common.logging.RequestIdFilter"},
        "mask_card_numbers": {"()": "apps.common.logging.CardNumberMaskingFilter"},
    },
    "formatters": {
        "json": {
            "()": "apps.common.logging.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
        },
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "mask_card_numbers"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": LOG_LEVEL},
    },
}

# --- Identity: portal and admin login (apps.merchants) ------------------------------------
# (keep login, 2FA, lockout and session settings inside this block)
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=30)
# Locked by username only, deliberately without "ip_address": behind the reverse proxy every
# request may carry the proxy's address (no trusted AXES_CLIENT_IP_CALLABLE yet), and merchant
# teams share office NAT addresses, so an IP lockout would let one attacker lock out every
# user behind that address. Per-IP throttling of the login URLs belongs at the edge proxy.
# axes.W006 warns about user-agent/cookie-only parameters, which this is not: silenced below.
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
# Failures while locked out extend the lockout.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
AXES_HTTP_RESPONSE_CODE = 429
# Renders the lockout page (portal and admin login alike) and audits auth.locked_out.
AXES_LOCKOUT_CALLABLE = "apps.merchants.identity.views.render_lockout"
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

LOGIN_URL = "/portal/login/"
LOGIN_REDIRECT_URL = "/portal/"
LOGOUT_REDIRECT_URL = "/portal/login/"
# Absolute session lifetime; the idle timeout below ends quieter sessions much earlier.
SESSION_COOKIE_AGE = env.get_int("SESSION_COOKIE_AGE", default=8 * 3600, minimum=900)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# SESSION_COOKIE_HTTPONLY and SameSite=Lax for both cookies are set above (Strict would drop
# the session on every link into the portal from an e-mail).
# Secure by default (browsers accept Secure cookies from http://localhost and 127.0.0.1);
# set SESSION_COOKIE_SECURE=false only for a development server reached over plain HTTP.
SESSION_COOKIE_SECURE = env.get_bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
OTP_TOTP_ISSUER = "PaymentHub"
# Seconds between attempts double after each failed code (1, 2, 4, ...) per device.
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
IDLE_TIMEOUT_SECONDS = env.get_int("IDLE_TIMEOUT_SECONDS", default=900, minimum=60)
if IDLE_TIMEOUT_SECONDS > 900:
    raise env.EnvironmentConfigError(
        variable="IDLE_TIMEOUT_SECONDS", problem="must be at most 900 (15 idle minutes)"
    )
STEP_UP_MAX_AGE_SECONDS = 300
BACKUP_CODE_COUNT = 10
# Paths whose views never use the browser session (API keys, probes, metrics): a half
# signed-in session (password only) is not redirected to the second-factor step there.
IDENTITY_SESSIONLESS_PATH_PREFIXES = ["/v1/", "/healthz", "/readyz", "/metrics", "/static/"]
EMAIL_BACKEND = env.get_str(
    "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
# Merchant onboarding (apps.merchants): emails' sender, and KYB documents. Documents are stored
# under MEDIA_ROOT, which no URL serves (staff download them through an audited admin view).
DEFAULT_FROM_EMAIL = env.get_str("DEFAULT_FROM_EMAIL", default="PaymentHub <no-reply@localhost>")
KYB_DOCUMENT_MAX_BYTES = env.get_int(
    "KYB_DOCUMENT_MAX_BYTES", default=10 * 1024 * 1024, minimum=1024
)
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# --- Card vault (apps.tokenization) --------------------------------------------------------
# (owned by the tokenization app; keep vault settings inside this block)
from pathlib import Path  # noqa: E402

# Key material never lives here: the key provider reads it from a keyring file (0600, made by
# `python manage.py init_vault_keyring`) or from the environment variable named below.
VAULT_KEY_PROVIDER = env.get_str(
    "VAULT_KEY_PROVIDER", default="apps.tokenization.keys.local.LocalKeyProvider"
)
VAULT_LOCAL_KEYRING_FILE = Path(
    env.get_str("VAULT_LOCAL_KEYRING_FILE", default=str(VAR_DIR / "vault" / "keyring.json"))
)
# Name of the environment variable that may hold the whole keyring (JSON); when it is set, the
# file is not read and the keyring is read-only (rotation must create versions elsewhere).
VAULT_KEYRING_ENV_VAR = "PAYMENTHUB_VAULT_KEYRING"
# Test settings only: create the keyring file on first use.
VAULT_LOCAL_KEYRING_AUTOCREATE = False
VAULT_CVC_TTL_SECONDS = env.get_int("VAULT_CVC_TTL_SECONDS", default=600, minimum=1)
if VAULT_CVC_TTL_SECONDS > 600:
    raise env.EnvironmentConfigError(
        variable="VAULT_CVC_TTL_SECONDS", problem="must be at most 600 (a CVC lives 10 minutes)"
    )
VAULT_TOKEN_TTL_SECONDS = env.get_int("VAULT_TOKEN_TTL_SECONDS", default=1800, minimum=60)
VAULT_ROTATION_BATCH_SIZE = env.get_int("VAULT_ROTATION_BATCH_SIZE", default=500, minimum=1)
# CVCs live in Redis under this cache alias (the default cache's Redis unless overridden).
CACHES["vault"] = dict(CACHES["default"])
VAULT_CVC_CACHE_ALIAS = "vault"
VAULT_CVC_KEY_PREFIX = "ph:vault:cvc:"
# The platform's hosted checkout: always allowed to call POST /v1/tokens from a browser (CORS),
# besides the origins each merchant registers (apps.tokenization AllowedOrigin).
CHECKOUT_ORIGIN = env.get_str("CHECKOUT_ORIGIN", default="http://127.0.0.1:8000").rstrip("/")
# Django's error reports (500 pages in DEBUG, AdminEmailHandler mails) go through a filter
# that hides card fields and masks card-number-like values anywhere in POST data and frames.
DEFAULT_EXCEPTION_REPORTER_FILTER = (
    "apps.tokenization.reporting.CardScrubbingExceptionReporterFilter"
)
DEFAULT_EXCEPTION_REPORTER = "apps.tokenization.reporting.CardScrubbingExceptionReporter"

# --- Sanctions screening (apps.risk.sanctions) ---------------------------------------------
# Where `manage.py load_sanctions` reads the OFAC SDN list (sdn.csv + alt.csv, or the shared
# snapshot's ofac-sdn.csv + ofac-alt.csv) when no --path is given. A missing directory is not
# an error at startup: screening reports "not_screened" until a list is loaded.
SANCTIONS_DATA_DIR = Path(
    env.get_str(
        "SANCTIONS_DATA_DIR", default=str(BASE_DIR.parent / "shared" / "data" / "sanctions")
    )
)
# A name scoring at least this (0-100) against a listed name or alias is a potential match.
SANCTIONS_MATCH_THRESHOLD = env.get_int("SANCTIONS_MATCH_THRESHOLD", default=85, minimum=50)
if SANCTIONS_MATCH_THRESHOLD > 100:
    raise env.EnvironmentConfigError(
        variable="SANCTIONS_MATCH_THRESHOLD", problem="must be at most 100 (a score is 0-100)"
    )

# --- Risk engine (apps.risk) -------------------------------------------------------------------
# A score (0-100) at or above RISK_REVIEW_THRESHOLD holds the payment for manual review, at or
# above RISK_BLOCK_THRESHOLD blocks it, when no rule decided first (docs/runbooks/risk.md).
RISK_REVIEW_THRESHOLD = env.get_int("RISK_REVIEW_THRESHOLD", default=75, minimum=1)
RISK_BLOCK_THRESHOLD = env.get_int("RISK_BLOCK_THRESHOLD", default=90, minimum=1)
if not RISK_REVIEW_THRESHOLD < RISK_BLOCK_THRESHOLD <= 100:
    raise env.EnvironmentConfigError(
        variable="RISK_BLOCK_THRESHOLD",
        problem="must be above RISK_REVIEW_THRESHOLD and at most 100",
    )
# Compliance officers e-mailed on alerts (besides active staff in the "Compliance officers"
# group). AML thresholds: RISK_AML overrides apps.risk.aml.DEFAULT_AML_THRESHOLDS.
RISK_ALERT_EMAILS = env.get_list("RISK_ALERT_EMAILS", default=[])
RISK_AML: dict[str, object] = {}
CELERY_BEAT_SCHEDULE.update(
    {
        "risk-aml-monitoring": {
            "task": "risk.run_aml_monitoring",
            "schedule": timedelta(
                minutes=env.get_int("RISK_AML_INTERVAL_MINUTES", default=60, minimum=1)
            ),
            "options": {"queue": "risk", "expires": 1800},
        },
        "risk-decision-rate-alerts": {
            "task": "risk.check_decision_rates",
            "schedule": timedelta(minutes=5),
            "options": {"queue": "risk", "expires": 240},
        },
    }
)

# --- Four-eyes approvals (apps.backoffice.approvals) -----------------------------------------
# A staff refund above this amount (minor units, per currency; "*" for the others) is refused in
# the payments admin and must be proposed by one staff member and approved by another. Env:
# BACKOFFICE_FOUR_EYES_REFUND_MINOR="*=100000,JPY=1000000". Proposals expire after the TTL.
BACKOFFICE_FOUR_EYES_REFUND_MINOR: dict[str, int] = {}
for _item in env.get_list("BACKOFFICE_FOUR_EYES_REFUND_MINOR", default=["*=100000"]):
    _code, _, _amount = _item.partition("=")
    if not _amount.strip().isdigit():
        raise env.EnvironmentConfigError(
            variable="BACKOFFICE_FOUR_EYES_REFUND_MINOR",
            problem="must be CURRENCY=AMOUNT_MINOR pairs separated by commas, e.g. *=100000",
        )
    BACKOFFICE_FOUR_EYES_REFUND_MINOR[_code.strip().upper()] = int(_amount)
BACKOFFICE_APPROVAL_TTL_HOURS = env.get_int("BACKOFFICE_APPROVAL_TTL_HOURS", default=72, minimum=1)

# --- Payouts (apps.ledger.payouts) -------------------------------------------------------------
# The rail for live payouts (test mode always uses the simulator); timeouts become "unknown"
# and are resolved by asking the rail with the same idempotency key after the grace period.
PAYOUTS_RAIL = env.get_str("PAYOUTS_RAIL", default="simulator")
# A payout to a payout bank account changed (verified) within this many days, for a merchant
# paid out before to another account, is held until a four-eyes approval in the back office
# releases it (apps.ledger.payouts; 0 turns the hold off).
PAYOUTS_CHANGED_ACCOUNT_HOLD_DAYS = env.get_int(
    "PAYOUTS_CHANGED_ACCOUNT_HOLD_DAYS", default=7, minimum=0
)
PAYOUTS_UNKNOWN_GRACE_SECONDS = env.get_int("PAYOUTS_UNKNOWN_GRACE_SECONDS", default=30, minimum=0)
PAYOUTS_STALE_RESERVATION_SECONDS = env.get_int(
    "PAYOUTS_STALE_RESERVATION_SECONDS", default=300, minimum=10
)
CELERY_BEAT_SCHEDULE.update(
    {
        # once a day, after settlement: the scheduled payouts of the day
        "create-due-payouts": {
            "task": "ledger.create_due_payouts",
            "schedule": crontab(
                hour=env.get_int("PAYOUTS_HOUR_UTC", default=6, minimum=0), minute=0
            ),
            "options": {"queue": "settlement", "expires": 6 * 3600},
        },
        "follow-in-transit-payouts": {
            "task": "ledger.follow_in_transit_payouts",
            "schedule": timedelta(minutes=5),
            "options": {"queue": "settlement", "expires": 240},
        },
        "resolve-unknown-payouts": {
            "task": "ledger.resolve_unknown_payouts",
            "schedule": timedelta(seconds=60),
            "options": {"queue": "settlement", "expires": 55},
        },
    }
)

# --- Analytics export and retention (apps.backoffice.analytics) --------------------------------
# A daily job writes anonymised Parquet files (one per dataset and day) under the export dir;
# merchant, customer and object ids become keyed HMAC-SHA256 pseudonyms. The key is required in
# production: the export and re-identification refuse the development default there. Hot rows
# past the retention (dispatched outbox events, webhook delivery attempts) are archived to
# Parquet under the archive dir, then deleted. RESTATE_DAYS: earlier days the daily job exports
# again, so a dispute lost or a refund made later reaches the files.
ANALYTICS_DEV_PSEUDONYM_KEY = "dev-only-analytics-pseudonym-key-change-me"
ANALYTICS_PSEUDONYM_KEY = env.get_str(
    "ANALYTICS_PSEUDONYM_KEY", default=ANALYTICS_DEV_PSEUDONYM_KEY
)
ANALYTICS_EXPORT_DIR = env.get_str("ANALYTICS_EXPORT_DIR", default=str(VAR_DIR / "analytics"))
ANALYTICS_ARCHIVE_DIR = env.get_str(
    "ANALYTICS_ARCHIVE_DIR", default=str(VAR_DIR / "analytics-archive")
)
ANALYTICS_RESTATE_DAYS = env.get_int("ANALYTICS_RESTATE_DAYS", default=7, minimum=0)
ANALYTICS_RETENTION_DAYS = env.get_int("ANALYTICS_RETENTION_DAYS", default=90, minimum=30)
ANALYTICS_REIDENTIFY_GROUP = env.get_str("ANALYTICS_REIDENTIFY_GROUP", default="compliance")
CELERY_BEAT_SCHEDULE.update(
    {
        "export-analytics": {
            "task": "backoffice.export_analytics",
            "schedule": crontab(hour=3, minute=30),
            "options": {"expires": 6 * 3600},
        },
        "archive-expired-hot-rows": {
            "task": "backoffice.archive_expired_hot_rows",
            "schedule": crontab(hour=4, minute=15),
            "options": {"expires": 6 * 3600},
        },
    }
)

# --- Operational alerts (apps.backoffice.alerts; docs/runbooks/alerts.md) ----------------------
# Rules evaluated every minute over a rolling window; thresholds override the defaults in
# apps/backoffice/alerts.py (DEFAULT_THRESHOLDS), e.g. {"error_max_rate": 0.2}. New and resolved
# alerts are e-mailed to the owning staff group and POSTed as JSON to ALERT_WEBHOOK_URL (chat).
ALERT_THRESHOLDS: dict[str, float] = {}
ALERT_WEBHOOK_URL = env.get_str("ALERT_WEBHOOK_URL", default="")
ALERT_WEBHOOK_TIMEOUT_SECONDS = env.get_int("ALERT_WEBHOOK_TIMEOUT_SECONDS", default=5, minimum=1)
CELERY_BEAT_SCHEDULE.update(
    {
        "evaluate-alert-rules": {
            "task": "backoffice.evaluate_alert_rules",
            "schedule": timedelta(minutes=1),
            "options": {"expires": 55},
        },
    }
)
