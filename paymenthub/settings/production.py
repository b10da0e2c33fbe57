"""Production settings: refuse to start with DEBUG on, with the development secret key, or with
webhooks allowed to private addresses."""

from __future__ import annotations

from paymenthub.settings import env
from paymenthub.settings.base import *  # noqa: F403
from paymenthub.settings.base import (
    DEBUG,
    DEV_SECRET_KEY,
    SECRET_KEY,
    WEBHOOK_ALLOW_PRIVATE_TARGETS,
)

if DEBUG:
    raise env.EnvironmentConfigError(variable="DEBUG", problem="must be false in production")
if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
    raise env.EnvironmentConfigError(
        variable="SECRET_KEY",
        problem="must be set to a unique random value of at least 50 characters in production",
    )
if WEBHOOK_ALLOW_PRIVATE_TARGETS:
    raise env.EnvironmentConfigError(
        variable="WEBHOOK_ALLOW_PRIVATE_TARGETS",
        problem="must be false in production (merchants' webhook URLs would reach the "
        "platform's own network)",
    )
for _required in ("ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"):
    env.get_str(_required, required=True)  # no embedded fallback in production

PAYMENTHUB_ENVIRONMENT = "production"
SECURE_SSL_REDIRECT = env.get_bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.get_int("SECURE_HSTS_SECONDS", default=31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = False
